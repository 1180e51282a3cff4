"""Repositories: rows in, core objects out. Nothing here decides anything."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any, ClassVar

from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from core.directory import (
    Building,
    CommonArea,
    Department,
    Estate,
    Resident,
    ResidentGroup,
    Staff,
    StaffGroup,
    parse_shift,
)
from core.model import (
    HELD_STATUSES,
    Actor,
    Attachment,
    HistoryEvent,
    Location,
    Material,
    Registration,
    Source,
    Status,
    Subscriber,
    Ticket,
    TicketKind,
    Urgency,
)
from core.ports import (
    DialogueStateRepository,
    DirectoryRepository,
    Outbox,
    OutboxMessage,
    RegistrationRepository,
    StaffContactRepository,
    SyncReport,
    TicketQuery,
    TicketRepository,
    TurnOpening,
    UserSettingsRepository,
    Workload,
)
from storage.tables import (
    BuildingRow,
    CommonAreaRow,
    DepartmentRow,
    DialogueStateRow,
    EstateRow,
    InboundMessageRow,
    OutboxRow,
    RegistrationRow,
    ResidentGroupRow,
    ResidentRow,
    StaffContactRow,
    StaffGroupRow,
    StaffRow,
    TicketCounterRow,
    TicketEventRow,
    TicketRow,
    TicketSubscriberRow,
    UserSettingRow,
)


class _PostgresCursor:
    """The psycopg cursor of a session's own connection, inside its transaction, for the few statements every
    message runs. SQLAlchemy's execution costs more than such a statement itself (about 100 µs each; a turn
    took a quarter less CPU without it, measured in-process). The SQL is still SQLAlchemy's, compiled once;
    only what these statements read back is plain enough to skip its result processing."""

    _compiled: ClassVar[dict[int, tuple[str, dict[str, Any]]]] = {}

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.dialect = connection.dialect
        self.cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]

    @classmethod
    def of(cls, session: Session) -> _PostgresCursor | None:
        return cls(session) if session.get_bind().dialect.name == "postgresql" else None

    def _sql(self, statement: Any) -> tuple[str, dict[str, Any]]:
        known = self._compiled.get(id(statement))
        if known is None:
            compiled = statement.compile(dialect=self.dialect)
            # The statement's own literals (an outbox row's status, say) travel as parameters too.
            known = (str(compiled), {k: v for k, v in compiled.params.items() if v is not None})
            self._compiled[id(statement)] = known
        return known

    def one(self, statement: Any, values: dict[str, Any]) -> tuple[Any, ...]:
        sql, literals = self._sql(statement)
        row = self.cursor.execute(sql, {**literals, **values}).fetchone()
        assert row is not None
        return tuple(row)

    def run(self, statement: Any, values: dict[str, Any]) -> None:
        sql, literals = self._sql(statement)
        self.cursor.execute(sql, {**literals, **values})

    def returned(self, statement: Any, many: list[dict[str, Any]]) -> list[Any]:
        """The first column of what each row's execution returned, sent in one round trip (a pipeline)."""
        sql, literals = self._sql(statement)
        self.cursor.executemany(sql, [{**literals, **values} for values in many], returning=True)
        returned = []
        while True:
            returned.extend(row[0] for row in self.cursor.fetchall())
            if not self.cursor.nextset():
                return returned


def _insert(session: Session) -> Callable[..., Any]:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _prebuilt(build: Callable[[Callable[..., Any]], Any]) -> Callable[[Session], Any]:
    """A statement built once per dialect: on the message path, building it costs more than running it."""
    built: dict[str, Any] = {}

    def statement(session: Session) -> Any:
        dialect = session.get_bind().dialect.name
        if dialect not in built:
            built[dialect] = build(pg_insert if dialect == "postgresql" else sqlite_insert)
        return built[dialect]

    return statement


def _upsert_state(insert: Callable[..., Any]) -> Any:
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


def _claim(insert: Callable[..., Any]) -> Any:
    return (
        insert(InboundMessageRow)
        .values(channel=bindparam("channel"), native_id=bindparam("native_id"), handled_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=[InboundMessageRow.channel, InboundMessageRow.native_id])
        .returning(InboundMessageRow.native_id)
    )


def _outbox_insert(insert: Callable[..., Any]) -> Any:
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


def _next_sequence(insert: Callable[..., Any]) -> Any:
    statement = insert(TicketCounterRow).values(estate_code=bindparam("code"), day=bindparam("day"), last=1)
    return statement.on_conflict_do_update(
        index_elements=[TicketCounterRow.estate_code, TicketCounterRow.day],
        set_={"last": TicketCounterRow.last + 1},
    ).returning(TicketCounterRow.last)


UPSERT_STATE = _prebuilt(_upsert_state)
NEXT_SEQUENCE = _prebuilt(_next_sequence)
CLAIM = _prebuilt(_claim)
OUTBOX_INSERT = _prebuilt(_outbox_insert)
STATE = select(DialogueStateRow.state).where(
    DialogueStateRow.channel == bindparam("channel"),
    DialogueStateRow.chat == bindparam("chat"),
    DialogueStateRow.user == bindparam("user"),
)
LOCALE = select(UserSettingRow.locale).where(
    UserSettingRow.channel == bindparam("channel"), UserSettingRow.user == bindparam("user")
)
_JOINED = (
    select(TicketSubscriberRow.ticket_id, func.count().label("joined"))
    .group_by(TicketSubscriberRow.ticket_id)
    .subquery()
)
OPEN_AREA_REPORTS = (
    select(TicketRow.number, TicketRow.location_area, TicketRow.category, _JOINED.c.joined)
    .join(EstateRow, EstateRow.id == TicketRow.estate_id)
    .outerjoin(_JOINED, _JOINED.c.ticket_id == TicketRow.id)
    .where(
        EstateRow.code == bindparam("code"),
        TicketRow.location_area.is_not(None),
        TicketRow.kind == TicketKind.REPAIR.value,
        TicketRow.status.not_in([Status.RESOLVED.value, Status.CLOSED.value, Status.CANCELLED.value]),
    )
    .order_by(TicketRow.id)
)
UNVERIFIED_OPEN = (
    select(TicketRow.number)
    .join(EstateRow, EstateRow.id == TicketRow.estate_id)
    .where(
        EstateRow.code == bindparam("code"),
        TicketRow.reporter_ref == bindparam("ref"),
        TicketRow.verified.is_(False),
        TicketRow.status.not_in([Status.CLOSED.value, Status.CANCELLED.value]),
    )
)
_OPENING_REGISTRATION = [
    select(column).where(RegistrationRow.ref == bindparam("ref")).scalar_subquery()
    for column in (RegistrationRow.name, RegistrationRow.room, RegistrationRow.confirmed_by)
]
OPENING = select(STATE.scalar_subquery(), LOCALE.scalar_subquery(), *_OPENING_REGISTRATION)
# PostgreSQL can claim the message in the same statement (SQLite has no INSERT inside WITH).
_CLAIMED = _claim(pg_insert).cte("claimed")
CLAIM_AND_OPEN = select(
    select(func.count()).select_from(_CLAIMED).scalar_subquery(),
    STATE.scalar_subquery(),
    LOCALE.scalar_subquery(),
    *_OPENING_REGISTRATION,
)
# A technician's load: tickets in hand now, and the last one given (over the estate's history).
WORKLOADS = (
    select(
        TicketRow.assignee_staff_id,
        func.sum(case((TicketRow.status.in_([s.value for s in HELD_STATUSES]), 1), else_=0)),
        func.max(TicketRow.assigned_at),
    )
    .join(EstateRow, EstateRow.id == TicketRow.estate_id)
    .where(EstateRow.code == bindparam("code"), TicketRow.assignee_staff_id.is_not(None))
    .group_by(TicketRow.assignee_staff_id)
)
STAFF_CONTACTS = (
    select(StaffContactRow.channel, StaffContactRow.user)
    .where(StaffContactRow.staff_id == bindparam("staff_id"))
    .order_by(StaffContactRow.seen_at)
)
MARK_SENT = (
    update(OutboxRow)
    .where(OutboxRow.key.in_(bindparam("keys", expanding=True)))
    .values(status="sent", sent_at=bindparam("now"), attempts=OutboxRow.attempts + 1)
)
# Built once, filled from the parameters: building a 40-column statement per ticket is the slow part.
INSERT_TICKET = insert(TicketRow).returning(TicketRow.id)
UPDATE_TICKET = update(TicketRow).where(TicketRow.id == bindparam("ticket_id"))
INSERT_EVENT = insert(TicketEventRow)
ESTATE_ID = select(EstateRow.id).where(EstateRow.code == bindparam("code"))
ESTATE_VERSION = select(EstateRow.version).where(EstateRow.code == bindparam("code"))


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
        statement = select(TicketRow).where(func.upper(TicketRow.number) == number.strip().upper())
        if for_update:
            statement = statement.with_for_update()
        row = self.session.scalar(statement.execution_options(populate_existing=True))
        return self._load(row) if row else None

    def list(self, query: TicketQuery) -> list[Ticket]:
        statement = select(TicketRow, EstateRow.code).join(EstateRow).order_by(TicketRow.created_at, TicketRow.id)
        statement = statement.execution_options(populate_existing=True)
        if query.status is not None:
            statement = statement.where(TicketRow.status == query.status.value)
        if query.open_only:
            statement = statement.where(TicketRow.status.not_in([Status.CLOSED.value, Status.CANCELLED.value]))
        if query.since is not None:
            statement = statement.where(TicketRow.created_at >= query.since)
        if query.estate_code is not None:
            statement = statement.where(EstateRow.code == query.estate_code)
        reporter = []
        if query.reporter_resident_id is not None:
            reporter.append(TicketRow.reporter_resident_id == query.reporter_resident_id)
        if query.reporter_ref is not None:
            reporter.append(TicketRow.reporter_ref == query.reporter_ref)
        if reporter:
            statement = statement.where(or_(*reporter))
        if query.assignee_id is not None:
            statement = statement.where(TicketRow.assignee_staff_id == query.assignee_id)
        if query.awaiting_approval:
            statement = statement.where(TicketRow.pending_approval.is_not(None))
        if query.limit is not None:
            statement = statement.limit(query.limit)
        return [self._from_row(row, code, history=[]) for row, code in self.session.execute(statement)]

    def unverified_open(self, estate_code: str, reporter_ref: str) -> list[str]:
        values = {"code": estate_code, "ref": reporter_ref}
        return list(self.session.connection().execute(UNVERIFIED_OPEN, values).scalars())

    def next_sequence(self, estate_code: str, local_day: date) -> int:
        """One atomic upsert, so two processes never draw the same number."""
        values = {"code": estate_code, "day": local_day}
        bind = self.session.get_bind()
        if bind.dialect.name == "postgresql":
            # Drawn and committed on its own: every report of the day updates this one counter row, and holding
            # its lock until the report's transaction ends made reports wait for one another. A report whose
            # transaction then fails leaves a gap in the day's numbers. (SQLite has one writer at a time anyway.)
            with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                return int(connection.execute(NEXT_SEQUENCE(self.session), values).scalar_one())
        return int(self.session.connection().execute(NEXT_SEQUENCE(self.session), values).scalar_one())

    def subscribe(self, ticket_id: int, subscriber: Subscriber, now: datetime) -> bool:
        insert = _insert(self.session)
        statement = (
            insert(TicketSubscriberRow)
            .values(ticket_id=ticket_id, joined_at=now, **asdict(subscriber))
            .on_conflict_do_nothing(index_elements=[TicketSubscriberRow.ticket_id, TicketSubscriberRow.ref])
            .returning(TicketSubscriberRow.id)
        )
        return self.session.execute(statement).scalar() is not None

    def subscribers(self, ticket_id: int) -> list[Subscriber]:
        rows = self.session.scalars(
            select(TicketSubscriberRow)
            .where(TicketSubscriberRow.ticket_id == ticket_id)
            .order_by(TicketSubscriberRow.id)
        )
        return [Subscriber(r.ref, r.name, r.chat, r.message_ref, r.resident_id) for r in rows]

    def workloads(self, estate_code: str) -> dict[int, Workload]:
        rows = self.session.connection().execute(WORKLOADS, {"code": estate_code})
        return {staff_id: Workload(int(held or 0), last) for staff_id, held, last in rows}

    def open_area_reports(self, estate_code: str) -> list[tuple[str, str, str, int]]:
        rows = self.session.connection().execute(OPEN_AREA_REPORTS, {"code": estate_code})
        return [(number, area, category, 1 + (joined or 0)) for number, area, category, joined in rows]

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
            "reporter_ref": ticket.reporter_ref,
            "origin_chat": ticket.origin_chat,
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
            "materials": [asdict(m) for m in ticket.materials],
            "cost": ticket.cost,
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
    def _from_row(row: TicketRow, estate_code: str, history: list[HistoryEvent]) -> Ticket:
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
            reporter_ref=row.reporter_ref,
            origin_chat=row.origin_chat,
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
            materials=tuple(Material(**m) for m in row.materials),
            cost=row.cost,
            resolution=row.resolution,
            acceptance=row.acceptance,
            rating=row.rating,
            rating_comment=row.rating_comment,
            rework_count=row.rework_count,
            pending_approval=dict(row.pending_approval) if row.pending_approval else None,
            created_at=row.created_at,
            history=history,
        )


# How each kind of directory entry becomes columns, and back.
def _building(b: Building) -> dict[str, Any]:
    return {"units": list(b.units), "floors": b.floors}


def _area(a: CommonArea) -> dict[str, Any]:
    return {"aliases": list(a.aliases), "building": a.building}


def _department(d: Department) -> dict[str, Any]:
    return {"handles": list(d.handles)}


def _staff(s: Staff) -> dict[str, Any]:
    return {
        "roles": list(s.roles),
        "trades": list(s.trades),
        "departments": list(s.departments),
        "shifts": [shift.text for shift in s.shifts],
        "telegram_id": s.telegram_id,
        "wecom_userid": s.wecom_userid,
        "wechat_openid": s.wechat_openid,
        "phone": s.phone,
        "locale": s.locale,
    }


def _staff_group(g: StaffGroup) -> dict[str, Any]:
    return {"trades": list(g.trades), "telegram_chat_id": g.telegram_chat_id, "wecom_chat_id": g.wecom_chat_id}


def _resident(r: Resident) -> dict[str, Any]:
    return {
        "rooms": list(r.rooms),
        "phone": r.phone,
        "locale": r.locale,
        "telegram_id": r.telegram_id,
        "wechat_openid": r.wechat_openid,
    }


def _resident_group(g: ResidentGroup) -> dict[str, Any]:
    return {"buildings": list(g.buildings), "telegram_chat_id": g.telegram_chat_id, "wechat_chat_id": g.wechat_chat_id}


class SqlAlchemyDirectoryRepository(DirectoryRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def sync(self, estate: Estate) -> SyncReport:
        report = SyncReport()
        row = self.session.scalar(select(EstateRow).where(EstateRow.code == estate.code))
        if row is None:
            row = EstateRow(code=estate.code, name=estate.name)
            self.session.add(row)
            self.session.flush()
            report.count("added", "estate")
        elif row.name != estate.name:
            row.name = estate.name
            report.count("updated", "estate")
        sections: list[tuple[str, type[Any], Iterable[Any], Callable[[Any], dict[str, Any]]]] = [
            ("building", BuildingRow, estate.buildings, _building),
            ("common_area", CommonAreaRow, estate.common_areas, _area),
            ("department", DepartmentRow, estate.departments, _department),
            ("staff", StaffRow, estate.staff, _staff),
            ("staff_group", StaffGroupRow, estate.staff_groups, _staff_group),
            ("resident", ResidentRow, estate.residents, _resident),
            ("resident_group", ResidentGroupRow, estate.resident_groups, _resident_group),
        ]
        for kind, table, entries, columns in sections:
            self._sync_section(report, kind, table, row.id, entries, columns)
        if report.changed:
            row.version = (row.version or 0) + 1
        self.session.flush()
        return report

    def version(self, code: str) -> int | None:
        return self.session.connection().execute(ESTATE_VERSION, {"code": code}).scalar()

    def _sync_section(
        self,
        report: SyncReport,
        kind: str,
        table: type[Any],
        estate_id: int,
        entries: Iterable[Any],
        columns: Callable[[Any], dict[str, Any]],
    ) -> None:
        existing = {r.name: r for r in self.session.scalars(select(table).where(table.estate_id == estate_id))}
        wanted = {entry.name: columns(entry) for entry in entries}
        for name, values in wanted.items():
            stored = existing.get(name)
            if stored is None:
                self.session.add(table(estate_id=estate_id, name=name, active=True, **values))
                report.count("added", kind)
                continue
            changed = not stored.active
            for column, value in values.items():
                if getattr(stored, column) != value:
                    setattr(stored, column, value)
                    changed = True
            stored.active = True
            if changed:
                report.count("updated", kind)
        for name, stored in existing.items():
            if name not in wanted and stored.active:
                stored.active = False  # retired, never deleted: their tickets keep pointing at them
                report.count("deactivated", kind)

    def get(self, code: str) -> Estate | None:
        estate = self.session.scalar(select(EstateRow).where(EstateRow.code == code))
        if estate is None:
            return None

        def active(table: type[Any]) -> list[Any]:
            return list(
                self.session.scalars(
                    select(table).where(table.estate_id == estate.id, table.active.is_(True)).order_by(table.id)
                )
            )

        return Estate(
            code=estate.code,
            name=estate.name,
            buildings=tuple(Building(r.name, tuple(r.units), r.floors) for r in active(BuildingRow)),
            common_areas=tuple(CommonArea(r.name, tuple(r.aliases), r.building) for r in active(CommonAreaRow)),
            departments=tuple(Department(r.name, tuple(r.handles)) for r in active(DepartmentRow)),
            staff=tuple(
                Staff(
                    id=r.id,
                    name=r.name,
                    roles=tuple(r.roles),
                    trades=tuple(r.trades),
                    departments=tuple(r.departments),
                    shifts=tuple(parse_shift(text) for text in r.shifts),
                    telegram_id=r.telegram_id,
                    wecom_userid=r.wecom_userid,
                    wechat_openid=r.wechat_openid,
                    phone=r.phone,
                    locale=r.locale,
                )
                for r in active(StaffRow)
            ),
            staff_groups=tuple(
                StaffGroup(r.name, tuple(r.trades), r.telegram_chat_id, r.wecom_chat_id) for r in active(StaffGroupRow)
            ),
            residents=tuple(
                Resident(
                    id=r.id,
                    name=r.name,
                    rooms=tuple(r.rooms),
                    phone=r.phone,
                    locale=r.locale,
                    telegram_id=r.telegram_id,
                    wechat_openid=r.wechat_openid,
                )
                for r in active(ResidentRow)
            ),
            resident_groups=tuple(
                ResidentGroup(r.name, tuple(r.buildings), r.telegram_chat_id, r.wechat_chat_id)
                for r in active(ResidentGroupRow)
            ),
        )

    def codes(self) -> list[str]:
        return list(self.session.scalars(select(EstateRow.code).order_by(EstateRow.code)))


class SqlAlchemyDialogueStateRepository(DialogueStateRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, channel: str, chat: str, user: str) -> dict[str, Any] | None:
        state = self.session.connection().execute(STATE, {"channel": channel, "chat": chat, "user": user}).scalar()
        return dict(state) if state is not None else None

    def opening(
        self, channel: str, chat: str, user: str, person_ref: str, claim: tuple[str, datetime] | None = None
    ) -> TurnOpening | None:
        values: dict[str, Any] = {"channel": channel, "chat": chat, "user": user, "ref": person_ref}
        if claim is not None:
            values["native_id"], values["now"] = claim
        postgres = _PostgresCursor.of(self.session)
        if postgres is not None and claim is not None:
            claimed, *row = postgres.one(CLAIM_AND_OPEN, values)
            if not claimed:
                return None
        elif postgres is not None:
            row = list(postgres.one(OPENING, values))
        else:
            connection = self.session.connection()
            if claim is not None and connection.execute(CLAIM(self.session), values).scalar() is None:
                return None
            row = list(connection.execute(OPENING, values).one())
        state, locale, name, room, confirmed_by = row
        registration = Registration(person_ref, name, room, confirmed_by) if name is not None else None
        return TurnOpening(dict(state) if state is not None else None, locale, registration)

    def put(self, channel: str, chat: str, user: str, state: dict[str, Any], now: datetime) -> None:
        values = {"channel": channel, "chat": chat, "user": user, "state": state, "updated_at": now}
        postgres = _PostgresCursor.of(self.session)
        if postgres is not None:
            postgres.run(UPSERT_STATE(self.session), {**values, "state": Jsonb(state)})
        else:
            self.session.connection().execute(UPSERT_STATE(self.session), values)

    def delete(self, channel: str, chat: str, user: str) -> None:
        row = self.session.get(DialogueStateRow, (channel, chat, user))
        if row is not None:
            self.session.delete(row)
            self.session.flush()


class SqlAlchemyUserSettingsRepository(UserSettingsRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def locale(self, channel: str, user: str) -> str | None:
        return self.session.connection().execute(LOCALE, {"channel": channel, "user": user}).scalar()

    def set_locale(self, channel: str, user: str, locale: str, now: datetime) -> None:
        insert = _insert(self.session)
        statement = insert(UserSettingRow).values(channel=channel, user=user, locale=locale, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[UserSettingRow.channel, UserSettingRow.user],
            set_={"locale": statement.excluded.locale, "updated_at": statement.excluded.updated_at},
        )
        self.session.execute(statement)


class SqlAlchemyRegistrationRepository(RegistrationRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def confirm(self, registration: Registration, now: datetime) -> None:
        row = self.session.get(RegistrationRow, registration.ref)
        if row is None:
            self.session.add(RegistrationRow(**asdict(registration), confirmed_at=now))
        else:
            row.name, row.room, row.confirmed_by, row.confirmed_at = (
                registration.name,
                registration.room,
                registration.confirmed_by,
                now,
            )
        self.session.flush()


class SqlAlchemyStaffContactRepository(StaffContactRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def note(self, channel: str, user: str, staff_id: int, now: datetime) -> None:
        insert = _insert(self.session)
        self.session.execute(
            insert(StaffContactRow)
            .values(channel=channel, user=user, staff_id=staff_id, seen_at=now)
            .on_conflict_do_update(
                index_elements=[StaffContactRow.channel, StaffContactRow.user],
                set_={"staff_id": staff_id, "seen_at": now},
            )
        )

    def of(self, staff_id: int) -> list[tuple[str, str]]:
        rows = self.session.connection().execute(STAFF_CONTACTS, {"staff_id": staff_id})
        return [(channel, user) for channel, user in rows]


class SqlAlchemyOutbox(Outbox):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_all(self, messages: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
        if not messages:
            return []
        values = [{"key": m.key, "channel": m.channel, "recipient": m.recipient, "payload": m.payload, "now": now}
                  for m in messages]  # fmt: skip
        postgres = _PostgresCursor.of(self.session)
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
        return [OutboxMessage(r.key, r.channel, r.recipient, dict(r.payload)) for r in rows]

    def mark_sent(self, keys: list[str], now: datetime) -> None:
        if keys:
            self.session.connection().execute(MARK_SENT, {"keys": keys, "now": now})

    def mark_dead(self, key: str, error: str) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.key == key)
            .values(status="dead", last_error=error[:2000], attempts=OutboxRow.attempts + 1)
        )

    def pending_count(self) -> int:
        return int(self.session.scalar(select(func.count()).where(OutboxRow.status == "pending")) or 0)

    def mark_failed(self, key: str, error: str, retry_at: datetime) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.key == key)
            .values(last_error=error[:2000], next_attempt_at=retry_at, attempts=OutboxRow.attempts + 1)
        )
