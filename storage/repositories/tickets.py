"""Tickets, their append-only history, the residents who joined them, and the workloads dispatch reads."""

from __future__ import annotations

import builtins
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from core.domain.dispatch import Workload
from core.domain.model import (
    ACTIVE_STATUSES,
    FOUND_BY_STAFF,
    HELD_STATUSES,
    OPEN_STATUSES,
    Actor,
    Attachment,
    HistoryEvent,
    Location,
    Material,
    Source,
    Status,
    Subscriber,
    Ticket,
    TicketKind,
    Urgency,
)
from core.domain.people import Address
from core.domain.tickets import normal_number
from core.ports import TicketQuery, TicketRepository
from storage.repositories._statements import insert_for, prebuilt
from storage.tables import EstateRow, StaffRow, TicketCounterRow, TicketEventRow, TicketRow, TicketSubscriberRow

OPEN = [s.value for s in OPEN_STATUSES]
HELD = [s.value for s in HELD_STATUSES]


def _next_sequence(insert: Any) -> Any:
    statement = insert(TicketCounterRow).values(estate_code=bindparam("code"), day=bindparam("day"), last=1)
    return statement.on_conflict_do_update(
        index_elements=[TicketCounterRow.estate_code, TicketCounterRow.day],
        set_={"last": TicketCounterRow.last + 1},
    ).returning(TicketCounterRow.last)


NEXT_SEQUENCE = prebuilt(_next_sequence)
_JOINS = (
    select(func.count())
    .where(TicketEventRow.ticket_id == TicketRow.id, TicketEventRow.action == "join")
    .correlate(TicketRow)
    .scalar_subquery()
)
FOUND_BY_STAFF_SOURCES = {source.value for source in FOUND_BY_STAFF}
OPEN_AREA_REPORTS = (
    select(TicketRow.number, TicketRow.location_area, TicketRow.category, TicketRow.source, _JOINS)
    .join(EstateRow, EstateRow.id == TicketRow.estate_id)
    .where(
        EstateRow.code == bindparam("code"),
        TicketRow.location_area.is_not(None),
        TicketRow.kind == TicketKind.REPAIR.value,
        TicketRow.status.in_([s.value for s in ACTIVE_STATUSES]),
    )
    .order_by(TicketRow.id)
)
UNVERIFIED_OPEN = (
    select(TicketRow.number)
    .join(EstateRow, EstateRow.id == TicketRow.estate_id)
    .where(
        EstateRow.code == bindparam("code"),
        TicketRow.reporter_channel == bindparam("channel"),
        TicketRow.reporter_address == bindparam("address"),
        TicketRow.verified.is_(False),
        TicketRow.status.in_(OPEN),
    )
)


def _loads(*conditions: Any) -> Any:
    """A technician's load: tickets in hand now, and the last one given (within the rotation's window)."""
    return (
        select(
            TicketRow.assignee_staff_id,
            func.sum(case((TicketRow.status.in_(HELD), 1), else_=0)),
            func.max(TicketRow.assigned_at),
        )
        .where(*conditions, or_(TicketRow.status.in_(HELD), TicketRow.assigned_at >= bindparam("since")))
        .group_by(TicketRow.assignee_staff_id)
    )


WORKLOADS = _loads(
    TicketRow.estate_id == select(EstateRow.id).where(EstateRow.code == bindparam("code")).scalar_subquery(),
    TicketRow.assignee_staff_id.is_not(None),
)
WORKLOAD = _loads(TicketRow.assignee_staff_id == bindparam("staff_id"))
LOCK_STAFF = select(StaffRow.id).where(StaffRow.id == bindparam("staff_id")).with_for_update()
# Built once, filled from the parameters: building a 40-column statement per ticket is the slow part.
INSERT_TICKET = insert(TicketRow).returning(TicketRow.id)
UPDATE_TICKET = update(TicketRow).where(TicketRow.id == bindparam("ticket_id"))
INSERT_EVENT = insert(TicketEventRow)
ESTATE_ID = select(EstateRow.id).where(EstateRow.code == bindparam("code"))


class SqlAlchemyTicketRepository(TicketRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, ticket: Ticket) -> None:
        estate_id = self.session.connection().execute(ESTATE_ID, {"code": ticket.estate_code}).scalar()
        if estate_id is None:
            raise LookupError(f'estate "{ticket.estate_code}" is not in the directory')
        values = {**self._columns(ticket), "estate_id": estate_id, "number": ticket.number,
                  "created_at": ticket.created_at}  # fmt: skip
        # Core, not the ORM's flush: a ticket is written on the message path, where the flush costs most.
        ticket.id = self.session.connection().execute(INSERT_TICKET, values).scalar_one()
        self._append_events(ticket)

    def save(self, ticket: Ticket) -> None:
        if ticket.id is None:
            raise ValueError("save() takes a stored ticket; use add() for a new one")
        values = {**self._columns(ticket), "ticket_id": ticket.id}
        updated = self.session.connection().execute(UPDATE_TICKET, values)
        if updated.rowcount != 1:
            raise LookupError(f"ticket {ticket.id} does not exist")
        self._append_events(ticket)

    def get(self, ticket_id: int, for_update: bool = False) -> Ticket | None:
        row = self.session.get(TicketRow, ticket_id, populate_existing=True, with_for_update=for_update or None)
        return self._load(row) if row else None

    def get_by_number(self, number: str, for_update: bool = False) -> Ticket | None:
        statement = select(TicketRow).where(TicketRow.number == normal_number(number))
        if for_update:
            statement = statement.with_for_update()
        row = self.session.scalar(statement.execution_options(populate_existing=True))
        return self._load(row) if row else None

    def list(self, query: TicketQuery) -> builtins.list[Ticket]:
        statement = select(TicketRow, EstateRow.code).join(EstateRow).order_by(TicketRow.created_at, TicketRow.id)
        statement = statement.execution_options(populate_existing=True)
        if query.status is not None:
            statement = statement.where(TicketRow.status == query.status.value)
        if query.open_only:
            statement = statement.where(TicketRow.status.in_(OPEN))
        if query.since is not None:
            statement = statement.where(TicketRow.created_at >= query.since)
        if query.estate_code is not None:
            statement = statement.where(EstateRow.code == query.estate_code)
        reporter = []
        joined = []
        if query.reporter_resident_id is not None:
            reporter.append(TicketRow.reporter_resident_id == query.reporter_resident_id)
            joined.append(TicketSubscriberRow.resident_id == query.reporter_resident_id)
        if query.reporter_address is not None:
            reporter.append(and_(TicketRow.reporter_channel == query.reporter_address.channel,
                                 TicketRow.reporter_address == query.reporter_address.id))  # fmt: skip
            joined.append(and_(TicketSubscriberRow.channel == query.reporter_address.channel,
                               TicketSubscriberRow.address == query.reporter_address.id))  # fmt: skip
        if query.joined and joined:
            reporter.append(TicketRow.id.in_(select(TicketSubscriberRow.ticket_id).where(or_(*joined))))
        if reporter:
            statement = statement.where(or_(*reporter))
        if query.assignee_id is not None:
            statement = statement.where(TicketRow.assignee_staff_id == query.assignee_id)
        return [self._from_row(row, code, history=[]) for row, code in self.session.execute(statement)]

    def latest_number(self, estate_code: str, resident_id: int | None, address: Address | None) -> str | None:
        mine = []
        if resident_id is not None:
            mine.append(TicketRow.reporter_resident_id == resident_id)
        if address is not None:
            mine.append(and_(TicketRow.reporter_channel == address.channel, TicketRow.reporter_address == address.id))
        if not mine:
            return None
        statement = (
            select(TicketRow.number)
            .join(EstateRow)
            .where(EstateRow.code == estate_code, or_(*mine))
            .order_by(TicketRow.id.desc())
            .limit(1)
        )
        return self.session.scalar(statement)

    def unverified_open(self, estate_code: str, address: Address) -> builtins.list[str]:
        values = {"code": estate_code, "channel": address.channel, "address": address.id}
        return builtins.list(self.session.connection().execute(UNVERIFIED_OPEN, values).scalars())

    def next_sequence(self, estate_code: str, local_day: date) -> int:
        """One atomic upsert, so two processes never draw the same number."""
        values = {"code": estate_code, "day": local_day}
        bind = self.session.get_bind()
        if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
            # Drawn and committed on its own: every report of the day updates this one counter row, and holding
            # its lock until the report's transaction ends made reports wait for one another. A report whose
            # transaction then fails leaves a gap in the day's numbers. (SQLite has one writer at a time anyway.)
            with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                return int(connection.execute(NEXT_SEQUENCE(self.session), values).scalar_one())
        return int(self.session.connection().execute(NEXT_SEQUENCE(self.session), values).scalar_one())

    def subscribe(self, ticket_id: int, subscriber: Subscriber, now: datetime) -> bool:
        address = subscriber.address
        statement = (
            insert_for(self.session)(TicketSubscriberRow)
            .values(
                ticket_id=ticket_id,
                channel=address.channel if address else "",
                address=address.id if address else f"resident:{subscriber.resident_id}",
                name=subscriber.name,
                origin_chat=subscriber.origin.id if subscriber.origin else "",
                origin_message=subscriber.origin_message,
                resident_id=subscriber.resident_id,
                joined_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[TicketSubscriberRow.ticket_id, TicketSubscriberRow.channel, TicketSubscriberRow.address]
            )
            .returning(TicketSubscriberRow.id)
        )
        return self.session.execute(statement).scalar() is not None

    def subscribers(self, ticket_id: int) -> builtins.list[Subscriber]:
        rows = self.session.scalars(
            select(TicketSubscriberRow)
            .where(TicketSubscriberRow.ticket_id == ticket_id)
            .order_by(TicketSubscriberRow.id)
        )
        return [
            Subscriber(
                name=r.name,
                resident_id=r.resident_id,
                address=Address(r.channel, r.address) if r.channel else None,
                origin=Address(r.channel, r.origin_chat) if r.origin_chat else None,
                origin_message=r.origin_message,
            )
            for r in rows
        ]

    def workloads(self, estate_code: str, since: datetime) -> dict[int, Workload]:
        values = {"code": estate_code, "since": since}
        rows = self.session.connection().execute(WORKLOADS, values)
        return {staff_id: Workload(int(held or 0), last) for staff_id, held, last in rows}

    def hold_workload(self, staff_id: int, since: datetime) -> Workload:
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":  # SQLite has one writer at a time: it is held already
            connection.execute(LOCK_STAFF, {"staff_id": staff_id})
        values = {"staff_id": staff_id, "since": since}
        row = connection.execute(WORKLOAD, values).first()
        return Workload(int(row[1] or 0), row[2]) if row else Workload()

    def open_area_reports(self, estate_code: str) -> builtins.list[tuple[str, str, str, int]]:
        rows = self.session.connection().execute(OPEN_AREA_REPORTS, {"code": estate_code})
        return [(number, area, category, int(source not in FOUND_BY_STAFF_SOURCES) + (joined or 0))
                for number, area, category, source, joined in rows]  # fmt: skip

    def _append_events(self, ticket: Ticket) -> None:
        assert ticket.id is not None
        rows = [
            {
                "ticket_id": ticket.id,
                "at": event.at,
                "actor_kind": event.actor.kind,
                "actor_name": event.actor.name,
                "actor_id": event.actor.id,
                "action": event.action,
                "from_status": event.from_status.value if event.from_status else None,
                "to_status": event.to_status.value,
                "details": event.details,
            }
            for event in ticket.new_events
        ]
        if rows:
            self.session.connection().execute(INSERT_EVENT, rows)
        ticket.new_events.clear()

    @staticmethod
    def _columns(ticket: Ticket) -> dict[str, Any]:
        reporter, origin = ticket.reporter_address, ticket.origin
        return {
            "kind": ticket.kind.value,
            "source": ticket.source.value,
            "status": ticket.status.value,
            "category": ticket.category,
            "urgency": ticket.urgency.value,
            "location_room": ticket.location.room,
            "location_area": ticket.location.common_area,
            "location_text": ticket.location.text,
            "description": ticket.description,
            "reporter": ticket.reporter,
            "reporter_resident_id": ticket.reporter_resident_id,
            "reporter_contact": ticket.reporter_contact,
            "reporter_channel": reporter.channel if reporter else "",
            "reporter_address": reporter.id if reporter else "",
            "taken_by": ticket.taken_by,
            "origin_channel": origin.channel if origin else "",
            "origin_chat": origin.id if origin else "",
            "origin_message": ticket.origin_message,
            "anonymous": ticket.anonymous,
            "verified": ticket.verified,
            "assignee_staff_id": ticket.assignee_id,
            "assignee_name": ticket.assignee_name,
            "department": ticket.department,
            "attachments": [asdict(a) for a in ticket.attachments],
            "milestones": {name: at.isoformat() for name, at in ticket.milestones.items()},
            "response_due": ticket.response_due,
            "resolve_due": ticket.resolve_due,
            "materials": [m.dump() for m in ticket.materials],
            "cost_cents": ticket.cost,
            "resolution": ticket.resolution,
            "acceptance": ticket.acceptance,
            "rating": ticket.rating,
            "rating_comment": ticket.rating_comment,
            "rework_count": ticket.rework_count,
            "pending_approval": ticket.pending_approval,
            "assigned_at": ticket.milestones.get("assigned") if ticket.assignee_id is not None else None,
            "updated_at": ticket.history[-1].at if ticket.history else ticket.created_at,
        }

    def _load(self, row: TicketRow) -> Ticket:
        code = self.session.scalar(select(EstateRow.code).where(EstateRow.id == row.estate_id))
        events = self.session.scalars(
            select(TicketEventRow).where(TicketEventRow.ticket_id == row.id).order_by(TicketEventRow.id)
        )
        history = [
            HistoryEvent(
                at=e.at,
                actor=Actor(e.actor_kind, e.actor_name, e.actor_id),
                action=e.action,
                from_status=Status(e.from_status) if e.from_status else None,
                to_status=Status(e.to_status),
                details=dict(e.details),
            )
            for e in events
        ]
        return self._from_row(row, code or "", history)

    @staticmethod
    def _from_row(row: TicketRow, estate_code: str, history: builtins.list[HistoryEvent]) -> Ticket:
        return Ticket(
            id=row.id,
            number=row.number,
            kind=TicketKind(row.kind),
            source=Source(row.source),
            estate_code=estate_code,
            status=Status(row.status),
            location=Location(row.location_room, row.location_area, row.location_text),
            category=row.category,
            description=row.description,
            urgency=Urgency(row.urgency),
            reporter=row.reporter,
            reporter_resident_id=row.reporter_resident_id,
            reporter_contact=row.reporter_contact,
            reporter_address=Address(row.reporter_channel, row.reporter_address) if row.reporter_channel else None,
            taken_by=row.taken_by,
            origin=Address(row.origin_channel, row.origin_chat) if row.origin_chat else None,
            origin_message=row.origin_message,
            anonymous=row.anonymous,
            verified=row.verified,
            assignee_id=row.assignee_staff_id,
            assignee_name=row.assignee_name,
            department=row.department,
            attachments=tuple(Attachment(**a) for a in row.attachments),
            milestones={name: datetime.fromisoformat(at) for name, at in row.milestones.items()},
            response_due=row.response_due,
            resolve_due=row.resolve_due,
            materials=tuple(Material.load(m) for m in row.materials),
            cost=row.cost_cents,
            resolution=row.resolution,
            acceptance=row.acceptance,
            rating=row.rating,
            rating_comment=row.rating_comment,
            rework_count=row.rework_count,
            pending_approval=dict(row.pending_approval) if row.pending_approval else None,
            created_at=row.created_at,
            history=history,
        )
