"""The outbox: messages queued with the change that caused them, delivered in order per chat, each once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, aliased

from core.ports import NOTICE, Outbox, OutboxMessage
from storage.repositories._statements import PostgresCursor, prebuilt
from storage.tables import OutboxRow


def _outbox_insert(insert: Any) -> Any:
    return (
        insert(OutboxRow)
        .values(
            key=bindparam("key"),
            channel=bindparam("channel"),
            recipient=bindparam("recipient"),
            payload=bindparam("payload"),
            status="pending",
            attempts=0,
            last_error="",
            next_attempt_at=bindparam("now"),
            created_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=[OutboxRow.key])
        .returning(OutboxRow.key)
    )


OUTBOX_INSERT = prebuilt(_outbox_insert)
MARK_SENT = (
    update(OutboxRow)
    .where(OutboxRow.key.in_(bindparam("keys", expanding=True)))
    .values(status="sent", sent_at=bindparam("now"), attempts=OutboxRow.attempts + 1)
)


class SqlAlchemyOutbox(Outbox):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_all(self, messages: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
        messages = list({m.key: m for m in messages}.values())  # a key given twice is queued once
        if not messages:
            return []
        values = [{"key": m.key, "channel": m.channel, "recipient": m.recipient, "payload": m.payload, "now": now}
                  for m in messages]  # fmt: skip
        postgres = PostgresCursor.of(self.session)
        if postgres is not None:
            added = set(
                postgres.returned(OUTBOX_INSERT(self.session), [{**v, "payload": Jsonb(v["payload"])} for v in values])
            )
        else:
            added = set(self.session.connection().execute(OUTBOX_INSERT(self.session), values).scalars())
        return [m for m in messages if m.key in added]

    def due(
        self, now: datetime, limit: int = 100, channels: tuple[str, ...] | None = None, recipient: str | None = None
    ) -> list[OutboxMessage]:
        waiting = aliased(OutboxRow)
        earlier_waiting = (
            select(waiting.id)
            .where(
                waiting.channel == OutboxRow.channel,
                waiting.recipient == OutboxRow.recipient,
                waiting.status == "pending",
                waiting.id < OutboxRow.id,
                waiting.next_attempt_at > now,
            )
            .exists()
        )
        statement = select(OutboxRow).where(
            OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now, ~earlier_waiting
        )
        if channels is not None:
            statement = statement.where(OutboxRow.channel.in_(channels))
        if recipient is not None:
            statement = statement.where(OutboxRow.recipient == recipient)
        rows = self.session.scalars(statement.order_by(OutboxRow.id).limit(limit))
        return [OutboxMessage(r.key, r.channel, r.recipient, dict(r.payload), r.attempts) for r in rows]

    def mark_sent(self, keys: list[str], now: datetime) -> None:
        if keys:
            self.session.connection().execute(MARK_SENT, {"keys": keys, "now": now})

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.key == key)
            .values(last_error=error[:2000], next_attempt_at=retry_at, attempts=OutboxRow.attempts + 1)
        )

    def mark_dead(self, key: str, error: str) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.key == key)
            .values(status="dead", last_error=error[:2000], attempts=OutboxRow.attempts + 1)
        )

    def notices_since(self, channel: str, recipient: str, after: datetime) -> list[dict[str, Any]]:
        rows = self.session.scalars(
            select(OutboxRow.payload)
            .where(OutboxRow.channel == channel, OutboxRow.recipient == recipient, OutboxRow.created_at > after,
                   OutboxRow.key.startswith(NOTICE), OutboxRow.status != "dead")
            .order_by(OutboxRow.id)
        )  # fmt: skip
        return [dict(payload) for payload in rows]

    def pending_count(self) -> int:
        return int(self.session.scalar(select(func.count()).where(OutboxRow.status == "pending")) or 0)
