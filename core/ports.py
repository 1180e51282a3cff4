"""The ports core needs from storage: small abstract repositories and a unit of work.

storage/ implements them on SQLAlchemy; tests/fakes.py in memory, for the tests of conversations and services.
"""

from __future__ import annotations

import abc
import builtins
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from core.domain.directory import Estate
from core.domain.dispatch import Workload
from core.domain.model import Status, Subscriber, Ticket
from core.domain.people import Address, PersonRef

# Whose setting (the language) a row is: a person of the directory, or a stranger by their address.
Who = PersonRef | Address


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


NOTICE = "notice:"  # the key prefix of what notices push, as against a conversation's own answers


@dataclass(frozen=True)
class OutboxMessage:
    """A message to deliver later, exactly once, identified by its idempotency key."""

    key: str
    channel: str
    recipient: str
    payload: dict[str, Any]
    # Attempts made so far (0 for a message just queued): what the sender's backoff grows with. Not part of a
    # message's identity, so a message read back after a failed attempt still equals the one queued.
    attempts: int = field(default=0, compare=False)
    # Claimed before by a sender whose claim ran out (it died, say): it may have been sent already.
    uncertain: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Claim:
    """A sender's hold on the messages it sends: who (an id of its own) and until when, renewed while it lives."""

    sender: str
    until: datetime


@dataclass(frozen=True)
class TicketQuery:
    status: Status | None = None
    since: datetime | None = None
    estate_code: str | None = None
    reporter_resident_id: int | None = None
    reporter_address: Address | None = None  # with reporter_resident_id: tickets of either
    joined: bool = False  # with a reporter: also the tickets they joined instead of reporting again
    open_only: bool = False
    assignee_id: int | None = None


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
    def get_by_number(self, number: str, for_update: bool = False) -> Ticket | None:
        """By the number as stored (core.domain.tickets.normal_number)."""

    @abc.abstractmethod
    def list(self, query: TicketQuery) -> builtins.list[Ticket]:
        """Oldest first, without their history."""

    @abc.abstractmethod
    def latest_number(self, estate_code: str, resident_id: int | None, address: Address | None) -> str | None:
        """The most recent ticket this person reported, open or not."""

    @abc.abstractmethod
    def next_sequence(self, estate_code: str, local_day: date) -> int:
        """The next ticket sequence for an estate's local day, safe across processes."""

    @abc.abstractmethod
    def subscribe(self, ticket_id: int, subscriber: Subscriber, now: datetime) -> bool:
        """False when that person follows the ticket already."""

    @abc.abstractmethod
    def subscribers(self, ticket_id: int) -> builtins.list[Subscriber]: ...

    @abc.abstractmethod
    def workloads(self, estate_code: str, since: datetime) -> dict[int, Workload]:
        """Per staff id: the open tickets they hold (assigned, accepted, in progress, on hold), and the last they
        were given since `since` (older assignments are not read: the estate's whole history would be)."""

    @abc.abstractmethod
    def hold_workload(self, staff_id: int, since: datetime) -> Workload:
        """Their workload now, with the staff member locked until the transaction ends: two dispatches cannot
        both give the last free place under the cap."""

    @abc.abstractmethod
    def open_area_reports(self, estate_code: str) -> builtins.list[tuple[str, str, str, int]]:
        """(number, common area, category, reporters) of open repairs of shared places, not yet resolved."""

    @abc.abstractmethod
    def unverified_open(self, estate_code: str, address: Address) -> builtins.list[str]:
        """Numbers of open tickets a stranger reported from this address before customer service confirmed them."""


class DirectoryRepository(abc.ABC):
    @abc.abstractmethod
    def sync(self, estate: Estate) -> SyncReport:
        """Make the stored directory match the file: add, update, deactivate (never delete). Residents that
        customer service registered, and addresses linked to people since, are kept."""

    @abc.abstractmethod
    def get(self, code: str) -> Estate | None:
        """The estate with its active people and all their addresses."""

    @abc.abstractmethod
    def codes(self) -> builtins.list[str]: ...

    @abc.abstractmethod
    def version(self, code: str) -> int | None:
        """Changes whenever the estate's people or places change; None when there is no such estate."""

    @abc.abstractmethod
    def addresses(self, person: PersonRef) -> builtins.list[Address]:
        """Where the person is reached now, in the directory's order, then those linked since."""

    @abc.abstractmethod
    def link(self, estate_code: str, address: Address, person: PersonRef, seen: datetime | None = None) -> bool:
        """The address belongs to this person from now on (a chat account customer service vouched for, a
        channel someone opened as themselves). False when it was theirs already. `seen`: when they last wrote
        from it, which the address's use was not recorded for while it was nobody's."""

    @abc.abstractmethod
    def register(self, estate_code: str, name: str, room: str, address: Address, seen: datetime | None = None) -> int:
        """A resident who is not in the directory file, confirmed by customer service; their id."""


@dataclass(frozen=True)
class Opening:
    """What a turn reads before it starts, in one round trip: the conversation's state and the person's language."""

    state: dict[str, Any] | None
    locale: str | None


class ConversationRepository(abc.ABC):
    """The state of each conversation, per (channel, chat, user); and each message handled once."""

    @abc.abstractmethod
    def open(
        self, channel: str, chat: str, user: str, who: Who, now: datetime, claim: str | None = None
    ) -> Opening | None:
        """Take this person's turn: wait for any other turn of theirs to commit (in any process), then read the
        state of (channel, chat, user) and who's language, and note that they used this address now.

        With claim (the message's native id) the message is also marked handled, so that a message delivered
        twice is handled once: the answer is None when it was handled before (the caller then does nothing)."""

    @abc.abstractmethod
    def get(self, channel: str, chat: str, user: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def put(self, channel: str, chat: str, user: str, state: dict[str, Any], now: datetime) -> None: ...

    @abc.abstractmethod
    def delete(self, channel: str, chat: str, user: str) -> None: ...

    @abc.abstractmethod
    def reject(self, channel: str, native_id: str, reason: str, now: datetime) -> bool:
        """Record a message that could not be handled (it crashed its worker, say), so that it is never tried
        again; False when it was handled or rejected before."""

    @abc.abstractmethod
    def keep(self, channel: str, received: builtins.list[tuple[str, dict[str, Any]]], now: datetime) -> int:
        """Store messages as they came (native id, what the channel sent), to be handled: what a channel is told
        was received must survive a crash. A message kept, handled or rejected before is left as it is; the
        answer is how many were new."""

    @abc.abstractmethod
    def waiting(self, channel: str, received_before: datetime, limit: int) -> builtins.list[tuple[str, dict[str, Any]]]:
        """Messages kept and not yet handled, rejected or passed over, received before the time; oldest first."""

    @abc.abstractmethod
    def pass_over(self, channel: str, native_id: str, now: datetime) -> None:
        """A message kept that asks nothing of the desk (a button that is someone else's, say): no longer waiting."""


class PeopleRepository(abc.ABC):
    """What people chose, and where they were last seen."""

    @abc.abstractmethod
    def locale(self, who: Who) -> str | None: ...

    @abc.abstractmethod
    def set_locale(self, who: Who, locale: str, now: datetime) -> None: ...

    @abc.abstractmethod
    def last_used(self, addresses: builtins.list[Address]) -> dict[Address, datetime]:
        """When each of these addresses last wrote to the desk (those never used are left out)."""


class Outbox(abc.ABC):
    @abc.abstractmethod
    def add_all(self, messages: list[OutboxMessage], now: datetime, held: Claim | None = None) -> list[OutboxMessage]:
        """Queue messages in one statement; what comes back is those whose keys were not queued before. `held`: they
        are claimed from the start by the sender they are handed to in memory."""

    @abc.abstractmethod
    def claim(
        self, now: datetime, claim: Claim, limit: int, channels: tuple[str, ...] | None = None
    ) -> builtins.list[OutboxMessage]:
        """Take messages to send now, oldest first: pending, due, and claimed by nobody, by this sender, or by one
        whose claim ran out; none behind an earlier message to the same chat that is not due yet or that another
        sender holds. Several senders at once never take the same message, nor one chat's messages between them."""

    @abc.abstractmethod
    def renew(self, claim: Claim) -> None:
        """Extend what this sender holds to the claim's time; a claim's time in the past lets it all go."""

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

    @abc.abstractmethod
    def notices_since(self, channel: str, recipient: str, after: datetime) -> builtins.list[dict[str, Any]]:
        """What was pushed to this address (notices, not answers) after the given time and not given up on, oldest
        first: a list among them is what the person last saw, when their own conversation has said nothing since."""


class UnitOfWork(abc.ABC):
    """One transaction: everything done through it commits together or not at all."""

    tickets: TicketRepository
    directory: DirectoryRepository
    conversations: ConversationRepository
    people: PeopleRepository
    outbox: Outbox

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
