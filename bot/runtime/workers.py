"""Where `baoxiu run` answers a message: on the event loop's thread (SQLite), or in worker processes
(PostgreSQL).

A turn is mostly Python work between database round trips. In one process it competes for the
interpreter lock with the chat I/O of every other update; worker processes put it on the machine's
other cores. Each worker builds its own engine and desk from the config, and since a conversation's
state lives in the database, any worker can take any message. One person's messages still go one at
a time (the channel holds a lock per person), so they are answered in the order they came.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Protocol

from bot.config import Config
from core.desk import Desk, Render
from core.messages import Inbound, Reply
from core.ports import OutboxMessage

log = logging.getLogger(__name__)

Queued = Callable[[list[OutboxMessage]], None]
WORKER_NICENESS = 10


class DeskRunner(Protocol):
    """What a channel hands its messages to."""

    @property
    def parallel(self) -> int:
        """How many updates are worth having in flight at once."""

    async def start(self, renders: list[Render]) -> None:
        """Ready to answer, for channels that render with these."""

    async def handle(self, inbound: Inbound, now: datetime, render: Render) -> list[Reply]: ...

    def close(self) -> None: ...


class InLoopDesk:
    """Answers on the event loop's thread: SQLite's work is short and local, and handing it to another
    thread would cost more in hand-offs of the interpreter lock than it saves (measured)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    @property
    def parallel(self) -> int:
        return 1

    async def start(self, renders: list[Render]) -> None:
        """Nothing to start."""

    async def handle(self, inbound: Inbound, now: datetime, render: Render) -> list[Reply]:
        return self.desk.handle(inbound, now, render)

    def close(self) -> None:
        """Nothing to stop."""


class DeskProcesses:
    """Answers in a pool of worker processes; a worker that dies is replaced and its message tried again."""

    def __init__(self, config: Config, estate_code: str, workers: int, on_queued: Queued) -> None:
        self.config, self.estate_code, self.workers = config, estate_code, workers
        self.on_queued = on_queued
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent has an event loop, threads and open connections a fork would copy.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.config, self.estate_code),
        )

    async def start(self, renders: list[Render]) -> None:
        """Start every worker now, with the channels' modules loaded: that takes a worker about a second,
        which the first messages should not wait for."""
        loop = asyncio.get_running_loop()
        seen: set[int] = set()
        for _ in range(10):
            calls = [loop.run_in_executor(self.pool, _ready, renders) for _ in range(self.workers)]
            seen.update(await asyncio.gather(*calls))
            if len(seen) >= self.workers:
                return

    @property
    def parallel(self) -> int:
        # Several per worker: the next messages wait in the pool's queue while each worker answers one.
        return 4 * self.workers

    async def handle(self, inbound: Inbound, now: datetime, render: Render) -> list[Reply]:
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            replies, queued = await loop.run_in_executor(pool, _handle, inbound, now, render)
        except BrokenProcessPool:
            # The message's transaction died with the worker, or committed just before: either way trying
            # again is safe, because a message with a native id that was handled before is not handled again.
            log.error("a desk worker process died; starting new ones and trying message %s again", inbound.native_id)
            self._replace(pool)
            replies, queued = await loop.run_in_executor(self.pool, _handle, inbound, now, render)
        self.on_queued(queued)
        return replies

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self.pool is broken:  # several messages may find the same pool broken; replace it once
            broken.shutdown(wait=False, cancel_futures=True)
            self.pool = self._start()

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def default_workers() -> int:
    """One more than the cores: a worker waiting on the database leaves its core to another."""
    return (os.cpu_count() or 1) + 1


# --- inside a worker process ---------------------------------------------------------------------------

_desk: Desk | None = None
_queued: list[OutboxMessage] = []


def _start_worker(config: Config, estate_code: str) -> None:
    global _desk
    from bot import bootstrap
    from storage.db import make_engine

    # The serving process is the one stage every message passes through; workers run beside one another and
    # can wait. Under full load a worker that competes as an equal for the CPU starves it: with workers at
    # niceness 10, bench/telegram.py on PostgreSQL went from 0.42-0.47 to 0.52-0.56 of the echo bot.
    os.nice(WORKER_NICENESS)
    # Ctrl-C reaches the whole process group and a service manager may signal every process: the serving
    # process stops the workers itself, once the messages they hold are answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _desk = bootstrap.build_desk(config, make_engine(config.database.url), estate_code)
    _desk.queued_listeners.append(_queued.extend)


def _ready(renders: list[Render]) -> int:
    """Arriving here, the renders have imported their channels' modules."""
    time.sleep(0.05)  # long enough that the other workers take the other calls
    return os.getpid()


def _handle(inbound: Inbound, now: datetime, render: Render) -> tuple[list[Reply], list[OutboxMessage]]:
    """A turn, and what it queued for delivery (the parent's outbox sender sends it without reading it back)."""
    assert _desk is not None, "the worker was not started"
    _queued.clear()
    replies = _desk.handle(inbound, now, render)
    return replies, list(_queued)
