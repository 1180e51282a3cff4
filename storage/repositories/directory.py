"""The estate directory: places, people and groups, and the addresses people are reached at."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from core.domain.directory import (
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
from core.domain.people import Address, PersonRef
from core.ports import DirectoryRepository, SyncReport
from storage.tables import (
    AddressRow,
    BuildingRow,
    CommonAreaRow,
    DepartmentRow,
    EstateRow,
    ResidentGroupRow,
    ResidentRow,
    StaffGroupRow,
    StaffRow,
)

ESTATE_VERSION = select(EstateRow.version).where(EstateRow.code == bindparam("code"))
DIRECTORY, LINKED, REGISTERED = "directory", "linked", "registered"


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
        "phone": s.phone,
        "locale": s.locale,
        "prefer": s.prefer,
    }


def _staff_group(g: StaffGroup) -> dict[str, Any]:
    return {"trades": list(g.trades), "addresses": [[a.channel, a.id] for a in g.addresses]}


def _resident(r: Resident) -> dict[str, Any]:
    return {"rooms": list(r.rooms), "phone": r.phone, "locale": r.locale}


def _resident_group(g: ResidentGroup) -> dict[str, Any]:
    return {"buildings": list(g.buildings), "addresses": [[a.channel, a.id] for a in g.addresses]}


def _addresses(rows: list[Any]) -> tuple[Address, ...]:
    return tuple(Address(channel, str(id_)) for channel, id_ in rows)


class SqlAlchemyDirectoryRepository(DirectoryRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def sync(self, estate: Estate) -> SyncReport:
        report = SyncReport()
        row = self.session.scalar(select(EstateRow).where(EstateRow.code == estate.code))
        if row is None:
            row = EstateRow(code=estate.code, name=estate.name, phone=estate.phone)
            self.session.add(row)
            self.session.flush()
            report.count("added", "estate")
        elif (row.name, row.phone) != (estate.name, estate.phone):
            row.name, row.phone = estate.name, estate.phone
            report.count("updated", "estate")
        addressed = self._addressed(row.id, estate)
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
            self._sync_section(report, kind, table, row.id, entries, columns, addressed.get(kind, set()))
        self.session.flush()
        self._sync_addresses(row.id, estate)
        self._retire_unreachable_registrations(report, row.id)
        if report.changed:
            row.version = (row.version or 0) + 1
        self.session.flush()
        return report

    def _addressed(self, estate_id: int, estate: Estate) -> dict[str, set[str]]:
        """Names of the people whose addresses the load changes (they count as updated)."""
        stored: dict[tuple[str, str], tuple[str, int, int]] = {
            (r.channel, r.address): (r.person_kind, r.person_id, r.position)
            for r in self.session.scalars(
                select(AddressRow).where(AddressRow.estate_id == estate_id, AddressRow.origin == DIRECTORY)
            )
        }
        names = {
            ("staff", r.id): r.name
            for r in self.session.scalars(select(StaffRow).where(StaffRow.estate_id == estate_id))
        }
        names |= {
            ("resident", r.id): r.name
            for r in self.session.scalars(
                select(ResidentRow).where(ResidentRow.estate_id == estate_id, ResidentRow.origin == DIRECTORY)
            )
        }
        wanted: dict[tuple[str, str], tuple[str, str, int]] = {}
        for kind, people in (("staff", estate.staff), ("resident", estate.residents)):
            for person in people:
                for position, address in enumerate(person.addresses):
                    wanted[(address.channel, address.id)] = (kind, person.name, position)
        changed: dict[str, set[str]] = {}
        for key, (kind, name, position) in wanted.items():
            before = stored.get(key)
            if before is None or names.get((before[0], before[1])) != name or before[2] != position:
                changed.setdefault(kind, set()).add(name)
        for key, (kind, person_id, _) in stored.items():
            if key not in wanted and (kind, person_id) in names:
                changed.setdefault(kind, set()).add(names[(kind, person_id)])
        return changed

    def _sync_addresses(self, estate_id: int, estate: Estate) -> None:
        """The file's addresses, as the file says; a linked address the file now gives someone becomes theirs."""
        ids = {
            ("staff", name): id_
            for id_, name in self.session.execute(
                select(StaffRow.id, StaffRow.name).where(StaffRow.estate_id == estate_id)
            )
        }
        ids |= {
            ("resident", name): id_
            for id_, name in self.session.execute(
                select(ResidentRow.id, ResidentRow.name).where(
                    ResidentRow.estate_id == estate_id, ResidentRow.origin == DIRECTORY
                )
            )
        }
        wanted: dict[tuple[str, str], tuple[str, int, int]] = {}
        for kind, people in (("staff", estate.staff), ("resident", estate.residents)):
            for person in people:
                for position, address in enumerate(person.addresses):
                    wanted[(address.channel, address.id)] = (kind, ids[(kind, person.name)], position)
        existing = {(r.channel, r.address): r for r in self.session.scalars(select(AddressRow))}
        for (channel, id_), (kind, person_id, position) in wanted.items():
            stored = existing.get((channel, id_))
            if stored is None:
                self.session.add(AddressRow(channel=channel, address=id_, estate_id=estate_id, person_kind=kind,
                                            person_id=person_id, origin=DIRECTORY, position=position))  # fmt: skip
            else:
                stored.estate_id, stored.person_kind, stored.person_id = estate_id, kind, person_id
                stored.origin, stored.position = DIRECTORY, position
        gone = [key for key, r in existing.items() if r.estate_id == estate_id and r.origin == DIRECTORY
                and key not in wanted]  # fmt: skip
        for channel, id_ in gone:
            self.session.execute(delete(AddressRow).where(AddressRow.channel == channel, AddressRow.address == id_))

    def _retire_unreachable_registrations(self, report: SyncReport, estate_id: int) -> None:
        """A resident customer service registered is the address they wrote from; when the file gives every such
        address to one of its own residents, that is who they are now, and the registration is retired."""
        self.session.flush()
        reached = select(AddressRow.person_id).where(AddressRow.person_kind == "resident")
        stale_ones = select(ResidentRow).where(
            ResidentRow.estate_id == estate_id,
            ResidentRow.origin == REGISTERED,
            ResidentRow.active.is_(True),
            ResidentRow.id.not_in(reached),
        )
        for stale in self.session.scalars(stale_ones):
            stale.active = False
            report.count("deactivated", "resident")

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
        readdressed: set[str],
    ) -> None:
        query = select(table).where(table.estate_id == estate_id)
        if table is ResidentRow:  # residents customer service registered are not the file's to retire
            query = query.where(ResidentRow.origin == DIRECTORY)
        existing = {r.name: r for r in self.session.scalars(query)}
        wanted = {entry.name: columns(entry) for entry in entries}
        for name, values in wanted.items():
            stored = existing.get(name)
            if stored is None:
                self.session.add(table(estate_id=estate_id, name=name, active=True, **values))
                report.count("added", kind)
                continue
            changed = not stored.active or name in readdressed
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

        reached: dict[tuple[str, int], list[Address]] = {}
        for row in self.session.scalars(
            select(AddressRow)
            .where(AddressRow.estate_id == estate.id)
            .order_by(AddressRow.origin != DIRECTORY, AddressRow.position, AddressRow.channel, AddressRow.address)
        ):
            reached.setdefault((row.person_kind, row.person_id), []).append(Address(row.channel, row.address))
        return Estate(
            code=estate.code,
            phone=estate.phone,
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
                    addresses=tuple(reached.get(("staff", r.id), ())),
                    phone=r.phone,
                    locale=r.locale,
                    prefer=r.prefer,
                )
                for r in active(StaffRow)
            ),
            staff_groups=tuple(
                StaffGroup(r.name, tuple(r.trades), _addresses(r.addresses)) for r in active(StaffGroupRow)
            ),
            residents=tuple(
                Resident(
                    id=r.id,
                    name=r.name,
                    rooms=tuple(r.rooms),
                    phone=r.phone,
                    locale=r.locale,
                    addresses=tuple(reached.get(("resident", r.id), ())),
                    registered=r.origin == REGISTERED,
                )
                for r in active(ResidentRow)
            ),
            resident_groups=tuple(
                ResidentGroup(r.name, tuple(r.buildings), _addresses(r.addresses)) for r in active(ResidentGroupRow)
            ),
        )

    def codes(self) -> builtins.list[str]:
        return builtins.list(self.session.scalars(select(EstateRow.code).order_by(EstateRow.code)))

    def addresses(self, person: PersonRef) -> builtins.list[Address]:
        rows = self.session.execute(
            select(AddressRow.channel, AddressRow.address)
            .where(AddressRow.person_kind == person.kind, AddressRow.person_id == person.id)
            .order_by(AddressRow.origin != DIRECTORY, AddressRow.position, AddressRow.channel, AddressRow.address)
        )
        return [Address(channel, address) for channel, address in rows]

    def link(self, estate_code: str, address: Address, person: PersonRef, seen: datetime | None = None) -> bool:
        estate_id = self.session.scalar(select(EstateRow.id).where(EstateRow.code == estate_code))
        if estate_id is None:
            raise LookupError(f'estate "{estate_code}" is not in the directory')
        stored = self.session.get(AddressRow, (address.channel, address.id))
        if stored is not None and (stored.person_kind, stored.person_id) == (person.kind, person.id):
            return False
        if stored is None:
            stored = AddressRow(channel=address.channel, address=address.id, position=0)
            self.session.add(stored)
        stored.estate_id, stored.person_kind, stored.person_id = estate_id, person.kind, person.id
        stored.origin = LINKED
        if seen is not None and (stored.last_used_at is None or stored.last_used_at < seen):
            stored.last_used_at = seen
        self._changed(estate_id)
        return True

    def register(self, estate_code: str, name: str, room: str, address: Address, seen: datetime | None = None) -> int:
        estate_id = self.session.scalar(select(EstateRow.id).where(EstateRow.code == estate_code))
        if estate_id is None:
            raise LookupError(f'estate "{estate_code}" is not in the directory')
        taken = set(
            self.session.scalars(
                select(ResidentRow.name).where(ResidentRow.estate_id == estate_id, ResidentRow.origin == REGISTERED)
            )
        )
        unique, n = name, 1
        while unique in taken:  # two strangers can share a display name
            n += 1
            unique = f"{name} ({room})" if n == 2 else f"{name} ({room}, {n - 1})"
        row = ResidentRow(estate_id=estate_id, name=unique, active=True, rooms=[room], phone="", locale=None,
                          origin=REGISTERED)  # fmt: skip
        self.session.add(row)
        self.session.flush()
        self.link(estate_code, address, PersonRef("resident", row.id), seen)
        return row.id

    def _changed(self, estate_id: int) -> None:
        """Running processes read the directory again."""
        self.session.execute(update(EstateRow).where(EstateRow.id == estate_id).values(version=EstateRow.version + 1))
        self.session.flush()
