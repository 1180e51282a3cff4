"""What residents ask of their own tickets, checked again under lock: withdraw, chase, join, verdict, rating;
and customer service vouching for a stranger."""

from __future__ import annotations

from core.conversation.context import Speaker
from core.conversation.views import status_for_resident
from core.domain.directory import Staff
from core.domain.lifecycle import Action, allowed_actions, withdrawable
from core.domain.model import Attachment, Status, Subscriber, Ticket
from core.domain.people import Address, PersonRef
from core.domain.roles import refusal
from core.i18n import N_
from core.notices import joined
from core.services.work import Work

CHANGED = N_("Sorry, {number} changed a moment ago: it is {status} now. Send /status {number} to see it.")


def _own(work: Work, speaker: Speaker, ticket: Ticket, joined_too: bool = False) -> bool:
    if ticket.reported_by(speaker.resident_id, speaker.address):
        return True
    if joined_too and any(s.is_(speaker.resident_id, speaker.address) for s in work.subscribers(ticket)):
        return True
    work.say(N_("I can't find a ticket {number} of yours. Send /tickets to see them."), number=ticket.number)
    return False


def _changed(work: Work, ticket: Ticket) -> None:
    work.say(CHANGED, number=ticket.number, status=status_for_resident(ticket, work.t))


def withdraw(work: Work, speaker: Speaker, ticket: Ticket) -> None:
    if not _own(work, speaker, ticket):
        return
    if not withdrawable(ticket, work.now):
        _changed(work, ticket)
        return
    work.change(ticket, Action.CANCEL, reason="withdrawn by the resident")


def chase(work: Work, speaker: Speaker, ticket: Ticket) -> None:
    if not _own(work, speaker, ticket, joined_too=True):
        return
    if not ticket.is_active:
        _changed(work, ticket)
        return
    work.change(ticket, Action.CHASE)


def join(work: Work, speaker: Speaker, ticket: Ticket, origin: Address | None, origin_message: str) -> None:
    if not ticket.is_active:
        work.say(N_("That report was closed meanwhile. Please report the fault again if it is still there."))
        return
    assert ticket.id is not None
    subscriber = Subscriber(speaker.name, speaker.resident_id, speaker.address, origin, origin_message)
    if work.uow.tickets.subscribe(ticket.id, subscriber, work.now):
        work.forget_followers(ticket)
        work.change(ticket, Action.JOIN)
    else:
        work.say(joined(ticket), number=ticket.number, count=ticket.reporters)  # they had joined before


def verdict(work: Work, speaker: Speaker, ticket: Ticket, fixed: bool, reason: str = "") -> None:
    """The resident's word on a finished repair (or an answered feedback): closed, or back for rework."""
    if not _own(work, speaker, ticket):
        return
    if ticket.status is not Status.RESOLVED:
        _changed(work, ticket)
        return
    if fixed:
        work.change(ticket, Action.CONFIRM_FIX)
    else:
        work.change(ticket, Action.REWORK, reason=reason)


def rate(work: Work, speaker: Speaker, ticket: Ticket, rating: int, comment: str) -> None:
    if not _own(work, speaker, ticket):
        return
    if ticket.status is not Status.CLOSED:
        _changed(work, ticket)
        return
    work.change(ticket, Action.RATE, rating=rating, comment=comment)


def confirm_registration(work: Work, staff: Staff, ticket: Ticket, resident_id: int | None) -> None:
    """Customer service vouches that a stranger lives in the room they reported from: the address they wrote
    from is linked to the resident they are (or to a new resident of that room), and their report is verified."""
    reason = refusal(staff, "register")
    if reason is not None:
        work.say(reason)
        return
    room, address = ticket.location.room, ticket.reporter_address
    if ticket.verified or room is None or address is None:
        work.say(N_("{number}: nothing to confirm."), number=ticket.number)
        return
    # They wrote from that address last (it is where the report came from): pushes follow them there.
    if resident_id is None:
        resident_id = work.uow.directory.register(work.estate.code, ticket.reporter, room, address, seen=work.now)
    else:
        work.uow.directory.link(work.estate.code, address, PersonRef("resident", resident_id), seen=work.now)
        resident = work.estate.resident(resident_id)
        ticket.reporter = resident.name if resident is not None else ticket.reporter
    person = PersonRef("resident", resident_id)
    chosen = work.uow.people.locale(address)  # a language picked while a stranger stays theirs
    if chosen is not None and work.uow.people.locale(person) is None:
        work.uow.people.set_locale(person, chosen, work.now)
    ticket.verified = True
    ticket.reporter_resident_id = resident_id
    work.change(ticket, Action.NOTE, registration_confirmed=room)


def answer_quote(work: Work, speaker: Speaker, ticket: Ticket, agree: bool, quote: int = 0) -> None:
    """The reporter agrees to the technician's quote, or declines it; the technician is told either way."""
    if not _own(work, speaker, ticket):
        return
    if ticket.quote_waiting is None or not ticket.is_active:
        work.say(N_("{number} has no charge waiting for your answer."), number=ticket.number)
        return
    if quote and quote != len(ticket.quotes):  # the button of a quote since replaced
        work.say(N_("That charge was replaced by a newer one for {number}: please answer the newest message."),
                 number=ticket.number)  # fmt: skip
        return
    action = Action.AGREE_QUOTE if agree else Action.DECLINE_QUOTE
    if action not in allowed_actions(ticket):  # the job moved on (reassigned) while the resident read it
        work.say(CHANGED, number=ticket.number, status=status_for_resident(ticket, work.t))
        return
    work.change(ticket, action)


def add_detail(work: Work, speaker: Speaker, ticket: Ticket, text: str, attachments: tuple[Attachment, ...]) -> None:
    """More about a report already made: a detail (kept in the history) and photos (kept with the ticket)."""
    if not _own(work, speaker, ticket):
        return
    if not ticket.is_active:
        _changed(work, ticket)
        return
    ticket.attachments = (*ticket.attachments, *attachments)
    work.change(ticket, Action.NOTE, added=text, photos=len(attachments))
