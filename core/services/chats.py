"""A resident's conversation with customer service ("talk to a person"): taken, carried through the bot, ended.

The conversation is a feedback ticket of the LIVE_CHAT category: what each side writes is in its history, so it
is kept like every report, and core.notices carries it from one side to the other."""

from __future__ import annotations

from core.conversation.context import Speaker
from core.conversation.views import CHAT_OVER
from core.domain.directory import Staff
from core.domain.lifecycle import Action
from core.domain.model import Ticket
from core.i18n import N_
from core.services.dispatching import refused
from core.services.work import Work


def take(work: Work, staff: Staff, ticket: Ticket) -> None:
    """The first of customer service to answer has the conversation; the others are told who did."""
    if refused(work, staff, "reply", ticket):
        return
    if not ticket.is_active:
        work.say(CHAT_OVER)
    elif ticket.assignee_id == staff.id:
        return
    elif ticket.assignee_id is not None:
        work.say(N_("{name} is already answering them."), name=ticket.assignee_name)
    else:
        work.change(ticket, Action.CLAIM, assignee=staff.name, assignee_id=staff.id)


def say(work: Work, staff: Staff, ticket: Ticket, text: str) -> None:
    if not ticket.is_active or ticket.assignee_id != staff.id:
        work.say(CHAT_OVER)
        return
    work.change(ticket, Action.REPLY, reply=text)


def end(work: Work, speaker: Speaker, ticket: Ticket) -> None:
    """Customer service hands the resident back to the assistant (answered and closed); a resident who goes back
    themselves withdraws the request."""
    if not ticket.is_active:
        return
    if speaker.staff is None:
        work.change(ticket, Action.CANCEL, reason="back to the assistant")
    else:
        work.change(ticket, Action.RESOLVE, reply="handed back to the assistant")
        work.change(ticket, Action.CLOSE)
