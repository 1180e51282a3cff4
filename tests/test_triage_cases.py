"""Triage against the labelled reports it was not tuned on (tests/triage_figures.py says how the set was made).

The issue's targets are emergency recall of at least 0.95 and at most 5 % of other reports raised, on the half set
aside; they are not reached yet. The floors below are what the rules reach today, so that a change that makes
triage worse fails here; raise them as the rules improve."""

from __future__ import annotations

import pytest

from tests.triage_figures import Case, cases, measure, shipped

FLOORS = {"zh_CN": (0.93, 0.05), "en": (0.91, 0.07)}  # (recall at least, share of others raised at most)


@pytest.mark.parametrize("language", sorted(FLOORS))
def test_emergencies_are_found_in_reports_the_rules_were_not_tuned_on(language: str) -> None:
    figures = measure(shipped(), cases(language, "held_out"))
    least_recall, most_raised = FLOORS[language]
    assert figures.emergencies >= 60 and figures.reports >= 150
    assert figures.recall >= least_recall, figures
    assert figures.false_raise_rate <= most_raised, figures


@pytest.mark.parametrize("language", sorted(FLOORS))
def test_the_set_aside_half_never_moves(language: str) -> None:
    every = cases(language)
    held_out = cases(language, "held_out")
    assert {case.half for case in held_out} == {"held_out"}
    assert len(every) >= 300 and 0.4 <= len(held_out) / len(every) <= 0.6
    assert Case("燃气费账单不对", False, "none").half == Case("燃气费账单不对", True, "fire_safety").half


def test_the_shipped_model_is_the_one_the_tuning_half_trains() -> None:
    """bot/triage_model.json comes from tests/triage_train.py on the tuning half alone: run it after any change."""
    import json

    from tests.triage_train import MODEL, trained

    assert json.loads(MODEL.read_text(encoding="utf-8")) == json.loads(json.dumps(trained())), (
        "run: .venv/bin/python -m tests.triage_train"
    )


def test_the_learned_model_only_raises_and_can_be_turned_off() -> None:
    from bot.config import parse_config
    from core.domain.model import Urgency

    on, off = shipped(), parse_config({"triage": {"learned_threshold": 0}}, environ={}).triage
    said = "Excuse me, my English not so good. Water come down from top in kitchen, many many water. Room 1507."
    assert on.urgency(said) is Urgency.EMERGENCY
    assert off.learned_threshold == 0.0
    for case in cases("en", "held_out") + cases("zh_CN", "held_out"):
        if off.urgency(case.text) is Urgency.EMERGENCY:
            assert on.urgency(case.text) is Urgency.EMERGENCY  # never lowered
