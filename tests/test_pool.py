"""bot/runtime/pool.py: tasks in worker processes, where a worker's death fails only its own task.

Where a test needs a worker busy, its task (pool_tasks.hold) connects to a Unix socket of the test's and waits
there for a word: the test learns the task is running, and says when it ends. No test waits on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.runtime.pool import WorkerDied, WorkerPool
from tests import pool_tasks as tasks

NICENESS = 5


def run(scenario: Coroutine[Any, Any, None]) -> None:
    # The time limit only keeps a broken pool from hanging the test run.
    asyncio.run(asyncio.wait_for(scenario, 60))


@contextlib.asynccontextmanager
async def started(pool: WorkerPool) -> AsyncIterator[WorkerPool]:
    await pool.start()
    try:
        yield pool
    finally:
        pool.terminate()  # when a test failed before close(); after it, there is nothing left to kill


@dataclass
class Held:
    """A task holding its worker, and the test's end of its connection."""

    pid: int
    writer: asyncio.StreamWriter

    def release(self, word: bytes = b"r") -> None:
        self.writer.write(word)
        self.writer.close()


class Holder:
    """The socket pool_tasks.hold connects to."""

    def __init__(self, folder: Path) -> None:
        self.address = str(folder / "hold.sock")
        self.held: asyncio.Queue[Held] = asyncio.Queue()

    async def __aenter__(self) -> Holder:
        self.server = await asyncio.start_unix_server(self._connected, self.address)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.held.put(Held(int(await reader.readline()), writer))

    def hold(self, pool: WorkerPool) -> asyncio.Task[int]:
        return asyncio.create_task(pool.run(tasks.hold, self.address))

    async def next(self) -> Held:
        """The next task to be running."""
        return await self.held.get()


async def on_every_worker(pool: WorkerPool, holder: Holder) -> list[int]:
    """Hold a task on each worker at once, which only ready workers can take, then let them go."""
    running = [holder.hold(pool) for _ in range(pool.size)]
    held = [await holder.next() for _ in running]
    for each in held:
        each.release()
    assert sorted(await asyncio.gather(*running)) == sorted(each.pid for each in held)
    return [each.pid for each in held]


def is_gone(pid: int) -> bool:
    """Exited and reaped: a zombie still takes signals."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_results_come_back_and_tasks_run_on_several_workers_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with started(WorkerPool(2, tasks.nothing)) as pool, Holder(tmp_path) as holder:
            assert pool.size == 2
            assert await pool.run(tasks.add, 2, 3) == 5
            assert await asyncio.gather(*(pool.run(tasks.add, n, 1) for n in range(6))) == [1, 2, 3, 4, 5, 6]
            # Two tasks are running at the same time, one on each worker.
            assert sorted(await on_every_worker(pool, holder)) == sorted(pool.pids())
            await pool.close()

    run(scenario())


def test_a_task_s_exception_reaches_the_caller_and_the_worker_goes_on() -> None:
    async def scenario() -> None:
        async with started(WorkerPool(2, tasks.nothing)) as pool:
            pids = pool.pids()
            with pytest.raises(tasks.TaskFailed) as raised:
                await pool.run(tasks.fail, "no such flat: 12-3")
            assert str(raised.value) == "no such flat: 12-3"
            assert "in fail" in raised.value.__notes__[0]  # where in the worker it was raised
            with pytest.raises(RuntimeError, match="could not pickle a lock"):
                await pool.run(tasks.unpicklable)
            with pytest.raises(TypeError, match="pickle"):  # refused before any worker sees it
                await pool.run(tasks.add, threading.Lock(), 1)
            assert await asyncio.gather(*(pool.run(tasks.add, n, n) for n in range(4))) == [0, 2, 4, 6]
            assert pool.pids() == pids
            await pool.close()

    run(scenario())


@pytest.mark.parametrize("death", ["exit", "sigkill"])
def test_a_dead_worker_fails_its_task_only_and_is_replaced(tmp_path: Path, death: str) -> None:
    order = tmp_path / "order"

    async def scenario() -> None:
        async with started(WorkerPool(2, tasks.nothing)) as pool, Holder(tmp_path) as holder:
            running = {holder.hold(pool), holder.hold(pool)}
            survivor, victim = await holder.next(), await holder.next()
            queued = [asyncio.create_task(pool.run(tasks.record, str(order), n)) for n in range(3)]
            await asyncio.sleep(0)  # one turn of the loop: the three are in the pool's queue, behind the two held

            if death == "exit":
                victim.release(b"x")
            else:
                os.kill(victim.pid, signal.SIGKILL)
            # Which of the two tasks the victim held is not known: the one that ends now.
            (dead_task,), (living_task,) = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            with pytest.raises(WorkerDied, match=f"^worker process {victim.pid} died running hold"):
                dead_task.result()

            # The queue went on, in order, on the new worker while the other worker still held its task.
            assert await asyncio.gather(*queued) == [0, 1, 2]
            assert order.read_text().split() == ["0", "1", "2"]
            assert not living_task.done()
            survivor.release()
            assert await living_task == survivor.pid

            assert is_gone(victim.pid)
            assert len(pool.pids()) == 2
            assert survivor.pid in pool.pids()
            assert sorted(await on_every_worker(pool, holder)) == sorted(pool.pids())
            await pool.close()

    run(scenario())


def test_a_task_is_never_blamed_for_a_worker_that_died_before_taking_it() -> None:
    """A worker killed while the task waits in its pipe (stopped, here, so that it cannot take it first): the
    task did nothing wrong and runs on another worker; the desk would otherwise reject a good message."""

    async def scenario() -> None:
        async with started(WorkerPool(2, tasks.nothing)) as pool:
            first, second = pool.pids()
            for pid in (first, second):
                os.kill(pid, signal.SIGSTOP)
            answer = asyncio.ensure_future(pool.run(tasks.add, 20, 22))
            await asyncio.sleep(0)  # it is in a worker's pipe now, untaken
            os.kill(first, signal.SIGKILL)
            os.kill(second, signal.SIGCONT)
            assert await answer == 42
            await pool.close()

    run(scenario())


def test_the_initializer_runs_in_every_worker_and_in_new_ones(tmp_path: Path) -> None:
    started_in = tmp_path / "pids"

    def recorded() -> list[int]:
        return sorted(int(line) for line in started_in.read_text().split())

    async def scenario() -> None:
        async with started(WorkerPool(2, tasks.record_pid, (str(started_in),))) as pool, Holder(tmp_path) as holder:
            first = pool.pids()
            assert recorded() == sorted(first)
            running = holder.hold(pool)
            (await holder.next()).release(b"x")
            with pytest.raises(WorkerDied):
                await running
            await on_every_worker(pool, holder)  # the new worker is ready: its initializer has run
            (new,) = set(pool.pids()) - set(first)
            assert recorded() == sorted([*first, new])
            await pool.close()

    run(scenario())


def test_workers_are_niced_and_ignore_sigterm_and_sigint(tmp_path: Path) -> None:
    expected = min(os.nice(0) + NICENESS, 19)

    async def scenario() -> None:
        async with started(WorkerPool(2, tasks.nothing, niceness=NICENESS)) as pool, Holder(tmp_path) as holder:
            pids = pool.pids()
            assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in pids] == [expected, expected]
            assert await pool.run(tasks.niceness) == expected
            for pid in pids:
                os.kill(pid, signal.SIGTERM)
                os.kill(pid, signal.SIGINT)
            # A worker answering after the signals were sent has ignored them: a fatal one would come first.
            assert sorted(await on_every_worker(pool, holder)) == sorted(pids)
            assert pool.pids() == pids
            await pool.close()

    run(scenario())


def test_close_lets_tasks_in_flight_and_queued_finish_then_reaps_the_workers(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with started(WorkerPool(2, tasks.nothing)) as pool, Holder(tmp_path) as holder:
            pids = pool.pids()
            running = [holder.hold(pool), holder.hold(pool)]
            held = [await holder.next(), await holder.next()]
            queued = [asyncio.create_task(pool.run(tasks.add, n, n)) for n in range(3)]
            closing = asyncio.create_task(pool.close())
            await asyncio.sleep(0)  # one turn of the loop: the three are queued and close() has begun
            with pytest.raises(RuntimeError, match="not running"):
                await pool.run(tasks.add, 1, 1)
            assert not closing.done()

            for each in held:
                each.release()
            await closing
            assert sorted(await asyncio.gather(*running)) == sorted(pids)
            assert await asyncio.gather(*queued) == [0, 2, 4]
            assert pool.pids() == []
            assert all(is_gone(pid) for pid in pids)
            assert multiprocessing.active_children() == []

    run(scenario())


def test_start_raises_what_an_initializer_raised() -> None:
    async def scenario() -> None:
        pool = WorkerPool(2, tasks.fail, ("no database",))
        with pytest.raises(tasks.TaskFailed, match="no database"):
            await pool.start()
        assert pool.pids() == []
        assert multiprocessing.active_children() == []

    run(scenario())


PARENT = """
import asyncio, sys
from bot.runtime.pool import WorkerPool
from tests import pool_tasks as tasks

async def main() -> None:
    pool = WorkerPool(2, tasks.nothing)
    await pool.start()
    busy = asyncio.create_task(pool.run(tasks.hold, sys.argv[1]))  # one worker in the middle of a task
    print(" ".join(map(str, pool.pids())), flush=True)
    await busy

asyncio.run(main())
"""


def test_workers_die_with_a_parent_killed_with_sigkill_even_in_the_middle_of_a_task(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Holder(tmp_path) as holder:
            parent = await asyncio.create_subprocess_exec(
                sys.executable, "-c", PARENT, holder.address, stdout=asyncio.subprocess.PIPE,
                cwd=Path(__file__).resolve().parent.parent,
            )  # fmt: skip
            assert parent.stdout is not None
            pids = [int(pid) for pid in (await parent.stdout.readline()).split()]
            held = await holder.next()
            assert held.pid in pids and len(pids) == 2
            parent.kill()
            await parent.wait()
            for _ in range(500):  # the kernel kills them at once; this only waits for that to be seen
                if all(gone_or_zombie(pid) for pid in pids):
                    break
                await asyncio.sleep(0.01)
            assert all(gone_or_zombie(pid) for pid in pids)

    run(scenario())


def gone_or_zombie(pid: int) -> bool:
    """Dead: exited (a zombie waits for init, its new parent, to reap it), or reaped already."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
