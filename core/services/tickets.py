"""Opening tickets, from chat or the front desk alike, and finding them again."""

from __future__ import annotations

from dataclasses import replace

from core.domain.directory import Estate, Resident
from core.domain.errors import NotFound
from core.domain.lifecycle import Action
from core.domain.model import Actor, Source, Ticket
from core.domain.tickets import TicketDraft, normal_number, ticket_number
from core.domain.tickets import open_ticket as new_ticket
from core.ports import UnitOfWork
from core.services.dispatching import dispatch
from core.services.work import Work


def open_ticket(work: Work, draft: TicketDraft, actor: Actor, outcome: str = "open", pointer: str = "") -> Ticket:
    """Number and store a new ticket, then send it on its way: self-resolved and out-of-scope reports are closed
    at once; every other goes to dispatch, whoever opened it."""
    uow, code = work.uow, work.estate.code
    local_day = work.now.astimezone(work.settings.zone).date()
    number = ticket_number(code, local_day, uow.tickets.next_sequence(code, local_day))
    ticket = new_ticket(draft, code, number, actor, work.now, work.settings.sla)
    uow.tickets.add(ticket)
    work.opened(ticket)
    if outcome == "self_resolved":
        work.change(ticket, Action.SELF_RESOLVE, actor)
    elif outcome == "out_of_scope":
        work.change(ticket, Action.CLOSE_OUT_OF_SCOPE, actor, pointer=pointer)
    else:
        dispatch(work, ticket)
    return ticket


def find_ticket(uow: UnitOfWork, reference: str, for_update: bool = False) -> Ticket:
    """A ticket by its number (any letter case) or by its database id; locked when it is to be changed."""
    reference = reference.strip()
    ticket = uow.tickets.get_by_number(normal_number(reference), for_update)
    if ticket is None and reference.isdigit():
        ticket = uow.tickets.get(int(reference), for_update)
    if ticket is None:
        raise NotFound(f'no ticket "{reference}"')
    return ticket


def resident_named(estate: Estate, text: str) -> Resident | None:
    """A resident by full name, either half of it, or phone number."""
    wanted = text.strip().casefold()
    for resident in estate.residents:
        names = {resident.name.casefold(), *(part.casefold() for part in resident.name.split())}
        if resident.active and (wanted in names or (resident.phone and wanted == resident.phone)):
            return resident
    return None


def taken_at_the_desk(
    estate: Estate, draft: TicketDraft, source: Source, taken_by: str = "", caller: str = ""
) -> TicketDraft:
    """A report written down for a resident (a call, a walk-in, a patrol), by `taken_by` (a staff member's name,
    or nobody's on the command line): the reporter is the resident named, else the resident of the room, else
    whoever called (what is shown for nobody is said in each reader's language: views.reporter_label)."""
    room = draft.location.room
    resident = resident_named(estate, caller) if caller else None
    if resident is None and room and not caller and source is Source.FRONT_DESK:  # the resident who called
        resident = next(iter(estate.residents_of(room)), None)
    if resident is None:
        return replace(draft, source=source, reporter=caller, reporter_resident_id=None, reporter_contact=caller,
                       reporter_address=None, verified=True, taken_by=taken_by)  # fmt: skip
    return replace(draft, source=source, reporter=resident.name, reporter_resident_id=resident.id,
                   reporter_contact=resident.phone, reporter_address=None, verified=True,
                   taken_by=taken_by)  # fmt: skip
