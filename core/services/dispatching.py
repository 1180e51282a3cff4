"""Sending jobs on their way: dispatch, the dispatch desk's assignments, declines, claims, and the roll-over."""

from __future__ import annotations

from core.domain.directory import Staff
from core.domain.dispatch import ROTATION, Decision, decide, offered_to
from core.domain.lifecycle import Action, allowed_actions
from core.domain.model import SYSTEM, Status, Ticket, TicketKind
from core.domain.roles import refusal
from core.i18n import N_
from core.ports import TicketQuery
from core.services.work import Work

CHANGED = N_("{number} changed meanwhile; please look at it again: /status {number}")


def dispatch(work: Work, ticket: Ticket) -> Decision:
    """A new (or declined) ticket to a technician, to everyone on duty, to the pool, or to the supervisors.

    The workload of the one chosen is counted again with them locked, so that two dispatches at once cannot
    both give the last free place under the cap; if it is gone, the next candidate is asked."""
    local = work.now.astimezone(work.settings.zone)
    cap = work.settings.dispatch.max_open_per_technician
    since = work.now - ROTATION
    loads = work.uow.tickets.workloads(work.estate.code, since)
    while True:
        decision = decide(work.estate, ticket, local, loads, cap)
        if decision.kind != "assign":
            break
        chosen = decision.staff[0]
        assert chosen.id is not None
        held = work.uow.tickets.hold_workload(chosen.id, since)
        if held.open_tickets < cap:
            break
        loads[chosen.id] = held
    if decision.kind == "assign":
        chosen = decision.staff[0]
        work.change(ticket, Action.ASSIGN, SYSTEM, assignee=chosen.name, assignee_id=chosen.id,
                    reason=decision.reason)  # fmt: skip
    elif decision.kind == "department":
        work.change(ticket, Action.ASSIGN, SYSTEM, assignee=ticket.department, reason=decision.reason)
    elif decision.kind == "offer":
        work.change(ticket, Action.OFFER, SYSTEM, reason=decision.reason, to=[s.name for s in decision.staff],
                    groups=[g.name for g in decision.groups])  # fmt: skip
    elif decision.kind == "pool":
        # The group grabs it; supervisors see it under /queue rather than in a push per ticket.
        work.change(ticket, Action.POOL, SYSTEM, reason=decision.reason, groups=[g.name for g in decision.groups])
    else:
        work.change(ticket, Action.NOTE, SYSTEM, dispatch=decision.reason)
    return decision


def assign(work: Work, staff: Staff, ticket: Ticket, chosen: Staff, reassign: bool) -> None:
    """/assign and /reassign from the dispatch desk."""
    if refused(work, staff, "reassign" if reassign else "assign", ticket):
        return
    if not ticket.is_active or ticket.assignee_id == chosen.id:
        work.say(CHANGED, number=ticket.number)
        return
    before = ticket.assignee_id
    action = Action.ASSIGN if ticket.status is Status.NEW else Action.REASSIGN
    work.change(ticket, action, assignee=chosen.name, assignee_id=chosen.id, reason=f"by {staff.name}",
                previous_id=before)  # fmt: skip


def decline(work: Work, staff: Staff, ticket: Ticket, reason: str) -> None:
    if refused(work, staff, "decline", ticket) or not still_possible(work, ticket, Action.DECLINE):
        return
    work.change(ticket, Action.DECLINE, reason=reason, assignee_id=ticket.assignee_id)
    dispatch(work, ticket)


def grab(work: Work, staff: Staff, ticket: Ticket) -> None:
    """From the grab pool or an emergency offer: the first to claim it gets it."""
    if refused(work, staff, "grab", ticket):
        return
    if ticket.status is not Status.NEW:
        taken = ticket.assignee_name or work.t("someone else")
        work.say(N_("Too late: {number} was already taken by {name}."), number=ticket.number, name=taken)
        return
    if not offered_to(ticket, staff, work.now.astimezone(work.settings.zone)):
        work.say(N_("{number} was not offered to you: it is for those on shift it was offered to."),
                 number=ticket.number)  # fmt: skip
        return
    work.change(ticket, Action.CLAIM, assignee=staff.name, assignee_id=staff.id)


def roll_over(work: Work) -> list[str]:
    """Pushes left unanswered past [dispatch] unanswered_minutes go to the next candidate; the numbers moved.

    A timer's work: the system declines for the technician who did not answer, and dispatch goes on."""
    limit = work.now - work.settings.dispatch.unanswered
    minutes = int(work.settings.dispatch.unanswered.total_seconds() // 60)
    moved = []
    for listed in work.uow.tickets.list(TicketQuery(estate_code=work.estate.code, status=Status.ASSIGNED)):
        assigned_at = listed.milestones.get("assigned")
        if listed.kind is not TicketKind.REPAIR or listed.assignee_id is None or not assigned_at or assigned_at > limit:
            continue
        ticket = work.uow.tickets.get(listed.id or 0, for_update=True)
        if ticket is None or ticket.status is not Status.ASSIGNED or ticket.milestones.get("assigned") != assigned_at:
            continue  # taken meanwhile
        work.change(ticket, Action.DECLINE, SYSTEM, reason=f"no answer within {minutes} minutes",
                    assignee_id=ticket.assignee_id)  # fmt: skip
        dispatch(work, ticket)
        moved.append(ticket.number)
    return moved


def refused(work: Work, staff: Staff, verb: str, ticket: Ticket) -> bool:
    """Checked again under lock: the conversation checked before, but the ticket may have changed since."""
    reason = refusal(staff, verb, ticket)
    if reason is not None:
        work.say(reason)
    return reason is not None


def still_possible(work: Work, ticket: Ticket, action: Action) -> bool:
    if action in allowed_actions(ticket):
        return True
    work.say(CHANGED, number=ticket.number)
    return False
