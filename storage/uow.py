"""The SQLAlchemy unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.ports import UnitOfWork
from storage.repositories import (
    SqlAlchemyConversationRepository,
    SqlAlchemyDirectoryRepository,
    SqlAlchemyOutbox,
    SqlAlchemyPeopleRepository,
    SqlAlchemyTicketRepository,
)


class _Open(threading.local):
    session: Session | None = None


# SQLite has one writer at a time, and a writer that finds the file locked sleeps in steps of
# milliseconds. Threads of one process queue on this lock instead, which costs microseconds.
_SQLITE_WRITERS: dict[str, threading.RLock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock | None:
    if engine.dialect.name != "sqlite":
        return None
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(str(engine.url.database), threading.RLock())


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Safe to share between threads: each thread that enters it gets its own session."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._open = _Open()
        self._writer = _writer_lock(engine)

    @property
    def session(self) -> Session:
        session = self._open.session
        assert session is not None, "use the unit of work as a context manager"
        return session

    def __enter__(self) -> Self:
        assert self._open.session is None, "a unit of work is not re-entrant"
        if self._writer is not None:
            self._writer.acquire()
        self._open.session = self._sessions()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
            self.session.close()
        finally:
            self._open.session = None
            if self._writer is not None:
                self._writer.release()

    # The repositories are cheap views on this thread's session.
    @property
    def tickets(self) -> SqlAlchemyTicketRepository:  # type: ignore[override]
        return SqlAlchemyTicketRepository(self.session)

    @property
    def directory(self) -> SqlAlchemyDirectoryRepository:  # type: ignore[override]
        return SqlAlchemyDirectoryRepository(self.session)

    @property
    def conversations(self) -> SqlAlchemyConversationRepository:  # type: ignore[override]
        return SqlAlchemyConversationRepository(self.session)

    @property
    def people(self) -> SqlAlchemyPeopleRepository:  # type: ignore[override]
        return SqlAlchemyPeopleRepository(self.session)

    @property
    def outbox(self) -> SqlAlchemyOutbox:  # type: ignore[override]
        return SqlAlchemyOutbox(self.session)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        if self._open.session is not None:
            self._open.session.rollback()
