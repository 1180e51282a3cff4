"""A job's steps as staff take them, approvals, and replies to feedback; each checked again under lock."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from core.conversation.views import STEPS
from core.domain.directory import Staff
from core.domain.lifecycle import Action, allowed_actions
from core.domain.model import Actor, Attachment, Material, Status, Ticket, amount_of
from core.i18n import N_
from core.services.dispatching import CHANGED, refused, still_possible
from core.services.work import Work

MONEY = re.compile(r"(?:[¥￥]\s*(\d+(?:\.\d+)?))|(\d+(?:\.\d+)?)\s*(?:元|yuan|rmb|cny)", re.IGNORECASE)


def take_step(work: Work, staff: Staff, ticket: Ticket, verb: str, argument: str) -> None:
    """accept, on the way (argument: minutes), arrived, start, on hold (argument: why), resume."""
    action = STEPS[verb][0]
    if refused(work, staff, verb, ticket) or not still_possible(work, ticket, action):
        return
    details: dict[str, Any] = {}
    if verb == "way":
        details["eta_minutes"] = int(argument)
    if verb == "hold":
        details["reason"] = argument
    work.change(ticket, action, **details)


def change_plan(work: Work, staff: Staff, ticket: Ticket, text: str) -> None:
    if refused(work, staff, "plan", ticket) or not still_possible(work, ticket, Action.REQUEST_APPROVAL):
        return
    if ticket.pending_approval is not None:
        work.say(N_("{number} is already waiting for a supervisor's decision."), number=ticket.number)
        return
    match = MONEY.search(text)
    cost = amount_of(next(g for g in match.groups() if g)) if match else amount_of(0)
    work.change(ticket, Action.REQUEST_APPROVAL, request="plan", text=text, cost=cost, by=staff.name, by_id=staff.id)


def quote(work: Work, staff: Staff, ticket: Ticket, amount: Decimal, text: str) -> None:
    """A charge for work in the home that the property fee does not cover: the resident agrees before the work."""
    if refused(work, staff, "quote", ticket) or not still_possible(work, ticket, Action.QUOTE):
        return
    if not amount:  # "0" or 撤回: the quote waiting is taken back
        if ticket.quote_waiting is None:
            work.say(N_("{number} has no quote waiting to take back."), number=ticket.number)
        else:
            work.change(ticket, Action.WITHDRAW_QUOTE)
        return
    if not chargeable(ticket):
        work.say(N_("{number} is not in a home whose resident can be asked here: agree any charge in person."),
                 number=ticket.number)  # fmt: skip
        return
    work.change(ticket, Action.QUOTE, amount=amount, text=text)


def chargeable(ticket: Ticket) -> bool:
    """Work a resident may be charged for: in a home, reported by someone who can be asked in chat."""
    return ticket.location.room is not None and (ticket.reporter_resident_id is not None
                                                 or ticket.reporter_address is not None)  # fmt: skip


def finish(work: Work, staff: Staff, ticket: Ticket, note: str, materials: tuple[Material, ...],
           photo: Attachment | None) -> None:  # fmt: skip
    """Done: a cost above the threshold waits for a supervisor's approval first."""
    if refused(work, staff, "done", ticket) or not still_possible(work, ticket, Action.RESOLVE):
        return
    if ticket.pending_approval is not None:
        work.say(N_("{number} is already waiting for a supervisor's decision."), number=ticket.number)
        return
    cost = sum((m.cost for m in materials), amount_of(0))
    if photo is not None:
        ticket.attachments = (*ticket.attachments, Attachment("photo", photo.ref, "after"))
    if cost > work.settings.dispatch.cost_approval_threshold:
        work.change(ticket, Action.REQUEST_APPROVAL, request="cost", note=note, materials=list(materials), cost=cost,
                    by=staff.name, by_id=staff.id)  # fmt: skip
        return
    work.change(ticket, Action.RESOLVE, note=note, materials=list(materials), cost=cost)


def decide(work: Work, staff: Staff, ticket: Ticket, approve: bool) -> None:
    """A supervisor's answer to a change of plan or a cost; an approved cost marks the job done for its technician."""
    if refused(work, staff, "approve", ticket):
        return
    pending = ticket.pending_approval
    if pending is None or ticket.status not in (Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD):
        work.say(N_("{number} has nothing waiting for approval."), number=ticket.number)
        return
    work.change(ticket, Action.APPROVE if approve else Action.REJECT, request=pending["request"])
    if approve and pending["request"] == "cost" and Action.RESOLVE in allowed_actions(ticket):
        technician = Actor("staff", str(pending.get("by", "")), pending.get("by_id"))
        materials = [Material.load(m) for m in pending.get("materials", [])]
        work.change(ticket, Action.RESOLVE, technician, note=pending.get("note", ""), materials=materials,
                    cost=amount_of(pending.get("cost", 0)))  # fmt: skip


def send_reply(work: Work, staff: Staff, ticket: Ticket, text: str, resolve: bool) -> None:
    """A department's answer to feedback: sent to the resident, and the ticket answered or kept open."""
    if refused(work, staff, "reply", ticket):
        return
    if not ticket.is_active:
        work.say(CHANGED, number=ticket.number)
        return
    action = Action.RESOLVE if resolve and Action.RESOLVE in allowed_actions(ticket) else Action.REPLY
    work.change(ticket, action, reply=text)


def reveal(work: Work, staff: Staff, ticket: Ticket) -> None:
    """Who gave an anonymous feedback, for a manager who asks: a deliberate look, kept in the history."""
    if refused(work, staff, "reveal", ticket):
        return
    if not ticket.anonymous:
        work.say(N_("{number} is not anonymous: staff see who reported it."), number=ticket.number)
        return
    work.change(ticket, Action.NOTE, Actor("staff", staff.name, staff.id), revealed_to=staff.name)
