"""The outbox sender, against an outbox table in memory (held to SqlAlchemyOutbox's rules by a test of its own)
and a fake channel; time is a clock the tests move, so nothing here waits."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import pytest

from bot import metrics
from bot.runtime.outbox_sender import GIVE_UP_AFTER, MAX_BACKOFF, OutboxSender, RetryLater, Undeliverable, backoff
from core.ports import NOTICE, Claim, Outbox, OutboxMessage, UnitOfWork
from storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import NOW
from tests.fakes import claimed


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """An async test, run in an event loop of its own (pytest passes fixtures through)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


# --- the outbox table, in memory ---------------------------------------------------------------------------


@dataclass
class Row:
    id: int
    message: OutboxMessage
    next_attempt_at: datetime
    status: str = "pending"  # pending | sent | dead
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None
    created_at: datetime | None = None
    claimed_by: str = ""
    claimed_until: datetime | None = None


class DatabaseAway(Exception):
    pass


class MemoryOutbox(Outbox):
    """SqlAlchemyOutbox's rules on a dict: oldest first, and nothing overtakes an earlier pending message to the
    same chat whose retry is not due yet."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow
        self.rows = {key: replace(row) for key, row in uow.table.items()}  # this transaction's own copy
        self.done: list[tuple[Any, ...]] = []  # what this transaction did, in order

    def add_all(self, messages: list[OutboxMessage], now: datetime, held: Claim | None = None) -> list[OutboxMessage]:
        added = [m for m in messages if m.key not in self.rows]
        for message in added:
            self.uow.next_id += 1  # a sequence: never handed out twice, even by a transaction rolled back
            self.rows[message.key] = Row(
                self.uow.next_id, replace(message, attempts=0), next_attempt_at=now, created_at=now,
                claimed_by=held.sender if held else "", claimed_until=held.until if held else None,
            )  # fmt: skip
        self.done.append(("add", tuple(m.key for m in added)))
        return added

    def claim(
        self, now: datetime, claim: Claim, limit: int, channels: tuple[str, ...] | None = None
    ) -> list[OutboxMessage]:
        self.uow.reads.append(now)
        if self.uow.failing_reads:
            self.uow.failing_reads -= 1
            raise DatabaseAway("could not connect to the database")
        taken = claimed(sorted(self.rows.values(), key=lambda row: row.id), now, claim, limit, channels)
        self.done.append(("claim", tuple(m.key for m in taken)))
        return taken

    def renew(self, claim: Claim) -> None:
        for row in self.rows.values():
            if row.claimed_by == claim.sender and row.status == "pending":
                row.claimed_until = claim.until
        self.done.append(("renew", claim.until))

    def due(
        self, now: datetime, limit: int = 100, channels: tuple[str, ...] | None = None, recipient: str | None = None
    ) -> list[OutboxMessage]:
        self.uow.reads.append(now)
        if self.uow.failing_reads:
            self.uow.failing_reads -= 1
            raise DatabaseAway("could not connect to the database")
        pending = sorted((row for row in self.rows.values() if row.status == "pending"), key=lambda row: row.id)

        def held_back(row: Row) -> bool:
            chat = (row.message.channel, row.message.recipient)
            return any(
                (other.message.channel, other.message.recipient) == chat
                and other.id < row.id
                and other.next_attempt_at > now
                for other in pending
            )

        chosen = [
            row
            for row in pending
            if row.next_attempt_at <= now
            and not held_back(row)
            and (channels is None or row.message.channel in channels)
            and (recipient is None or row.message.recipient == recipient)
        ]
        return [replace(row.message, payload=dict(row.message.payload), attempts=row.attempts) for row in chosen][
            :limit
        ]

    def mark_sent(self, keys: list[str], now: datetime) -> None:
        for key in keys:
            self.rows[key].status, self.rows[key].sent_at = "sent", now
        self.done.append(("mark_sent", tuple(keys)))

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        row = self.rows[key]
        row.last_error, row.next_attempt_at, row.attempts = error, retry_at, row.attempts + 1
        self.done.append(("mark_failed", key, retry_at))

    def mark_dead(self, key: str, error: str) -> None:
        row = self.rows[key]
        row.status, row.last_error, row.attempts = "dead", error, row.attempts + 1
        self.done.append(("mark_dead", key))

    def pending_count(self) -> int:
        return sum(row.status == "pending" for row in self.rows.values())

    def notices_since(self, channel: str, recipient: str, after: datetime) -> list[dict[str, Any]]:
        return [row.message.payload for row in sorted(self.rows.values(), key=lambda row: row.id)
                if (row.message.channel, row.message.recipient) == (channel, recipient) and row.status != "dead"
                and row.message.key.startswith(NOTICE) and row.created_at is not None and row.created_at > after]  # fmt: skip


class MemoryUnitOfWork(UnitOfWork):
    """One transaction at a time over the table: a commit makes what it did the table, anything else drops it."""

    def __init__(self) -> None:
        self.table: dict[str, Row] = {}
        self.next_id = 0
        self.commits: list[list[tuple[Any, ...]]] = []  # what each committed transaction did
        self.reads: list[datetime] = []  # the `now` of each due()
        self.failing_reads = 0
        self.failing_commits = 0
        self.inside = False
        self.outbox = MemoryOutbox(self)

    def __enter__(self) -> Self:
        assert not self.inside, "a unit of work is not re-entrant"
        self.inside = True
        self.outbox = MemoryOutbox(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()
        self.inside = False

    def commit(self) -> None:
        assert self.inside
        if self.failing_commits:
            self.failing_commits -= 1
            raise DatabaseAway("server closed the connection unexpectedly")
        assert isinstance(self.outbox, MemoryOutbox)
        self.table = self.outbox.rows
        self.commits.append(self.outbox.done)
        self.outbox = MemoryOutbox(self)

    def rollback(self) -> None:
        self.outbox = MemoryOutbox(self)


# --- a channel and a clock -----------------------------------------------------------------------------------


class FakeChannel:
    """Records what it delivers; told to fail chosen messages (by text), one error per attempt."""

    def __init__(self) -> None:
        self.tried: list[str] = []
        self.delivered: list[tuple[str, str]] = []  # (chat, text)
        self.failures: dict[str, list[Exception]] = {}
        self.stop_after: tuple[int, asyncio.Event] | None = None

    def fail(self, text: str, *errors: Exception) -> None:
        self.failures.setdefault(text, []).extend(errors)

    async def __call__(self, chat: str, payload: dict[str, Any]) -> None:
        text = str(payload["text"])
        self.tried.append(text)
        await asyncio.sleep(0)  # a request: the other chats go on meanwhile
        errors = self.failures.get(text)
        if errors:
            raise errors.pop(0)
        self.delivered.append((chat, text))
        if self.stop_after is not None and len(self.delivered) >= self.stop_after[0]:
            self.stop_after[1].set()

    def to(self, chat: str) -> list[str]:
        return [text for to, text in self.delivered if to == chat]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def message(key: str, chat: str = "7001") -> OutboxMessage:
    return OutboxMessage(key, "telegram", chat, {"text": key})


class Desk:
    """A sender with its table, channel and clock; what the desk would queue goes through `queue`."""

    def __init__(self, uow: UnitOfWork | None = None, **options: Any) -> None:
        self.clock = Clock()
        self.memory = MemoryUnitOfWork()
        self.uow = uow or self.memory
        self.telegram = FakeChannel()
        self.sender = OutboxSender(self.uow, {"telegram": self.telegram}, clock=self.clock, **options)

    def leave(self, *messages: OutboxMessage, at: datetime | None = None) -> list[OutboxMessage]:
        """Queued by another process, or by one that stopped: in the table only."""
        with self.uow as uow:
            added = uow.outbox.add_all(list(messages), at or self.clock())
            uow.commit()
        return added

    def queue(self, *messages: OutboxMessage) -> None:
        """Queued by this process: committed, then handed over."""
        self.sender.submit(self.leave(*messages))

    def fail_earlier(self, key: str, attempts: int, retry_in: float) -> None:
        """What a stopped process had done: tried `attempts` times, the next try `retry_in` seconds away."""
        with self.uow as uow:
            for _ in range(attempts):
                uow.outbox.mark_failed(key, "retry: 502 Bad Gateway", self.clock.now + timedelta(seconds=retry_in))
            uow.commit()

    def row(self, key: str) -> Row:
        return self.memory.table[key]

    async def settle(self) -> None:
        """Send until there is nothing to send now (which writes the outcomes back)."""
        while await self.sender.send_once():
            pass

    def sender_commits(self, since: int) -> list[list[tuple[Any, ...]]]:
        return self.memory.commits[since:]


# --- order, retries, refusals --------------------------------------------------------------------------------


@in_loop
async def test_each_chat_gets_its_messages_in_order_whichever_path_they_take() -> None:
    desk = Desk(idle_poll=60)
    chats = [f"70{n:02}" for n in range(8)]
    desk.leave(*(message(f"{chat}-{n}", chat) for n in range(3) for chat in chats))  # found by the first poll
    await desk.settle()
    desk.queue(*(message(f"{chat}-{n}", chat) for n in range(3, 6) for chat in chats))  # handed over
    await desk.settle()
    for chat in chats:
        assert desk.telegram.to(chat) == [f"{chat}-{n}" for n in range(6)]
    assert len(desk.telegram.tried) == 48
    assert desk.memory.outbox.pending_count() == 0


@in_loop
async def test_a_retry_holds_back_the_rest_of_that_chat_only() -> None:
    desk = Desk(idle_poll=1)
    await desk.settle()
    desk.telegram.fail("a1", RetryLater("502 Bad Gateway"))
    desk.queue(message("a1", "A"), message("a2", "A"), message("b1", "B"), message("b2", "B"))
    await desk.settle()
    assert desk.telegram.to("A") == []
    assert desk.telegram.to("B") == ["b1", "b2"]
    assert desk.telegram.tried.count("a2") == 0
    failed = desk.row("a1")
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "retry: 502 Bad Gateway")
    assert failed.next_attempt_at == NOW + timedelta(seconds=1)

    desk.queue(message("a3", "A"), message("b3", "B"))  # meanwhile
    await desk.settle()
    assert desk.telegram.to("A") == []
    assert desk.telegram.to("B") == ["b1", "b2", "b3"]

    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2", "a3"]
    assert desk.memory.outbox.pending_count() == 0


@in_loop
async def test_a_flood_limits_retry_after_is_honoured() -> None:
    desk = Desk(idle_poll=1)
    desk.telegram.fail("a1", RetryLater("Flood control exceeded", after=timedelta(seconds=30)))
    desk.queue(message("a1", "A"), message("a2", "A"))
    await desk.settle()
    assert desk.row("a1").next_attempt_at == NOW + timedelta(seconds=30)
    desk.clock.advance(29)
    await desk.settle()
    assert desk.telegram.to("A") == []
    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2"]


@in_loop
async def test_an_undeliverable_message_is_dead_and_the_chat_goes_on() -> None:
    desk = Desk(idle_poll=1)
    desk.telegram.fail("a1", Undeliverable("Forbidden: bot was blocked by the user"))
    desk.queue(message("a1", "A"), message("a2", "A"), message("a3", "A"))
    await desk.settle()
    assert desk.telegram.to("A") == ["a2", "a3"]
    dead = desk.row("a1")
    assert (dead.status, dead.last_error) == ("dead", "dead: Forbidden: bot was blocked by the user")
    desk.clock.advance(3600)
    await desk.settle()
    assert desk.telegram.tried.count("a1") == 1


@in_loop
async def test_an_unforeseen_error_is_retried_like_a_passing_failure(caplog: pytest.LogCaptureFixture) -> None:
    desk = Desk(idle_poll=1)
    desk.telegram.fail("a1", ConnectionResetError("reset by peer"))
    desk.queue(message("a1", "A"), message("a2", "A"), message("b1", "B"))
    with caplog.at_level(logging.ERROR, logger="bot.runtime.outbox_sender"):
        await desk.settle()
    assert "sending a1 failed" in caplog.text
    assert (desk.telegram.to("A"), desk.telegram.to("B")) == ([], ["b1"])
    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2"]


# --- backoff ---------------------------------------------------------------------------------------------------


@in_loop
async def test_backoff_doubles_with_each_attempt_up_to_a_cap() -> None:
    desk = Desk(idle_poll=1)
    desk.telegram.fail("a1", *(RetryLater("502 Bad Gateway") for _ in range(12)))
    desk.queue(message("a1", "A"))
    waits = []
    for _ in range(12):
        await desk.settle()
        row = desk.row("a1")
        waits.append((row.next_attempt_at - desk.clock()).total_seconds())
        desk.clock.now = row.next_attempt_at
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert desk.row("a1").attempts == 12
    await desk.settle()
    assert desk.telegram.to("A") == ["a1"]


@pytest.mark.parametrize(("attempts", "wait"), [(0, 1), (1, 2), (7, 128), (9, 300), (GIVE_UP_AFTER - 2, 300)])
@in_loop
async def test_backoff_goes_by_the_attempts_the_table_counted(attempts: int, wait: int) -> None:
    desk = Desk(idle_poll=1)
    desk.leave(message("a1", "A"))
    desk.row("a1").attempts = attempts  # counted before a restart
    desk.telegram.fail("a1", RetryLater("502 Bad Gateway"))
    await desk.settle()
    assert desk.telegram.tried == ["a1"]
    assert desk.row("a1").next_attempt_at == NOW + timedelta(seconds=wait)
    assert desk.row("a1").attempts == attempts + 1


def test_backoff_is_bounded_for_any_count() -> None:
    assert backoff(0) == timedelta(seconds=1)
    assert all(backoff(n) <= MAX_BACKOFF for n in (8, 9, 64, 1024, 10**9))


@in_loop
async def test_a_message_that_keeps_failing_is_given_up_visibly_and_the_chat_goes_on() -> None:
    given_up: list[tuple[str, str]] = []
    desk = Desk(idle_poll=0, on_dead=lambda uow, message, reason: given_up.append((message.key, reason)))
    desk.leave(message("a1", "A"), message("a2", "A"))
    desk.fail_earlier("a1", attempts=GIVE_UP_AFTER - 1, retry_in=0)
    desk.telegram.fail("a1", RetryLater("502 Bad Gateway"))
    await desk.settle()
    assert given_up == [("a1", f"gave up after {GIVE_UP_AFTER} tries: 502 Bad Gateway")]
    assert desk.row("a1").status == "dead" and desk.telegram.to("A") == ["a2"]


# --- writing outcomes back -------------------------------------------------------------------------------------


@in_loop
async def test_outcomes_of_many_chats_are_written_together_but_a_chats_next_message_waits_for_its_mark() -> None:
    desk = Desk(idle_poll=60, batch=50)
    await desk.settle()
    chats = [f"70{n:02}" for n in range(10)]
    desk.telegram.fail("7003-0", Undeliverable("Bad Request: chat not found"))
    desk.telegram.fail("7005-0", RetryLater("502 Bad Gateway"))
    desk.queue(*(message(f"{chat}-{n}", chat) for chat in chats for n in range(5)))
    before = len(desk.memory.commits)
    await desk.settle()
    written = desk.sender_commits(before)
    marks = [step[1] for done in written for step in done if step[0] == "mark_sent"]
    # A crash can send again at most one message per chat: none is sent while the one before it is unmarked.
    assert all(len({key.split("-")[0] for key in keys}) == len(keys) for keys in marks)
    assert sum(len(keys) for keys in marks) == 44 and len(marks) < 44 / 2  # a statement marks several chats
    assert sorted(step[0] for done in written for step in done if step[0] not in ("mark_sent",)) == [
        "mark_dead", "mark_failed"]  # fmt: skip
    assert desk.memory.outbox.pending_count() == 5  # 7005's five, behind the one to retry


@in_loop
async def test_outcomes_are_written_back_a_batch_at_a_time() -> None:
    desk = Desk(idle_poll=60, batch=10)
    await desk.settle()
    desk.queue(*(message(f"m{n}", f"70{n:02}") for n in range(25)))
    before = len(desk.memory.commits)
    await desk.settle()
    batches = [len(step[1]) for done in desk.sender_commits(before) for step in done if step[0] == "mark_sent"]
    assert batches == [10, 10, 5]


@in_loop
async def test_a_chats_next_message_waits_while_the_database_cannot_mark_the_last(
    caplog: pytest.LogCaptureFixture,
) -> None:
    desk = Desk(idle_poll=60)
    await desk.settle()
    desk.queue(message("a1", "A"), message("a2", "A"))
    desk.memory.failing_commits = 2
    with caplog.at_level(logging.WARNING, logger="bot.runtime.outbox_sender"):
        await desk.settle()
    assert desk.telegram.tried == ["a1", "a2"]  # a1 once: sent is sent, and only its mark was tried again
    assert caplog.text.count("outbox: could not mark what was sent") == 2
    assert desk.memory.outbox.pending_count() == 0


@in_loop
async def test_a_message_sent_again_after_a_try_of_unknown_outcome_is_counted() -> None:
    desk = Desk(idle_poll=0)
    await desk.settle()
    before = metrics.OUTBOX_SENT_AGAIN.labels("telegram")._value.get()
    desk.telegram.fail("a1", RetryLater("Timed out", unknown=True))
    desk.telegram.fail("b1", RetryLater("Too Many Requests: retry after 0", after=timedelta(0)))
    desk.queue(message("a1", "A"), message("b1", "B"))
    await desk.settle()
    desk.clock.now += timedelta(seconds=2)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1"] and desk.telegram.to("B") == ["b1"]
    assert metrics.OUTBOX_SENT_AGAIN.labels("telegram")._value.get() == before + 1  # a1 only: b1 was refused


@in_loop
async def test_two_senders_on_one_table_send_each_message_once_and_each_chat_in_order() -> None:
    desk = Desk(idle_poll=0, batch=3)
    other = OutboxSender(desk.uow, {"telegram": desk.telegram}, clock=desk.clock, batch=3)
    desk.leave(*(message(f"{chat}{n}", chat) for n in range(5) for chat in "ABCD"))
    for _ in range(12):
        await asyncio.gather(desk.sender.send_once(), other.send_once())
    assert [desk.telegram.to(chat) for chat in "ABCD"] == [[f"{chat}{n}" for n in range(5)] for chat in "ABCD"]
    assert len(desk.telegram.tried) == 20 and desk.memory.outbox.pending_count() == 0


@in_loop
async def test_what_a_dead_sender_held_is_sent_by_another_once_its_claim_runs_out_and_counted() -> None:
    desk = Desk(idle_poll=0)
    dead = OutboxSender(desk.uow, {"telegram": desk.telegram}, clock=desk.clock)
    with desk.uow as uow:  # queued by the dead sender's desk, claimed for it, and never sent
        uow.outbox.add_all([message("a1", "A"), message("a2", "A")], desk.clock(), held=dead.claim())
        uow.commit()
    before = metrics.OUTBOX_SENT_AGAIN.labels("telegram")._value.get()
    await desk.settle()
    assert desk.telegram.tried == []  # its claim (5 s) still runs
    desk.clock.advance(6)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2"] and desk.memory.outbox.pending_count() == 0
    assert metrics.OUTBOX_SENT_AGAIN.labels("telegram")._value.get() == before + 2  # either may have gone already


@in_loop
async def test_a_poke_reads_the_table_at_once_and_sends_each_chat_in_the_order_it_holds() -> None:
    desk = Desk(idle_poll=60)
    await desk.settle()  # polled once: the next poll would be a minute away
    desk.leave(message("a1", "A"), message("b1", "B"), message("a2", "A"))
    await desk.settle()
    assert desk.telegram.tried == []
    desk.sender.poke()
    await desk.settle()
    assert (desk.telegram.to("A"), desk.telegram.to("B")) == (["a1", "a2"], ["b1"])


# --- restarts and the two paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("offload", [False, True], ids=["in-loop", "offloaded"])
@in_loop
async def test_what_was_pending_at_a_restart_is_sent(offload: bool) -> None:
    desk = Desk(idle_poll=0, offload=offload)
    desk.leave(message("a1", "A"), message("b1", "B"), message("a2", "A"))
    desk.fail_earlier("b1", attempts=2, retry_in=0)
    stopping = asyncio.Event()
    desk.telegram.stop_after = (3, stopping)
    await desk.sender.run(stopping)
    assert (desk.telegram.to("A"), desk.telegram.to("B")) == (["a1", "a2"], ["b1"])
    assert desk.memory.outbox.pending_count() == 0  # written back before run() returned


@in_loop
async def test_a_database_hiccup_does_not_end_delivery(caplog: pytest.LogCaptureFixture) -> None:
    desk = Desk(idle_poll=0)
    desk.leave(message("a1", "A"))
    desk.memory.failing_reads = 1
    stopping = asyncio.Event()
    desk.telegram.stop_after = (1, stopping)
    with caplog.at_level(logging.ERROR, logger="bot.runtime.outbox_sender"):
        await desk.sender.run(stopping)
    assert "outbox: sending failed" in caplog.text
    assert desk.telegram.to("A") == ["a1"]


@in_loop
async def test_run_sends_what_is_handed_over_and_writes_it_back_when_stopped() -> None:
    desk = Desk(idle_poll=60)
    stopping = asyncio.Event()
    desk.telegram.stop_after = (4, stopping)
    desk.queue(message("a1", "A"), message("b1", "B"), message("a2", "A"), message("b2", "B"))
    await desk.sender.run(stopping)
    assert (desk.telegram.to("A"), desk.telegram.to("B")) == (["a1", "a2"], ["b1", "b2"])
    assert desk.memory.outbox.pending_count() == 0


@in_loop
async def test_a_message_the_poll_finds_is_not_sent_again_when_handed_over() -> None:
    desk = Desk(idle_poll=1)
    await desk.settle()
    desk.queue(message("a1", "A"))  # handed over, and found by the poll in the same round
    desk.clock.advance(1)
    await desk.settle()
    desk.leave(message("a2", "A"))  # found by the poll first, handed over afterwards
    desk.clock.advance(1)
    await desk.settle()
    desk.sender.submit([message("a2", "A")])
    await desk.settle()
    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.tried == ["a1", "a2"]


@in_loop
async def test_a_message_sent_from_memory_is_not_sent_again_by_the_poll() -> None:
    desk = Desk(idle_poll=1)
    await desk.settle()
    desk.queue(message("a1", "A"))
    assert await desk.sender.send_once()
    assert desk.row("a1").status == "pending"  # sent, not yet written back
    desk.clock.advance(1)
    await desk.settle()  # the poll writes back first, then reads
    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.tried == ["a1"]
    assert desk.row("a1").status == "sent"


# --- the two defects: the table polled under fresh traffic, fresh messages behind older ones ------------------------


@in_loop
async def test_the_table_is_polled_every_idle_poll_however_busy_the_sender_is() -> None:
    desk = Desk(idle_poll=1)
    await desk.settle()
    desk.telegram.fail("a1", RetryLater("502 Bad Gateway"))
    desk.queue(message("a1", "A"))
    desk.leave(message("c1", "C"))  # queued by another process
    for n in range(12):  # three seconds of steady traffic to B: a message every quarter of a second
        desk.queue(message(f"b{n}", "B"))
        await desk.sender.send_once()
        desk.clock.advance(0.25)
    assert desk.telegram.to("A") == ["a1"]  # its retry fell due at 1.25 s
    assert desk.telegram.to("C") == ["c1"]
    assert desk.telegram.to("B") == [f"b{n}" for n in range(12)]
    polls = [now for now in desk.memory.reads if now < NOW + timedelta(days=1)]  # not the start's look ahead
    assert all(later - earlier <= timedelta(seconds=1) for earlier, later in itertools.pairwise(polls))


@in_loop
async def test_a_fresh_message_goes_after_older_ones_a_restart_left_in_the_table() -> None:
    desk = Desk(idle_poll=1)
    desk.leave(message("a1", "A"), message("a2", "A"))  # left by the process before
    desk.queue(message("a3", "A"), message("b1", "B"))
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2", "a3"]
    assert desk.telegram.to("B") == ["b1"]


@in_loop
async def test_a_fresh_message_waits_for_an_older_retry_a_restart_left_not_yet_due() -> None:
    desk = Desk(idle_poll=1)
    desk.leave(message("a1", "A"), message("a2", "A"))
    desk.fail_earlier("a1", attempts=3, retry_in=30)  # the process before was to try again in 30 s
    desk.queue(message("a3", "A"), message("b1", "B"))
    await desk.settle()
    assert (desk.telegram.to("A"), desk.telegram.to("B")) == ([], ["b1"])
    desk.clock.advance(10)
    desk.queue(message("a4", "A"))
    await desk.settle()
    assert desk.telegram.to("A") == []
    desk.clock.advance(20)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2", "a3", "a4"]
    polls = len(desk.memory.reads)
    desk.queue(message("a5", "A"))  # the chat is in order again: straight out, no poll needed
    await desk.settle()
    assert desk.telegram.to("A")[-1] == "a5"
    assert len(desk.memory.reads) == polls


@in_loop
async def test_a_chat_is_served_from_the_table_until_all_it_was_owed_is_sent() -> None:
    desk = Desk(idle_poll=1)
    desk.leave(message("a1", "A"))
    desk.leave(message("a2", "A"), at=NOW + timedelta(seconds=30))  # by a process whose clock runs ahead
    desk.queue(message("a3", "A"))
    await desk.settle()
    assert desk.telegram.to("A") == ["a1"]
    desk.queue(message("a4", "A"))  # a1 is sent, but a2 and a3 still wait in the table
    await desk.settle()
    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1"]
    desk.clock.advance(29)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2", "a3", "a4"]


@in_loop
async def test_a_fresh_message_does_not_overtake_what_a_poll_cut_at_its_limit_left_behind() -> None:
    desk = Desk(idle_poll=1, batch=2)
    await desk.settle()
    desk.leave(message("a1", "A"), message("a2", "A"), message("a3", "A"))  # another process's
    desk.clock.advance(1)
    desk.queue(message("a4", "A"))
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2", "a3", "a4"]


@in_loop
async def test_more_left_than_one_read_takes_goes_out_in_order_from_the_table() -> None:
    desk = Desk(idle_poll=1)
    desk.sender.scan_limit = 3
    desk.leave(message("a1", "A"), message("a2", "A"), message("a3", "A"), message("c1", "C"))
    desk.fail_earlier("a1", attempts=1, retry_in=30)
    desk.queue(message("a4", "A"), message("b1", "B"))
    await desk.settle()
    assert (desk.telegram.to("A"), desk.telegram.to("B"), desk.telegram.to("C")) == ([], ["b1"], ["c1"])
    desk.clock.advance(30)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2", "a3", "a4"]
    desk.queue(message("a5", "A"))  # still catching up: the table sends it
    await desk.settle()
    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.to("A")[-1] == "a5"
    polls = len(desk.memory.reads)
    desk.queue(message("a6", "A"))  # caught up: straight out
    await desk.settle()
    assert desk.telegram.to("A")[-1] == "a6"
    assert len(desk.memory.reads) == polls


# --- messages refused for good: on_dead -----------------------------------------------------------------------------


@in_loop
async def test_on_dead_is_told_in_the_write_back_transaction_and_what_it_queues_is_sent() -> None:
    told: list[tuple[str, str, str]] = []

    def next_address(uow: UnitOfWork, refused: OutboxMessage, reason: str) -> None:
        assert isinstance(uow.outbox, MemoryOutbox)
        told.append((refused.key, reason, uow.outbox.rows[refused.key].status))
        uow.outbox.add_all([OutboxMessage(f"{refused.key}:again", "telegram", "7999", refused.payload)], NOW)

    desk = Desk(idle_poll=1, on_dead=next_address)
    await desk.settle()
    desk.telegram.fail("a1", Undeliverable("Forbidden: bot was blocked by the user"))
    desk.queue(message("a1", "A"), message("a2", "A"))
    before = len(desk.memory.commits)
    await desk.settle()
    assert told == [("a1", "Forbidden: bot was blocked by the user", "dead")]
    [written] = desk.sender_commits(before)
    assert [step[0] for step in written] == ["mark_sent", "mark_dead", "add"]
    desk.clock.advance(1)
    await desk.settle()
    assert desk.telegram.to("7999") == ["a1"]


@in_loop
async def test_on_dead_takes_effect_once_when_the_write_back_is_tried_again() -> None:
    calls: list[str] = []

    def record(uow: UnitOfWork, refused: OutboxMessage, reason: str) -> None:
        calls.append(refused.key)
        uow.outbox.add_all([OutboxMessage(f"{refused.key}:again", "telegram", "7999", refused.payload)], NOW)

    desk = Desk(idle_poll=60, on_dead=record)
    await desk.settle()
    desk.telegram.fail("a1", Undeliverable("Forbidden: bot was blocked by the user"))
    desk.queue(message("a1", "A"))
    desk.memory.failing_commits = 1
    with pytest.raises(DatabaseAway):
        await desk.settle()
    assert "a1:again" not in desk.memory.table  # rolled back with the rest
    await desk.settle()
    assert calls == ["a1", "a1"]
    assert desk.row("a1").status == "dead"
    assert desk.row("a1:again").status == "pending"


@in_loop
async def test_a_failing_on_dead_does_not_keep_outcomes_from_being_written(caplog: pytest.LogCaptureFixture) -> None:
    def broken(uow: UnitOfWork, refused: OutboxMessage, reason: str) -> None:
        uow.outbox.add_all([message("half-done", "7999")], NOW)
        raise LookupError("no other address")

    desk = Desk(idle_poll=60, on_dead=broken)
    await desk.settle()
    desk.telegram.fail("a1", Undeliverable("Forbidden: bot was blocked by the user"))
    desk.queue(message("a1", "A"), message("a2", "A"))
    with caplog.at_level(logging.ERROR, logger="bot.runtime.outbox_sender"):
        await desk.settle()
    assert "on_dead failed on a1" in caplog.text
    assert (desk.row("a1").status, desk.row("a2").status) == ("dead", "sent")
    assert "half-done" not in desk.memory.table


# --- the real storage ----------------------------------------------------------------------------------------------


def outbox_script(uow: UnitOfWork) -> list[list[tuple[str, int]]]:
    """What due() answers through a life of queueing, failing, dying and sending."""
    answers = []

    def read(now: datetime, **options: Any) -> None:
        with uow:
            answers.append([(m.key, m.attempts) for m in uow.outbox.due(now, **options)])

    with uow:
        uow.outbox.add_all([message("a1", "A"), message("a2", "A"), message("b1", "B")], NOW)
        uow.outbox.add_all([message("a3", "A"), OutboxMessage("c1", "console", "A", {"text": "c1"})], NOW)
        uow.commit()
    read(NOW)
    read(NOW, limit=2)
    read(NOW, channels=("telegram",), recipient="A")
    with uow:
        uow.outbox.mark_failed("a2", "retry: 502", NOW + timedelta(seconds=10))
        uow.outbox.mark_failed("b1", "retry: 502", NOW + timedelta(seconds=5))
        uow.outbox.mark_failed("b1", "retry: 502", NOW + timedelta(seconds=20))
        uow.commit()
    for seconds in (0, 10, 20, 10**9):
        read(NOW + timedelta(seconds=seconds))
    with uow:
        uow.outbox.mark_sent(["a1"], NOW)
        uow.outbox.mark_dead("a2", "dead: chat not found")
        uow.commit()
    read(NOW)
    read(NOW + timedelta(seconds=30), channels=("telegram",))
    return answers


def test_the_table_in_memory_answers_as_the_database_does(uow: SqlAlchemyUnitOfWork) -> None:
    expected = outbox_script(uow)
    assert expected[3] == [("a1", 0), ("c1", 0)]  # a2 waits for its retry, a3 behind it; b1 too
    assert expected[6] == [("a1", 0), ("a2", 1), ("b1", 2), ("a3", 0), ("c1", 0)]
    assert outbox_script(MemoryUnitOfWork()) == expected


@in_loop
async def test_a_restart_on_the_database_keeps_each_chat_in_order(uow: SqlAlchemyUnitOfWork) -> None:
    desk = Desk(uow, idle_poll=1)
    desk.leave(message("a1", "A"), message("a2", "A"))
    desk.fail_earlier("a1", attempts=2, retry_in=30)
    desk.queue(message("a3", "A"), message("b1", "B"))
    await desk.settle()
    assert (desk.telegram.to("A"), desk.telegram.to("B")) == ([], ["b1"])
    desk.telegram.fail("a1", RetryLater("502 Bad Gateway"))
    desk.clock.advance(30)
    await desk.settle()
    with uow:  # two attempts before, one now: 4 s
        assert uow.outbox.due(desk.clock() + timedelta(seconds=3)) == []
        assert [m.attempts for m in uow.outbox.due(desk.clock() + timedelta(seconds=4))] == [3, 0, 0]
    desk.clock.advance(4)
    await desk.settle()
    assert desk.telegram.to("A") == ["a1", "a2", "a3"]
    with uow:
        assert uow.outbox.pending_count() == 0
