"""Repositories, one module per aggregate: rows in, core objects out. Nothing here decides anything."""

from storage.repositories.conversations import SqlAlchemyConversationRepository
from storage.repositories.directory import SqlAlchemyDirectoryRepository
from storage.repositories.outbox import SqlAlchemyOutbox
from storage.repositories.people import SqlAlchemyPeopleRepository
from storage.repositories.tickets import SqlAlchemyTicketRepository

__all__ = [
    "SqlAlchemyConversationRepository",
    "SqlAlchemyDirectoryRepository",
    "SqlAlchemyOutbox",
    "SqlAlchemyPeopleRepository",
    "SqlAlchemyTicketRepository",
]
