"""A pool of worker processes in which a worker's death fails only the task it was running.

concurrent.futures.ProcessPoolExecutor takes a dead worker for a broken pool: every task in flight fails with
it, and the pool has to be built again. Here the event loop watches each worker's pipe and exit sentinel; when
a worker dies, its task fails with WorkerDied, a new worker takes its place, and the other workers and the
queue carry on.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

log = logging.getLogger(__name__)

R = TypeVar("R")

_STOP = b""  # tells a worker to exit; a pickled task is never empty


class WorkerDied(Exception):
    """The worker process running the task died before it answered."""


@dataclass
class _Task:
    name: str
    data: bytes  # the pickled (function, args)
    future: asyncio.Future[Any]


@dataclass
class _Worker:
    process: BaseProcess
    pid: int
    conn: Connection
    fds: tuple[int, int]  # the pipe's and the sentinel's, watched by the loop
    exited: asyncio.Future[None]
    # Tasks the worker has taken from its pipe, counted in shared memory (no message, no wake-up of the loop):
    # a worker that dies before taking its task did not die of it.
    taken: ctypes.c_uint64
    sent: int = 0
    ready: bool = False  # its initializer has run
    alive: bool = True
    task: _Task | None = None
    failure: BaseException | None = None  # what its initializer raised


class WorkerPool:
    """Runs functions in `size` worker processes, each set up by `initializer(*initargs)`."""

    def __init__(
        self, size: int, initializer: Callable[..., None], initargs: tuple[Any, ...] = (), niceness: int = 0
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self._size = size
        self._initializer, self._initargs, self._niceness = initializer, initargs, niceness
        # spawn, not fork: the parent has an event loop, threads and open connections a fork would copy.
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._idle: deque[_Worker] = deque()
        self._queue: deque[_Task] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._booting: asyncio.Future[None] | None = None
        self._closing = False  # run() takes no new tasks
        self._stopping = False  # a worker that exits is not replaced
        self._broken: BaseException | None = None  # why the pool has no worker left

    @property
    def size(self) -> int:
        return self._size

    def pids(self) -> list[int]:
        """The workers' process ids, including any new one still starting."""
        return [worker.pid for worker in self._workers]

    async def start(self) -> None:
        """Start every worker; return once each has run the initializer (or raise what one of them raised)."""
        self._loop = asyncio.get_running_loop()
        self._booting = self._loop.create_future()
        # At exit the interpreter joins its children, which wait for tasks until their pipe closes: a pool
        # left open would hang it.
        atexit.register(self.terminate)
        try:
            for _ in range(self._size):
                self._spawn()
            await self._booting
        except BaseException:
            self.terminate()
            raise

    async def run(self, function: Callable[..., R], /, *args: Any) -> R:
        """Run `function(*args)` in a worker, after the tasks queued before it (pickled: a module-level function)."""
        if self._loop is None or self._closing:
            raise RuntimeError("the pool is not running")
        if self._broken is not None:
            raise _no_worker_left(self._broken)
        name = getattr(function, "__qualname__", repr(function))
        task = _Task(name, pickle.dumps((function, args)), self._loop.create_future())
        self._queue.append(task)
        self._dispatch()
        return cast(R, await task.future)

    async def close(self) -> None:
        """Take no new tasks, let those in flight and queued finish, then stop the workers and reap them."""
        self._closing = True
        waiting = [task.future for task in self._queue] + [w.task.future for w in self._workers if w.task]
        if waiting:
            await asyncio.wait(waiting)
        self._stopping = True
        self._queue.clear()  # what is left, its callers stopped waiting for
        exits = [worker.exited for worker in self._workers]
        for worker in self._workers:
            # A worker still busy (with a task whose caller stopped waiting) reads this once it is done.
            with contextlib.suppress(OSError):
                worker.conn.send_bytes(_STOP)
        await asyncio.gather(*exits)
        atexit.unregister(self.terminate)

    def terminate(self) -> None:
        """Kill the workers now, for when close() cannot wait: tasks in flight fail with WorkerDied."""
        self._closing = self._stopping = True
        atexit.unregister(self.terminate)
        for worker in list(self._workers):
            worker.process.kill()
            worker.process.join()
            self._on_exit(worker)
        for task in self._queue:
            if not task.future.done():
                task.future.set_exception(RuntimeError(f"the pool was terminated before {task.name} ran"))
        self._queue.clear()

    def _spawn(self) -> None:
        assert self._loop is not None
        conn, child_conn = self._context.Pipe()
        taken = self._context.RawValue(ctypes.c_uint64, 0)
        args = (child_conn, self._initializer, self._initargs, self._niceness, taken, os.getpid())
        process = self._context.Process(target=_serve, args=args, name="pool-worker")
        try:
            process.start()
        except BaseException:
            conn.close()
            raise
        finally:
            child_conn.close()  # the worker's end must close when the worker dies, so that reading ours ends
        assert process.pid is not None
        fds = (conn.fileno(), process.sentinel)
        worker = _Worker(process, process.pid, conn, fds, self._loop.create_future(), taken)
        self._workers.append(worker)
        self._loop.add_reader(fds[0], self._on_readable, worker)
        self._loop.add_reader(fds[1], self._on_exit, worker)

    def _replace(self) -> None:
        try:
            self._spawn()
        except Exception as error:
            self._lost(error)

    def _lost(self, error: BaseException) -> None:
        """A new worker could not start: go on with fewer, and with none, fail what waits."""
        log.error("a new worker process could not start; %d left", len(self._workers), exc_info=error)
        if self._workers:
            return
        self._broken = error
        while self._queue:
            task = self._queue.popleft()
            if not task.future.done():
                task.future.set_exception(_no_worker_left(error))

    def _dispatch(self) -> None:
        """Hand the queued tasks to idle workers, oldest first."""
        while self._queue and self._idle:
            task = self._queue.popleft()
            if task.future.done():  # its caller stopped waiting
                continue
            worker = self._idle.popleft()
            try:
                # An idle worker is reading its pipe, so this blocks no longer than the copy takes.
                worker.conn.send_bytes(task.data)
            except OSError:
                # The worker died idle and its sentinel's callback is yet to run; the task never started.
                self._queue.appendleft(task)
                continue
            worker.task = task
            worker.sent += 1

    def _on_readable(self, worker: _Worker) -> None:
        assert self._loop is not None
        try:
            # A live worker writes a message whole, so this waits at most for the rest of one to arrive.
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._loop.remove_reader(worker.fds[0])  # it is exiting: its sentinel's callback takes over
            return
        self._settle(worker, data)
        self._dispatch()

    def _settle(self, worker: _Worker, data: bytes) -> None:
        """A worker's message: ready (or not) after its initializer, or the outcome of its task."""
        try:
            ok, value = pickle.loads(data)
        except Exception as error:  # e.g. an exception whose class takes other arguments than its message
            ok, value = False, error
        if not worker.ready:
            if not ok:
                worker.failure = value  # the worker exits next, and _on_exit reports it
                return
            worker.ready = True
        else:
            task, worker.task = worker.task, None
            if task is not None and not task.future.done():
                if ok:
                    task.future.set_result(value)
                else:
                    if isinstance(value, StopIteration):  # an asyncio future refuses to hold one
                        value = RuntimeError(f"{task.name} raised StopIteration")
                    task.future.set_exception(value)
        if worker.alive:
            self._idle.append(worker)
        booting = self._booting
        if booting is not None and not booting.done() and all(w.ready for w in self._workers):
            booting.set_result(None)

    def _on_exit(self, worker: _Worker) -> None:
        """The worker's process ended: take what it sent last, fail its task, and start another."""
        assert self._loop is not None
        worker.alive = False
        for fd in worker.fds:
            self._loop.remove_reader(fd)
        # It may have answered just before it died: settle that rather than lose it.
        with contextlib.suppress(EOFError, OSError):
            while worker.conn.poll():
                self._settle(worker, worker.conn.recv_bytes())
        worker.conn.close()
        worker.process.join()  # at once, since it has exited: this reaps it
        code = worker.process.exitcode
        worker.process.close()
        self._workers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        if not worker.exited.done():
            worker.exited.set_result(None)
        if not worker.ready:
            error = worker.failure or WorkerDied(f"worker process {worker.pid} exited with code {code} while starting")
            if self._booting is not None and not self._booting.done():
                self._booting.set_exception(error)  # start() raises it
            elif not self._stopping:
                self._lost(error)
            return
        task = worker.task
        if task is not None and not task.future.done():
            if worker.taken.value < worker.sent:  # it died before taking the task (killed idle): not the task's doing
                self._queue.appendleft(task)
            else:
                task.future.set_exception(
                    WorkerDied(f"worker process {worker.pid} died running {task.name} (exit code {code})")
                )
        if not self._stopping:
            log.warning("worker process %d died (exit code %s); starting a new one", worker.pid, code)
            self._replace()
        self._dispatch()


def _no_worker_left(cause: BaseException) -> RuntimeError:
    error = RuntimeError("the pool has no worker left: new ones could not start")
    error.__cause__ = cause
    return error


# --- inside a worker process ---------------------------------------------------------------------------


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """On Linux the kernel kills this worker when its parent dies, even by kill -9 and in the middle of a task:
    a worker ignores SIGTERM, and one busy in a turn would not see its pipe close. Its database connection goes
    with it, and with the connection any lock or transaction it held."""
    with contextlib.suppress(OSError, AttributeError):  # elsewhere: the worker ends when its pipe closes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the kernel was asked
        os._exit(0)


def _serve(
    conn: Connection,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    niceness: int,
    taken: ctypes.c_uint64,
    parent: int,
) -> None:
    """A worker's life: set up, say so, then run tasks until told to stop or the parent is gone."""
    _die_with(parent)
    # Ctrl-C reaches the whole process group and a service manager may signal every process: the serving
    # process stops its workers itself, once their tasks are done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if niceness > 0:
        os.nice(niceness)
    try:
        initializer(*initargs)
    except Exception as error:
        _answer(conn, False, _located(error))
        return
    try:
        _answer(conn, True, None)
        while (data := conn.recv_bytes()) != _STOP:
            taken.value += 1
            try:
                function, args = pickle.loads(data)
                result = function(*args)
            except Exception as error:
                _answer(conn, False, _located(error))
            else:
                _answer(conn, True, result)
    except (EOFError, BrokenPipeError):
        pass  # the parent is gone


def _located(error: Exception) -> Exception:
    """The error, noting where in the worker it was raised: the parent's traceback ends at run() or start()."""
    error.add_note(f"In worker process {os.getpid()}:\n" + "".join(traceback.format_tb(error.__traceback__)))
    return error


def _answer(conn: Connection, ok: bool, value: object) -> None:
    try:
        data = pickle.dumps((ok, value))
    except Exception as error:  # the caller gets an error it can read instead
        data = pickle.dumps((False, RuntimeError(f"the worker could not pickle a {type(value).__name__}: {error}")))
    conn.send_bytes(data)
