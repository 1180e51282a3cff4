"""The lifecycle table: every legal step lands where the README's statuses say, every other one is refused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.domain.deadlines import SlaPolicy
from core.domain.errors import DomainError, IllegalTransition
from core.domain.lifecycle import TRANSITIONS, Action, allowed_actions, apply
from core.domain.model import Actor, Location, Material, Source, Status, Ticket, TicketKind, Urgency
from core.domain.tickets import TicketDraft, open_ticket, ticket_number
from tests.conftest import NOW

TECH = Actor("staff", "李伟 Li Wei", 1)
RESIDENT = Actor("resident", "张三 Zhang San", 7)

# What each action needs to be accepted at all.
DETAILS: dict[Action, dict[str, Any]] = {
    Action.ASSIGN: {"assignee": "李伟 Li Wei", "assignee_id": 1},
    Action.REASSIGN: {"assignee": "赵强 Zhao Qiang", "assignee_id": 3},
    Action.CLAIM: {"assignee": "王芳 Wang Fang", "assignee_id": 2},
    Action.REQUEST_APPROVAL: {"request": "plan", "text": "replace the whole pipe, ¥800"},
    Action.DECLINE: {"reason": "off sick"},
    Action.HOLD: {"reason": "waiting for parts"},
    Action.REWORK: {"reason": "still dripping"},
    Action.RATE: {"rating": 5},
    Action.RESOLVE: {"note": "replaced the washer", "reply": "we have cleaned the stairwell"},
    Action.QUOTE: {"amount": Decimal("120.00"), "text": "replace the mixer tap"},
}


def make_ticket(kind: TicketKind = TicketKind.REPAIR, status: Status = Status.NEW) -> Ticket:
    draft = TicketDraft(
        kind=kind,
        source=Source.RESIDENT_CHAT,
        location=Location(room="1-1-1201"),
        category="plumbing" if kind is TicketKind.REPAIR else "hygiene",
        description="kitchen pipe leaking",
        urgency=Urgency.URGENT,
        reporter="张三 Zhang San",
    )
    ticket = open_ticket(draft, "SG", "SG-20261127-0001", RESIDENT, NOW)
    ticket.status = status
    return ticket


LEGAL = [
    (kind, action, source, row.target) for (action, kind), row in TRANSITIONS.items() for source in sorted(row.sources)
]
ILLEGAL = [
    (kind, action, status)
    for kind in TicketKind
    for action in Action
    if action is not Action.CREATE
    for status in Status
    if (action, kind) not in TRANSITIONS or status not in TRANSITIONS[(action, kind)].sources
]


@pytest.mark.parametrize(("kind", "action", "source", "target"), LEGAL, ids=str)
def test_every_legal_transition_lands_on_its_target_and_is_recorded(
    kind: TicketKind, action: Action, source: Status, target: Status | None
) -> None:
    ticket = make_ticket(kind, source)
    if action in (Action.APPROVE, Action.REJECT):
        ticket.pending_approval = {"request": "plan", "text": "replace the whole pipe"}
    if action in (Action.AGREE_QUOTE, Action.DECLINE_QUOTE, Action.WITHDRAW_QUOTE):  # an answer needs a question
        ticket.status = Status.ACCEPTED
        apply(ticket, Action.QUOTE, TECH, NOW, **DETAILS[Action.QUOTE])
        ticket.status = source
    event = apply(ticket, action, TECH, NOW + timedelta(minutes=5), **DETAILS.get(action, {}))
    assert ticket.status == (target or source)
    assert (event.action, event.from_status, event.to_status) == (action.value, source, ticket.status)
    assert event.actor == TECH
    assert ticket.history[-1] is event and ticket.new_events[-1] is event


@pytest.mark.parametrize(("kind", "action", "status"), ILLEGAL, ids=str)
def test_every_illegal_transition_is_refused_and_changes_nothing(
    kind: TicketKind, action: Action, status: Status
) -> None:
    ticket = make_ticket(kind, status)
    history_before = list(ticket.history)
    with pytest.raises(IllegalTransition) as refused:
        apply(ticket, action, TECH, NOW, **DETAILS.get(action, {}))
    assert ticket.status is status
    assert ticket.history == history_before
    assert str(refused.value)  # a sentence a person can read


def test_illegal_step_message_names_the_ticket_and_its_status() -> None:
    ticket = make_ticket(status=Status.CLOSED)
    with pytest.raises(IllegalTransition, match=r"ticket SG-20261127-0001 is closed; it cannot accept now"):
        apply(ticket, Action.ACCEPT, TECH, NOW)


def test_a_repair_goes_round_the_whole_loop_with_one_rework() -> None:
    ticket = make_ticket()
    steps = [
        (Action.ASSIGN, Status.ASSIGNED),
        (Action.ACCEPT, Status.ACCEPTED),
        (Action.ON_THE_WAY, Status.ACCEPTED),
        (Action.ARRIVE, Status.ACCEPTED),
        (Action.START, Status.IN_PROGRESS),
        (Action.RESOLVE, Status.RESOLVED),
        (Action.REWORK, Status.ASSIGNED),
        (Action.ACCEPT, Status.ACCEPTED),
        (Action.START, Status.IN_PROGRESS),
        (Action.RESOLVE, Status.RESOLVED),
        (Action.CONFIRM_FIX, Status.CLOSED),
        (Action.RATE, Status.CLOSED),
    ]
    for minute, (action, expected) in enumerate(steps, start=1):
        apply(ticket, action, TECH, NOW + timedelta(minutes=minute), **DETAILS.get(action, {}))
        assert ticket.status is expected, action
    assert ticket.rework_count == 1
    assert ticket.acceptance == "accepted"
    assert ticket.rating == 5
    assert [e.action for e in ticket.history] == ["create", *(a.value for a, _ in steps)]


def test_allowed_actions_follow_the_table() -> None:
    assert allowed_actions(make_ticket(status=Status.RESOLVED)) == [
        Action.CONFIRM_FIX,
        Action.REWORK,
        Action.CLOSE,
        Action.JOIN,
        Action.NOTE,
    ]


class TestDetailsTheStepsNeed:
    def test_assign_names_the_assignee(self) -> None:
        ticket = make_ticket()
        apply(ticket, Action.ASSIGN, TECH, NOW, assignee="李伟 Li Wei", assignee_id=1)
        assert (ticket.assignee_name, ticket.assignee_id) == ("李伟 Li Wei", 1)
        with pytest.raises(DomainError, match="assign needs assignee"):
            apply(make_ticket(), Action.ASSIGN, TECH, NOW)

    def test_decline_needs_a_reason_and_unassigns(self) -> None:
        ticket = make_ticket()
        apply(ticket, Action.ASSIGN, TECH, NOW, assignee="李伟 Li Wei", assignee_id=1)
        with pytest.raises(DomainError, match="decline needs reason"):
            apply(ticket, Action.DECLINE, TECH, NOW)
        assert ticket.status is Status.ASSIGNED
        apply(ticket, Action.DECLINE, TECH, NOW, reason="not my trade")
        assert (ticket.status, ticket.assignee_name, ticket.assignee_id) == (Status.NEW, "", None)

    def test_feedback_cannot_be_resolved_without_a_reply(self) -> None:
        ticket = make_ticket(TicketKind.FEEDBACK, Status.ASSIGNED)
        with pytest.raises(DomainError, match="resolve needs reply"):
            apply(ticket, Action.RESOLVE, TECH, NOW)
        assert ticket.status is Status.ASSIGNED
        apply(ticket, Action.RESOLVE, TECH, NOW, reply="Cleaned this morning; sorry for the wait.")
        assert ticket.resolution == "Cleaned this morning; sorry for the wait."

    def test_resolve_keeps_materials_and_their_cost(self) -> None:
        ticket = make_ticket(status=Status.IN_PROGRESS)
        washer = Material("washer", Decimal(2), "pcs", Decimal("3.50"))
        apply(ticket, Action.RESOLVE, TECH, NOW, note="new washers", materials=[washer])
        assert ticket.materials == (washer,) and ticket.cost == Decimal("3.50")
        assert ticket.history[-1].details["materials"] == [
            {"name": "washer", "quantity": "2", "unit": "pcs", "cost": "3.50"}
        ]

    def test_negative_cost_is_refused(self) -> None:
        with pytest.raises(DomainError, match="cost cannot be negative"):
            apply(make_ticket(status=Status.IN_PROGRESS), Action.RESOLVE, TECH, NOW, cost=-1)

    @pytest.mark.parametrize("rating", [0, 6, 3.5, "5", True, None])
    def test_a_rating_is_a_whole_number_from_one_to_five(self, rating: object) -> None:
        ticket = make_ticket(status=Status.CLOSED)
        with pytest.raises(DomainError, match="from 1 to 5"):
            apply(ticket, Action.RATE, RESIDENT, NOW, rating=rating)
        assert ticket.rating is None


class TestDeadlines:
    def test_a_new_ticket_gets_response_and_resolve_deadlines_for_its_urgency(self) -> None:
        ticket = make_ticket()
        policy = SlaPolicy()
        assert ticket.response_due == NOW + policy.windows[Urgency.URGENT].respond
        assert ticket.resolve_due == NOW + policy.windows[Urgency.URGENT].resolve

    def test_the_clock_stands_still_while_on_hold(self) -> None:
        ticket = make_ticket(status=Status.IN_PROGRESS)
        due = ticket.resolve_due
        assert due is not None
        apply(ticket, Action.HOLD, TECH, NOW + timedelta(hours=1), reason="waiting for a part")
        apply(ticket, Action.RESUME, TECH, NOW + timedelta(hours=4))
        assert ticket.resolve_due == due + timedelta(hours=3)

    def test_rework_restarts_the_clock(self) -> None:
        ticket = make_ticket(status=Status.RESOLVED)
        later = NOW + timedelta(days=2)
        apply(ticket, Action.REWORK, RESIDENT, later, reason="still dripping")
        assert ticket.resolve_due == later + SlaPolicy().windows[Urgency.URGENT].resolve
        assert ticket.rework_count == 1 and ticket.acceptance == "rejected"


def test_ticket_numbers_are_code_day_and_four_digits() -> None:
    assert ticket_number("SG", NOW.date(), 7) == "SG-20261127-0007"


def test_an_unknown_category_or_empty_description_is_refused() -> None:
    draft = TicketDraft(
        TicketKind.REPAIR, Source.PATROL, Location(text="x"), "hygiene", "dirty", Urgency.NORMAL, "patrol"
    )
    with pytest.raises(DomainError, match='unknown repair category "hygiene"'):
        open_ticket(draft, "SG", "SG-1", TECH, NOW)
    blank = TicketDraft(TicketKind.REPAIR, Source.PATROL, Location(text="x"), "civil", "  ", Urgency.NORMAL, "p")
    with pytest.raises(DomainError, match="needs a description"):
        open_ticket(blank, "SG", "SG-1", TECH, NOW)


class TestQuotes:
    def test_a_quote_holds_the_work_back_until_the_resident_answers(self) -> None:
        ticket = make_ticket(status=Status.ACCEPTED)
        apply(ticket, Action.QUOTE, TECH, NOW, amount=Decimal("120.50"), text="replace the mixer tap")
        assert ticket.quote_waiting is not None and ticket.quote_waiting.amount == Decimal("120.50")
        assert Action.START not in allowed_actions(ticket) and Action.RESOLVE not in allowed_actions(ticket)
        with pytest.raises(IllegalTransition, match="waits for the resident's answer to the quote"):
            apply(ticket, Action.START, TECH, NOW)
        apply(ticket, Action.AGREE_QUOTE, RESIDENT, NOW)
        apply(ticket, Action.START, TECH, NOW)
        assert ticket.charge == Decimal("120.50") and ticket.history[-3].details["amount"] == "120.50"

    def test_agreed_charges_add_up_exactly_and_a_declined_one_is_not_charged(self) -> None:
        ticket = make_ticket(status=Status.ACCEPTED)
        for amount, answer in (
            ("0.10", Action.AGREE_QUOTE),
            ("0.20", Action.AGREE_QUOTE),
            ("99", Action.DECLINE_QUOTE),
        ):
            apply(ticket, Action.QUOTE, TECH, NOW, amount=Decimal(amount).quantize(Decimal("0.01")), text="part")
            apply(ticket, answer, RESIDENT, NOW)
        assert ticket.charge == Decimal("0.30")  # 0.1 + 0.2 in floats is 0.30000000000000004

    @pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5"), Decimal("1.005"), 120.0])
    def test_a_quote_is_money_above_zero_to_the_cent(self, amount: Any) -> None:
        ticket = make_ticket(status=Status.ACCEPTED)
        with pytest.raises(DomainError, match="above zero, to the cent"):
            apply(ticket, Action.QUOTE, TECH, NOW, amount=amount, text="part")
