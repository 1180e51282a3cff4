"""How the learned second opinion's threshold is chosen without looking at the half set aside: 5-fold
cross-validation on the tuning reports. For each fold, the model is trained on the other four and the rules with
that model answer the fold; the table shows recall and the share of other reports raised, per threshold.
`.venv/bin/python -m tests.triage_cv [--misses THRESHOLD]`."""

from __future__ import annotations

import argparse
import zlib
from dataclasses import replace

from core.domain.triage import TriageRules
from tests.triage_figures import LANGUAGES, Case, Figures, cases, measure, raised, shipped
from tests.triage_train import train_on

FOLDS = 5
THRESHOLDS = (0, 3, 4, 5, 6, 7, 8, 9, 10, 12)


def fold_of(case: Case) -> int:
    return zlib.crc32(b"fold:" + case.text.encode()) % FOLDS


def folds(language: str, threshold: float) -> tuple[Figures, list[Case]]:
    """The figures summed over the folds, and the reports answered wrongly."""
    base = shipped()
    tuning = cases(language, "tuning")
    total = Figures(0, 0, 0, 0)
    wrong: list[Case] = []
    for k in range(FOLDS):
        train = [c for c in tuning if fold_of(c) != k]
        test = [c for c in tuning if fold_of(c) == k]
        rules: TriageRules = replace(base, learned={language: train_on(train)}, learned_threshold=threshold)
        f = measure(rules, test)
        total = Figures(total.reports + f.reports, total.emergencies + f.emergencies, total.caught + f.caught,
                        total.raised + f.raised)  # fmt: skip
        wrong += [c for c in test if raised(rules, c) != c.emergency]
    return total, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", type=float, help="list the reports answered wrongly at this threshold")
    args = parser.parse_args()
    if args.misses is not None:
        for language in LANGUAGES:
            for case in folds(language, args.misses)[1]:
                print(("MISSED  " if case.emergency else "RAISED  ") + case.text)
        return
    print(f"{'language':8} {'threshold':>9} {'recall':>7} {'raised':>7}")
    for language in LANGUAGES:
        for threshold in THRESHOLDS:
            f = folds(language, threshold)[0]
            print(f"{language:8} {threshold:9} {f.recall:7.3f} {f.false_raise_rate:7.3f}")


if __name__ == "__main__":
    main()
