"""Whether a channel is working, as /healthz reports it: since when it is failing, and what it said last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


def first_line(error: BaseException) -> str:
    """An error in one line, for a log line or a health report: its message's first line, or its type."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclass
class Health:
    failing_since: datetime | None = None
    last_error: str = ""

    def ok(self) -> None:
        self.failing_since, self.last_error = None, ""

    def failed(self, error: str, now: datetime) -> None:
        self.failing_since = self.failing_since or now
        self.last_error = error

    def failing_for(self, now: datetime) -> timedelta:
        return now - self.failing_since if self.failing_since is not None else timedelta(0)

    def report(self) -> dict[str, Any]:
        if self.failing_since is None:
            return {"status": "ok"}
        return {"status": "failing", "since": self.failing_since.isoformat(), "error": self.last_error}
