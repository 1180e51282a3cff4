"""Who goes: technicians of the trade on shift, least loaded first, then the longest without a job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.domain.directory import Estate, Staff, StaffGroup
from core.domain.lifecycle import Action
from core.domain.model import Ticket, TicketKind, Trade, Urgency
from core.domain.roles import Grant, holders, may

TRADES = frozenset(t.value for t in Trade)
# Between technicians equally busy, the one longest without a job goes; looked back this far.
ROTATION = timedelta(days=30)
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Decision:
    """What dispatch does with a ticket, and why (in words for the history)."""

    kind: str  # assign | offer | pool | department | nobody
    reason: str
    staff: tuple[Staff, ...] = ()  # assign: the one chosen; offer: everyone asked; department, nobody: who to tell
    groups: tuple[StaffGroup, ...] = ()  # offer and pool: the trade's staff groups


def _default_arrival() -> dict[Urgency, timedelta]:
    return {
        Urgency.EMERGENCY: timedelta(minutes=30),
        Urgency.URGENT: timedelta(hours=2),
        Urgency.NORMAL: timedelta(hours=24),
    }


@dataclass(frozen=True)
class DispatchPolicy:
    """Config `[dispatch]`: who may get more work, how long a push waits, what needs approval."""

    max_open_per_technician: int = 5
    unanswered: timedelta = timedelta(minutes=10)
    cost_approval_threshold: Decimal = Decimal("500.00")
    arrival: dict[Urgency, timedelta] = field(default_factory=_default_arrival)
    tools: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """How busy a technician is: tickets in hand now, and when they were last given one."""

    open_tickets: int = 0
    last_assigned: datetime | None = None


def active_staff(estate: Estate) -> tuple[Staff, ...]:
    return tuple(s for s in estate.staff if s.active)


def supervisors(estate: Estate) -> tuple[Staff, ...]:
    """Who hears of the jobs nobody can take: supervisors and managers."""
    return holders(active_staff(estate), Grant.HEAR_ESCALATIONS)


def technicians_of(estate: Estate, category: str) -> tuple[Staff, ...]:
    return tuple(s for s in holders(active_staff(estate), Grant.WORK_JOBS) if category in s.trades)


def on_duty(estate: Estate, category: str, local: datetime) -> tuple[Staff, ...]:
    return tuple(s for s in technicians_of(estate, category) if s.on_shift(local))


def offered_to(ticket: Ticket, staff: Staff, local: datetime) -> bool:
    """Whether the staff member may claim the job as it is offered now: an emergency offered by name to one of
    those named, or to anyone on shift when its trade's group was offered it too; a job in the grab pool to
    anyone on shift; a supervisor either way. (Being of the trade is checked with the rest of the permissions.)"""
    if may(staff, Grant.DISPATCH):
        return True
    offers = [event for event in ticket.history if event.action in (Action.OFFER, Action.POOL)]
    if not offers:
        return False
    last = offers[-1]
    if staff.name in last.details.get("to", []):
        return True
    return (last.action == Action.POOL or bool(last.details.get("groups"))) and staff.on_shift(local)


def pool_groups(estate: Estate, category: str) -> tuple[StaffGroup, ...]:
    return tuple(g for g in estate.staff_groups if category in g.trades)


def department_staff(estate: Estate, department: str) -> tuple[Staff, ...]:
    return tuple(s for s in estate.staff if s.active and department in s.departments)


def passed_over(ticket: Ticket) -> set[int]:
    """Technicians who declined this job, or let it go unanswered, since it was last (re)opened."""
    declined: set[int] = set()
    for event in ticket.history:
        if event.action == Action.REWORK.value:
            declined.clear()
        elif event.action == Action.DECLINE.value and event.details.get("assignee_id") is not None:
            declined.add(int(event.details["assignee_id"]))
    return declined


def load_words(load: Workload) -> str:
    """For the history, which is kept in English."""
    if load.open_tickets == 0:
        return "no open tickets"
    return f"{load.open_tickets} open ticket{'s' if load.open_tickets > 1 else ''}"


def candidates(
    estate: Estate, ticket: Ticket, local: datetime, loads: dict[int, Workload], cap: int
) -> list[tuple[Staff, Workload]]:
    """On shift, of the trade, under the cap, not passed over; fewest open tickets, then longest waiting."""
    skip = passed_over(ticket)
    found = [
        (staff, loads.get(staff.id or 0, Workload()))
        for staff in on_duty(estate, ticket.category, local)
        if staff.id not in skip
    ]
    found = [(staff, load) for staff, load in found if load.open_tickets < cap]
    return sorted(found, key=lambda pair: (pair[1].open_tickets, pair[1].last_assigned or NEVER, pair[0].name))


def decide(estate: Estate, ticket: Ticket, local: datetime, loads: dict[int, Workload], cap: int) -> Decision:
    if ticket.kind is TicketKind.FEEDBACK:
        handlers = department_staff(estate, ticket.department)
        if handlers:
            return Decision("department", f"to {ticket.department}", handlers)
        return Decision("nobody", f'nobody works in "{ticket.department or "no department"}"', supervisors(estate))
    if ticket.category not in TRADES:
        return Decision("nobody", f'no trade handles "{ticket.category}": a supervisor assigns it', supervisors(estate))
    trade = ticket.category
    if ticket.urgency is Urgency.EMERGENCY:  # offered again without whoever took it and passed it on
        crew = tuple(s for s in on_duty(estate, trade, local) if s.id not in passed_over(ticket))
        told = crew + tuple(s for s in supervisors(estate) if s not in crew)
        groups = () if crew else pool_groups(estate, trade)
        reason = f"emergency: offered to {len(crew)} on duty for {trade} and the supervisors"
        return Decision("offer", reason, told, groups)
    ranked = candidates(estate, ticket, local, loads, cap)
    if ranked:
        staff, load = ranked[0]
        return Decision("assign", f"chosen: on shift, {trade}, {load_words(load)}", (staff,))
    duty = on_duty(estate, trade, local)
    if not technicians_of(estate, trade):
        why = f"no technician does {trade}"
    elif not duty:
        why = f"nobody on shift for {trade}"
    elif {s.id for s in duty} <= passed_over(ticket):
        why = f"everyone on shift for {trade} declined"
    else:
        why = f"everyone on shift for {trade} has {cap} open tickets"
    groups = pool_groups(estate, trade)
    if groups:
        return Decision("pool", f"{why}: to the grab pool", (), groups)
    return Decision("nobody", f"{why}, and no staff group takes {trade}", supervisors(estate))
