"""Tickets and their history: the records every other part of baoxiu reads and writes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.domain.people import Address


class TicketKind(enum.StrEnum):
    REPAIR = "repair"
    FEEDBACK = "feedback"


class Source(enum.StrEnum):
    RESIDENT_CHAT = "resident_chat"
    FRONT_DESK = "front_desk"
    PATROL = "patrol"
    PREVENTIVE = "preventive"


class Urgency(enum.StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"


FOUND_BY_STAFF = frozenset({Source.PATROL, Source.PREVENTIVE})  # no resident reported these


class Status(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED}
)
# Open and not waiting for the resident's verdict: what can still be chased, joined, withdrawn or worked on.
ACTIVE_STATUSES = OPEN_STATUSES - {Status.RESOLVED}
# What a technician has in hand: their workload for dispatch.
HELD_STATUSES = frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD})


class Trade(enum.StrEnum):
    PLUMBING = "plumbing"
    ELECTRICAL = "electrical"
    CIVIL = "civil"
    HVAC = "hvac"
    LIFT = "lift"
    FIRE_SAFETY = "fire_safety"


REPAIR_CATEGORIES = (*(t.value for t in Trade), "other")
FEEDBACK_CATEGORIES = ("service_quality", "facilities", "hygiene", "security", "community", "other")
# A resident who asked to talk to a person: a feedback ticket whose replies are the conversation with customer
# service, kept in its history like any other. Not offered among the feedback categories: asked for by name.
LIVE_CHAT = "talk"


def categories_for(kind: TicketKind) -> tuple[str, ...]:
    return REPAIR_CATEGORIES if kind is TicketKind.REPAIR else (*FEEDBACK_CATEGORIES, LIVE_CHAT)


@dataclass(frozen=True)
class Location:
    """Where the fault is: a registered room, a common area, or text that staff must review."""

    room: str | None = None
    common_area: str | None = None
    text: str | None = None

    @property
    def needs_review(self) -> bool:
        return self.room is None and self.common_area is None

    def label(self) -> str:
        return self.room or self.common_area or self.text or ""


@dataclass(frozen=True)
class Attachment:
    """A reference to a photo, voice note or location pin kept outside the ticket row."""

    kind: str  # photo | voice | location | file
    ref: str
    caption: str = ""


@dataclass(frozen=True)
class Actor:
    """Who did something: a resident, a staff member, the system, or a command-line operator."""

    kind: str  # resident | staff | system | operator
    name: str
    id: int | None = None


SYSTEM = Actor("system", "dispatch")


@dataclass(frozen=True)
class HistoryEvent:
    """One line of a ticket's append-only history, and the domain event that notices tell people about."""

    at: datetime
    actor: Actor
    action: str
    from_status: Status | None
    to_status: Status
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quote:
    """What a technician asks the resident to pay for work the property fee does not cover, and their answer."""

    amount: Decimal
    text: str
    by: str
    answer: str = ""  # "" while the resident has not answered; "agreed" | "declined" | "withdrawn" | "replaced"


def amount_of(value: object) -> Decimal:
    """Money as stored (a string such as "120.50"): exact, never a float."""
    try:
        return Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        return Decimal(0).quantize(CENT)


CENT = Decimal("0.01")
QUOTE_ANSWERS = {"agree_quote": "agreed", "decline_quote": "declined", "withdraw_quote": "withdrawn"}


@dataclass(frozen=True)
class Subscriber:
    """A resident who joined a ticket instead of reporting the same fault again."""

    name: str
    resident_id: int | None = None  # known residents are told on the address they use
    address: Address | None = None  # where they wrote from (the only way to reach a stranger)
    origin: Address | None = None  # the group they joined from, whose message gets progress replies
    origin_message: str = ""

    def is_(self, resident_id: int | None, address: Address | None) -> bool:
        """Whether this is that person: a known resident by their id, anyone by where they wrote from."""
        return (resident_id is not None and self.resident_id == resident_id) or self.address == address


@dataclass(frozen=True)
class Material:
    name: str
    quantity: Decimal = Decimal(1)
    unit: str = ""
    cost: Decimal = Decimal("0.00")  # what it cost in all, to the cent

    @classmethod
    def load(cls, data: dict[str, Any]) -> Material:
        """As stored: numbers as text ("35.50"), or as floats written by an older baoxiu."""
        return cls(str(data.get("name", "")), Decimal(str(data.get("quantity", 1))), str(data.get("unit", "")),
                   amount_of(data.get("cost", 0)))  # fmt: skip

    def dump(self) -> dict[str, str]:
        return {"name": self.name, "quantity": str(self.quantity), "unit": self.unit, "cost": str(self.cost)}


@dataclass
class Ticket:
    """A repair or feedback ticket; change it only through core.domain.lifecycle."""

    kind: TicketKind
    source: Source
    estate_code: str
    location: Location
    category: str
    description: str
    urgency: Urgency
    reporter: str
    created_at: datetime
    number: str = ""
    id: int | None = None
    status: Status = Status.NEW
    reporter_resident_id: int | None = None
    reporter_contact: str = ""
    reporter_address: Address | None = None  # where the report came from, to answer a stranger there
    taken_by: str = ""  # the staff member who wrote a report down for someone (a call, a walk-in)
    origin: Address | None = None  # a group chat it was reported in, whose message gets progress replies
    origin_message: str = ""
    anonymous: bool = False
    verified: bool = True
    assignee_id: int | None = None
    assignee_name: str = ""
    department: str = ""
    attachments: tuple[Attachment, ...] = ()
    milestones: dict[str, datetime] = field(default_factory=dict)
    response_due: datetime | None = None
    resolve_due: datetime | None = None
    materials: tuple[Material, ...] = ()
    cost: Decimal = Decimal("0.00")
    resolution: str = ""
    acceptance: str = ""  # "" | accepted | rejected
    rating: int | None = None
    rating_comment: str = ""
    rework_count: int = 0
    # A change of plan or a cost waiting for a supervisor: {"request": "plan"|"cost", "text", "cost", ...}.
    pending_approval: dict[str, Any] | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    # Events appended since the ticket was loaded; the repository persists and clears them.
    new_events: list[HistoryEvent] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def quotes(self) -> list[Quote]:
        """Every quote put to the resident, with their answer, oldest first (read from the history)."""
        found: list[Quote] = []
        for event in self.history:
            answer = QUOTE_ANSWERS.get(event.action)
            if found and not found[-1].answer and (answer or event.action == "quote"):
                last = found.pop()  # answered, withdrawn, or replaced by the quote that follows
                found.append(Quote(last.amount, last.text, last.by, answer or "replaced"))
            if event.action == "quote":
                found.append(Quote(amount_of(event.details.get("amount")), str(event.details.get("text", "")),
                                   event.actor.name))  # fmt: skip
        return found

    @property
    def quote_waiting(self) -> Quote | None:
        """A quote the resident has not answered yet: the work it is for waits."""
        quotes = self.quotes
        return quotes[-1] if quotes and not quotes[-1].answer else None

    @property
    def charge(self) -> Decimal:
        """What the resident pays: the quotes they agreed to."""
        return sum((q.amount for q in self.quotes if q.answer == "agreed"), Decimal(0).quantize(CENT))

    @property
    def is_chat(self) -> bool:
        """A resident's conversation with customer service (LIVE_CHAT), not a report."""
        return self.kind is TicketKind.FEEDBACK and self.category == LIVE_CHAT

    @property
    def reporters(self) -> int:
        """The residents who reported it: its reporter, unless staff found it (a patrol, planned work), and
        every resident who joined the ticket instead of reporting it again."""
        return int(self.source not in FOUND_BY_STAFF) + sum(1 for event in self.history if event.action == "join")

    def reported_by(self, resident_id: int | None, address: Address | None) -> bool:
        """Whether this person reported it: a known resident by their id, a stranger by where they wrote from."""
        if resident_id is not None and self.reporter_resident_id == resident_id:
            return True
        return address is not None and self.reporter_resident_id is None and self.reporter_address == address
