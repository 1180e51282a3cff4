"""Where `baoxiu run` answers a message: on the event loop's thread (SQLite), or in worker processes
(PostgreSQL).

A turn is mostly Python work between database round trips. In one process it competes for the
interpreter lock with the chat I/O of every other update; worker processes put it on the machine's
other cores. Each worker builds its own engine and desk from the config, and since a conversation's
state lives in the database, any worker can take any message; one person's turns wait for each other
in the database, and their arrival order is kept by the channel (bot.runtime.order).

A message that breaks its turn costs only itself: a turn that raises, or kills its worker twice, is
answered with an apology and recorded as rejected, so that it is never tried again. A database that is away
(a deadlock, a dropped connection, a locked SQLite file) is not the message's fault: the error goes back to the
channel, whose message is kept (bot.runtime.inbox) and is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import OperationalError

from bot.config import Config
from bot.runtime.pool import WorkerDied, WorkerPool
from core.conversation.messages import Inbound, Reply
from core.desk import Desk, Render, answer_language
from core.i18n import N_
from core.ports import OutboxMessage

log = logging.getLogger(__name__)

Queued = Callable[[list[OutboxMessage]], None]
WORKER_NICENESS = 10
SORRY = N_("Sorry, something went wrong with your message. It has been recorded and our staff will look into it.")


class DeskRunner(Protocol):
    """What a channel hands its messages to."""

    async def start(self, renders: list[Render]) -> None:
        """Ready to answer, for channels that render with these."""

    async def handle(self, inbound: Inbound, now: datetime, render: Render) -> list[Reply]:
        """Answer the message, or reject it with an apology. A database that is away raises OperationalError: the
        channel tries the message again later."""

    async def close(self) -> None: ...


def reject(desk: Desk, inbound: Inbound, now: datetime, render: Render, reason: str) -> list[OutboxMessage]:
    """The message could not be answered: record it as rejected (never to be tried again) and apologise, in the
    language the desk answers its sender in."""
    try:
        locale = desk.language(inbound, now)
    except Exception:  # whatever broke the turn may break this too: the apology goes out all the same
        log.warning("the language of %s %s could not be read", inbound.channel, inbound.native_id, exc_info=True)
        locale = answer_language(inbound, desk.settings.default_locale)
    apology = Reply(desk.settings.translators(locale)(SORRY))
    uow = desk.uow
    with uow:
        if not uow.conversations.reject(inbound.channel, inbound.native_id or now.isoformat(), reason, now):
            return []  # rejected (or answered) before: said once is enough
        base = f"{inbound.channel}:{inbound.native_id or now.isoformat()}:sorry"
        deliveries = render(inbound, apology)
        messages = [OutboxMessage(f"{base}:{n}", inbound.channel, *d) for n, d in enumerate(deliveries)]
        queued = desk.queue(uow, messages, now)
        uow.commit()
    return queued


class _Answering:
    """What both runners do around a turn: try it again after a worker died, and reject it when it cannot be
    answered."""

    def __init__(self, desk: Desk, on_queued: Queued) -> None:
        # `desk` is this process's: it rejects, and reads the language of the apology.
        self.desk, self.on_queued = desk, on_queued

    async def _turn(self, inbound: Inbound, now: datetime, render: Render) -> tuple[list[Reply], list[OutboxMessage]]:
        """The replies, and what the turn queued that the desk did not announce itself."""
        raise NotImplementedError

    async def handle(self, inbound: Inbound, now: datetime, render: Render) -> list[Reply]:
        deaths = 0
        while True:
            try:
                replies, queued = await self._turn(inbound, now, render)
            except WorkerDied as died:
                # Its transaction died with the worker, or committed just before: either way trying again is
                # safe, because a message with a native id that was handled before is not handled again.
                deaths += 1
                log.error("a desk worker died answering %s %s (try %d)", inbound.channel, inbound.native_id, deaths)
                reason = str(died)
                if deaths < 2:
                    continue
            except OperationalError:
                raise  # rolled back (or, failing at commit, committed): the channel tries it again, safely
            except Exception as error:
                log.exception("message %s %s could not be answered; it is rejected", inbound.channel, inbound.native_id)
                reason = repr(error)
            else:
                if queued:
                    self.on_queued(queued)
                return replies
            break
        self.on_queued(await self._reject(inbound, now, render, reason))
        return []

    async def _reject(self, inbound: Inbound, now: datetime, render: Render, reason: str) -> list[OutboxMessage]:
        return reject(self.desk, inbound, now, render, reason)


class InLoopDesk(_Answering):
    """Answers on the event loop's thread: SQLite's work is short and local, and handing it to another
    thread would cost more in hand-offs of the interpreter lock than it saves (measured)."""

    async def start(self, renders: list[Render]) -> None:
        """Nothing to start."""

    async def _turn(self, inbound: Inbound, now: datetime, render: Render) -> tuple[list[Reply], list[OutboxMessage]]:
        return self.desk.handle(inbound, now, render), []  # the desk tells its listeners what it queued

    async def close(self) -> None:
        """Nothing to stop."""


class DeskProcesses(_Answering):
    """Answers in a pool of worker processes; a message whose worker dies is tried once more on another."""

    def __init__(self, config: Config, estate_code: str, workers: int, desk: Desk, on_queued: Queued) -> None:
        super().__init__(desk, on_queued)
        self.config, self.estate_code, self.workers = config, estate_code, workers
        self.pool: WorkerPool | None = None

    async def start(self, renders: list[Render]) -> None:
        """Start every worker now, with the channels' modules loaded (they come with the renders): that takes a
        worker about a second, which the first messages should not wait for."""
        self.pool = WorkerPool(
            self.workers,
            _start_worker,
            (self.config, self.estate_code, renders, self.desk.sender),
            niceness=WORKER_NICENESS,
        )
        await self.pool.start()

    async def _turn(self, inbound: Inbound, now: datetime, render: Render) -> tuple[list[Reply], list[OutboxMessage]]:
        assert self.pool is not None, "start() first"
        return await self.pool.run(_handle, inbound, now, render)

    async def _reject(self, inbound: Inbound, now: datetime, render: Render, reason: str) -> list[OutboxMessage]:
        return await asyncio.to_thread(reject, self.desk, inbound, now, render, reason)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


def default_workers() -> int:
    """One more than the cores: a worker waiting on the database leaves its core to another."""
    return (os.cpu_count() or 1) + 1


# --- inside a worker process ---------------------------------------------------------------------------

_desk: Desk | None = None
_queued: list[OutboxMessage] = []


def _start_worker(
    config: Config, estate_code: str, renders: list[Render], sender: tuple[str, timedelta] | None
) -> None:
    """Arriving here, the renders have imported their channels' modules (unpickling them did)."""
    global _desk
    from bot import bootstrap
    from storage.db import make_engine

    _desk = bootstrap.build_desk(config, make_engine(config.database.url), estate_code)
    _desk.sender = sender  # what a turn queues is claimed for the parent's sender, which it is handed to
    _desk.queued_listeners.append(_queued.extend)


def _handle(inbound: Inbound, now: datetime, render: Render) -> tuple[list[Reply], list[OutboxMessage]]:
    """A turn, and what it queued for delivery (the parent's outbox sender sends it without reading it back)."""
    assert _desk is not None, "the worker was not started"
    _queued.clear()
    replies = _desk.handle(inbound, now, render)
    return replies, list(_queued)
