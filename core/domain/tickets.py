"""Opening a ticket: its number, its deadlines and the first line of its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.domain.deadlines import SlaPolicy
from core.domain.errors import DomainError
from core.domain.lifecycle import Action, record
from core.domain.model import Actor, Attachment, Location, Source, Ticket, TicketKind, Urgency, categories_for
from core.domain.people import Address


def ticket_number(estate_code: str, local_day: date, sequence: int) -> str:
    """`CODE-YYYYMMDD-NNNN`, numbered from 1 each local day; in capitals, so that the unique index finds it."""
    return f"{estate_code.upper()}-{local_day:%Y%m%d}-{sequence:04d}"


def normal_number(reference: str) -> str:
    """A ticket number as stored, however it was typed."""
    return reference.strip().upper()


@dataclass(frozen=True)
class TicketDraft:
    """What intake or the front desk knows about a new ticket."""

    kind: TicketKind
    source: Source
    location: Location
    category: str
    description: str
    urgency: Urgency
    reporter: str
    reporter_resident_id: int | None = None
    reporter_contact: str = ""
    reporter_address: Address | None = None
    taken_by: str = ""
    origin: Address | None = None
    origin_message: str = ""
    anonymous: bool = False
    verified: bool = True
    department: str = ""
    attachments: tuple[Attachment, ...] = ()
    # A safety word the reporter said, whose emergency they lowered after being asked: kept in the history.
    lowered_from_emergency: str = ""


def open_ticket(
    draft: TicketDraft,
    estate_code: str,
    number: str,
    actor: Actor,
    now: datetime,
    policy: SlaPolicy | None = None,
) -> Ticket:
    if draft.category not in categories_for(draft.kind):
        known = ", ".join(categories_for(draft.kind))
        raise DomainError(f'unknown {draft.kind.value} category "{draft.category}" (known: {known})')
    if not draft.description.strip():
        raise DomainError("a ticket needs a description")
    policy = policy or SlaPolicy()
    ticket = Ticket(
        kind=draft.kind,
        source=draft.source,
        estate_code=estate_code,
        number=number,
        location=draft.location,
        category=draft.category,
        description=draft.description.strip(),
        urgency=draft.urgency,
        reporter=draft.reporter,
        reporter_resident_id=draft.reporter_resident_id,
        reporter_contact=draft.reporter_contact,
        reporter_address=draft.reporter_address,
        taken_by=draft.taken_by,
        origin=draft.origin,
        origin_message=draft.origin_message,
        anonymous=draft.anonymous,
        verified=draft.verified,
        department=draft.department,
        attachments=draft.attachments,
        created_at=now,
        response_due=policy.response_due(draft.urgency, now),
        resolve_due=policy.resolve_due(draft.urgency, now),
    )
    ticket.milestones["created"] = now
    details: dict[str, object] = {"source": draft.source.value, "urgency": draft.urgency.value}
    if draft.location.needs_review:
        details["location_needs_review"] = True
    if draft.lowered_from_emergency:  # who lowered it is the actor of this event
        details["lowered_from_emergency"] = f'mentioned "{draft.lowered_from_emergency}", said there is no danger'

    record(ticket, actor, now, Action.CREATE, None, details)
    return ticket
