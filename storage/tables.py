"""The schema as SQLAlchemy 2 typed models; Alembic migrations are generated from these."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Dialect, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Cents(TypeDecorator[Decimal]):
    """Money as a whole number of cents: exact on every database (SQLite has no decimal type), Decimal in Python."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        cents = value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"{value} is not a whole number of cents")
        return int(cents)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: Json, list[Any]: Json}


class EstateRow(Base):
    __tablename__ = "estates"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")  # the front desk's
    # Bumped by every load that changes something, so long-running processes know to re-read.
    version: Mapped[int] = mapped_column(default=1)


class _DirectoryEntry:
    """Columns every directory entry has: it belongs to an estate, is named, and may be retired."""

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class BuildingRow(_DirectoryEntry, Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("estate_id", "name"),)
    units: Mapped[list[Any]]
    floors: Mapped[int]


class CommonAreaRow(_DirectoryEntry, Base):
    __tablename__ = "common_areas"
    __table_args__ = (UniqueConstraint("estate_id", "name"),)
    aliases: Mapped[list[Any]]
    building: Mapped[str | None] = mapped_column(String(200))


class DepartmentRow(_DirectoryEntry, Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("estate_id", "name"),)
    handles: Mapped[list[Any]]


class StaffRow(_DirectoryEntry, Base):
    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("estate_id", "name"),)
    roles: Mapped[list[Any]]
    trades: Mapped[list[Any]]
    departments: Mapped[list[Any]]
    shifts: Mapped[list[Any]]
    phone: Mapped[str] = mapped_column(String(40), default="")
    locale: Mapped[str | None] = mapped_column(String(10))
    prefer: Mapped[str | None] = mapped_column(String(16))  # the channel their pushes go to first


class StaffGroupRow(_DirectoryEntry, Base):
    __tablename__ = "staff_groups"
    __table_args__ = (UniqueConstraint("estate_id", "name"),)
    trades: Mapped[list[Any]]
    addresses: Mapped[list[Any]]  # [[channel, chat id], ...]


class ResidentRow(_DirectoryEntry, Base):
    __tablename__ = "residents"
    # A resident customer service registered from a chat may share a name with one the file adds later.
    __table_args__ = (UniqueConstraint("estate_id", "origin", "name"),)
    rooms: Mapped[list[Any]]
    phone: Mapped[str] = mapped_column(String(40), default="")
    locale: Mapped[str | None] = mapped_column(String(10))
    origin: Mapped[str] = mapped_column(String(16), default="directory")  # directory | registered


class ResidentGroupRow(_DirectoryEntry, Base):
    __tablename__ = "resident_groups"
    __table_args__ = (UniqueConstraint("estate_id", "name"),)
    buildings: Mapped[list[Any]]
    addresses: Mapped[list[Any]]


class AddressRow(Base):
    """Where a person is reached: from the directory file, or linked since (a registration, a console)."""

    __tablename__ = "addresses"
    __table_args__ = (Index("ix_addresses_person", "person_kind", "person_id"),)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"))
    person_kind: Mapped[str] = mapped_column(String(16))  # resident | staff
    person_id: Mapped[int]
    origin: Mapped[str] = mapped_column(String(16))  # directory | linked
    position: Mapped[int] = mapped_column(default=0)  # the order the directory file gives
    last_used_at: Mapped[datetime | None]


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created_at", "status", "created_at"),
        Index("ix_tickets_reporter_address", "reporter_channel", "reporter_address"),
        Index("ix_tickets_assigned_at", "assigned_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    location_room: Mapped[str | None] = mapped_column(String(64))
    location_area: Mapped[str | None] = mapped_column(String(200))
    location_text: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    reporter: Mapped[str] = mapped_column(String(200))
    reporter_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    reporter_contact: Mapped[str] = mapped_column(String(200), default="")
    # Where the report came from (channel, the sender's id there): how a stranger is answered.
    reporter_channel: Mapped[str] = mapped_column(String(16), default="")
    reporter_address: Mapped[str] = mapped_column(String(64), default="")
    taken_by: Mapped[str] = mapped_column(String(200), default="")
    origin_channel: Mapped[str] = mapped_column(String(16), default="")
    origin_chat: Mapped[str] = mapped_column(String(64), default="")
    origin_message: Mapped[str] = mapped_column(String(64), default="")
    anonymous: Mapped[bool] = mapped_column(default=False)
    verified: Mapped[bool] = mapped_column(default=True)
    assignee_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    assignee_name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    attachments: Mapped[list[Any]]
    milestones: Mapped[dict[str, Any]]
    response_due: Mapped[datetime | None]
    resolve_due: Mapped[datetime | None]
    materials: Mapped[list[Any]]
    cost_cents: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    resolution: Mapped[str] = mapped_column(Text, default="")
    acceptance: Mapped[str] = mapped_column(String(16), default="")
    rating: Mapped[int | None]
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    rework_count: Mapped[int] = mapped_column(default=0)
    pending_approval: Mapped[dict[str, Any] | None]
    # When the current assignee got the ticket: dispatch's fair rotation reads it.
    assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketEventRow(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]]


class TicketSubscriberRow(Base):
    __tablename__ = "ticket_subscribers"
    __table_args__ = (UniqueConstraint("ticket_id", "channel", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    origin_chat: Mapped[str] = mapped_column(String(64), default="")  # the group they joined from
    origin_message: Mapped[str] = mapped_column(String(64), default="")
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    joined_at: Mapped[datetime]


class InboundMessageRow(Base):
    """Each message handled once: a row per channel message id, kept as it came until it is handled (so that a
    crash loses nothing the channel was told was received), then marked with what became of it."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_outcome_handled_at", "outcome", "handled_at"),)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    native_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    handled_at: Mapped[datetime]  # when the outcome was set: for a message waiting, when it was received
    outcome: Mapped[str] = mapped_column(String(16), default="handled")  # waiting | handled | rejected | passed
    reason: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None]  # what the channel sent, while the message waits


class TicketCounterRow(Base):
    __tablename__ = "ticket_counters"
    estate_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    last: Mapped[int]


class DialogueStateRow(Base):
    __tablename__ = "dialogue_states"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class PersonSettingRow(Base):
    """A person's choices that outlive a conversation, such as the language: "resident:3", "staff:5", or a
    stranger's address "address:CHANNEL:ID"."""

    __tablename__ = "person_settings"
    who: Mapped[str] = mapped_column(String(100), primary_key=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime]


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_channel_recipient_created_at", "channel", "recipient", "created_at"),  # a person's pushes
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The sender that holds the message (core.ports.Claim), and until when: nobody else sends it meanwhile.
    claimed_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    claimed_until: Mapped[datetime | None]
