"""The estate directory: places, people and teams, validated from the TOML file's data."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from core.domain.errors import DomainError
from core.domain.model import FEEDBACK_CATEGORIES, LIVE_CHAT, Trade
from core.domain.people import Address, AddressField, PersonRef
from core.domain.roles import ROLES
from core.i18n import LOCALES, normalize_locale

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROOM_PATTERN = re.compile(r"^(?P<building>[^-\s]+)-(?P<unit>[^-\s]+)-(?P<room>\d{3,5})$")


def closest(word: str, known: list[str] | tuple[str, ...]) -> str:
    """A '(did you mean …?)' hint, or nothing when no known word is close."""
    match = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""


@dataclass(frozen=True)
class Shift:
    """A weekly working window in the estate's time zone; an end before the start runs overnight."""

    days: frozenset[int]
    start: time
    end: time
    text: str

    def covers(self, local: datetime) -> bool:
        t, weekday = local.time(), local.weekday()
        if self.start < self.end:
            return weekday in self.days and self.start <= t < self.end
        # Overnight: the evening part belongs to today, the early part to yesterday's shift.
        return (weekday in self.days and t >= self.start) or ((weekday - 1) % 7 in self.days and t < self.end)


@dataclass(frozen=True)
class Building:
    name: str
    units: tuple[str, ...]
    floors: int


@dataclass(frozen=True)
class CommonArea:
    name: str
    aliases: tuple[str, ...] = ()
    building: str | None = None


@dataclass(frozen=True)
class Department:
    name: str
    handles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Staff:
    name: str
    roles: tuple[str, ...]
    trades: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    shifts: tuple[Shift, ...] = ()
    addresses: tuple[Address, ...] = ()  # from the file and linked since; in the order the file gives them
    phone: str = ""
    locale: str | None = None
    prefer: str | None = None  # the channel their pushes go to first, instead of the one they used last
    active: bool = True
    id: int | None = None

    @property
    def ref(self) -> PersonRef:
        assert self.id is not None, "a staff member from the database has an id"
        return PersonRef("staff", self.id)

    def on_shift(self, local: datetime) -> bool:
        return any(shift.covers(local) for shift in self.shifts)


@dataclass(frozen=True)
class StaffGroup:
    name: str
    trades: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()


@dataclass(frozen=True)
class Resident:
    name: str
    rooms: tuple[str, ...] = ()
    phone: str = ""
    locale: str | None = None
    addresses: tuple[Address, ...] = ()
    registered: bool = False  # not in the directory file: customer service confirmed them from a chat
    active: bool = True
    id: int | None = None

    @property
    def ref(self) -> PersonRef:
        assert self.id is not None, "a resident from the database has an id"
        return PersonRef("resident", self.id)


@dataclass(frozen=True)
class ResidentGroup:
    name: str
    buildings: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()


Person = Staff | Resident


@dataclass(frozen=True)
class Estate:
    code: str
    name: str
    buildings: tuple[Building, ...] = ()
    common_areas: tuple[CommonArea, ...] = ()
    departments: tuple[Department, ...] = ()
    staff: tuple[Staff, ...] = ()
    staff_groups: tuple[StaffGroup, ...] = ()
    residents: tuple[Resident, ...] = ()
    resident_groups: tuple[ResidentGroup, ...] = ()
    phone: str = ""  # the front desk's number, for what a resident cannot do in chat

    def building(self, name: str) -> Building | None:
        return next((b for b in self.buildings if b.name == name), None)

    def room_exists(self, room: str) -> bool:
        return _room_problem(self, room) is None

    def department_for(self, category: str) -> Department | None:
        return next((d for d in self.departments if category in d.handles), None)

    def chat_department(self) -> Department | None:
        """Who answers a resident who asks for a person: the department that handles it ("talk"), else the one
        that handles service quality (customer service), else the first."""
        return (self.department_for(LIVE_CHAT) or self.department_for("service_quality")
                or next(iter(self.departments), None))  # fmt: skip

    @functools.cached_property
    def _at(self) -> dict[Address, Person]:
        """Who each address belongs to; staff first, so someone who is both is met as staff."""
        found: dict[Address, Person] = {}
        people: tuple[Person, ...] = (*self.staff, *self.residents)
        for person in people:
            if person.active:
                for address in person.addresses:
                    found.setdefault(address, person)
        return found

    def person_at(self, address: Address) -> Person | None:
        return self._at.get(address)

    def staff_member(self, staff_id: int | None) -> Staff | None:
        return next((s for s in self.staff if s.id == staff_id), None) if staff_id is not None else None

    def resident(self, resident_id: int | None) -> Resident | None:
        return next((r for r in self.residents if r.id == resident_id), None) if resident_id is not None else None

    def person(self, ref: PersonRef) -> Person | None:
        return self.staff_member(ref.id) if ref.kind == "staff" else self.resident(ref.id)

    def residents_of(self, room: str) -> tuple[Resident, ...]:
        return tuple(r for r in self.residents if r.active and room in r.rooms)


class DirectoryError(DomainError):
    """Every problem found in a directory file, each naming its entry and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _room_problem(estate: Estate, room: str) -> str | None:
    match = ROOM_PATTERN.match(room)
    if not match:
        return f'"{room}" is not building-unit-room, e.g. "1-1-1201"'
    building = estate.building(match["building"])
    if building is None:
        return f'building "{match["building"]}" is not in [[buildings]]'
    if match["unit"] not in building.units:
        return f'building {building.name} has no unit "{match["unit"]}"'
    floor = int(match["room"][:-2])
    if building.floors and not 1 <= floor <= building.floors:
        return f"building {building.name} has floors 1 to {building.floors}, not {floor}"
    return None


def parse_shift(text: str) -> Shift:
    """`mon-fri 08:00-18:00`, `sat,sun 09:00-12:00`, `daily 20:00-08:00`."""
    parts = text.strip().lower().split()
    if len(parts) != 2:
        raise ValueError(f'"{text}" is not "DAYS HH:MM-HH:MM", e.g. "mon-fri 08:00-18:00"')
    days_text, hours_text = parts
    days: set[int] = set()
    for piece in ("mon-sun" if days_text == "daily" else days_text).split(","):
        ends = piece.split("-")
        if len(ends) > 2 or any(day not in DAYS for day in ends):
            bad = next((day for day in ends if day not in DAYS), piece)
            raise ValueError(f'"{bad}" is not a day (mon, tue, wed, thu, fri, sat, sun){closest(bad, DAYS)}')
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", hours_text)
    if not match:
        raise ValueError(f'"{hours_text}" is not "HH:MM-HH:MM"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
        raise ValueError(f'"{hours_text}" is not a valid time range')
    start, end = time(h1, m1), time(0, 0) if h2 == 24 else time(h2, m2)
    if (h1, m1, h2) == (0, 0, 24):
        end = time.max  # round the clock
    if start == end:
        raise ValueError(f'"{hours_text}" starts and ends at the same time')
    return Shift(frozenset(days), start, end, text.strip())


class _Entry:
    """Reads one table of the file, collecting problems instead of stopping at the first."""

    def __init__(self, where: str, data: Any, known: tuple[str, ...], problems: list[str]) -> None:
        self.where, self.problems = where, problems
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            problems.append(f"{where}: must be a table")
        for key in self.data:
            if key not in known:
                problems.append(f'{where}: unknown field "{key}"{closest(key, known)}')

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where}.{key}: {message}")

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(key, "must be a non-empty string" if required else "must be a string")
            return default
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        return self.text(key) or None

    def integer(self, key: str, required: bool = False) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(key, "must be a whole number")
            return None
        return value

    def words(self, key: str, allowed: tuple[str, ...] | None = None, noun: str = "value") -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            self.problem(key, "must be a list of strings")
            return ()
        items = tuple(str(v).strip() for v in value)
        if allowed is not None:
            for item in items:
                if item not in allowed:
                    self.problem(key, f'unknown {noun} "{item}"{closest(item, allowed)}')
        return items

    def locale(self) -> str | None:
        value = self.optional_text("locale")
        if value is None:
            return None
        normalized = normalize_locale(value) if value.lower() in ("zh", "zh-cn", "zh_cn", "en") else None
        if normalized is None:
            self.problem("locale", f'unknown locale "{value}" (known: {", ".join(LOCALES)})')
        return normalized


def _unique(kind: str, names: list[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name and name in seen:
            problems.append(f'{kind}[{index}].name: "{name}" appears twice')
        seen.add(name)


def _list_of(data: dict[str, Any], key: str, problems: list[str]) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append(f"{key}: must be an array of tables ([[{key}]])")
        return []
    return value


TOP_LEVEL = (
    "estate", "buildings", "common_areas", "departments", "staff", "staff_groups", "residents", "resident_groups",
)  # fmt: skip


class _Addresses:
    """The address keys the channel adapters declared, read from one entry of the file."""

    def __init__(self, fields: Sequence[AddressField], of_groups: bool) -> None:
        self.fields = tuple(f for f in fields if f.of_groups == of_groups)
        self.keys = tuple(f.key for f in self.fields)

    def read(self, entry: _Entry) -> tuple[Address, ...]:
        found = []
        for field in self.fields:
            value = entry.integer(field.key) if field.integer else entry.optional_text(field.key)
            if value is not None:
                found.append(Address(field.channel, str(value)))
        return tuple(found)


def parse_directory(data: dict[str, Any], fields: Sequence[AddressField]) -> Estate:
    """Validate a whole directory file; raise DirectoryError listing every problem, or return it.

    `fields` are the address keys the channel adapters declare (bot.channels.ADDRESS_FIELDS)."""
    problems: list[str] = []
    for key in data:
        if key not in TOP_LEVEL:
            problems.append(f'unknown section "{key}"{closest(key, TOP_LEVEL)}')
    if "estate" not in data:
        problems.append("estate: the [estate] table is required")
    people_addresses, group_addresses = _Addresses(fields, of_groups=False), _Addresses(fields, of_groups=True)
    channels = tuple(dict.fromkeys(f.channel for f in people_addresses.fields))
    head = _Entry("estate", data.get("estate", {}), ("name", "code", "phone"), problems)
    name, code = head.text("name", required=True), head.text("code", required=True)
    phone = head.text("phone")
    if code and not re.fullmatch(r"[A-Za-z0-9]{1,10}", code):
        head.problem("code", f'"{code}" must be 1 to 10 letters or digits (it starts every ticket number)')

    buildings = []
    for i, raw in enumerate(_list_of(data, "buildings", problems)):
        e = _Entry(f"buildings[{i}]", raw, ("name", "units", "floors"), problems)
        floors = e.integer("floors", required=True)
        if floors is not None and not 1 <= floors <= 200:
            e.problem("floors", "must be between 1 and 200")
            floors = None
        units = e.words("units") or ("1",)
        if len(set(units)) != len(units):
            e.problem("units", "a unit is listed twice")
        # Without a valid floor count, rooms are not checked against it: one mistake, one message.
        buildings.append(Building(e.text("name", required=True), units, floors or 0))
    _unique("buildings", [b.name for b in buildings], problems)
    building_names = tuple(b.name for b in buildings)

    areas = []
    for i, raw in enumerate(_list_of(data, "common_areas", problems)):
        e = _Entry(f"common_areas[{i}]", raw, ("name", "aliases", "building"), problems)
        building = e.optional_text("building")
        if building is not None and building not in building_names:
            e.problem("building", f'unknown building "{building}"{closest(building, building_names)}')
        areas.append(CommonArea(e.text("name", required=True), e.words("aliases"), building))
    _unique("common_areas", [a.name for a in areas], problems)

    departments = []
    for i, raw in enumerate(_list_of(data, "departments", problems)):
        e = _Entry(f"departments[{i}]", raw, ("name", "handles"), problems)
        departments.append(
            Department(
                e.text("name", required=True),
                e.words("handles", (*FEEDBACK_CATEGORIES, LIVE_CHAT), "feedback category"),
            )
        )
    _unique("departments", [d.name for d in departments], problems)
    department_names = tuple(d.name for d in departments)
    trades = tuple(t.value for t in Trade)

    staff = []
    for i, raw in enumerate(_list_of(data, "staff", problems)):
        e = _Entry(
            f"staff[{i}]",
            raw,
            ("name", "roles", "trades", "departments", "shifts", "phone", "locale", "prefer", *people_addresses.keys),
            problems,
        )
        roles = e.words("roles", tuple(ROLES), "role")
        if not roles and e.data:
            e.problem("roles", f"at least one role is required ({', '.join(ROLES)})")
        shifts = []
        for text in e.words("shifts"):
            try:
                shifts.append(parse_shift(text))
            except ValueError as error:
                e.problem("shifts", str(error))
        addresses = people_addresses.read(e)
        prefer = e.optional_text("prefer")
        if prefer is not None and prefer not in channels:
            e.problem("prefer", f'unknown channel "{prefer}" (known: {", ".join(channels)}){closest(prefer, channels)}')
        elif prefer is not None and not any(a.channel == prefer for a in addresses):
            e.problem("prefer", f'"{prefer}" is preferred, but no {prefer} address is given')
        staff.append(
            Staff(
                name=e.text("name", required=True),
                roles=roles,
                trades=e.words("trades", trades, "trade"),
                departments=e.words("departments", department_names, "department"),
                shifts=tuple(shifts),
                addresses=addresses,
                phone=e.text("phone"),
                locale=e.locale(),
                prefer=prefer,
            )
        )
    _unique("staff", [s.name for s in staff], problems)

    groups = []
    for i, raw in enumerate(_list_of(data, "staff_groups", problems)):
        e = _Entry(f"staff_groups[{i}]", raw, ("name", "trades", *group_addresses.keys), problems)
        groups.append(
            StaffGroup(e.text("name", required=True), e.words("trades", trades, "trade"), group_addresses.read(e))
        )
    _unique("staff_groups", [g.name for g in groups], problems)

    partial = Estate(code=code, name=name, buildings=tuple(buildings))
    residents = []
    for i, raw in enumerate(_list_of(data, "residents", problems)):
        e = _Entry(f"residents[{i}]", raw, ("name", "rooms", "phone", "locale", *people_addresses.keys), problems)
        rooms = e.words("rooms")
        for room in rooms:
            problem = _room_problem(partial, room)
            if problem:
                e.problem("rooms", problem)
        residents.append(
            Resident(
                name=e.text("name", required=True),
                rooms=rooms,
                phone=e.text("phone"),
                locale=e.locale(),
                addresses=people_addresses.read(e),
            )
        )
    _unique("residents", [r.name for r in residents], problems)

    resident_groups = []
    for i, raw in enumerate(_list_of(data, "resident_groups", problems)):
        e = _Entry(f"resident_groups[{i}]", raw, ("name", "buildings", *group_addresses.keys), problems)
        resident_groups.append(
            ResidentGroup(
                e.text("name", required=True),
                e.words("buildings", building_names, "building"),
                group_addresses.read(e),
            )
        )
    _unique("resident_groups", [g.name for g in resident_groups], problems)

    _unique_addresses(staff, residents, people_addresses.fields, problems)
    if problems:
        raise DirectoryError(problems)
    return Estate(
        code=code,
        name=name,
        phone=phone,
        buildings=tuple(buildings),
        common_areas=tuple(areas),
        departments=tuple(departments),
        staff=tuple(staff),
        staff_groups=tuple(groups),
        residents=tuple(residents),
        resident_groups=tuple(resident_groups),
    )


def _unique_addresses(
    staff: list[Staff], residents: list[Resident], fields: Sequence[AddressField], problems: list[str]
) -> None:
    """One chat account must lead to one person, or messages would reach the wrong one."""
    key_of = {f.channel: f.key for f in fields}
    owners: dict[Address, str] = {}
    people: list[tuple[str, Staff | Resident]] = [(f"staff[{i}]", s) for i, s in enumerate(staff)]
    people += [(f"residents[{i}]", r) for i, r in enumerate(residents)]
    for where, person in people:
        for address in person.addresses:
            if address in owners:
                problems.append(f"{where}.{key_of[address.channel]}: {address.id} already belongs to {owners[address]}")
            else:
                owners[address] = f"{where} ({person.name})"
