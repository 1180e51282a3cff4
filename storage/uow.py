"""The SQLAlchemy unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.ports import UnitOfWork
from storage.repositories import (
    SqlAlchemyDialogueStateRepository,
    SqlAlchemyDirectoryRepository,
    SqlAlchemyOutbox,
    SqlAlchemyTicketRepository,
    SqlAlchemyUserSettingsRepository,
)


class SqlAlchemyUnitOfWork(UnitOfWork):
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.session: Session | None = None

    def __enter__(self) -> Self:
        self.session = self._sessions()
        self.tickets = SqlAlchemyTicketRepository(self.session)
        self.directory = SqlAlchemyDirectoryRepository(self.session)
        self.dialogues = SqlAlchemyDialogueStateRepository(self.session)
        self.settings = SqlAlchemyUserSettingsRepository(self.session)
        self.outbox = SqlAlchemyOutbox(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        assert self.session is not None
        self.session.close()
        self.session = None

    def commit(self) -> None:
        assert self.session is not None, "use the unit of work as a context manager"
        self.session.commit()

    def rollback(self) -> None:
        if self.session is not None:
            self.session.rollback()
