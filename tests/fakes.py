"""A unit of work in memory, on the same ports as storage/: for the tests of conversations and services.

It keeps what storage keeps and answers as storage answers (the storage tests hold the real repositories to
the same rules on SQLite and PostgreSQL); a transaction works on a copy, which commit keeps and rollback drops.
"""

from __future__ import annotations

import builtins
import copy
import itertools
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from core.domain.directory import Estate, Resident
from core.domain.dispatch import Workload
from core.domain.model import ACTIVE_STATUSES, HELD_STATUSES, OPEN_STATUSES, Subscriber, Ticket, TicketKind
from core.domain.people import Address, PersonRef
from core.domain.tickets import normal_number
from core.ports import (
    NOTICE,
    Claim,
    ConversationRepository,
    DirectoryRepository,
    Opening,
    Outbox,
    OutboxMessage,
    PeopleRepository,
    SyncReport,
    TicketQuery,
    TicketRepository,
    UnitOfWork,
    Who,
)


@dataclass
class Row:
    message: OutboxMessage
    status: str = "pending"
    next_attempt_at: datetime | None = None
    attempts: int = 0
    error: str = ""
    created_at: datetime | None = None
    claimed_by: str = ""
    claimed_until: datetime | None = None


@dataclass
class Data:
    """Everything the fake database holds."""

    tickets: dict[int, Ticket] = field(default_factory=dict)
    counters: dict[tuple[str, date], int] = field(default_factory=dict)
    subscribers: dict[int, list[Subscriber]] = field(default_factory=dict)
    estates: dict[str, tuple[int, Estate]] = field(default_factory=dict)  # code -> (version, estate)
    linked: dict[Address, tuple[str, PersonRef]] = field(default_factory=dict)  # address -> (estate, person)
    registered: dict[str, list[Resident]] = field(default_factory=dict)
    states: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    handled: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, native id) -> outcome
    kept: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = field(default_factory=dict)  # those waiting
    locales: dict[Who, str] = field(default_factory=dict)
    last_used: dict[Address, datetime] = field(default_factory=dict)
    outbox: list[Row] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def __deepcopy__(self, memo: dict[int, Any]) -> Data:
        """A transaction's copy. The repositories store copies of what they are given and hand out copies, so
        a value kept here is never changed in place: the containers are copied, what they hold is shared."""
        return Data(
            tickets=dict(self.tickets),
            counters=dict(self.counters),
            subscribers={k: list(v) for k, v in self.subscribers.items()},
            estates=dict(self.estates),
            linked=dict(self.linked),
            registered={k: list(v) for k, v in self.registered.items()},
            states=dict(self.states),
            handled=dict(self.handled),
            kept=dict(self.kept),
            locales=dict(self.locales),
            last_used=dict(self.last_used),
            outbox=[replace(row) for row in self.outbox],
            ids=self.ids,
        )


class FakeTicketRepository(TicketRepository):
    def __init__(self, data: Data) -> None:
        self.data = data

    def add(self, ticket: Ticket) -> None:
        ticket.id = next(self.data.ids)
        ticket.new_events.clear()
        self.data.tickets[ticket.id] = copy.deepcopy(ticket)

    def save(self, ticket: Ticket) -> None:
        if ticket.id is None or ticket.id not in self.data.tickets:
            raise LookupError(f"ticket {ticket.id} does not exist")
        ticket.new_events.clear()
        self.data.tickets[ticket.id] = copy.deepcopy(ticket)

    def get(self, ticket_id: int, for_update: bool = False) -> Ticket | None:
        found = self.data.tickets.get(ticket_id)
        return copy.deepcopy(found) if found else None

    def get_by_number(self, number: str, for_update: bool = False) -> Ticket | None:
        found = next((t for t in self.data.tickets.values() if t.number == normal_number(number)), None)
        return copy.deepcopy(found) if found else None

    def list(self, query: TicketQuery) -> builtins.list[Ticket]:
        def wanted(t: Ticket) -> bool:
            mine = []
            if query.reporter_resident_id is not None:
                mine.append(t.reporter_resident_id == query.reporter_resident_id)
            if query.reporter_address is not None:
                mine.append(t.reporter_address == query.reporter_address)
            if query.joined and t.id is not None:
                mine += [(query.reporter_resident_id is not None and s.resident_id == query.reporter_resident_id)
                         or (query.reporter_address is not None and s.address == query.reporter_address)
                         for s in self.data.subscribers.get(t.id, [])]  # fmt: skip
            return (
                (query.status is None or t.status is query.status)
                and (not query.open_only or t.status in OPEN_STATUSES)
                and (query.since is None or t.created_at >= query.since)
                and (query.estate_code is None or t.estate_code == query.estate_code)
                and (not mine or any(mine))
                and (query.assignee_id is None or t.assignee_id == query.assignee_id)
            )

        found = sorted((t for t in self.data.tickets.values() if wanted(t)), key=lambda t: (t.created_at, t.id or 0))
        return [replace(copy.deepcopy(t), history=[]) for t in found]

    def latest_number(self, estate_code: str, resident_id: int | None, address: Address | None) -> str | None:
        mine = [
            t for t in self.data.tickets.values()
            if t.estate_code == estate_code and ((resident_id is not None and t.reporter_resident_id == resident_id)
                                                 or (address is not None and t.reporter_address == address))
        ]  # fmt: skip
        return max(mine, key=lambda t: t.id or 0).number if mine else None

    def next_sequence(self, estate_code: str, local_day: date) -> int:
        key = (estate_code, local_day)
        self.data.counters[key] = self.data.counters.get(key, 0) + 1
        return self.data.counters[key]

    def subscribe(self, ticket_id: int, subscriber: Subscriber, now: datetime) -> bool:
        followers = self.data.subscribers.setdefault(ticket_id, [])
        if any(s.address == subscriber.address for s in followers):
            return False
        followers.append(subscriber)
        return True

    def subscribers(self, ticket_id: int) -> builtins.list[Subscriber]:
        return builtins.list(self.data.subscribers.get(ticket_id, []))

    def _load(self, staff_id: int, since: datetime) -> Workload:
        mine = [t for t in self.data.tickets.values() if t.assignee_id == staff_id]
        held = sum(1 for t in mine if t.status in HELD_STATUSES)
        given = [t.milestones["assigned"] for t in mine if "assigned" in t.milestones]
        recent = [at for at in given if at >= since]
        return Workload(held, max(recent, default=None))

    def workloads(self, estate_code: str, since: datetime) -> dict[int, Workload]:
        staff = {t.assignee_id for t in self.data.tickets.values() if t.estate_code == estate_code and t.assignee_id}
        return {staff_id: self._load(staff_id, since) for staff_id in staff if staff_id is not None}

    def hold_workload(self, staff_id: int, since: datetime) -> Workload:
        return self._load(staff_id, since)

    def open_area_reports(self, estate_code: str) -> builtins.list[tuple[str, str, str, int]]:
        return [
            (t.number, t.location.common_area, t.category, t.reporters)
            for t in sorted(self.data.tickets.values(), key=lambda t: t.id or 0)
            if t.estate_code == estate_code and t.location.common_area and t.kind is TicketKind.REPAIR
            and t.status in ACTIVE_STATUSES
        ]  # fmt: skip

    def unverified_open(self, estate_code: str, address: Address) -> builtins.list[str]:
        return [
            t.number for t in self.data.tickets.values()
            if t.estate_code == estate_code and t.reporter_address == address and not t.verified
            and t.status in OPEN_STATUSES
        ]  # fmt: skip


class FakeDirectoryRepository(DirectoryRepository):
    """The file's estate as it is, with ids by position and the addresses linked since."""

    def __init__(self, data: Data) -> None:
        self.data = data

    def sync(self, estate: Estate) -> SyncReport:
        report = SyncReport()
        before = self.data.estates.get(estate.code)
        numbered = self._numbered(estate)
        if before is None:
            report.count("added", "estate")
        elif before[1] != numbered:
            report.count("updated", "estate")
        if report.changed:
            self.data.estates[estate.code] = ((before[0] + 1) if before else 1, numbered)
        return report

    @staticmethod
    def _numbered(estate: Estate) -> Estate:
        staff = tuple(replace(s, id=i) for i, s in enumerate(estate.staff, start=1))
        residents = tuple(replace(r, id=i) for i, r in enumerate(estate.residents, start=1))
        return replace(estate, staff=staff, residents=residents)

    def get(self, code: str) -> Estate | None:
        if code not in self.data.estates:
            return None
        estate = self.data.estates[code][1]
        linked: dict[PersonRef, list[Address]] = {}
        for address, (owner_code, person) in self.data.linked.items():
            if owner_code == code:
                linked.setdefault(person, []).append(address)

        def more(person: Any, kind: str) -> Any:
            extra = [a for a in linked.get(PersonRef(kind, person.id), []) if a not in person.addresses]
            return replace(person, addresses=(*person.addresses, *extra))

        residents = (*estate.residents, *self.data.registered.get(code, []))
        return replace(
            estate,
            staff=tuple(more(s, "staff") for s in estate.staff),
            residents=tuple(more(r, "resident") for r in residents),
        )

    def codes(self) -> builtins.list[str]:
        return sorted(self.data.estates)

    def addresses(self, person: PersonRef) -> builtins.list[Address]:
        for code in self.data.estates:
            estate = self.get(code)
            assert estate is not None
            people = estate.staff if person.kind == "staff" else estate.residents
            found = next((p for p in people if p.id == person.id), None)
            if found is not None:
                return list(found.addresses)
        return []

    def version(self, code: str) -> int | None:
        return self.data.estates[code][0] if code in self.data.estates else None

    def link(self, estate_code: str, address: Address, person: PersonRef, seen: datetime | None = None) -> bool:
        if self.data.linked.get(address) == (estate_code, person):
            return False
        if seen is not None and self.data.last_used.get(address, seen) <= seen:
            self.data.last_used[address] = seen
        self.data.linked[address] = (estate_code, person)
        version, estate = self.data.estates[estate_code]
        self.data.estates[estate_code] = (version + 1, estate)
        return True

    def register(self, estate_code: str, name: str, room: str, address: Address, seen: datetime | None = None) -> int:
        resident_id = 1000 + int(next(self.data.ids))
        registered = self.data.registered.setdefault(estate_code, [])
        registered.append(Resident(name, (room,), registered=True, id=resident_id))
        self.link(estate_code, address, PersonRef("resident", resident_id), seen)
        return resident_id


class FakeConversationRepository(ConversationRepository):
    def __init__(self, data: Data) -> None:
        self.data = data

    def open(self, channel: str, chat: str, user: str, who: Who, now: datetime,
             claim: str | None = None) -> Opening | None:  # fmt: skip
        if claim is not None and not self._settle(channel, claim, "handled"):
            return None
        self.data.last_used[Address(channel, user)] = now
        return Opening(copy.deepcopy(self.data.states.get((channel, chat, user))), self.data.locales.get(who))

    def get(self, channel: str, chat: str, user: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.data.states.get((channel, chat, user)))

    def put(self, channel: str, chat: str, user: str, state: dict[str, Any], now: datetime) -> None:
        self.data.states[(channel, chat, user)] = copy.deepcopy(state)

    def delete(self, channel: str, chat: str, user: str) -> None:
        self.data.states.pop((channel, chat, user), None)

    def _settle(self, channel: str, native_id: str, outcome: str) -> bool:
        if self.data.handled.get((channel, native_id), "waiting") != "waiting":
            return False
        self.data.handled[(channel, native_id)] = outcome
        self.data.kept.pop((channel, native_id), None)
        return True

    def reject(self, channel: str, native_id: str, reason: str, now: datetime) -> bool:
        return self._settle(channel, native_id, "rejected")

    def keep(self, channel: str, received: builtins.list[tuple[str, dict[str, Any]]], now: datetime) -> int:
        new = [(native_id, payload) for native_id, payload in received if (channel, native_id) not in self.data.handled]
        for native_id, payload in new:
            self.data.handled[(channel, native_id)] = "waiting"
            self.data.kept[(channel, native_id)] = (now, copy.deepcopy(payload))
        return len(new)

    def waiting(self, channel: str, received_before: datetime, limit: int) -> builtins.list[tuple[str, dict[str, Any]]]:
        found = [(native_id, copy.deepcopy(payload)) for (c, native_id), (at, payload) in self.data.kept.items()
                 if c == channel and at < received_before]  # fmt: skip
        return found[:limit]

    def pass_over(self, channel: str, native_id: str, now: datetime) -> None:
        self._settle(channel, native_id, "passed")


class FakePeopleRepository(PeopleRepository):
    def __init__(self, data: Data) -> None:
        self.data = data

    def locale(self, who: Who) -> str | None:
        return self.data.locales.get(who)

    def set_locale(self, who: Who, locale: str, now: datetime) -> None:
        self.data.locales[who] = locale

    def last_used(self, addresses: builtins.list[Address]) -> dict[Address, datetime]:
        return {a: self.data.last_used[a] for a in addresses if a in self.data.last_used}


def claimed(
    rows: builtins.list[Any], now: datetime, claim: Claim, limit: int, channels: tuple[str, ...] | None
) -> builtins.list[OutboxMessage]:
    """SqlAlchemyOutbox.claim's rule over rows in the order they were queued (this fake's and the sender tests'):
    pending, due and free, none behind an earlier one of the chat not due yet or held by another sender."""
    taken: builtins.list[OutboxMessage] = []
    held_back: set[tuple[str, str]] = set()
    for row in rows:
        chat = (row.message.channel, row.message.recipient)
        if row.status != "pending":
            continue
        others = row.claimed_until is not None and row.claimed_until >= now and row.claimed_by != claim.sender
        if row.next_attempt_at > now or others:
            held_back.add(chat)
            continue
        if chat in held_back or (channels is not None and chat[0] not in channels) or len(taken) >= limit:
            continue
        uncertain = bool(row.claimed_by) and row.claimed_by != claim.sender and row.claimed_until is not None
        row.claimed_by, row.claimed_until = claim.sender, claim.until
        taken.append(replace(row.message, payload=dict(row.message.payload), attempts=row.attempts,
                             uncertain=uncertain))  # fmt: skip
    return taken


class FakeOutbox(Outbox):
    def __init__(self, data: Data) -> None:
        self.data = data

    def add_all(self, messages: list[OutboxMessage], now: datetime, held: Claim | None = None) -> list[OutboxMessage]:
        known = {row.message.key for row in self.data.outbox}
        added = []
        for message in messages:
            if message.key not in known:
                known.add(message.key)
                self.data.outbox.append(Row(message, next_attempt_at=now, created_at=now,
                                            claimed_by=held.sender if held else "",
                                            claimed_until=held.until if held else None))  # fmt: skip
                added.append(message)
        return added

    def claim(
        self, now: datetime, claim: Claim, limit: int, channels: tuple[str, ...] | None = None
    ) -> builtins.list[OutboxMessage]:
        return claimed(self.data.outbox, now, claim, limit, channels)

    def renew(self, claim: Claim) -> None:
        for row in self.data.outbox:
            if row.claimed_by == claim.sender and row.status == "pending":
                row.claimed_until = claim.until

    def due(
        self, now: datetime, limit: int = 100, channels: tuple[str, ...] | None = None, recipient: str | None = None
    ) -> list[OutboxMessage]:
        found, waiting = [], set()
        for row in self.data.outbox:
            chat = (row.message.channel, row.message.recipient)
            if row.status != "pending":
                continue
            assert row.next_attempt_at is not None
            if row.next_attempt_at > now:
                waiting.add(chat)  # a retry not yet due holds back what came after it to the same chat
                continue
            if chat in waiting:
                continue
            if (channels is None or chat[0] in channels) and (recipient is None or chat[1] == recipient):
                found.append(replace(row.message, attempts=row.attempts))
        return found[:limit]

    def _row(self, key: str) -> Row:
        return next(row for row in self.data.outbox if row.message.key == key)

    def mark_sent(self, keys: list[str], now: datetime) -> None:
        for key in keys:
            row = self._row(key)
            row.status, row.attempts = "sent", row.attempts + 1

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        row = self._row(key)
        row.error, row.next_attempt_at, row.attempts = error, retry_at, row.attempts + 1

    def mark_dead(self, key: str, error: str) -> None:
        row = self._row(key)
        row.status, row.error, row.attempts = "dead", error, row.attempts + 1

    def pending_count(self) -> int:
        return sum(1 for row in self.data.outbox if row.status == "pending")

    def notices_since(self, channel: str, recipient: str, after: datetime) -> list[dict[str, Any]]:
        return [row.message.payload for row in self.data.outbox
                if (row.message.channel, row.message.recipient) == (channel, recipient)
                and row.message.key.startswith(NOTICE) and row.status != "dead"
                and row.created_at is not None and row.created_at > after]  # fmt: skip


class FakeUnitOfWork(UnitOfWork):
    """One transaction at a time, on a copy of the data: commit keeps the copy, rollback drops it."""

    tickets: FakeTicketRepository
    directory: FakeDirectoryRepository
    conversations: FakeConversationRepository
    people: FakePeopleRepository
    outbox: FakeOutbox

    def __init__(self, data: Data | None = None) -> None:
        self.committed = data or Data()
        self._open: Data | None = None

    def __enter__(self) -> FakeUnitOfWork:
        assert self._open is None, "a unit of work is not re-entrant"
        self._open = copy.deepcopy(self.committed)
        self.tickets = FakeTicketRepository(self._open)
        self.directory = FakeDirectoryRepository(self._open)
        self.conversations = FakeConversationRepository(self._open)
        self.people = FakePeopleRepository(self._open)
        self.outbox = FakeOutbox(self._open)
        return self

    def __exit__(self, *exc: object) -> None:
        self._open = None

    def commit(self) -> None:
        assert self._open is not None
        self.committed = self._open
        self.__enter_copy()

    def __enter_copy(self) -> None:
        """What follows a commit is the next transaction."""
        self._open = copy.deepcopy(self.committed)
        self.tickets.data = self.directory.data = self.conversations.data = self._open
        self.people.data = self.outbox.data = self._open

    def rollback(self) -> None:
        if self._open is not None:
            self.__enter_copy()
