"""One person's messages are handled one at a time, in the order they came, within this process.

Across processes the database serializes a person's turns (core.ports.ConversationRepository.open); this keeps
their arrival order too, where one process receives them all (Telegram's polling, one webhook server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class InOrder:
    """A lock per key, kept exactly as long as somebody holds it or waits for it (asyncio's locks are FIFO)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
