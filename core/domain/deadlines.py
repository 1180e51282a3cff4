"""Deadline arithmetic: when a ticket must be answered and fixed, by urgency."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.domain.model import Urgency


@dataclass(frozen=True)
class Window:
    respond: timedelta
    resolve: timedelta


def _default_windows() -> dict[Urgency, Window]:
    return {
        Urgency.EMERGENCY: Window(timedelta(minutes=15), timedelta(hours=4)),
        Urgency.URGENT: Window(timedelta(hours=1), timedelta(hours=24)),
        Urgency.NORMAL: Window(timedelta(hours=4), timedelta(hours=72)),
    }


@dataclass(frozen=True)
class SlaPolicy:
    """Response and resolution windows per urgency (config `[sla]`)."""

    windows: dict[Urgency, Window] = field(default_factory=_default_windows)

    def response_due(self, urgency: Urgency, start: datetime) -> datetime:
        return start + self.windows[urgency].respond

    def resolve_due(self, urgency: Urgency, start: datetime) -> datetime:
        return start + self.windows[urgency].resolve
