"""The SQLAlchemy unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.ports import UnitOfWork
from storage.repositories import (
    SqlAlchemyDialogueStateRepository,
    SqlAlchemyDirectoryRepository,
    SqlAlchemyInboundLog,
    SqlAlchemyOutbox,
    SqlAlchemyRegistrationRepository,
    SqlAlchemyTicketRepository,
    SqlAlchemyUserSettingsRepository,
)


class _Open(threading.local):
    session: Session | None = None


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Safe to share between threads: each thread that enters it gets its own session."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._open = _Open()

    @property
    def session(self) -> Session:
        session = self._open.session
        assert session is not None, "use the unit of work as a context manager"
        return session

    def __enter__(self) -> Self:
        assert self._open.session is None, "a unit of work is not re-entrant"
        self._open.session = self._sessions()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        self.session.close()
        self._open.session = None

    # The repositories are cheap views on this thread's session.
    @property
    def tickets(self) -> SqlAlchemyTicketRepository:  # type: ignore[override]
        return SqlAlchemyTicketRepository(self.session)

    @property
    def directory(self) -> SqlAlchemyDirectoryRepository:  # type: ignore[override]
        return SqlAlchemyDirectoryRepository(self.session)

    @property
    def dialogues(self) -> SqlAlchemyDialogueStateRepository:  # type: ignore[override]
        return SqlAlchemyDialogueStateRepository(self.session)

    @property
    def settings(self) -> SqlAlchemyUserSettingsRepository:  # type: ignore[override]
        return SqlAlchemyUserSettingsRepository(self.session)

    @property
    def outbox(self) -> SqlAlchemyOutbox:  # type: ignore[override]
        return SqlAlchemyOutbox(self.session)

    @property
    def inbound(self) -> SqlAlchemyInboundLog:  # type: ignore[override]
        return SqlAlchemyInboundLog(self.session)

    @property
    def registrations(self) -> SqlAlchemyRegistrationRepository:  # type: ignore[override]
        return SqlAlchemyRegistrationRepository(self.session)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        if self._open.session is not None:
            self._open.session.rollback()
