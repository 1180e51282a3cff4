"""`baoxiu` as a user runs it: a real database, one clear line when set-up is wrong; in this process, and as a
real process where only that shows the difference (the entry point, the default database in the working folder)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, inspect, text

from storage.db import make_engine, schema_state
from storage.uow import SqlAlchemyUnitOfWork
from tests.command_line import Result, baoxiu, baoxiu_process
from tests.conftest import DEMO_ESTATE, PG_URL, reset_postgres, round_the_clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONTRACT_FIELDS = {
    "id", "number", "kind", "status", "category", "urgency", "location", "description", "source", "reporter",
    "assignee", "created_at", "rating", "rework_count",
}  # fmt: skip


def write_config(folder: Path, body: str, name: str = "baoxiu.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def database_config(url: str) -> str:
    return f"[database]\nurl = {json.dumps(url)}\n"


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.out + result.err, result.err


def assert_setup_error(result: Result, *fragments: str) -> str:
    """Exit status 2, nothing on stdout, and exactly one line on stderr that says what is wrong."""
    assert_no_traceback(result)
    assert result.code == 2, (result.out, result.err)
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    line = lines[0]
    assert line.startswith("baoxiu: ")
    for fragment in fragments:
        assert fragment in line
    return line


def demo_with_typo(folder: Path) -> Path:
    """The demo estate with one unknown trade, written to folder."""
    source = DEMO_ESTATE.read_text(encoding="utf-8")
    broken = source.replace('trades = ["plumbing", "civil"]', 'trades = ["plumbin", "civil"]', 1)
    assert broken != source
    path = folder / "estate.toml"
    path.write_text(broken, encoding="utf-8")
    return path


def shanghai_today() -> date:
    return datetime.now(SHANGHAI).date()


# --- a front desk on each database: set up once, then looked at from every side ----------------


@dataclass
class Desk:
    """The demo estate loaded twice and three tickets opened, through the command line."""

    folder: Path
    url: str
    loads: list[Result] = field(default_factory=list)
    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    days: set[str] = field(default_factory=set)  # the Shanghai days the tickets may have been opened on

    def run(self, *args: str) -> Result:
        result = baoxiu(self.folder, "--config", "baoxiu.toml", *args)
        assert_no_traceback(result)
        return result


@pytest.fixture(scope="class", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    folder = tmp_path_factory.mktemp(f"desk-{request.param}")
    if request.param == "postgresql":
        assert PG_URL
        reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{folder / 'desk.db'}"
    # With Telegram configured, pushes to staff are queued for it: the tickets created here are dispatched.
    write_config(folder, database_config(url) + '[telegram]\ntoken = "123:test"\n')
    desk = Desk(folder, url)
    # The plumber works round the clock here, so who gets a job does not depend on when the test runs.
    estate = round_the_clock(folder)
    desk.loads = [desk.run("directory", "load", str(estate)) for _ in range(2)]
    desk.days.add(f"{shanghai_today():%Y%m%d}")
    common = ("tickets", "create", "--json")
    for name, args in {
        "front_desk": ("--location", "1-1-1201", "--description", "厨房水管漏水", "--category", "plumbing",
                       "--reporter", "张三"),
        "patrol": ("--source", "patrol", "--location", "车库", "--description", "B1 区两盏灯不亮",
                   "--category", "electrical", "--urgency", "urgent"),
        "unknown_place": ("--location", "西门花坛旁的路灯", "--description", "灯杆倾斜", "--category", "civil"),
        "emergency": ("--location", "3号楼电梯", "--description", "电梯困人", "--category", "lift",
                      "--urgency", "emergency"),
    }.items():  # fmt: skip
        desk.created[name] = desk.run(*common, *args).json()
    desk.days.add(f"{shanghai_today():%Y%m%d}")
    return desk


class TestFrontDesk:
    def test_loading_the_demo_estate_says_what_was_added(self, desk: Desk) -> None:
        first = desk.loads[0]

        assert first.code == 0, first.err
        assert first.out.splitlines()[0] == "SG 阳光花园 Sunrise Garden: loaded"
        assert "4 staff" in first.out and "2 resident" in first.out

    def test_loading_the_same_file_again_changes_nothing(self, desk: Desk) -> None:
        second = desk.loads[1]

        assert second.code == 0, second.err
        assert second.out == "SG 阳光花园 Sunrise Garden: no changes\n"

    def test_a_front_desk_ticket_finds_the_room_and_the_resident(self, desk: Desk) -> None:
        ticket = desk.created["front_desk"]

        assert ticket["source"] == "front_desk"
        assert ticket["location"] == "1-1-1201"
        assert ticket["location_detail"]["needs_review"] is False
        assert ticket["reporter"] == "张三 Zhang San"
        assert ticket["reporter_contact"] == "13800000001"
        assert (ticket["kind"], ticket["status"], ticket["category"], ticket["urgency"]) == (
            "repair", "assigned", "plumbing", "normal",
        )  # fmt: skip
        assert ticket["assignee"] == "李伟 Li Wei"  # dispatched as a report in chat is

    def test_an_emergency_created_here_is_offered_to_everyone_on_duty_as_in_chat(self, desk: Desk) -> None:
        ticket = desk.created["emergency"]
        shown = desk.run("tickets", "show", ticket["number"], "--json").json()
        offer = shown["history"][1]

        assert [e["action"] for e in shown["history"]] == ["create", "offer"]
        assert offer["details"]["to"][-1] == "陈静 Chen Jing"  # the supervisor hears of every emergency
        with SqlAlchemyUnitOfWork(make_engine(desk.url)) as uow:
            queued = uow.outbox.due(datetime.now(SHANGHAI) + timedelta(days=1), channels=("telegram",))
        to_supervisor = [m for m in queued if m.recipient == "5100" and ticket["number"] in m.payload["text"]]
        assert to_supervisor and to_supervisor[0].payload["text"].startswith("🚨 紧急工单：谁先接单谁去")

    def test_a_patrol_ticket_finds_a_common_area_by_its_alias(self, desk: Desk) -> None:
        ticket = desk.created["patrol"]

        assert ticket["source"] == "patrol"
        assert ticket["location"] == "地下车库 Underground garage"
        assert ticket["location_detail"]["common_area"] == "地下车库 Underground garage"
        assert ticket["urgency"] == "urgent"

    def test_an_unknown_place_is_kept_as_typed_and_flagged_for_review(self, desk: Desk) -> None:
        ticket = desk.created["unknown_place"]

        assert ticket["location"] == "西门花坛旁的路灯"
        assert ticket["location_detail"] == {
            "room": None, "common_area": None, "text": "西门花坛旁的路灯", "needs_review": True,
        }  # fmt: skip

    def test_numbers_count_up_within_the_shanghai_day(self, desk: Desk) -> None:
        numbers = [t["number"] for t in desk.created.values()]
        day = numbers[0].split("-")[1]

        assert numbers == [f"SG-{day}-0001", f"SG-{day}-0002", f"SG-{day}-0003", f"SG-{day}-0004"]
        assert day in desk.days
        for ticket in desk.created.values():
            assert ticket["created_at"].endswith("+08:00")
            assert ticket["created_at"][:10].replace("-", "") == day

    def test_list_json_is_an_array_with_the_contract_fields(self, desk: Desk) -> None:
        listed = desk.run("tickets", "list", "--json").json()

        assert isinstance(listed, list)
        assert [t["number"] for t in listed] == [t["number"] for t in desk.created.values()]
        for ticket in listed:
            assert ticket.keys() >= CONTRACT_FIELDS
        first = listed[0]
        assert first["id"] == desk.created["front_desk"]["id"]
        assert (first["kind"], first["status"], first["source"]) == ("repair", "assigned", "front_desk")
        assert (first["assignee"], first["rating"], first["rework_count"]) == ("李伟 Li Wei", None, 0)
        assert first["description"] == "厨房水管漏水"

    def test_list_filters_by_status(self, desk: Desk) -> None:
        new = desk.run("tickets", "list", "--json", "--status", "new").json()
        closed = desk.run("tickets", "list", "--json", "--status", "closed").json()

        assert [t["number"] for t in new] == [desk.created["emergency"]["number"]]  # offered, not yet taken
        assert closed == []

    def test_list_since_a_future_date_is_empty_and_since_a_past_date_is_everything(self, desk: Desk) -> None:
        future = f"{shanghai_today() + timedelta(days=2):%Y-%m-%d}"

        assert desk.run("tickets", "list", "--json", "--since", future).json() == []
        assert len(desk.run("tickets", "list", "--json", "--since", "2020-01-01").json()) == 4

    def test_list_as_text_has_one_line_a_ticket(self, desk: Desk) -> None:
        result = desk.run("tickets", "list")

        assert result.code == 0, result.err
        lines = result.out.splitlines()
        assert [line.split()[0] for line in lines] == [t["number"] for t in desk.created.values()]

    def test_show_by_number_prints_the_ticket_and_its_history(self, desk: Desk) -> None:
        number = desk.created["front_desk"]["number"]

        result = desk.run("tickets", "show", number)

        assert result.code == 0, result.err
        assert result.out.startswith(f"{number}  repair · plumbing · normal\n")
        assert "location:    1-1-1201\n" in result.out
        assert "reporter:    张三 Zhang San, 13800000001\n" in result.out
        history = result.out.split("history:\n")[1].splitlines()
        assert len(history) == 2 and " create " in history[0] and " assign " in history[1]

    def test_show_by_id_as_json_has_the_create_event(self, desk: Desk) -> None:
        ticket = desk.created["patrol"]

        shown = desk.run("tickets", "show", str(ticket["id"]), "--json").json()

        assert shown["number"] == ticket["number"]
        assert shown.keys() >= CONTRACT_FIELDS
        event, dispatched = shown["history"]
        assert (event["action"], dispatched["action"]) == ("create", "assign")
        assert (event["from_status"], event["to_status"]) == (None, "new")
        assert event["details"]["source"] == "patrol"

    def test_show_of_an_unknown_ticket_exits_1_with_a_clear_message(self, desk: Desk) -> None:
        result = desk.run("tickets", "show", "SG-20200101-0042")

        assert result.code == 1
        assert result.out == ""
        assert result.err == 'baoxiu: no ticket "SG-20200101-0042"\n'


# --- the default set-up, and where the config comes from ---------------------------------------


def test_without_any_config_it_uses_baoxiu_db_in_the_working_folder(tmp_path: Path) -> None:
    assert not (tmp_path / "baoxiu.db").exists()

    result = baoxiu_process(tmp_path, "directory", "load", str(DEMO_ESTATE))

    assert result.code == 0, result.err
    assert (tmp_path / "baoxiu.db").is_file()
    with SqlAlchemyUnitOfWork(make_engine(f"sqlite:///{tmp_path / 'baoxiu.db'}")) as uow:
        assert uow.directory.codes() == ["SG"]


def test_baoxiu_config_names_the_file_like_the_option(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "etc", database_config(database_url), "settings.toml")
    work = tmp_path / "work"
    work.mkdir()

    result = baoxiu(work, "db", "upgrade", env={"BAOXIU_CONFIG": str(config)})

    assert result.code == 0, result.err
    assert result.out.startswith("database upgraded from empty to revision ")
    current, head = schema_state(make_engine(database_url))
    assert current == head
    assert not (work / "baoxiu.db").exists()


def test_baoxiu_database_url_overrides_the_file(tmp_path: Path, database_url: str) -> None:
    write_config(tmp_path, database_config(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}"))

    result = baoxiu(tmp_path, "--config", "baoxiu.toml", "db", "upgrade", env={"BAOXIU_DATABASE_URL": database_url})

    assert result.code == 0, result.err
    current, head = schema_state(make_engine(database_url))
    assert current == head


# --- the schema -------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_then_says_it_is_up_to_date(tmp_path: Path, database_url: str) -> None:
    write_config(tmp_path, database_config(database_url))

    first = baoxiu(tmp_path, "--config", "baoxiu.toml", "db", "upgrade")
    second = baoxiu(tmp_path, "--config", "baoxiu.toml", "db", "upgrade")

    _, head = schema_state(make_engine(database_url))
    assert first.code == 0, first.err
    assert first.out == f"database upgraded from empty to revision {head}\n"
    assert second.code == 0, second.err
    assert second.out == f"database is up to date (revision {head})\n"


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path, database_url: str) -> None:
    write_config(tmp_path, database_config(database_url))
    assert baoxiu(tmp_path, "--config", "baoxiu.toml", "db", "upgrade").code == 0
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()

    result = baoxiu(tmp_path, "--config", "baoxiu.toml", "tickets", "list")

    assert_setup_error(result, "revision ffff", "newer than this baoxiu")


# --- directory and tickets before the desk is ready --------------------------------------------


def test_an_invalid_directory_file_loads_nothing(tmp_path: Path, database_url: str) -> None:
    write_config(tmp_path, database_config(database_url))

    result = baoxiu(tmp_path, "--config", "baoxiu.toml", "directory", "load", str(demo_with_typo(tmp_path)))

    assert_no_traceback(result)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        "baoxiu: the directory was not loaded; 1 problem(s):",
        '  staff[0].trades: unknown trade "plumbin" (did you mean "plumbing"?)',
    ]
    engine = create_engine(database_url)
    if inspect(engine).has_table("estates"):
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM estates")).scalar_one() == 0
    engine.dispose()


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        pytest.param(None, ("directory file", "estate.toml does not exist"), id="missing"),
        pytest.param('[estate\nname = "x"\n', ("TOML syntax error", "line 1"), id="not-toml"),
    ],
)
def test_a_directory_file_that_cannot_be_read_is_one_line(
    tmp_path: Path, content: str | None, fragments: tuple[str, ...]
) -> None:
    if content is not None:
        (tmp_path / "estate.toml").write_text(content, encoding="utf-8")

    assert_setup_error(baoxiu(tmp_path, "directory", "load", "estate.toml"), *fragments)


def test_creating_a_ticket_before_any_directory_is_loaded_says_to_load_one(tmp_path: Path, database_url: str) -> None:
    write_config(tmp_path, database_config(database_url))

    result = baoxiu(
        tmp_path, "--config", "baoxiu.toml", "tickets", "create",
        "--location", "1-1-1201", "--description", "漏水", "--category", "plumbing",
    )  # fmt: skip

    assert_no_traceback(result)
    assert result.code == 1
    assert result.err == "baoxiu: no estate is loaded yet; run `baoxiu directory load FILE.toml` first\n"


# --- a wrong set-up: exit status 2 and one line, never a traceback -----------------------------

BAD_SETUPS = [
    pytest.param('[database]\nulr = "sqlite:///x.db"\n', ("database.ulr", '(did you mean "url"?)'), id="unknown-key"),
    pytest.param(
        '[datbase]\nurl = "sqlite:///x.db"\n',
        ("unknown section [datbase]", '(did you mean "database"?)'),
        id="unknown-section",
    ),
    pytest.param('[server]\nport = "80"\n', ("server.port: must be a whole number",), id="wrong-type"),
    pytest.param("[server]\nworkers = -2\n", ("server.workers: must be 0",), id="negative-workers"),
    pytest.param(
        '[app]\nlocale = "zh_CN"\n\n[database\nurl = "sqlite:///x.db"\n',
        ("TOML syntax error", "line 4"),
        id="toml-syntax-error",
    ),
    pytest.param(
        database_config("postgresql+psycopg://postgres@127.0.0.1:1/nope"),
        ("cannot reach database", "127.0.0.1:1/nope"),
        id="unreachable-database",
    ),
    pytest.param(
        database_config("sqlite:///no/such/folder/baoxiu.db"), ("folder", "does not exist"), id="sqlite-folder-missing"
    ),
    pytest.param(
        database_config("postgresql+psycopg2://postgres@127.0.0.1:1/nope"),
        ("postgresql+psycopg2",),
        id="driver-not-installed",
    ),
]


@pytest.mark.parametrize(("config", "fragments"), BAD_SETUPS)
def test_a_bad_config_is_one_line_and_exit_status_2(tmp_path: Path, config: str, fragments: tuple[str, ...]) -> None:
    write_config(tmp_path, config)

    assert_setup_error(baoxiu(tmp_path, "--config", "baoxiu.toml", "tickets", "list"), *fragments)

    assert not (tmp_path / "baoxiu.db").exists()  # a broken config never falls back to the default


BAD_ENVIRONMENTS = [
    pytest.param({"BAOXIU_TELEGRAM_TOKNE": "123:abc"},
                 ("unknown setting BAOXIU_TELEGRAM_TOKNE in the environment", '(did you mean "BAOXIU_TELEGRAM_TOKEN"?)'),
                 id="misspelt-variable"),
    pytest.param({"BAOXIU_TELEGRAM_MODE": "pol"},
                 ('BAOXIU_TELEGRAM_MODE (from the environment): "pol" is not "polling" or "webhook"',),
                 id="wrong-value"),
    pytest.param({"BAOXIU_SERVER_PORT": "80a"},
                 ("BAOXIU_SERVER_PORT (from the environment): must be a whole number, not '80a'",), id="not-a-number"),
    pytest.param({"BAOXIU_DISPATCH_COST_APPROVAL_THRESHOLD": "lots"},
                 ("BAOXIU_DISPATCH_COST_APPROVAL_THRESHOLD (from the environment): must be a number",),
                 id="not-a-decimal"),
    pytest.param({"BAOXIU_DISPATCH_TOOLS": "wrench"},
                 ("BAOXIU_DISPATCH_TOOLS (from the environment): dispatch.tools can only be set in the config file",),
                 id="a-table"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "fragments"), BAD_ENVIRONMENTS)
def test_a_bad_setting_in_the_environment_is_one_line_that_names_the_variable(
    tmp_path: Path, env: dict[str, str], fragments: tuple[str, ...]
) -> None:
    assert_setup_error(baoxiu(tmp_path, "tickets", "list", env=env), *fragments)
    assert not (tmp_path / "baoxiu.db").exists()


def test_variables_that_are_not_settings_are_left_alone_and_settings_are_read(tmp_path: Path) -> None:
    env = {"BAOXIU_TEST_PG_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
           "BAOXIU_DISPATCH_COST_APPROVAL_THRESHOLD": "800.5", "BAOXIU_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}  # fmt: skip

    result = baoxiu(tmp_path, "tickets", "list", env=env)

    assert (result.code, result.out, result.err) == (0, "no tickets\n", "")
    assert (tmp_path / "e.db").is_file() and not (tmp_path / "baoxiu.db").exists()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_config_file_that_does_not_exist_is_one_line(tmp_path: Path, how: str) -> None:
    if how == "option":
        result = baoxiu(tmp_path, "--config", "nowhere.toml", "tickets", "list")
    else:
        result = baoxiu(tmp_path, "tickets", "list", env={"BAOXIU_CONFIG": "nowhere.toml"})

    assert_setup_error(result, "config file nowhere.toml does not exist")
    assert not (tmp_path / "baoxiu.db").exists()


def test_a_database_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "baoxiu.db").write_text("these are my notes, not a database\n", encoding="utf-8")

    assert_setup_error(baoxiu_process(tmp_path, "tickets", "list"), "baoxiu.db")


# --- what staff read of anonymous feedback --------------------------------------------------------


def test_anonymous_feedback_shows_no_name_or_contact_in_show_or_json(tmp_path: Path) -> None:
    write_config(tmp_path, database_config(f"sqlite:///{tmp_path / 'desk.db'}"))
    run = ("--config", "baoxiu.toml")
    assert baoxiu(tmp_path, *run, "directory", "load", str(DEMO_ESTATE)).code == 0
    created = baoxiu(tmp_path, *run, "tickets", "create", "--kind", "feedback", "--category", "security",
                     "--location", "东门", "--description", "门岗保安态度很差", "--reporter", "张三",
                     "--anonymous", "--json").json()  # fmt: skip
    number = created["number"]

    shown = baoxiu(tmp_path, *run, "tickets", "show", number)
    as_json = baoxiu(tmp_path, *run, "tickets", "show", number, "--json").json()

    assert shown.code == 0, shown.err
    assert "reporter:    anonymous resident\n" in shown.out
    assert "张三" not in shown.out + json.dumps(as_json, ensure_ascii=False)
    assert "13800000001" not in shown.out + json.dumps(as_json, ensure_ascii=False)
    assert (created["reporter"], created["reporter_contact"], created["anonymous"]) == (
        "anonymous resident",
        None,
        True,
    )
    assert (as_json["reporter"], as_json["reporter_contact"]) == ("anonymous resident", None)
