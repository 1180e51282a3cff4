"""Trains the learned second opinion of triage (core.domain.triage.LearnedOdds) on the tuning half of the labelled
reports only, and writes bot/triage_model.json: `.venv/bin/python -m tests.triage_train`. Naive Bayes over which
characters, character pairs, words and word pairs a report has; a feature seen once is left out. The half set
aside is never read here, so its figures (make triage) stay honest."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from core.domain.triage import LearnedOdds, features
from tests.triage_figures import LANGUAGES, Case, cases

MODEL = Path(__file__).resolve().parent.parent / "bot" / "triage_model.json"


def train(language: str) -> LearnedOdds:
    return train_on(cases(language, "tuning"))


def train_on(labelled: list[Case]) -> LearnedOdds:
    seen: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    reports = {True: 0, False: 0}
    for case in labelled:
        reports[case.emergency] += 1
        seen[case.emergency].update(features(case.text))
    kept = sorted(f for f in set(seen[True]) | set(seen[False]) if seen[True][f] + seen[False][f] >= 2)
    totals = {label: sum(seen[label][f] for f in kept) for label in (True, False)}

    def odds(feature: str) -> float:
        emergency = (seen[True][feature] + 1) / (totals[True] + len(kept))
        other = (seen[False][feature] + 1) / (totals[False] + len(kept))
        return round(math.log(emergency / other), 3)

    return LearnedOdds(round(math.log(reports[True] / reports[False]), 3), {f: odds(f) for f in kept})


def trained() -> dict[str, dict[str, object]]:
    return {language: {"prior": m.prior, "weights": m.weights} for language in LANGUAGES for m in [train(language)]}


if __name__ == "__main__":
    MODEL.write_text(json.dumps(trained(), ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n",
                     encoding="utf-8")  # fmt: skip
    print(f"wrote {MODEL}")
