"""The ports core needs from storage: small abstract repositories and a unit of work."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from core.directory import Estate
from core.model import Registration, Status, Subscriber, Ticket


@dataclass
class SyncReport:
    """What a directory load changed, per kind of entry."""

    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deactivated: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: str, kind: str) -> None:
        counts: dict[str, int] = getattr(self, bucket)
        counts[kind] = counts.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deactivated)


@dataclass(frozen=True)
class OutboxMessage:
    """A message to deliver later, exactly once, identified by its idempotency key."""

    key: str
    channel: str
    recipient: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class TicketQuery:
    status: Status | None = None
    since: datetime | None = None
    estate_code: str | None = None
    reporter_resident_id: int | None = None
    reporter_ref: str | None = None  # with reporter_resident_id: tickets of either
    open_only: bool = False
    assignee_id: int | None = None
    awaiting_approval: bool = False
    limit: int | None = None


@dataclass(frozen=True)
class Workload:
    """How busy a technician is: tickets in hand now, and when they were last given one."""

    open_tickets: int = 0
    last_assigned: datetime | None = None


class TicketRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, ticket: Ticket) -> None:
        """Store a new ticket and its first history events; sets ticket.id."""

    @abc.abstractmethod
    def save(self, ticket: Ticket) -> None:
        """Store a changed ticket and append its new history events."""

    @abc.abstractmethod
    def get(self, ticket_id: int, for_update: bool = False) -> Ticket | None:
        """for_update: lock the row until the transaction ends, so two changes cannot overwrite each other."""

    @abc.abstractmethod
    def get_by_number(self, number: str, for_update: bool = False) -> Ticket | None: ...

    @abc.abstractmethod
    def list(self, query: TicketQuery) -> list[Ticket]: ...

    @abc.abstractmethod
    def next_sequence(self, estate_code: str, local_day: date) -> int:
        """The next ticket sequence for an estate's local day, safe across processes."""

    @abc.abstractmethod
    def subscribe(self, ticket_id: int, subscriber: Subscriber, now: datetime) -> bool:
        """False when that person follows the ticket already."""

    @abc.abstractmethod
    def subscribers(self, ticket_id: int) -> list[Subscriber]: ...

    @abc.abstractmethod
    def workloads(self, estate_code: str) -> dict[int, Workload]:
        """Per staff id: the tickets they hold (assigned, accepted, in progress, on hold) and the last given."""

    @abc.abstractmethod
    def open_area_reports(self, estate_code: str) -> list[tuple[str, str, str, int]]:
        """(number, common area, category, reporters) of open tickets about shared places."""

    @abc.abstractmethod
    def unverified_open(self, estate_code: str, reporter_ref: str) -> list[str]:
        """Numbers of a chat identity's open tickets in an estate, reported before customer service confirmed them."""


class DirectoryRepository(abc.ABC):
    @abc.abstractmethod
    def sync(self, estate: Estate) -> SyncReport:
        """Make the stored directory match the file: add, update, deactivate (never delete)."""

    @abc.abstractmethod
    def get(self, code: str) -> Estate | None:
        """The estate with its active people."""

    @abc.abstractmethod
    def codes(self) -> list[str]: ...

    @abc.abstractmethod
    def version(self, code: str) -> int | None:
        """Changes whenever a load changes the estate; None when there is no such estate."""


@dataclass(frozen=True)
class TurnOpening:
    """What a turn reads before it starts: the conversation's state, the language the person chose, and
    customer service's registration of them (read together: on the message path each read is a round trip)."""

    state: dict[str, Any] | None
    locale: str | None
    registration: Registration | None


class DialogueStateRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, channel: str, chat: str, user: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def opening(
        self, channel: str, chat: str, user: str, person_ref: str, claim: tuple[str, datetime] | None = None
    ) -> TurnOpening | None:
        """The state of (channel, chat, user), the locale of (channel, user), the registration of person_ref.

        With claim=(native id, now) the message is also marked handled, so that a message delivered twice is
        handled once: the answer is None when it was handled before (the caller then does nothing)."""

    @abc.abstractmethod
    def put(self, channel: str, chat: str, user: str, state: dict[str, Any], now: datetime) -> None: ...

    @abc.abstractmethod
    def delete(self, channel: str, chat: str, user: str) -> None: ...


class RegistrationRepository(abc.ABC):
    """Strangers customer service vouched for (read back with a turn's opening)."""

    @abc.abstractmethod
    def confirm(self, registration: Registration, now: datetime) -> None: ...


class StaffContactRepository(abc.ABC):
    """Chat identities staff have talked from, beyond the directory's: where their pushes also go."""

    @abc.abstractmethod
    def note(self, channel: str, user: str, staff_id: int, now: datetime) -> None: ...

    @abc.abstractmethod
    def of(self, staff_id: int) -> list[tuple[str, str]]:
        """(channel, user) pairs, oldest first."""


class UserSettingsRepository(abc.ABC):
    @abc.abstractmethod
    def locale(self, channel: str, user: str) -> str | None: ...

    @abc.abstractmethod
    def set_locale(self, channel: str, user: str, locale: str, now: datetime) -> None: ...


class Outbox(abc.ABC):
    @abc.abstractmethod
    def add_all(self, messages: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
        """Queue messages in one statement; what comes back is those whose keys were not queued before."""

    def add(self, message: OutboxMessage, now: datetime) -> bool:
        """Queue a message; False when its key was queued before."""
        return bool(self.add_all([message], now))

    @abc.abstractmethod
    def due(
        self, now: datetime, limit: int = 100, channels: tuple[str, ...] | None = None, recipient: str | None = None
    ) -> list[OutboxMessage]:
        """Messages to send now, oldest first; none that would overtake an earlier one to the same chat.
        Only for the channels (and the recipient) given, when given."""

    @abc.abstractmethod
    def mark_sent(self, keys: list[str], now: datetime) -> None:
        """Delivered, all of them (one statement: the sender writes back a batch at a time)."""

    @abc.abstractmethod
    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None: ...

    @abc.abstractmethod
    def mark_dead(self, key: str, error: str) -> None:
        """Never to be sent: the channel refused it for good (blocked bot, chat gone)."""

    @abc.abstractmethod
    def pending_count(self) -> int: ...


class UnitOfWork(abc.ABC):
    """One transaction: everything done through it commits together or not at all."""

    tickets: TicketRepository
    directory: DirectoryRepository
    dialogues: DialogueStateRepository
    settings: UserSettingsRepository
    outbox: Outbox
    registrations: RegistrationRepository
    contacts: StaffContactRepository

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...
