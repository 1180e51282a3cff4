"""Conversations: each one's state, the messages handled (once) or rejected, and whose turn it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, delete, func, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.ports import ConversationRepository, Opening, Who
from storage.repositories._statements import PostgresCursor, person_lock_key, prebuilt
from storage.repositories.people import who_key
from storage.tables import AddressRow, DialogueStateRow, InboundMessageRow, PersonSettingRow


def _upsert_state(insert: Any) -> Any:
    statement = insert(DialogueStateRow).values(
        channel=bindparam("channel"),
        chat=bindparam("chat"),
        user=bindparam("user"),
        state=bindparam("state"),
        updated_at=bindparam("updated_at"),
    )
    return statement.on_conflict_do_update(
        index_elements=[DialogueStateRow.channel, DialogueStateRow.chat, DialogueStateRow.user],
        set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
    )


def _settle(insert: Any, outcome: str) -> Any:
    """The message's outcome, unless it has one already: a message kept waiting gets it, one handled, rejected or
    passed over before is left as it is (and nothing is returned)."""
    statement = insert(InboundMessageRow).values(
        channel=bindparam("channel"),
        native_id=bindparam("native_id"),
        handled_at=bindparam("now"),
        outcome=outcome,
        reason=bindparam("reason", ""),
        payload=null(),  # SQL's NULL, written into the statement (a None would be a parameter to fill)
    )
    return statement.on_conflict_do_update(
        index_elements=[InboundMessageRow.channel, InboundMessageRow.native_id],
        set_={"outcome": outcome, "handled_at": statement.excluded.handled_at, "reason": statement.excluded.reason,
              "payload": null()},
        where=InboundMessageRow.outcome == WAITING,
    ).returning(InboundMessageRow.native_id)  # fmt: skip


def _claim(insert: Any) -> Any:
    return _settle(insert, "handled")


def _keep(insert: Any) -> Any:
    return (
        insert(InboundMessageRow)
        .values(
            channel=bindparam("channel"),
            native_id=bindparam("native_id"),
            handled_at=bindparam("now"),
            outcome=WAITING,
            reason="",
            payload=bindparam("payload"),
        )
        .on_conflict_do_nothing(index_elements=[InboundMessageRow.channel, InboundMessageRow.native_id])
        .returning(InboundMessageRow.native_id)
    )


WAITING = "waiting"
UPSERT_STATE = prebuilt(_upsert_state)
CLAIM = prebuilt(_claim)
KEEP = prebuilt(_keep)
REJECT = prebuilt(lambda insert: _settle(insert, "rejected"))
PASS_OVER = prebuilt(lambda insert: _settle(insert, "passed"))
STATE = select(DialogueStateRow.state).where(
    DialogueStateRow.channel == bindparam("channel"),
    DialogueStateRow.chat == bindparam("chat"),
    DialogueStateRow.user == bindparam("user"),
)
LOCALE = select(PersonSettingRow.locale).where(PersonSettingRow.who == bindparam("who"))
# That this address wrote: the person's pushes follow the address they used last.
TOUCH = (
    update(AddressRow)
    .where(AddressRow.channel == bindparam("sender_channel"), AddressRow.address == bindparam("sender"))
    .values(last_used_at=bindparam("now"))
)
OPENING = select(STATE.scalar_subquery(), LOCALE.scalar_subquery())
# PostgreSQL claims the message and notes the address in the same statement (SQLite has no INSERT inside WITH).
_CLAIMED = _claim(pg_insert).cte("claimed")
_TOUCHED = TOUCH.returning(AddressRow.channel).cte("touched")
CLAIM_AND_OPEN = select(
    select(func.count()).select_from(_CLAIMED).scalar_subquery(),
    select(func.count()).select_from(_TOUCHED).scalar_subquery(),
    STATE.scalar_subquery(),
    LOCALE.scalar_subquery(),
)
TOUCH_AND_OPEN = select(
    select(func.count()).select_from(_TOUCHED).scalar_subquery(), STATE.scalar_subquery(), LOCALE.scalar_subquery()
)


class SqlAlchemyConversationRepository(ConversationRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def open(
        self, channel: str, chat: str, user: str, who: Who, now: datetime, claim: str | None = None
    ) -> Opening | None:
        values = {"channel": channel, "chat": chat, "user": user, "who": who_key(who), "now": now,
                  "native_id": claim or "", "sender_channel": channel, "sender": user}  # fmt: skip
        postgres = PostgresCursor.of(self.session)
        if postgres is not None:
            # One person's turns wait for each other, in whatever process they run (the lock ends with the
            # transaction); different people's never do.
            lock = person_lock_key(channel, user)
            if claim is not None:
                claimed, _, state, locale = postgres.one(CLAIM_AND_OPEN, values, lock=lock)
                if not claimed:
                    return None
            else:
                _, state, locale = postgres.one(TOUCH_AND_OPEN, values, lock=lock)
        else:  # SQLite: one writer at a time, so a turn holds the whole database until it commits
            connection = self.session.connection()
            if claim is not None and connection.execute(CLAIM(self.session), values).scalar() is None:
                return None
            connection.execute(TOUCH, values)
            state, locale = connection.execute(OPENING, values).one()
        return Opening(dict(state) if state is not None else None, locale)

    def get(self, channel: str, chat: str, user: str) -> dict[str, Any] | None:
        state = self.session.connection().execute(STATE, {"channel": channel, "chat": chat, "user": user}).scalar()
        return dict(state) if state is not None else None

    def put(self, channel: str, chat: str, user: str, state: dict[str, Any], now: datetime) -> None:
        values = {"channel": channel, "chat": chat, "user": user, "state": state, "updated_at": now}
        postgres = PostgresCursor.of(self.session)
        if postgres is not None:
            postgres.run(UPSERT_STATE(self.session), {**values, "state": Jsonb(state)})
        else:
            self.session.connection().execute(UPSERT_STATE(self.session), values)

    def delete(self, channel: str, chat: str, user: str) -> None:
        self.session.execute(
            delete(DialogueStateRow).where(
                DialogueStateRow.channel == channel, DialogueStateRow.chat == chat, DialogueStateRow.user == user
            )
        )

    def reject(self, channel: str, native_id: str, reason: str, now: datetime) -> bool:
        values = {"channel": channel, "native_id": native_id, "now": now, "reason": reason[:2000]}
        return self.session.connection().execute(REJECT(self.session), values).scalar() is not None

    def keep(self, channel: str, received: list[tuple[str, dict[str, Any]]], now: datetime) -> int:
        if not received:
            return 0
        values = [{"channel": channel, "native_id": native_id, "now": now, "payload": payload}
                  for native_id, payload in received]  # fmt: skip
        postgres = PostgresCursor.of(self.session)
        if postgres is not None:
            kept = postgres.returned(KEEP(self.session), [{**v, "payload": Jsonb(v["payload"])} for v in values])
            return len(list(kept))
        return len(list(self.session.connection().execute(KEEP(self.session), values).scalars()))

    def waiting(self, channel: str, received_before: datetime, limit: int) -> list[tuple[str, dict[str, Any]]]:
        rows = self.session.execute(
            select(InboundMessageRow.native_id, InboundMessageRow.payload)
            .where(InboundMessageRow.outcome == WAITING, InboundMessageRow.channel == channel,
                   InboundMessageRow.handled_at < received_before)
            .order_by(InboundMessageRow.handled_at)
            .limit(limit)
        )  # fmt: skip
        found = [(native_id, dict(payload or {})) for native_id, payload in rows]
        # Kept together, they share a time: a channel's ids in the order they came (Telegram's count up).
        return sorted(found, key=lambda row: (0, int(row[0]), "") if row[0].isdecimal() else (1, 0, row[0]))

    def pass_over(self, channel: str, native_id: str, now: datetime) -> None:
        values = {"channel": channel, "native_id": native_id, "now": now, "reason": ""}
        self.session.connection().execute(PASS_OVER(self.session), values)
