"""What tests/test_pool.py runs in a pool's workers: module-level functions, which a worker imports by name."""

from __future__ import annotations

import os
import socket
import threading


class TaskFailed(Exception):
    """Raised by a task on purpose."""


def nothing() -> None:
    """An initializer with nothing to set up."""


def record_pid(path: str) -> None:
    """An initializer that leaves a trace of each worker it runs in."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{os.getpid()}\n")


def add(a: int, b: int) -> int:
    return a + b


def record(path: str, item: int) -> int:
    """Append to a file shared by the workers, to see in what order tasks ran."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{item}\n")
    return item


def fail(message: str) -> None:
    raise TaskFailed(message)


def unpicklable() -> object:
    return threading.Lock()


def niceness() -> int:
    return os.nice(0)


def hold(address: str) -> int:
    """Tell the test's socket this worker is running the task, then wait for its word: b"x" to make the worker
    exit on the spot, anything else to return the worker's pid."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(address)
        connection.sendall(f"{os.getpid()}\n".encode())
        word = connection.recv(1)
    if word == b"x":
        os._exit(3)
    return os.getpid()
