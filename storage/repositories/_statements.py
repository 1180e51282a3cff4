"""Statements the message path runs on every turn, built once; and PostgreSQL's short way to run them.

On the message path building a statement costs more than running it, and SQLAlchemy's execution costs more
than a short statement itself (about 100 µs each; a turn took a quarter less CPU on psycopg's own cursor,
measured in-process). The SQL is still SQLAlchemy's, compiled once per statement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_for(session: Session) -> Callable[..., Any]:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def prebuilt(build: Callable[[Callable[..., Any]], Any]) -> Callable[[Session], Any]:
    """A statement built once per dialect (their INSERT ... ON CONFLICT differ)."""
    built: dict[str, Any] = {}

    def statement(session: Session) -> Any:
        dialect = session.get_bind().dialect.name
        if dialect not in built:
            built[dialect] = build(pg_insert if dialect == "postgresql" else sqlite_insert)
        return built[dialect]

    return statement


def chat_lock_key(channel: str, chat: str) -> int:
    """The advisory lock that orders what transactions queue for one chat by when they commit."""
    return person_lock_key("outbox", f"{channel}\x00{chat}")


def person_lock_key(channel: str, user: str) -> int:
    """A stable 64-bit key for PostgreSQL's advisory lock on one person's turns."""
    digest = hashlib.blake2b(f"{channel}\x00{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresCursor:
    """The psycopg cursor of a session's own connection, inside its transaction, for the few statements every
    message runs; what they read back is plain enough to skip SQLAlchemy's result processing."""

    # Per statement: (the statement, kept so that its id is never reused; its SQL; its own literals).
    _compiled: ClassVar[dict[int, tuple[Any, str, dict[str, Any]]]] = {}

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.dialect = connection.dialect
        self.connection = connection.connection.driver_connection
        self.cursor = self.connection.cursor()  # type: ignore[union-attr]

    @classmethod
    def of(cls, session: Session) -> PostgresCursor | None:
        return cls(session) if session.get_bind().dialect.name == "postgresql" else None

    def _sql(self, statement: Any) -> tuple[str, dict[str, Any]]:
        known = self._compiled.get(id(statement))
        if known is None or known[0] is not statement:
            compiled = statement.compile(dialect=self.dialect)
            # The statement's own literals (an outbox row's status, say) travel as parameters too.
            known = (statement, str(compiled), {k: v for k, v in compiled.params.items() if v is not None})
            self._compiled[id(statement)] = known
        return known[1], known[2]

    @staticmethod
    def _checked(values: dict[str, Any]) -> dict[str, Any]:
        """What UtcDateTime checks on SQLAlchemy's way: a naive datetime would be stored as if it were UTC."""
        for key, value in values.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                raise ValueError(f"naive datetime given to the database for {key}; use an aware one")
        return values

    def one(self, statement: Any, values: dict[str, Any], lock: int | None = None) -> tuple[Any, ...]:
        """One row; with `lock`, first wait for that advisory lock (its own statement, so that what the second
        reads is what was committed before the lock was granted), both in one round trip."""
        sql, literals = self._sql(statement)
        if lock is None:
            row = self.cursor.execute(sql, {**literals, **self._checked(values)}).fetchone()
        else:
            with self.connection.pipeline():  # type: ignore[union-attr]
                self.cursor.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": lock})
                self.cursor.execute(sql, {**literals, **self._checked(values)})
            row = self.cursor.fetchone()
        assert row is not None
        return tuple(row)

    def run(self, statement: Any, values: dict[str, Any]) -> None:
        sql, literals = self._sql(statement)
        self.cursor.execute(sql, {**literals, **self._checked(values)})

    def returned(self, statement: Any, many: list[dict[str, Any]], locks: list[int] | None = None) -> list[Any]:
        """The first column of what each row's execution returned, sent in one round trip (a pipeline); with
        `locks`, first wait for those advisory locks, taken in one order so that two callers cannot deadlock."""
        sql, literals = self._sql(statement)
        if locks:
            with self.connection.pipeline():  # type: ignore[union-attr]
                self.cursor.execute(
                    "SELECT pg_advisory_xact_lock(k) FROM unnest(%(keys)s::bigint[]) AS k ORDER BY k",
                    {"keys": sorted(set(locks))},
                )
                self.cursor.executemany(sql, [{**literals, **self._checked(v)} for v in many], returning=True)
        else:
            self.cursor.executemany(sql, [{**literals, **self._checked(v)} for v in many], returning=True)
        returned: list[Any] = []
        while True:
            returned.extend(row[0] for row in self.cursor.fetchall())
            if not self.cursor.nextset():
                return returned
