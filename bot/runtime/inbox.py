"""What a channel receives is stored before the channel is told it was received, then answered.

Telegram counts an update as delivered once baoxiu confirms it (the next getUpdates offset, or the webhook's 200).
Confirming only what is stored, as a message waiting in `inbound_messages`, means a crash or a database outage loses
nothing: a message waiting is answered when the process is back (every waiting message is looked at when the inbox
starts), and while the database is away nothing new is confirmed, so the channel keeps it. Storing is quick and
answering may not be: one slow turn never holds back the confirmation of other people's messages.

Strings are stored cleaned of what a database cannot hold (NUL, lone surrogates), so such a message is answered
as if it had been typed without them, instead of failing for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.runtime.health import first_line
from core.ports import UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")
Received = tuple[str, dict[str, Any]]  # (the channel's id of the message, what it sent)
# Answers one message taken from the inbox; it settles it (handled, rejected, passed over) in the database.
Answer = Callable[[str, dict[str, Any]], Awaitable[None]]
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Messages another process kept and did not answer (it died) are taken up after this long.
STALE_AFTER = timedelta(seconds=30)
SWEEP_EVERY = 10.0  # seconds
SWEEP_LIMIT = 1000


def cleaned(value: Any) -> Any:
    """The value with NUL characters and lone surrogates removed from every string in it, keys too."""
    if isinstance(value, str):
        return UNSTORABLE.sub("", value)
    if isinstance(value, dict):
        return {cleaned(k): cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cleaned(v) for v in value]
    return value


class Inbox:
    """One channel's messages: kept (kept() returns once they are committed), then each answered by `answer`,
    which settles it. A message is answered by one task at a time in this process; answering twice is harmless
    anyway (the desk handles a message id once)."""

    def __init__(
        self,
        uow: UnitOfWork,
        channel: str,
        answer: Answer,
        offload: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow, self.channel, self.answer = uow, channel, answer
        self.offload, self.clock = offload, clock
        self.in_flight: dict[str, asyncio.Task[None]] = {}

    async def keep(self, received: list[Received]) -> None:
        """Store the messages, then start answering them; raises when they could not be stored (the caller must
        not confirm them then: the channel delivers them again)."""
        received = [(native_id, cleaned(payload)) for native_id, payload in received]
        if not received:
            return
        await self._database(lambda: self._store(received))
        for native_id, payload in received:
            self._start(native_id, payload)

    def _store(self, received: list[Received]) -> None:
        with self.uow as uow:
            uow.conversations.keep(self.channel, received, self.clock())
            uow.commit()

    async def take_up(self, older_than: timedelta = timedelta(0)) -> int:
        """Start answering the messages waiting in the database (left by a process that stopped or died), oldest
        first; how many were started."""
        before = self.clock() - older_than
        waiting = await self._database(lambda: self._waiting(before))
        started = [row for row in waiting if row[0] not in self.in_flight]
        for native_id, payload in started:
            self._start(native_id, payload)
        return len(started)

    def _waiting(self, before: datetime) -> list[Received]:
        with self.uow as uow:
            return uow.conversations.waiting(self.channel, before, SWEEP_LIMIT)

    async def run(self, stopping: asyncio.Event) -> None:
        """Now and then, take up what another process kept and did not answer."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), SWEEP_EVERY)
            if stopping.is_set():
                break
            try:
                await self.take_up(STALE_AFTER)
            except Exception as error:  # the database is away: the next sweep tries again
                log.warning("%s: could not look for waiting messages: %s", self.channel, first_line(error))

    def _start(self, native_id: str, payload: dict[str, Any]) -> None:
        if native_id in self.in_flight:
            return
        task = asyncio.create_task(self._answer(native_id, payload))
        self.in_flight[native_id] = task

    async def _answer(self, native_id: str, payload: dict[str, Any]) -> None:
        try:
            await self.answer(native_id, payload)
        except Exception:  # answer() settles what it can; what it cannot waits in the table for the next start
            log.exception("%s: message %s could not be answered; it waits", self.channel, native_id)
        finally:
            self.in_flight.pop(native_id, None)

    async def close(self) -> None:
        """Stop answering: what is not answered yet stays waiting in the database."""
        tasks = list(self.in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reject(self, native_id: str, reason: str) -> None:
        """A message nobody can answer (not one the channel's library can read): never tried again."""
        await self._database(lambda: self._settle(native_id, reason))

    async def pass_over(self, native_id: str) -> None:
        """A message that asks nothing of the desk (a button that is someone else's, say): done with."""
        await self._database(lambda: self._settle(native_id, None))

    def _settle(self, native_id: str, rejected: str | None) -> None:
        with self.uow as uow:
            if rejected is None:
                uow.conversations.pass_over(self.channel, native_id, self.clock())
            else:
                uow.conversations.reject(self.channel, native_id, rejected, self.clock())
            uow.commit()

    async def _database(self, work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work) if self.offload else work()
