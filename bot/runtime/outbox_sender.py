"""Delivers the outbox: in order per chat, with retries and backoff, each message once.

Messages this process queues are handed over in memory and sent at once; the outbox table is polled
as well, at least every `idle_poll` seconds however busy the sender is: for retries, for what other
processes queued, and for what was left when a process stopped. Outcomes are written back in batches,
one transaction for many chats; but a chat's next message is sent only once its last one is marked sent, so
that a crash can send again at most one message per chat (Telegram has no idempotency key: that is the bound).

A chat the table owes older messages to (a retry not yet due, what a stopped process left) is served
from the table alone until those are sent: a message handed over in memory would overtake them.

Several senders (processes) may share the table: each claims what it sends, for a lease it renews while it
lives (those handed over in memory were claimed for it when they were queued). A sender that dies leaves its
claims to run out, and another takes them; a message claimed that way may have been sent already, and when it is
sent again it is counted in baoxiu_outbox_sent_again_total.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics
from bot.runtime.health import Health, first_line
from core.ports import Claim, OutboxMessage, UnitOfWork

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
# Tries before a message that keeps failing is given up (about a day, with backoff): marked dead, which on_dead
# hears of (the person's next address, or a line in the ticket's history), logged and counted in the metrics.
GIVE_UP_AFTER = 300
FLUSH_EVERY = 0.1  # seconds: how long a sent message may wait to be marked sent
PARALLEL_CHATS = 4
SCAN_LIMIT = 10_000  # pending messages read at the start, to learn which chats the table owes messages to
HORIZON = timedelta(days=36_500)  # due() "by then" lists every pending message, due now or not
# How long a sender's claim on a message lasts unless renewed (a third of it apart): how long what a dead sender
# held waits before another sender takes it.
LEASE = timedelta(seconds=5)


class RetryLater(Exception):
    """A passing failure: try again after `after` (a flood limit's retry_after, or backoff when None). `unknown`:
    the channel may have delivered it all the same (a timeout after the request went out), so trying again may
    deliver it twice; the metrics count such second sends."""

    def __init__(self, reason: str, after: timedelta | None = None, unknown: bool = False) -> None:
        super().__init__(reason)
        self.after, self.unknown = after, unknown


class Undeliverable(Exception):
    """The channel refused the message for good: retrying would not help."""


# A channel's sender: deliver one payload to one recipient, or raise RetryLater / Undeliverable.
Transport = Callable[[str, dict[str, Any]], Awaitable[None]]
Outcome = tuple[OutboxMessage, str, timedelta | None]
# Told, inside the write-back transaction and after mark_dead, of a message the channel refused for good
# and why (what Undeliverable said): it may queue the message elsewhere, or record that nobody was reached.
DeadHook = Callable[[UnitOfWork, OutboxMessage, str], None]
Chat = tuple[str, str]  # (channel, recipient)


def backoff(attempts: int) -> timedelta:
    """How long to wait after a failed attempt, given the attempts made before it: 1 s, 2 s, 4 s … 5 min."""
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 20)))


def chat_of(message: OutboxMessage) -> Chat:
    return (message.channel, message.recipient)


class RecentKeys:
    """The last keys sent, so neither path sends what the other just did."""

    def __init__(self, size: int = 10_000) -> None:
        self.order: deque[str] = deque()
        self.keys: set[str] = set()
        self.size = size

    def add(self, key: str) -> None:
        if key not in self.keys:
            self.keys.add(key)
            self.order.append(key)
            if len(self.order) > self.size:
                self.keys.discard(self.order.popleft())

    def __contains__(self, key: object) -> bool:
        return key in self.keys


class _HookFailed(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class OutboxSender:
    """Sends the outbox through `transports` (one per channel) until run()'s `stopping` is set.

    `clock` tells the time for retries and for the poll and write-back intervals; `batch` is the most
    messages taken a round and written back a transaction; `offload` does the database work in a thread;
    `on_dead` hears of each message refused for good, in the transaction that marks it dead. A message's
    backoff grows with the attempts the table counted (OutboxMessage.attempts)."""

    def __init__(
        self,
        uow: UnitOfWork,
        transports: dict[str, Transport],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch: int = 200,
        idle_poll: float = 1.0,
        offload: bool = False,
        on_dead: DeadHook | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.uow, self.transports, self.clock = uow, transports, clock
        self.id, self.lease = uuid.uuid4().hex, lease  # what its claims are known by
        self.batch, self.idle_poll, self.offload, self.on_dead = batch, idle_poll, offload, on_dead
        self.scan_limit = SCAN_LIMIT
        self.wakeup = asyncio.Event()
        self.fresh: deque[OutboxMessage] = deque()
        self.outcomes: list[Outcome] = []  # sent or failed, not yet written back
        # Per chat, messages sent whose outcome is not written back yet (being written counts): at most one.
        self.unmarked: dict[Chat, int] = {}
        self.writing: asyncio.Future[None] | None = None
        self.uncertain: set[str] = set()  # keys whose last try may have been delivered all the same
        self.health: dict[str, Health] = {}  # per channel: whether it takes messages (for /healthz)
        self.failures_in_a_row = 0
        # Chats served from the table alone, with the keys of what it holds for them that is not sent yet.
        self.owed: dict[Chat, set[str]] = {}
        self.scanned = False  # whether `owed` knows what the table held when this sender started
        self.last_poll: datetime | None = None
        self.last_poll_full = False  # the table may hold more that is due: poll again at once
        self.last_flush = clock()
        self.recently_sent = RecentKeys()
        # A few chats at a time: enough to hide one slow chat, few enough to reuse the same connections.
        self.parallel = asyncio.Semaphore(PARALLEL_CHATS)

    @property
    def claims(self) -> tuple[str, timedelta]:
        """For the desks that hand it messages: its id and lease (core.desk.Desk.sender)."""
        return self.id, self.lease

    def claim(self) -> Claim:
        return Claim(self.id, self.clock() + self.lease)

    def submit(self, messages: list[OutboxMessage]) -> None:
        """Messages just committed to the outbox by this process: send them without reading them back."""
        self.fresh.extend(m for m in messages if m.channel in self.transports)
        self.wakeup.set()

    def poke(self, messages: list[OutboxMessage] | None = None) -> None:
        """Messages were committed to the outbox elsewhere (desk workers, whose answers reach this process in no
        particular order): read the table now, which has each chat's messages in the order they committed."""
        self.last_poll = None
        self.wakeup.set()

    async def run(self, stopping: asyncio.Event) -> None:
        renewing = asyncio.create_task(self._renew(stopping))
        try:
            await self._run(stopping)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            try:  # what it still holds is free for the next sender at once, not after the lease
                await self._database(lambda: self._hold(Claim(self.id, self.clock() - timedelta(microseconds=1))))
            except Exception as error:
                log.warning("outbox: could not let go of its claims (they run out in %s): %s", self.lease, error)

    async def _renew(self, stopping: asyncio.Event) -> None:
        """Keep the claims alive while this sender is; a database that is away is tried again at the next turn."""
        while not stopping.is_set():
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self._database(lambda: self._hold(self.claim()))
            except Exception as error:
                log.warning("outbox: could not renew its claims: %s", error)

    def _hold(self, claim: Claim) -> None:
        with self.uow as uow:
            uow.outbox.renew(claim)
            uow.commit()

    async def _database(self, work: Callable[[], None]) -> None:
        if self.offload:
            await asyncio.to_thread(work)
        else:
            work()

    async def _run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.wakeup.clear()  # what submit() hands over from here on ends the wait below
            try:
                busy = await self.send_once() or bool(self.fresh)
                timeout = self._idle_wait()
            except Exception as error:  # a database hiccup must not end delivery; say so and try again later
                self.failures_in_a_row += 1
                log.error("outbox: sending failed (%d in a row): %s", self.failures_in_a_row, first_line(error))
                busy, timeout = False, self.idle_poll
            else:
                self.failures_in_a_row = 0
            if not busy:
                waiters = [asyncio.ensure_future(self.wakeup.wait()), asyncio.ensure_future(stopping.wait())]
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        await self._write_back()

    async def send_once(self) -> bool:
        """Send what is at hand; True when there was something to send."""
        polled: list[OutboxMessage] = []
        full = False
        if self._poll_due():  # however much fresh traffic there is: retries and held chats must not starve
            self.last_poll = self.clock()  # even if the database fails now: try it again after idle_poll
            # What the table says is only true once this process's outcomes are written back.
            await self._write_back()
            if not self.scanned and not self.last_poll_full:
                await self._scan()
            due = await self._read(self._due)
            self.uncertain.update(m.key for m in due if m.uncertain)
            full = self.last_poll_full = len(due) >= self.batch
            polled = [m for m in due if m.channel in self.transports and m.key not in self.recently_sent]
        batch = self._assemble(polled, full)
        if batch:
            by_chat: dict[Chat, list[OutboxMessage]] = {}
            for message in batch:
                by_chat.setdefault(chat_of(message), []).append(message)
            await asyncio.gather(*(self._send_chat(ms) for ms in by_chat.values()))
        if self.outcomes and (len(self.outcomes) >= self.batch or self._elapsed(self.last_flush) >= FLUSH_EVERY
                              or not batch):  # fmt: skip
            await self._write_back()
        return bool(batch)

    def _assemble(self, polled: list[OutboxMessage], full: bool) -> list[OutboxMessage]:
        """What to send this round: what the poll found, then what was handed over that may go now.

        A fresh message to a chat the poll also found goes after what it found, which is older; unless
        the poll was cut at its limit: then the table may hold more for that chat, and the message waits
        there. So does a fresh message to a chat the table owes messages to, and, until the sender knows
        which chats those are, every fresh message."""
        batch = list(polled)
        found = {message.key for message in polled}
        crowded = {chat_of(message) for message in polled} if full else set()
        for _ in range(min(len(self.fresh), self.batch)):
            message = self.fresh.popleft()
            if message.key in found or message.key in self.recently_sent:  # the poll was quicker
                continue
            chat = chat_of(message)
            if not self.scanned:
                continue  # the table has it: the poll sends it, in its turn
            if chat in self.owed or chat in crowded:
                self.owed.setdefault(chat, set()).add(message.key)
                continue
            batch.append(message)
        return batch

    async def _scan(self) -> None:
        """Learn which chats the table holds older messages for (what a stopped process left, a retry not
        yet due): each is served from the table until those are sent."""
        pending = await self._read(self._pending)
        if len(pending) >= self.scan_limit:  # too many to read at once: all goes by the table until it drains
            log.warning("outbox: %d or more messages pending: sending from the table alone until fewer", len(pending))
            return
        handed_over = {message.key for message in self.fresh}  # these alone owe the table nothing
        owed: dict[Chat, set[str]] = {}
        for message in pending:
            if message.key not in handed_over and message.key not in self.recently_sent:
                owed.setdefault(chat_of(message), set()).add(message.key)
        self.owed, self.scanned = owed, True

    async def _read(self, read: Callable[[], list[OutboxMessage]]) -> list[OutboxMessage]:
        return await asyncio.to_thread(read) if self.offload else read()

    def _due(self) -> list[OutboxMessage]:
        with self.uow as uow:
            # Only this sender's channels: messages waiting for a console must not crowd out Telegram's.
            claimed = uow.outbox.claim(self.clock(), self.claim(), self.batch, channels=tuple(self.transports))
            uow.commit()
            return claimed

    def _pending(self) -> list[OutboxMessage]:
        with self.uow as uow:
            return uow.outbox.due(self.clock() + HORIZON, self.scan_limit, channels=tuple(self.transports))

    def _poll_due(self) -> bool:
        return self.last_poll_full or self._elapsed(self.last_poll) >= self.idle_poll

    def _idle_wait(self) -> float:
        """Seconds until there is something to do (without new messages handed over)."""
        until_poll = 0.0 if self._poll_due() else self.idle_poll - self._elapsed(self.last_poll)
        return min(until_poll, FLUSH_EVERY) if self.outcomes else until_poll

    def _elapsed(self, since: datetime | None) -> float:
        """Seconds since then by the sender's clock: endless when never, or when the clock was set back."""
        seconds = math.inf if since is None else (self.clock() - since).total_seconds()
        return seconds if seconds >= 0 else math.inf

    async def _send_chat(self, messages: list[OutboxMessage]) -> None:
        chat = chat_of(messages[0])
        for n, message in enumerate(messages):
            if self.unmarked.get(chat):
                await self._marked(chat)  # not holding a slot: the other chats' marks join the same write
            try:
                async with self.parallel:
                    await self.transports[message.channel](message.recipient, message.payload)
            except RetryLater as error:
                if message.attempts + 1 >= GIVE_UP_AFTER:
                    self._outcome(message, f"dead: gave up after {message.attempts + 1} tries: {error}", None)
                    self._settle(message)
                    continue
                self._outcome(message, f"retry: {error}", error.after or backoff(message.attempts))
                if error.unknown:
                    self.uncertain.add(message.key)
                self._owe(messages[n:])  # the rest of this chat waits in the table, so it keeps its order
                break
            except Undeliverable as error:
                self._outcome(message, f"dead: {error}", None)
                self._settle(message)
                continue
            except Exception as error:  # unforeseen: keep what was sent, retry this one later
                log.error("outbox: sending %s failed: %r", message.key, error)
                self._outcome(message, f"retry: {error!r}", backoff(message.attempts))
                self.uncertain.add(message.key)
                self._owe(messages[n:])
                break
            self._outcome(message, "sent", None)
            self._settle(message)

    def _outcome(self, message: OutboxMessage, outcome: str, retry_in: timedelta | None) -> None:
        self.outcomes.append((message, outcome, retry_in))
        health = self.health.setdefault(message.channel, Health())
        if outcome == "sent":
            health.ok()
        elif outcome.startswith("retry"):  # a chat refusing for good (dead) says nothing about the channel
            health.failed(outcome.removeprefix("retry: "), self.clock())
        if outcome == "sent":
            chat = chat_of(message)
            self.unmarked[chat] = self.unmarked.get(chat, 0) + 1
            if message.key in self.uncertain:
                metrics.OUTBOX_SENT_AGAIN.labels(message.channel).inc()
        if not outcome.startswith("retry"):
            self.uncertain.discard(message.key)  # settled: nothing more to count

    async def _marked(self, chat: Chat) -> None:
        """Until what was sent to the chat is written back: one write for every chat waiting on it at once. While
        the database is away this keeps trying, since sending more before the last is marked would widen what a
        crash can send twice."""
        failures = 0
        while self.unmarked.get(chat):
            if self.writing is None or self.writing.done():
                self.writing = asyncio.ensure_future(self._write_back())
            try:
                await asyncio.shield(self.writing)
            except Exception as error:
                failures += 1
                log.warning("outbox: could not mark what was sent (try %d): %s", failures, error)
                await asyncio.sleep(min(0.2 * 2 ** min(failures - 1, 10), 30.0))

    def _owe(self, messages: Iterable[OutboxMessage]) -> None:
        for message in messages:
            self.owed.setdefault(chat_of(message), set()).add(message.key)

    def _settle(self, message: OutboxMessage) -> None:
        """Sent, or refused for good: neither path sends it again, and its chat owes the table one less."""
        self.recently_sent.add(message.key)
        chat = chat_of(message)
        owed = self.owed.get(chat)
        if owed is not None:
            owed.discard(message.key)
            if not owed:
                del self.owed[chat]  # nothing older left in the table: fresh messages go at once again

    async def _write_back(self) -> None:
        outcomes, self.outcomes = self.outcomes, []
        if not outcomes:
            return
        try:
            if self.offload:
                await asyncio.to_thread(self.flush, outcomes)
            else:
                self.flush(outcomes)
        except Exception:
            self.outcomes = outcomes + self.outcomes  # sent is sent: keep them, to write back next time
            raise
        for message, outcome, _ in outcomes:
            if outcome == "sent":
                chat = chat_of(message)
                left = self.unmarked.get(chat, 0) - 1
                if left > 0:
                    self.unmarked[chat] = left
                else:
                    self.unmarked.pop(chat, None)

    def flush(self, outcomes: list[Outcome]) -> None:
        """Write outcomes back in one transaction, with what on_dead does about messages refused for good.

        When on_dead fails, the transaction is written again without it for that message (logged): one
        broken hook must not keep every outcome from being written back."""
        self.last_flush = self.clock()
        if not outcomes:
            return
        without_hook: set[str] = set()
        while True:
            try:
                self._write(outcomes, without_hook)
                break
            except _HookFailed as failed:
                log.error("outbox: on_dead failed on %s (marked dead)", failed.key, exc_info=failed.__cause__)
                without_hook.add(failed.key)
        for message, outcome, _ in outcomes:
            if outcome == "sent":
                metrics.OUTBOX_SENT.labels(message.channel).inc()
            elif outcome.startswith("dead"):
                metrics.OUTBOX_DEAD.labels(message.channel).inc()
                log.warning("outbox: %s to %s dropped: %s", message.key, message.recipient, outcome)
            else:
                metrics.OUTBOX_RETRIED.labels(message.channel).inc()

    def _write(self, outcomes: list[Outcome], without_hook: set[str]) -> None:
        now = self.clock()
        with self.uow as uow:
            uow.outbox.mark_sent([message.key for message, outcome, _ in outcomes if outcome == "sent"], now)
            for message, outcome, retry_in in outcomes:
                if outcome.startswith("dead"):
                    uow.outbox.mark_dead(message.key, outcome)
                    if self.on_dead is not None and message.key not in without_hook:
                        try:
                            self.on_dead(uow, message, outcome.removeprefix("dead: "))
                        except Exception as error:
                            raise _HookFailed(message.key) from error
                elif outcome != "sent":
                    assert retry_in is not None
                    uow.outbox.mark_failed(message.key, outcome, now + retry_in)
            uow.commit()
