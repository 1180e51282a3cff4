"""The `[triage]` block of config.example.toml, written from the shipped rules, so that uncommenting it changes
nothing: `.venv/bin/python -m tests.triage_example` prints it; tests/test_triage.py holds the file to it."""

from __future__ import annotations

import json

from bot.i18n import translator
from core.domain.triage import TriageRules

HEAD = """[triage]
# How reports are sorted. baoxiu ships the rules below, in Chinese and English: they follow the
# process (water or power cut, lift failure or people trapped, water leaking into a home, gas, fire
# or smoke are emergencies). Each key you set replaces the shipped value for that key (in the tables:
# for that category); keys you leave out keep the shipped ones. Uncommenting a line as it stands
# changes nothing: edit it to change the rules.
#"""


def _words(words: tuple[str, ...]) -> str:
    return json.dumps(list(words), ensure_ascii=False)


def _texts(text: str) -> str:
    chinese = translator("zh_CN")(text)
    return f"zh_CN = {json.dumps(chinese, ensure_ascii=False)}\n# en = {json.dumps(text, ensure_ascii=False)}"


def block() -> str:
    rules = TriageRules()
    lines = [
        HEAD,
        "# Words that make a report an emergency, or urgent (the resident still chooses, except below):",
        f"# emergency_keywords = {_words(rules.emergency_keywords)}",
        f"# urgent_keywords = {_words(rules.urgent_keywords)}",
        "# Words that keep a report at emergency whatever the resident picks, and say why:",
        f"# safety_keywords = {_words(rules.safety_keywords)}",
        "# Phrases that hold one of the words above but name no emergency (a fire door, a gas bill):",
        f"# calm_phrases = {_words(rules.calm_phrases)}",
        "# (A word also does not count where the sentence denies it, speaks of a bill, a planned cut or the",
        '# past, or says later that the trouble is over: "没有漏气", "明天停水吗", "power\'s back now".)',
        "# A learned second opinion (bot/triage_model.json, trained on labelled reports) may raise a report to",
        "# emergency when its log odds are above this; 0 turns it off. It never lowers one.",
        f"# learned_threshold = {rules.learned_threshold}",
        "# Words that say something is broken without saying what: enough to start a repair report.",
        f"# fault_keywords = {_words(rules.fault_keywords)}",
        "#",
        "# Emergencies said in two parts, anywhere in the message: a thing and what is wrong with it; a word of",
        "# `states` does not count in a sentence that also names one of `unless`. An empty table switches one off:",
    ]
    for name, pair in rules.emergency_pairs.items():
        lines += [f"# [triage.emergency_pairs.{name}]", f"# things = {_words(pair.things)}",
                  f"# states = {_words(pair.states)}"]  # fmt: skip
        if pair.unless:
            lines.append(f"# unless = {_words(pair.unless)}")
    lines += [
        "#",
        "# Words that name each repair category, and each feedback category:",
        "# [triage.category_keywords]",
        *(f"# {category} = {_words(words)}" for category, words in rules.category_keywords.items()),
        "# [triage.feedback_keywords]",
        *(f"# {category} = {_words(words)}" for category, words in rules.feedback_keywords.items()),
        "#",
        "# The quick self-check offered before a non-emergency repair at home is sent out, per category and",
        "# language; an empty table (`[triage.self_check.electrical]` with nothing under it) switches it off:",
    ]
    for category, tips in rules.self_checks.items():
        lines += [f"# [triage.self_check.{category}]", f"# {_texts(tips[''])}"]
    lines += [
        "#",
        "# Matters outside the company's scope: a polite answer with a pointer, recorded and closed.",
        "# Setting any replaces all the shipped ones.",
    ]
    for matter in rules.out_of_scope:
        lines += [
            f"# [triage.out_of_scope.{matter.name}]",
            f"# keywords = {_words(matter.keywords)}",
            f"# {_texts(matter.pointer[''])}",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(block(), end="")
