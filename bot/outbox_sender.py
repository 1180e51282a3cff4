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
        # A few chats at a time: enough to hide one slow chat, few enough to reuse the same connections.
        self.parallel = asyncio.Semaphore(PARALLEL_CHATS)

    def submit(self, messages: list[OutboxMessage]) -> None:
        """Messages just committed to the outbox by this process: send them without reading them back."""
        self.fresh.extend(m for m in messages if m.channel in self.transports)
        self.wakeup.set()

    def wake(self) -> None:
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
        self.flush(self.outcomes)
        self.outcomes = []

    async def send_once(self) -> bool:
        """Send what is at hand; True when there was something to send."""
        batch = self._take_fresh()
        if not batch and time.monotonic() - self.last_poll >= self.idle_poll:
            self.last_poll = time.monotonic()
            pending = {outcome[0].key for outcome in self.outcomes}
            due = await asyncio.to_thread(self._due) if self.offload else self._due()
            batch = [m for m in due if m.channel in self.transports and m.key not in pending]
        if batch:
            by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
            for message in batch:
                by_chat[(message.channel, message.recipient)].append(message)
            for chat_outcomes in await asyncio.gather(*(self._send_chat(ms) for ms in by_chat.values())):
                self.outcomes.extend(chat_outcomes)
        if self.outcomes and (len(self.outcomes) >= self.batch or time.monotonic() - self.last_flush >= FLUSH_EVERY
                              or not batch):  # fmt: skip
            outcomes, self.outcomes = self.outcomes, []
            if self.offload:
                await asyncio.to_thread(self.flush, outcomes)
            else:
                self.flush(outcomes)
        return bool(batch)

    def _take_fresh(self) -> list[OutboxMessage]:
        taken = []
        while self.fresh and len(taken) < self.batch:
            message = self.fresh.popleft()
            if (message.channel, message.recipient) not in self.held:  # a held chat waits for the poll
                taken.append(message)
        return taken

    def _due(self) -> list[OutboxMessage]:
        with self.uow as uow:
            return uow.outbox.due(self.clock(), self.batch)

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
                continue
            except Exception as error:  # unforeseen: keep what was sent, retry this one later
                log.exception("outbox: sending %s failed", message.key)
                outcomes.append((message, f"retry: {error!r}", self._backoff(message)))
                self.held.add(chat)
                break
            outcomes.append((message, "sent", None))
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
            for message, outcome, retry_in in outcomes:
                if outcome == "sent":
                    uow.outbox.mark_sent(message.key, now)
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
