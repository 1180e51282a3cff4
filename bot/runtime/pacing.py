"""Per-chat pacing: a chat gets a short burst, then about `per_second` messages a second (Telegram's limit
is about one a second to a private chat).

Each chat has its own aiolimiter.AsyncLimiter, a leaky bucket that wakes its waiters in order with the
event loop's timers. A bucket that has drained is as good as a new one, so a chat's limiter is forgotten
once it has drained and nobody waits on it: memory stays with the chats being paced now.
"""

from __future__ import annotations

from aiolimiter import AsyncLimiter

REMEMBER = 10_000  # chats kept before idle ones are looked for


class ChatPacer:
    def __init__(self, per_second: float, burst: int = 3, remember: int = REMEMBER) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError(f"pacing needs a rate above 0 and a burst of 1 or more, not {per_second}/s, {burst}")
        self.per_second, self.burst, self.remember = float(per_second), burst, remember
        self.limiters: dict[str, AsyncLimiter] = {}
        self.waiting: dict[str, int] = {}  # per chat: calls to wait() that have not returned yet
        self.sweep_at = remember

    async def wait(self, chat: str) -> None:
        """Return when a message may go to this chat."""
        limiter = self.limiters.get(chat)
        if limiter is None:
            if len(self.limiters) >= self.sweep_at:
                self._forget_idle()
            # `burst` messages at once, and the bucket leaks `per_second` of them a second.
            limiter = self.limiters[chat] = AsyncLimiter(self.burst, self.burst / self.per_second)
        self.waiting[chat] = self.waiting.get(chat, 0) + 1
        try:
            await limiter.acquire()
        finally:
            left = self.waiting.pop(chat) - 1
            if left:
                self.waiting[chat] = left

    def _forget_idle(self) -> None:
        """Drop the limiters nobody waits on whose bucket has drained; look again once twice as many are kept."""
        self.limiters = {
            chat: limiter
            for chat, limiter in self.limiters.items()
            if chat in self.waiting or not limiter.has_capacity(limiter.max_rate)
        }
        self.sweep_at = max(self.remember, 2 * len(self.limiters))
