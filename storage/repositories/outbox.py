"""The outbox: messages queued with the change that caused them, delivered in order per chat, each once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from core.ports import NOTICE, Claim, Outbox, OutboxMessage
from storage.repositories._statements import PostgresCursor, chat_lock_key, prebuilt
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
            claimed_by=bindparam("claimed_by"),
            claimed_until=bindparam("claimed_until"),
        )
        .on_conflict_do_nothing(index_elements=[OutboxRow.key])
        .returning(OutboxRow.key)
    )


OUTBOX_INSERT = prebuilt(_outbox_insert)
CLAIM_LOCK = 0x6F7574626F78  # "outbox": the advisory lock that takes claims one at a time
MARK_SENT = (
    update(OutboxRow)
    .where(OutboxRow.key.in_(bindparam("keys", expanding=True)))
    .values(status="sent", sent_at=bindparam("now"), attempts=OutboxRow.attempts + 1)
)


def _earlier_in_chat(holding_back: Callable[[Any], Any]) -> Any:
    """Whether an earlier message to the same chat, still to send, holds this one back: one that is not due yet,
    say. Nothing overtakes it."""
    earlier = aliased(OutboxRow)
    return (
        select(earlier.id)
        .where(
            earlier.channel == OutboxRow.channel,
            earlier.recipient == OutboxRow.recipient,
            earlier.status == "pending",
            earlier.id < OutboxRow.id,
            holding_back(earlier),
        )
        .exists()
    )


class SqlAlchemyOutbox(Outbox):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_all(self, messages: list[OutboxMessage], now: datetime, held: Claim | None = None) -> list[OutboxMessage]:
        messages = list({m.key: m for m in messages}.values())  # a key given twice is queued once
        if not messages:
            return []
        holder = {"claimed_by": held.sender if held else "", "claimed_until": held.until if held else None}
        values = [{"key": m.key, "channel": m.channel, "recipient": m.recipient, "payload": m.payload, "now": now,
                   **holder} for m in messages]  # fmt: skip
        postgres = PostgresCursor.of(self.session)
        if postgres is not None:
            # A transaction queueing for a chat waits for any other that queued for it to commit, so that a chat's
            # messages are numbered in the order their transactions commit: the order they go out in.
            chats = [chat_lock_key(m.channel, m.recipient) for m in messages]
            rows = [{**v, "payload": Jsonb(v["payload"])} for v in values]
            added = set(postgres.returned(OUTBOX_INSERT(self.session), rows, locks=chats))
        else:
            added = set(self.session.connection().execute(OUTBOX_INSERT(self.session), values).scalars())
        return [m for m in messages if m.key in added]

    def due(
        self, now: datetime, limit: int = 100, channels: tuple[str, ...] | None = None, recipient: str | None = None
    ) -> list[OutboxMessage]:
        earlier_waiting = _earlier_in_chat(lambda earlier: earlier.next_attempt_at > now)
        statement = select(OutboxRow).where(
            OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now, ~earlier_waiting
        )
        if channels is not None:
            statement = statement.where(OutboxRow.channel.in_(channels))
        if recipient is not None:
            statement = statement.where(OutboxRow.recipient == recipient)
        rows = self.session.scalars(statement.order_by(OutboxRow.id).limit(limit))
        return [OutboxMessage(r.key, r.channel, r.recipient, dict(r.payload), r.attempts) for r in rows]

    def claim(
        self, now: datetime, claim: Claim, limit: int, channels: tuple[str, ...] | None = None
    ) -> list[OutboxMessage]:
        if PostgresCursor.of(self.session) is not None:
            # One claim at a time across senders, so that two never see the same chat free (its messages are then
            # locked, SKIP LOCKED passes over rows a write-back is changing meanwhile).
            self.session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
        holds_back = _earlier_in_chat(
            lambda earlier: or_(earlier.next_attempt_at > now,
                                and_(earlier.claimed_until >= now, earlier.claimed_by != claim.sender))
        )  # fmt: skip
        free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now,
                   OutboxRow.claimed_by == claim.sender)  # fmt: skip
        picking = select(OutboxRow.id, OutboxRow.key, OutboxRow.channel, OutboxRow.recipient, OutboxRow.payload,
                         OutboxRow.attempts, OutboxRow.claimed_by, OutboxRow.claimed_until)  # fmt: skip
        picking = picking.where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now, free, ~holds_back)
        if channels is not None:
            picking = picking.where(OutboxRow.channel.in_(channels))
        # Locked until the transaction ends (PostgreSQL; SQLite has one writer at a time anyway).
        rows = self.session.execute(picking.order_by(OutboxRow.id).limit(limit).with_for_update(skip_locked=True)).all()
        if rows:
            self.session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_([row.id for row in rows]))
                .values(claimed_by=claim.sender, claimed_until=claim.until)
            )
        return [
            OutboxMessage(key, channel, recipient, dict(payload), attempts,
                          uncertain=bool(was_by) and was_by != claim.sender and was_until is not None)
            for _, key, channel, recipient, payload, attempts, was_by, was_until in rows
        ]  # fmt: skip

    def renew(self, claim: Claim) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.claimed_by == claim.sender, OutboxRow.status == "pending")
            .values(claimed_until=claim.until)
        )

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
