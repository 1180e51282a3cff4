"""Delivers the outbox: oldest first, in order per chat, with retries and backoff, each message once."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics
from core.ports import OutboxMessage, UnitOfWork

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)


class RetryLater(Exception):
    """A passing failure: try again after `after` (a flood limit's retry_after, or backoff when None)."""

    def __init__(self, reason: str, after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Undeliverable(Exception):
    """The channel refused the message for good: retrying would not help."""


# A channel's sender: deliver one payload to one recipient, or raise RetryLater / Undeliverable.
Transport = Callable[[str, dict[str, Any]], Awaitable[None]]


class OutboxSender:
    def __init__(
        self,
        uow: UnitOfWork,
        transports: dict[str, Transport],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch: int = 200,
        idle_poll: float = 1.0,
    ) -> None:
        self.uow, self.transports, self.clock = uow, transports, clock
        self.batch, self.idle_poll = batch, idle_poll
        self.wakeup = asyncio.Event()
        self.attempts: dict[str, int] = defaultdict(int)

    def wake(self) -> None:
        """New messages were queued: send them now rather than at the next poll."""
        self.wakeup.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                sent = await self.send_due()
            except Exception:  # a database hiccup must not end delivery; log it and poll again
                log.exception("outbox: sending failed")
                sent = 0
            if sent == 0:
                self.wakeup.clear()
                waiters = [asyncio.ensure_future(self.wakeup.wait()), asyncio.ensure_future(stopping.wait())]
                await asyncio.wait(waiters, timeout=self.idle_poll, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()

    async def send_due(self) -> int:
        """Send one batch: chats in parallel, each chat's messages in order. Returns how many were tried."""
        due = await asyncio.to_thread(self._due)
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for message in due:
            if message.channel in self.transports:
                by_chat[(message.channel, message.recipient)].append(message)
        results = await asyncio.gather(*(self._send_chat(messages) for messages in by_chat.values()))
        outcomes = [outcome for chat in results for outcome in chat]
        if outcomes:
            await asyncio.to_thread(self._record, outcomes)
        return len(outcomes)

    def _due(self) -> list[OutboxMessage]:
        with self.uow as uow:
            return uow.outbox.due(self.clock(), self.batch)

    async def _send_chat(self, messages: list[OutboxMessage]) -> list[tuple[OutboxMessage, str, timedelta | None]]:
        outcomes: list[tuple[OutboxMessage, str, timedelta | None]] = []
        for message in messages:
            try:
                await self.transports[message.channel](message.recipient, message.payload)
            except RetryLater as error:
                self.attempts[message.key] += 1
                backoff = error.after or min(MAX_BACKOFF, timedelta(seconds=2 ** (self.attempts[message.key] - 1)))
                outcomes.append((message, f"retry: {error}", backoff))
                break  # the rest of this chat waits, so it keeps its order
            except Undeliverable as error:
                outcomes.append((message, f"dead: {error}", None))
                continue
            except Exception as error:  # unforeseen: keep what this batch did send, retry this one later
                log.exception("outbox: sending %s failed", message.key)
                self.attempts[message.key] += 1
                backoff = min(MAX_BACKOFF, timedelta(seconds=2 ** (self.attempts[message.key] - 1)))
                outcomes.append((message, f"retry: {error!r}", backoff))
                break
            outcomes.append((message, "sent", None))
        return outcomes

    def _record(self, outcomes: list[tuple[OutboxMessage, str, timedelta | None]]) -> None:
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
