"""How well triage spots emergencies, measured on the labelled reports in tests/triage_cases/.

Each language's reports were written and labelled before the rules were tuned. Half of them (by a hash of the
text, so the split never moves) were set aside: the rules were tuned on the other half only, and the figures that
count are those of the half set aside. `make triage` prints them; `--misses` lists what the tuning half gets wrong.
"""

from __future__ import annotations

import argparse
import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

from core.domain.model import Urgency
from core.domain.triage import TriageRules

CASES = Path(__file__).parent / "triage_cases"
LANGUAGES = ("zh_CN", "en")
HALVES = ("tuning", "held_out")


@dataclass(frozen=True)
class Case:
    text: str
    emergency: bool
    category: str

    @property
    def half(self) -> str:
        return HALVES[zlib.crc32(self.text.encode()) % 2]


def _read(path: Path) -> list[Case]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Case(row["text"], row["label"] == "emergency", row["category"]) for row in rows]


def cases(language: str, half: str | None = None) -> list[Case]:
    """The labelled reports of one language (`LANG.tsv`); `half` narrows them to the half set aside, or to the tuning
    half together with the reports written later for tuning only (`LANG.more*.tsv`)."""
    labelled = _read(CASES / f"{language}.tsv")
    first = [case for case in labelled if half is None or case.half == half]
    more = sorted(CASES.glob(f"{language}.more*.tsv")) if half == "tuning" else []
    held_out = {case.text for case in labelled if case.half == "held_out"}  # a report written twice stays aside
    return first + [case for path in more for case in _read(path) if case.text not in held_out]


@dataclass(frozen=True)
class Figures:
    reports: int
    emergencies: int
    caught: int  # emergencies the rules raised
    raised: int  # non-emergencies the rules raised all the same

    @property
    def recall(self) -> float:
        return self.caught / self.emergencies if self.emergencies else 1.0

    @property
    def precision(self) -> float:
        flagged = self.caught + self.raised
        return self.caught / flagged if flagged else 1.0

    @property
    def false_raise_rate(self) -> float:
        others = self.reports - self.emergencies
        return self.raised / others if others else 0.0


def shipped() -> TriageRules:
    """The rules as baoxiu runs them: the shipped keywords, and the learned model from bot/triage_model.json."""
    from bot.config import parse_config

    return parse_config({}, environ={}).triage


def raised(rules: TriageRules, case: Case) -> bool:
    """What the resident sees: emergency suggested (or kept, for a safety word)."""
    return rules.urgency(case.text) is Urgency.EMERGENCY


def measure(rules: TriageRules, chosen: list[Case]) -> Figures:
    flags = [(case.emergency, raised(rules, case)) for case in chosen]
    return Figures(
        reports=len(chosen),
        emergencies=sum(1 for emergency, _ in flags if emergency),
        caught=sum(1 for emergency, flag in flags if emergency and flag),
        raised=sum(1 for emergency, flag in flags if not emergency and flag),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the tuning half's wrong answers")
    args = parser.parse_args()
    rules = shipped()
    print(f"{'language':8} {'half':9} {'reports':>7} {'emerg.':>6} {'recall':>7} {'precision':>9} {'raised':>7}")
    for language in LANGUAGES:
        for half in HALVES:
            f = measure(rules, cases(language, half))
            print(f"{language:8} {half:9} {f.reports:7} {f.emergencies:6} {f.recall:7.3f} {f.precision:9.3f} "
                  f"{f.false_raise_rate:7.3f}")  # fmt: skip
    if args.misses:
        for language in LANGUAGES:
            for case in cases(language, "tuning"):
                if raised(rules, case) != case.emergency:
                    print(("MISSED  " if case.emergency else "RAISED  ") + case.text)


if __name__ == "__main__":
    main()
