"""Delivers the outbox: in order per chat, with retries and backoff, each message once.

Messages this process queues are handed over in memory and sent at once; the outbox table is polled
as well, for retries, for what other processes queued, and for what was left when a process stopped.
Outcomes are written back in batches, one transaction for many messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics
from core.ports import OutboxMessage, UnitOfWork

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
FLUSH_EVERY = 0.1  # seconds: how long a sent message may wait to be marked sent
PARALLEL_CHATS = 4


class RetryLater(Exception):
    """A passing failure: try again after `after` (a flood limit's retry_after, or backoff when None)."""

    def __init__(self, reason: str, after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Undeliverable(Exception):
    """The channel refused the message for good: retrying would not help."""


# A channel's sender: deliver one payload to one recipient, or raise RetryLater / Undeliverable.
Transport = Callable[[str, dict[str, Any]], Awaitable[None]]
Outcome = tuple[OutboxMessage, str, timedelta | None]


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


class OutboxSender:
    def __init__(
        self,
        uow: UnitOfWork,
        transports: dict[str, Transport],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch: int = 200,
        idle_poll: float = 1.0,
        offload: bool = False,
    ) -> None:
        self.uow, self.transports, self.clock = uow, transports, clock
        self.batch, self.idle_poll, self.offload = batch, idle_poll, offload
        self.wakeup = asyncio.Event()
        self.attempts: dict[str, int] = defaultdict(int)
        self.fresh: deque[OutboxMessage] = deque()
        self.outcomes: list[Outcome] = []  # sent or failed, not yet written back
        self.held: set[tuple[str, str]] = set()  # chats with a message waiting to be retried
        self.last_poll = 0.0
        self.last_flush = time.monotonic()
        self.recently_sent = RecentKeys()
        # A few chats at a time: enough to hide one slow chat, few enough to reuse the same connections.
        self.parallel = asyncio.Semaphore(PARALLEL_CHATS)

    def submit(self, messages: list[OutboxMessage]) -> None:
        """Messages just committed to the outbox by this process: send them without reading them back."""
        self.fresh.extend(m for m in messages if m.channel in self.transports)
        self.wakeup.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                busy = await self.send_once()
            except Exception:  # a database hiccup must not end delivery; log it and poll again
                log.exception("outbox: sending failed")
                busy = False
            if not busy:
                self.wakeup.clear()
                waiters = [asyncio.ensure_future(self.wakeup.wait()), asyncio.ensure_future(stopping.wait())]
                await asyncio.wait(waiters, timeout=FLUSH_EVERY if self.outcomes else self.idle_poll,
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                for waiter in waiters:
                    waiter.cancel()
        await self._write_back()

    async def send_once(self) -> bool:
        """Send what is at hand; True when there was something to send."""
        batch = self._take_fresh()
        if not batch and time.monotonic() - self.last_poll >= self.idle_poll:
            # What the table says is only true once this process's outcomes are written back.
            await self._write_back()
            self.last_poll = time.monotonic()
            due = await asyncio.to_thread(self._due) if self.offload else self._due()
            batch = [m for m in due if m.channel in self.transports and m.key not in self.recently_sent]
        if batch:
            by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
            for message in batch:
                by_chat[(message.channel, message.recipient)].append(message)
            for chat_outcomes in await asyncio.gather(*(self._send_chat(ms) for ms in by_chat.values())):
                self.outcomes.extend(chat_outcomes)
        if self.outcomes and (len(self.outcomes) >= self.batch or time.monotonic() - self.last_flush >= FLUSH_EVERY
                              or not batch):  # fmt: skip
            await self._write_back()
        return bool(batch)

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

    def _take_fresh(self) -> list[OutboxMessage]:
        taken = []
        while self.fresh and len(taken) < self.batch:
            message = self.fresh.popleft()
            held = (message.channel, message.recipient) in self.held  # a held chat waits for the poll
            if not held and message.key not in self.recently_sent:  # the poll may have been quicker
                taken.append(message)
        return taken

    def _due(self) -> list[OutboxMessage]:
        with self.uow as uow:
            # Only this sender's channels: messages waiting for a console must not crowd out Telegram's.
            return uow.outbox.due(self.clock(), self.batch, channels=tuple(self.transports))

    async def _send_chat(self, messages: list[OutboxMessage]) -> list[Outcome]:
        async with self.parallel:
            return await self._send_in_order(messages)

    async def _send_in_order(self, messages: list[OutboxMessage]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        chat = (messages[0].channel, messages[0].recipient)
        for message in messages:
            try:
                await self.transports[message.channel](message.recipient, message.payload)
            except RetryLater as error:
                outcomes.append((message, f"retry: {error}", error.after or self._backoff(message)))
                self.held.add(chat)
                break  # the rest of this chat waits, so it keeps its order
            except Undeliverable as error:
                outcomes.append((message, f"dead: {error}", None))
                self.recently_sent.add(message.key)
                self.held.discard(chat)
                continue
            except Exception as error:  # unforeseen: keep what was sent, retry this one later
                log.exception("outbox: sending %s failed", message.key)
                outcomes.append((message, f"retry: {error!r}", self._backoff(message)))
                self.held.add(chat)
                break
            outcomes.append((message, "sent", None))
            self.recently_sent.add(message.key)
            self.held.discard(chat)
        return outcomes

    def _backoff(self, message: OutboxMessage) -> timedelta:
        self.attempts[message.key] += 1
        return min(MAX_BACKOFF, timedelta(seconds=2 ** (self.attempts[message.key] - 1)))

    def flush(self, outcomes: list[Outcome]) -> None:
        """Write outcomes back in one transaction."""
        self.last_flush = time.monotonic()
        if not outcomes:
            return
        now = self.clock()
        with self.uow as uow:
            uow.outbox.mark_sent([message.key for message, outcome, _ in outcomes if outcome == "sent"], now)
            for message, outcome, retry_in in outcomes:
                if outcome == "sent":
                    self.attempts.pop(message.key, None)
                    metrics.OUTBOX_SENT.labels(message.channel).inc()
                elif outcome.startswith("dead"):
                    uow.outbox.mark_dead(message.key, outcome)
                    metrics.OUTBOX_DEAD.labels(message.channel).inc()
                    log.warning("outbox: %s to %s dropped: %s", message.key, message.recipient, outcome)
                else:
                    assert retry_in is not None
                    uow.outbox.mark_failed(message.key, outcome, now + retry_in)
                    metrics.OUTBOX_RETRIED.labels(message.channel).inc()
            uow.commit()
