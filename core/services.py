"""Use cases that several channels share; they speak only to the ports in core.ports."""

from __future__ import annotations

from datetime import datetime, tzinfo

from core.errors import NotFound
from core.lifecycle import Action, apply
from core.model import Actor, HistoryEvent, Ticket
from core.ports import UnitOfWork
from core.sla import SlaPolicy
from core.tickets import TicketDraft, open_ticket, ticket_number


def create_ticket(
    uow: UnitOfWork,
    draft: TicketDraft,
    estate_code: str,
    actor: Actor,
    now: datetime,
    zone: tzinfo,
    policy: SlaPolicy | None = None,
) -> Ticket:
    """Number and store a new ticket inside the caller's transaction."""
    local_day = now.astimezone(zone).date()
    number = ticket_number(estate_code, local_day, uow.tickets.next_sequence(estate_code, local_day))
    ticket = open_ticket(draft, estate_code, number, actor, now, policy)
    uow.tickets.add(ticket)
    return ticket


def find_ticket(uow: UnitOfWork, reference: str, for_update: bool = False) -> Ticket:
    """A ticket by its number (any letter case) or by its database id; locked when it is to be changed."""
    reference = reference.strip()
    ticket = uow.tickets.get_by_number(reference, for_update)
    if ticket is None and reference.isdigit():
        ticket = uow.tickets.get(int(reference), for_update)
    if ticket is None:
        raise NotFound(f'no ticket "{reference}"')
    return ticket


def act(
    uow: UnitOfWork,
    reference: str,
    action: Action,
    actor: Actor,
    now: datetime,
    policy: SlaPolicy | None = None,
    **details: object,
) -> tuple[Ticket, HistoryEvent]:
    ticket = find_ticket(uow, reference, for_update=True)
    event = apply(ticket, action, actor, now, policy, **details)
    uow.tickets.save(ticket)
    return ticket, event
