"""The ticket lifecycle as one table: which action moves a ticket from which status to which."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.domain.deadlines import SlaPolicy
from core.domain.errors import DomainError, IllegalTransition
from core.domain.model import (
    ACTIVE_STATUSES,
    CENT,
    OPEN_STATUSES,
    Actor,
    HistoryEvent,
    Material,
    Status,
    Ticket,
    TicketKind,
    amount_of,
)
from core.i18n import N_


class Action(enum.StrEnum):
    CREATE = "create"
    ASSIGN = "assign"
    OFFER = "offer"  # an emergency pushed to every technician on duty: the first to claim it gets it
    POOL = "pool"  # nobody left to ask: put in the trade group's grab pool
    CLAIM = "claim"
    REASSIGN = "reassign"
    DECLINE = "decline"
    ACCEPT = "accept"
    ON_THE_WAY = "on_the_way"
    ARRIVE = "arrive"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    REQUEST_APPROVAL = "request_approval"
    APPROVE = "approve"
    REJECT = "reject"
    RESOLVE = "resolve"
    CONFIRM_FIX = "confirm_fix"
    REWORK = "rework"
    CLOSE = "close"
    SELF_RESOLVE = "self_resolve"
    CLOSE_OUT_OF_SCOPE = "close_out_of_scope"
    CANCEL = "cancel"
    RATE = "rate"
    CHASE = "chase"
    JOIN = "join"
    REPLY = "reply"
    NOTE = "note"
    QUOTE = "quote"  # a charge to the resident for work the property fee does not cover, put to them first
    AGREE_QUOTE = "agree_quote"
    DECLINE_QUOTE = "decline_quote"
    WITHDRAW_QUOTE = "withdraw_quote"  # the technician takes a quote back: nothing is charged, the work may go on


S = Status
R, F = TicketKind.REPAIR, TicketKind.FEEDBACK
WORKING = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
BOTH = (R, F)


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status | None  # None: the action is recorded and the status stays


def _rows(
    *rows: tuple[Action, tuple[TicketKind, ...], set[Status] | frozenset[Status], Status | None],
) -> dict[tuple[Action, TicketKind], Transition]:
    table: dict[tuple[Action, TicketKind], Transition] = {}
    for action, kinds, sources, target in rows:
        for kind in kinds:
            table[(action, kind)] = Transition(frozenset(sources), target)
    return table


# action                       kinds  from                                  to
TRANSITIONS = _rows(
    (Action.ASSIGN,             BOTH, {S.NEW},                              S.ASSIGNED),
    (Action.REASSIGN,           BOTH, {S.ASSIGNED, *WORKING},               S.ASSIGNED),
    (Action.OFFER,              BOTH, {S.NEW},                              None),
    (Action.POOL,               BOTH, {S.NEW},                              None),
    (Action.CLAIM,              (R,), {S.NEW},                              S.ACCEPTED),
    # A resident's request to talk to a person goes to the department; whoever answers first takes it.
    (Action.CLAIM,              (F,), {S.NEW, S.ASSIGNED},                  S.ACCEPTED),
    (Action.DECLINE,            BOTH, {S.ASSIGNED},                         S.NEW),
    (Action.ACCEPT,             BOTH, {S.ASSIGNED},                         S.ACCEPTED),
    (Action.ON_THE_WAY,         (R,), {S.ACCEPTED},                         None),
    (Action.ARRIVE,             (R,), {S.ACCEPTED},                         None),
    (Action.START,              (R,), {S.ACCEPTED},                         S.IN_PROGRESS),
    (Action.HOLD,               BOTH, {S.ACCEPTED, S.IN_PROGRESS},          S.ON_HOLD),
    (Action.RESUME,             BOTH, {S.ON_HOLD},                          S.IN_PROGRESS),
    (Action.REQUEST_APPROVAL,   (R,), WORKING,                              None),
    (Action.APPROVE,            (R,), WORKING,                              None),
    (Action.REJECT,             (R,), WORKING,                              None),
    (Action.RESOLVE,            (R,), {S.ACCEPTED, S.IN_PROGRESS},          S.RESOLVED),
    # A department answers feedback without the on-site steps of a repair.
    (Action.RESOLVE,            (F,), {S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS}, S.RESOLVED),
    (Action.CONFIRM_FIX,        BOTH, {S.RESOLVED},                         S.CLOSED),
    (Action.REWORK,             BOTH, {S.RESOLVED},                         S.ASSIGNED),
    (Action.CLOSE,              BOTH, {S.RESOLVED},                         S.CLOSED),
    (Action.SELF_RESOLVE,       (R,), {S.NEW},                              S.CLOSED),
    (Action.CLOSE_OUT_OF_SCOPE, (F,), {S.NEW},                              S.CLOSED),
    (Action.CANCEL,             BOTH, {S.NEW, S.ASSIGNED, *WORKING},        S.CANCELLED),
    (Action.RATE,               BOTH, {S.CLOSED},                           None),
    (Action.CHASE,              BOTH, ACTIVE_STATUSES,                      None),
    (Action.JOIN,               BOTH, OPEN_STATUSES,                        None),
    (Action.REPLY,              (F,), OPEN_STATUSES,                        None),
    (Action.NOTE,               BOTH, frozenset(Status),                    None),
    (Action.QUOTE,              (R,), {S.ACCEPTED, S.IN_PROGRESS},          None),
    (Action.AGREE_QUOTE,        (R,), WORKING,                              None),
    (Action.DECLINE_QUOTE,      (R,), WORKING,                              None),
    (Action.WITHDRAW_QUOTE,     (R,), {S.ASSIGNED, *WORKING},               None),
)  # fmt: skip

MILESTONES: dict[Action, str] = {
    Action.ASSIGN: "assigned",
    Action.REASSIGN: "assigned",
    Action.ACCEPT: "accepted",
    Action.CLAIM: "accepted",
    Action.ON_THE_WAY: "on_the_way",
    Action.ARRIVE: "arrived",
    Action.START: "started",
    Action.HOLD: "on_hold",
    Action.RESUME: "resumed",
    Action.RESOLVE: "resolved",
    Action.REPLY: "replied",
    Action.CONFIRM_FIX: "closed",
    Action.CLOSE: "closed",
    Action.SELF_RESOLVE: "closed",
    Action.CLOSE_OUT_OF_SCOPE: "closed",
    Action.REWORK: "reworked",
    Action.CANCEL: "cancelled",
    Action.RATE: "rated",
}

VISIT_MILESTONES = ("accepted", "on_the_way", "arrived", "started", "resolved")
# A report made by mistake (a duplicate, a slip) can be withdrawn this long after it was made, even when a
# technician was already given it or took it (who is then told); after that, only while nobody has it.
WITHDRAW_GRACE = timedelta(minutes=10)


def withdrawable(ticket: Ticket, now: datetime) -> bool:
    if ticket.status is S.NEW:
        return True
    return ticket.status in (S.ASSIGNED, S.ACCEPTED) and now - ticket.created_at <= WITHDRAW_GRACE


STATUS_WORDS = {
    S.NEW: N_("new"),
    S.ASSIGNED: N_("assigned"),
    S.ACCEPTED: N_("accepted"),
    S.IN_PROGRESS: N_("in progress"),
    S.ON_HOLD: N_("on hold"),
    S.RESOLVED: N_("resolved (awaiting acceptance)"),
    S.CLOSED: N_("closed"),
    S.CANCELLED: N_("cancelled"),
}


def allowed_actions(ticket: Ticket) -> list[Action]:
    """The actions the ticket can take next, in table order."""
    return [
        action
        for (action, kind), row in TRANSITIONS.items()
        if kind is ticket.kind and ticket.status in row.sources and _held_back(ticket, action) is None
    ]


def _held_back(ticket: Ticket, action: Action) -> str | None:
    """Why an action the status allows must wait, if it must."""
    if _done_but_for_the_cost(ticket, action):
        return "waits for its cost to be approved"
    waiting = ticket.quote_waiting
    if waiting is not None and action in (Action.START, Action.RESOLVE):
        return "waits for the resident's answer to the quote"
    if waiting is None and action in (Action.AGREE_QUOTE, Action.DECLINE_QUOTE, Action.WITHDRAW_QUOTE):
        return "has no quote waiting for an answer"
    return None


def _done_but_for_the_cost(ticket: Ticket, action: Action) -> bool:
    """A job whose cost waits for approval is finished: approving it resolves the job, which could not happen
    from on hold, so it is not put on hold meanwhile."""
    return action is Action.HOLD and (ticket.pending_approval or {}).get("request") == "cost"


def transition_for(ticket: Ticket, action: Action) -> Transition:
    row = TRANSITIONS.get((action, ticket.kind))
    if row is None:
        raise IllegalTransition(f"a {ticket.kind.value} ticket cannot {action.value.replace('_', ' ')}")
    if ticket.status not in row.sources:
        raise IllegalTransition(
            f"ticket {ticket.number or ticket.id} is {STATUS_WORDS[ticket.status]}; "
            f"it cannot {action.value.replace('_', ' ')} now"
        )
    held = _held_back(ticket, action)
    if held is not None:
        raise IllegalTransition(f"ticket {ticket.number or ticket.id} {held}")
    return row


Effect = Callable[[Ticket, datetime, SlaPolicy, dict[str, Any]], None]


def _require(details: dict[str, Any], key: str, action: Action) -> Any:
    value = details.get(key)
    if value in (None, ""):
        raise DomainError(f"{action.value.replace('_', ' ')} needs {key.replace('_', ' ')}")
    return value


def _assign(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    ticket.assignee_name = _require(details, "assignee", Action.ASSIGN)
    ticket.assignee_id = details.get("assignee_id")


def _claim(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    _assign(ticket, now, policy, details)
    ticket.milestones["assigned"] = now


def _decline(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    _require(details, "reason", Action.DECLINE)
    ticket.assignee_id = None
    ticket.assignee_name = ""


def _hold(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    _require(details, "reason", Action.HOLD)


def _resume(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    """The deadline clock stands still while a ticket waits for parts or access."""
    held_since = ticket.milestones.get("on_hold")
    if held_since is not None and ticket.resolve_due is not None:
        ticket.resolve_due += now - held_since


def _request_approval(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    if ticket.pending_approval is not None:
        raise DomainError(f"ticket {ticket.number} is already waiting for a supervisor's decision")
    kind = _require(details, "request", Action.REQUEST_APPROVAL)
    if kind not in ("plan", "cost"):
        raise DomainError('an approval request is for a "plan" or a "cost"')
    ticket.pending_approval = {k: _plain(v) for k, v in details.items()}


def _decide(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    if ticket.pending_approval is None:
        raise IllegalTransition(f"ticket {ticket.number} has nothing waiting for approval")
    ticket.pending_approval = None


def _resolve(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    if ticket.kind is TicketKind.FEEDBACK:
        ticket.resolution = _require(details, "reply", Action.RESOLVE)
    else:
        ticket.resolution = details.get("note", "")
    materials = tuple(details.get("materials", ()))
    if not all(isinstance(m, Material) for m in materials):
        raise DomainError("materials must be a list of materials")
    cost = amount_of(details.get("cost", sum((m.cost for m in materials), Decimal(0))))
    if cost < 0:
        raise DomainError("cost cannot be negative")
    if materials or "cost" in details:
        details["cost"] = cost  # what this visit cost, exactly, in its history
    # A rework's materials and cost add to the first attempt's: the ticket keeps what the repair cost in all.
    ticket.materials, ticket.cost = ticket.materials + materials, ticket.cost + cost


def _confirm(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    ticket.acceptance = "accepted"


def _rework(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    _require(details, "reason", Action.REWORK)
    ticket.acceptance = "rejected"
    ticket.rework_count += 1
    ticket.resolve_due = policy.resolve_due(ticket.urgency, now)
    # The rework is a visit like the first (on the way, arrived...): its steps are open again, while the first
    # visit's times are kept as first_* for the figures (the first response time survives the rework).
    for key in VISIT_MILESTONES:
        if key in ticket.milestones:
            ticket.milestones.setdefault(f"first_{key}", ticket.milestones.pop(key))


def _rate(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    rating = details.get("rating")
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise DomainError("a rating is a whole number from 1 to 5")
    ticket.rating = rating
    ticket.rating_comment = str(details.get("comment", ""))


def _quote(ticket: Ticket, now: datetime, policy: SlaPolicy, details: dict[str, Any]) -> None:
    amount = details.get("amount")
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(CENT):
        raise DomainError("a quote is an amount of money above zero, to the cent")
    details["amount"] = str(amount)  # stored exactly, as text
    _require(details, "text", Action.QUOTE)


EFFECTS: dict[Action, Effect] = {
    Action.QUOTE: _quote,
    Action.ASSIGN: _assign,
    Action.REASSIGN: _assign,
    Action.CLAIM: _claim,
    Action.DECLINE: _decline,
    Action.REQUEST_APPROVAL: _request_approval,
    Action.APPROVE: _decide,
    Action.REJECT: _decide,
    Action.HOLD: _hold,
    Action.RESUME: _resume,
    Action.RESOLVE: _resolve,
    Action.CONFIRM_FIX: _confirm,
    Action.REWORK: _rework,
    Action.RATE: _rate,
}


def apply(
    ticket: Ticket,
    action: Action,
    actor: Actor,
    now: datetime,
    policy: SlaPolicy | None = None,
    **details: Any,
) -> HistoryEvent:
    """Take one step of the lifecycle and append it to the history; refuse an illegal one."""
    row = transition_for(ticket, action)
    effect = EFFECTS.get(action)
    if effect is not None:
        effect(ticket, now, policy or SlaPolicy(), details)
    before = ticket.status
    if row.target is not None:
        ticket.status = row.target
    if action in MILESTONES:
        ticket.milestones[MILESTONES[action]] = now
    return record(ticket, actor, now, action, before, details)


def record(
    ticket: Ticket,
    actor: Actor,
    now: datetime,
    action: Action,
    before: Status | None,
    details: dict[str, Any],
) -> HistoryEvent:
    event = HistoryEvent(
        at=now,
        actor=actor,
        action=action.value,
        from_status=before,
        to_status=ticket.status,
        details={k: _plain(v) for k, v in details.items()},
    )
    ticket.history.append(event)
    ticket.new_events.append(event)
    return event


def _plain(value: Any) -> Any:
    """History details are stored as JSON, so dataclasses become dicts."""
    if isinstance(value, Material):
        return value.dump()
    if isinstance(value, Decimal):
        return str(value)  # money, exactly
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value
