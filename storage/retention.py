"""What grows with traffic is deleted when it is old enough: `[retention]` days per table.

Every table is either listed in PRUNED, with the column its age is read from and which rows may go, or in KEPT
(tickets and their history, the directory: the record a manager reads years later). tests/test_storage.py fails
on a table that is in neither, so a table added later is given a rule too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, inspect, select, true, tuple_

from storage.tables import Base, DialogueStateRow, InboundMessageRow, OutboxRow

BATCH = 5000  # rows deleted in one transaction, so that pruning never holds a table for long


@dataclass(frozen=True)
class Pruned:
    row: type[Base]
    age: Any  # the column a row's age is read from
    done: ColumnElement[bool]  # which rows may go once old enough


PRUNED: dict[str, Pruned] = {
    # What was handled, rejected or passed over; a message still waiting is never deleted. De-duplication needs
    # these longer than any redelivery (Telegram keeps an update for 24 hours): [retention] allows 2 days at least.
    "inbound_messages": Pruned(InboundMessageRow, InboundMessageRow.handled_at, InboundMessageRow.outcome != "waiting"),
    # Sent or given up; a message still to send is never deleted.
    "outbox": Pruned(OutboxRow, OutboxRow.created_at, OutboxRow.status != "pending"),
    # A conversation nobody has written in for that long: a report left half-written lapsed long before.
    "dialogue_states": Pruned(DialogueStateRow, DialogueStateRow.updated_at, true()),
}
KEPT = frozenset({
    "tickets", "ticket_events", "ticket_subscribers", "ticket_counters", "estates", "buildings", "common_areas",
    "departments", "staff", "staff_groups", "residents", "resident_groups", "addresses", "person_settings",
})  # fmt: skip


def prune(engine: Engine, days: dict[str, int], now: datetime) -> dict[str, int]:
    """Delete what is older than its table's days, a batch per transaction; how many rows went, per table."""
    deleted: dict[str, int] = {}
    for table, rule in PRUNED.items():
        before = now - timedelta(days=days[table])
        columns = list(inspect(rule.row).primary_key)
        key = tuple_(*columns)
        old = select(*columns).where(rule.age < before, rule.done).limit(BATCH)
        deleted[table] = 0
        while True:
            with engine.begin() as connection:
                gone = connection.execute(delete(rule.row).where(key.in_(old))).rowcount
            deleted[table] += gone
            if gone < BATCH:
                break
    return deleted
