"""Loading the estate directory: validation messages, idempotent sync, updates, retirement of people."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from bot.bootstrap import read_estate as parse_directory
from core.domain.directory import DirectoryError, Estate, Staff, parse_shift
from core.domain.model import Location, Source, TicketKind, Urgency
from core.domain.people import first_name, in_language
from core.domain.tickets import TicketDraft
from core.ports import SyncReport, UnitOfWork
from tests.conftest import DEMO_ESTATE, NOW, add_ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
Data = dict[str, Any]


def demo() -> Data:
    """A fresh copy of the demo directory's data, free to edit."""
    with DEMO_ESTATE.open("rb") as file:
        return tomllib.load(file)


def load(uow: UnitOfWork, data: Data) -> SyncReport:
    with uow:
        report = uow.directory.sync(parse_directory(data))
        uow.commit()
    return report


def stored(uow: UnitOfWork, code: str = "SG") -> Estate:
    with uow:
        estate = uow.directory.get(code)
    assert estate is not None
    return estate


def without_ids(estate: Estate) -> Estate:
    """The stored estate as the file describes it: database ids are not in the file."""
    return dataclasses.replace(
        estate,
        staff=tuple(dataclasses.replace(s, id=None) for s in estate.staff),
        residents=tuple(dataclasses.replace(r, id=None) for r in estate.residents),
    )


def problems_of(data: Data) -> list[str]:
    with pytest.raises(DirectoryError) as caught:
        parse_directory(data)
    return caught.value.problems


def edited(edit: Callable[[Data], object]) -> Data:
    data = demo()
    edit(data)
    return data


def staff_named(estate: Estate, name: str) -> Staff:
    return next(s for s in estate.staff if s.name == name)


# --- loading twice, editing -------------------------------------------------------------------


def test_first_load_adds_every_entry_and_get_returns_what_the_file_says(uow: UnitOfWork) -> None:
    report = load(uow, demo())

    assert report.added == {
        "estate": 1,
        "building": 2,
        "common_area": 2,
        "department": 4,
        "staff": 4,
        "staff_group": 1,
        "resident": 2,
        "resident_group": 1,
    }
    assert report.updated == {} and report.deactivated == {}
    assert without_ids(stored(uow)) == parse_directory(demo())


def test_loading_the_same_file_twice_changes_nothing_the_second_time(uow: UnitOfWork) -> None:
    load(uow, demo())
    before = stored(uow)

    report = load(uow, demo())

    assert not report.changed
    assert report == SyncReport()
    assert stored(uow) == before  # same rows, same ids


EDITS = [
    pytest.param(lambda d: d["staff"][0].__setitem__("trades", ["plumbing", "civil", "hvac"]), "staff", id="trades"),
    pytest.param(lambda d: d["staff"][2].__setitem__("shifts", ["mon-fri 20:00-08:00"]), "staff", id="shifts"),
    pytest.param(lambda d: d["residents"][0].__setitem__("phone", "13900000009"), "resident", id="phone"),
    pytest.param(lambda d: d["buildings"][1].__setitem__("floors", 30), "building", id="floors"),
    pytest.param(lambda d: d["common_areas"][0]["aliases"].append("停车场"), "common_area", id="alias"),
    pytest.param(lambda d: d["estate"].__setitem__("name", "阳光花园二期"), "estate", id="estate-name"),
]


@pytest.mark.parametrize(("edit", "kind"), EDITS)
def test_an_edited_file_updates_only_the_entry_that_changed(
    uow: UnitOfWork, edit: Callable[[Data], object], kind: str
) -> None:
    load(uow, demo())

    report = load(uow, edited(edit))

    assert report.added == {} and report.deactivated == {}
    assert report.updated == {kind: 1}
    assert without_ids(stored(uow)) == parse_directory(edited(edit))


def test_changed_trades_are_what_get_returns_afterwards(uow: UnitOfWork) -> None:
    load(uow, demo())
    li_wei_before = staff_named(stored(uow), "李伟 Li Wei")

    load(uow, edited(lambda d: d["staff"][0].__setitem__("trades", ["electrical"])))

    li_wei = staff_named(stored(uow), "李伟 Li Wei")
    assert li_wei.trades == ("electrical",)
    assert li_wei.id == li_wei_before.id  # updated in place, not replaced
    assert staff_named(stored(uow), "赵强 Zhao Qiang").trades == ("plumbing", "electrical", "hvac")


# --- people removed from the file -------------------------------------------------------------


def without_emily(data: Data) -> None:
    data["residents"] = [r for r in data["residents"] if r["name"] != "Emily Brown"]


def resident_rows(engine: Engine) -> list[tuple[str, bool]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, active FROM residents ORDER BY id"))
        return [(name, bool(active)) for name, active in rows]


def test_a_resident_removed_from_the_file_is_deactivated_not_deleted(uow: UnitOfWork, engine: Engine) -> None:
    load(uow, demo())

    report = load(uow, edited(without_emily))

    assert report.deactivated == {"resident": 1}
    assert report.added == {} and report.updated == {}
    assert [r.name for r in stored(uow).residents] == ["张三 Zhang San"]
    assert resident_rows(engine) == [("张三 Zhang San", True), ("Emily Brown", False)]


def test_tickets_of_a_deactivated_resident_still_load(uow: UnitOfWork) -> None:
    load(uow, demo())
    emily = next(r for r in stored(uow).residents if r.name == "Emily Brown")
    draft = TicketDraft(
        kind=TicketKind.REPAIR,
        source=Source.FRONT_DESK,
        location=Location(room="3-1-2302"),
        category="plumbing",
        description="The kitchen tap drips",
        urgency=Urgency.NORMAL,
        reporter=emily.name,
        reporter_resident_id=emily.id,
    )
    with uow:
        ticket = add_ticket(uow, draft, NOW)
        uow.commit()

    load(uow, edited(without_emily))

    with uow:
        kept = uow.tickets.get_by_number(ticket.number)
    assert kept is not None
    assert kept.reporter == "Emily Brown"
    assert kept.reporter_resident_id == emily.id


def test_a_staff_member_removed_from_the_file_is_deactivated(uow: UnitOfWork, engine: Engine) -> None:
    load(uow, demo())

    report = load(uow, edited(lambda d: d["staff"].pop(2)))

    assert report.deactivated == {"staff": 1}
    assert "赵强 Zhao Qiang" not in [s.name for s in stored(uow).staff]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staff")).scalar_one() == 4


def test_re_adding_a_removed_resident_reactivates_the_same_row(uow: UnitOfWork, engine: Engine) -> None:
    load(uow, demo())
    emily_id = next(r.id for r in stored(uow).residents if r.name == "Emily Brown")
    load(uow, edited(without_emily))

    report = load(uow, demo())

    assert report.added == {} and report.deactivated == {}
    assert report.updated == {"resident": 1}
    assert [(r.name, r.id) for r in stored(uow).residents][-1] == ("Emily Brown", emily_id)
    assert resident_rows(engine) == [("张三 Zhang San", True), ("Emily Brown", True)]


def test_an_invalid_file_changes_nothing_in_the_database(uow: UnitOfWork) -> None:
    load(uow, demo())
    before = stored(uow)

    def valid_edit_and_a_typo(d: Data) -> None:
        d["staff"][0]["trades"] = ["electrical"]  # fine on its own
        d["staff"][2]["trades"] = ["plumbin"]

    with pytest.raises(DirectoryError):
        load(uow, edited(valid_edit_and_a_typo))

    assert stored(uow) == before


# --- validation: every problem names its entry and field --------------------------------------


def set_in(section: str, index: int, key: str, value: object) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        data[section][index][key] = value

    return edit


ERRORS = [
    pytest.param(
        set_in("staff", 2, "trades", ["plumbin", "hvac"]),
        'staff[2].trades: unknown trade "plumbin" (did you mean "plumbing"?)',
        id="unknown-trade",
    ),
    pytest.param(
        set_in("staff", 0, "roles", ["technican"]),
        'staff[0].roles: unknown role "technican" (did you mean "technician"?)',
        id="unknown-role",
    ),
    pytest.param(
        set_in("staff", 1, "shifts", ["mon-fri 8am-6pm"]),
        'staff[1].shifts: "8am-6pm" is not "HH:MM-HH:MM"',
        id="bad-shift-hours",
    ),
    pytest.param(
        set_in("staff", 1, "shifts", ["mon-thurs 08:00-18:00"]),
        'staff[1].shifts: "thurs" is not a day (mon, tue, wed, thu, fri, sat, sun) (did you mean "thu"?)',
        id="bad-shift-day",
    ),
    pytest.param(
        set_in("staff", 0, "trade", ["plumbing"]),
        'staff[0]: unknown field "trade" (did you mean "trades"?)',
        id="unknown-field",
    ),
    pytest.param(
        lambda d: d.__setitem__("resident", []),
        'unknown section "resident" (did you mean "residents"?)',
        id="unknown-section",
    ),
    pytest.param(lambda d: d["estate"].pop("code"), "estate.code: is required", id="missing-estate-code"),
    pytest.param(
        set_in("residents", 0, "rooms", ["9-1-1201"]),
        'residents[0].rooms: building "9" is not in [[buildings]]',
        id="room-unknown-building",
    ),
    pytest.param(
        set_in("residents", 0, "rooms", ["1-3-1201"]),
        'residents[0].rooms: building 1 has no unit "3"',
        id="room-unknown-unit",
    ),
    pytest.param(
        set_in("residents", 0, "rooms", ["1-1-1901"]),
        "residents[0].rooms: building 1 has floors 1 to 18, not 19",
        id="room-floor-out-of-range",
    ),
    pytest.param(
        set_in("residents", 1, "rooms", ["2302"]),
        'residents[1].rooms: "2302" is not building-unit-room, e.g. "1-1-1201"',
        id="room-not-building-unit-room",
    ),
    pytest.param(
        set_in("staff", 1, "name", "李伟 Li Wei"),
        'staff[1].name: "李伟 Li Wei" appears twice',
        id="duplicate-name",
    ),
    pytest.param(
        set_in("staff", 3, "departments", ["工程部 Enginering"]),
        'staff[3].departments: unknown department "工程部 Enginering" (did you mean "工程部 Engineering"?)',
        id="unknown-department",
    ),
    pytest.param(
        set_in("residents", 1, "telegram_id", 5001),
        "residents[1].telegram_id: 5001 already belongs to staff[0] (李伟 Li Wei)",
        id="duplicate-telegram-id",
    ),
    pytest.param(
        set_in("staff", 1, "wecom_userid", "liwei"),
        "staff[1].wecom_userid: liwei already belongs to staff[0] (李伟 Li Wei)",
        id="duplicate-wecom-userid",
    ),
    pytest.param(
        set_in("staff", 0, "telegram_id", "5001"),
        "staff[0].telegram_id: must be a whole number",
        id="wrong-type-telegram-id",
    ),
    pytest.param(
        set_in("common_areas", 1, "building", "33"),
        'common_areas[1].building: unknown building "33" (did you mean "3"?)',
        id="common-area-unknown-building",
    ),
    pytest.param(
        set_in("residents", 1, "locale", "fr"),
        'residents[1].locale: unknown locale "fr" (known: zh_CN, en)',
        id="unknown-locale",
    ),
    pytest.param(
        lambda d: d["estate"].__setitem__("code", "S-G"),
        'estate.code: "S-G" must be 1 to 10 letters or digits (it starts every ticket number)',
        id="bad-estate-code",
    ),
]


@pytest.mark.parametrize(("edit", "message"), ERRORS)
def test_each_problem_is_one_message_naming_entry_and_field(edit: Callable[[Data], object], message: str) -> None:
    assert problems_of(edited(edit)) == [message]


def test_a_floor_count_that_is_not_a_number_is_named() -> None:
    problems = problems_of(edited(set_in("buildings", 0, "floors", "18")))

    assert problems[0] == "buildings[0].floors: must be a whole number"


def test_a_floor_count_that_is_not_a_number_does_not_also_blame_the_rooms() -> None:
    assert problems_of(edited(set_in("buildings", 0, "floors", "18"))) == [
        "buildings[0].floors: must be a whole number"
    ]


def test_zero_floors_is_out_of_range() -> None:
    problems = problems_of(edited(set_in("buildings", 0, "floors", 0)))

    assert "buildings[0].floors: must be between 1 and 200" in problems


def test_every_problem_in_the_file_is_reported_at_once() -> None:
    def two_typos(data: Data) -> None:
        data["staff"][2]["trades"] = ["plumbin"]
        data["residents"][0]["rooms"] = ["1-3-1201"]

    assert problems_of(edited(two_typos)) == [
        'staff[2].trades: unknown trade "plumbin" (did you mean "plumbing"?)',
        'residents[0].rooms: building 1 has no unit "3"',
    ]


def test_the_error_message_lists_the_problems_one_a_line() -> None:
    data = edited(set_in("staff", 2, "trades", ["plumbin"]))
    data["estate"].pop("code")

    with pytest.raises(DirectoryError) as caught:
        parse_directory(data)

    assert str(caught.value).splitlines() == caught.value.problems
    assert len(caught.value.problems) == 2


def test_a_file_without_estate_table_says_it_is_required() -> None:
    data = demo()
    del data["estate"]

    assert "estate: the [estate] table is required" in problems_of(data)


def test_the_demo_estate_is_valid() -> None:
    estate = parse_directory(demo())

    assert estate.code == "SG"
    assert [b.name for b in estate.buildings] == ["1", "3"]
    assert estate.room_exists("1-1-1201") and not estate.room_exists("1-1-1901")


def test_the_front_desk_phone_is_optional_and_must_be_text() -> None:
    data = demo()
    assert parse_directory(data).phone == "0755-8600 1234"
    del data["estate"]["phone"]
    assert parse_directory(data).phone == ""
    data["estate"]["phone"] = 75586001234
    with pytest.raises(DirectoryError) as raised:
        parse_directory(data)
    assert raised.value.problems == ["estate.phone: must be a string"]


# --- shifts -----------------------------------------------------------------------------------

MONDAY = datetime(2026, 11, 23, tzinfo=SHANGHAI)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local moment in the week of Monday 2026-11-23: day 0 is Monday, 6 is Sunday."""
    return MONDAY.replace(day=MONDAY.day + day, hour=hour, minute=minute)


MON, TUE, WED, THU, FRI, SAT, SUN = range(7)

COVERS = [
    ("mon-fri 08:00-18:00", at(MON, 8), True),
    ("mon-fri 08:00-18:00", at(FRI, 17, 59), True),
    ("mon-fri 08:00-18:00", at(FRI, 18), False),  # the end is not part of the shift
    ("mon-fri 08:00-18:00", at(WED, 7, 59), False),
    ("mon-fri 08:00-18:00", at(SAT, 10), False),
    ("sat,sun 09:00-12:00", at(SUN, 11), True),
    ("sat,sun 09:00-12:00", at(MON, 11), False),
    ("fri-mon 09:00-12:00", at(SUN, 10), True),  # a range may wrap past Sunday
    ("fri-mon 09:00-12:00", at(TUE, 10), False),
    ("daily 09:00-17:00", at(WED, 9), True),
    ("daily 09:00-17:00", at(SUN, 16), True),
    ("mon-sun 20:00-08:00", at(TUE, 2), True),
    ("mon-sun 20:00-08:00", at(MON, 21), True),
    ("mon-sun 20:00-08:00", at(MON, 12), False),
    ("mon-sun 20:00-08:00", at(MON, 8), False),
    ("fri 22:00-06:00", at(SAT, 3), True),  # Friday night's shift, early Saturday
    ("fri 22:00-06:00", at(FRI, 23), True),
    ("fri 22:00-06:00", at(FRI, 3), False),  # that would be Thursday night's shift
    ("fri 22:00-06:00", at(SAT, 23), False),
    ("mon 20:00-24:00", at(MON, 23, 59), True),
    ("mon 20:00-24:00", at(TUE, 0), False),
]


@pytest.mark.parametrize(("shift", "moment", "on_duty"), COVERS)
def test_shift_covers(shift: str, moment: datetime, on_duty: bool) -> None:
    assert parse_shift(shift).covers(moment) is on_duty


def test_daily_means_every_day_of_the_week() -> None:
    assert parse_shift("daily 20:00-08:00").days == frozenset(range(7))
    assert parse_shift("Mon-Fri 08:00-18:00").days == frozenset({MON, TUE, WED, THU, FRI})


BAD_SHIFTS = [
    ("mnday 08:00-18:00", '"mnday" is not a day (mon, tue, wed, thu, fri, sat, sun)'),
    ("thurs 08:00-18:00", '"thurs" is not a day (mon, tue, wed, thu, fri, sat, sun) (did you mean "thu"?)'),
    ("mon-fri", '"mon-fri" is not "DAYS HH:MM-HH:MM", e.g. "mon-fri 08:00-18:00"'),
    ("mon-fri 8-18", '"8-18" is not "HH:MM-HH:MM"'),
    ("daily 25:00-08:00", '"25:00-08:00" is not a valid time range'),
    ("mon 08:00-08:00", '"08:00-08:00" starts and ends at the same time'),
]


@pytest.mark.parametrize(("shift", "message"), BAD_SHIFTS)
def test_a_bad_shift_says_what_is_wrong(shift: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_shift(shift)

    assert str(caught.value) == message


def test_the_stored_shift_is_the_one_read_from_the_file(uow: UnitOfWork) -> None:
    load(uow, demo())

    zhao = staff_named(stored(uow), "赵强 Zhao Qiang")

    assert zhao.on_shift(at(TUE, 2)) and not zhao.on_shift(at(TUE, 12))


class TestNamesInTheReadersLanguage:
    @pytest.mark.parametrize(
        ("name", "zh", "en"),
        [
            ("李伟 Li Wei", "李伟", "Li Wei"),
            ("地下车库 Underground garage", "地下车库", "Underground garage"),
            ("3号楼电梯 Building 3 lifts", "3号楼电梯", "Building 3 lifts"),
            ("Emily Brown", "Emily Brown", "Emily Brown"),
            ("张三", "张三", "张三"),
            ("1号楼 1", "1号楼 1", "1号楼 1"),  # no other language to show
        ],
    )
    def test_a_bilingual_name_is_shown_in_the_readers_language(self, name: str, zh: str, en: str) -> None:
        assert (in_language(name, "zh_CN"), in_language(name, "en")) == (zh, en)

    def test_a_message_calls_a_chinese_name_by_all_of_it_and_an_english_one_by_the_first(self) -> None:
        assert first_name("李伟 Li Wei", "zh_CN") == "李伟"
        assert first_name("李伟 Li Wei", "en") == "Li Wei"
        assert first_name("Emily Brown", "zh_CN") == "Emily"


def test_a_place_typed_as_written_is_never_cut_in_half() -> None:
    from bot.i18n import translator
    from core.conversation.views import place_label
    from core.domain.model import Location
    from tests.test_lifecycle import make_ticket

    typed, shared = make_ticket(), make_ticket()
    typed.location, shared.location = (
        Location(text="Building 5 门口"),
        Location(common_area="地下车库 Underground garage"),
    )
    zh, en = translator("zh_CN"), translator("en")
    assert (place_label(typed, zh), place_label(typed, en)) == ("Building 5 门口", "Building 5 门口")
    assert (place_label(shared, zh), place_label(shared, en)) == ("地下车库", "Underground garage")
