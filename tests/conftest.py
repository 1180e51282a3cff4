"""Shared fixtures: a fresh database on SQLite and, when BAOXIU_TEST_PG_URL is set, on PostgreSQL."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from core.desk import Desk
from core.domain.directory import Estate
from core.domain.model import Ticket
from core.domain.tickets import TicketDraft
from core.ports import UnitOfWork
from storage.db import make_engine, schema_state, upgrade
from storage.tables import Base
from storage.uow import SqlAlchemyUnitOfWork
from tests.fakes import FakeUnitOfWork

REPO = Path(__file__).resolve().parent.parent
DEMO_ESTATE = REPO / "bot" / "demo_estate.toml"


def round_the_clock(folder: Path) -> Path:
    """The demo estate with every day shift made round the clock and nobody on nights, so that who gets a job
    does not depend on the moment a test runs in real time (the console and Telegram tests do)."""
    text = DEMO_ESTATE.read_text(encoding="utf-8")
    for day_shift in ('"mon-fri 08:00-18:00"', '"mon-sun 08:00-20:00"', '"mon-sat 08:30-17:30"'):
        assert day_shift in text, day_shift
        text = text.replace(day_shift, '"daily 00:00-24:00"')
    night = 'shifts = ["mon-sun 20:00-08:00"]'
    assert night in text
    text = text.replace(night, "shifts = []")
    path = folder / "estate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _own_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker empties and fills a database of its own: `test` becomes `test_gw0`, ..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first() is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


PG_URL = _own_database(os.environ.get("BAOXIU_TEST_PG_URL"))
PG_HINT = "To run them: export BAOXIU_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test"

LEFT_OUT = pytest.StashKey[int]()

NOW = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # 10:30 on a Friday in Shanghai


def _needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_postgres = callspec is not None and "postgresql" in callspec.params.values()
    return on_postgres or item.get_closest_marker("postgres") is not None


def _for_another_mode(item: pytest.Item) -> bool:
    """A test marked modes(...) is made only against those of its module's deployments."""
    marker, callspec = item.get_closest_marker("modes"), getattr(item, "callspec", None)
    return marker is not None and callspec is not None and callspec.params.get("running") not in marker.args


# The modules that start `baoxiu run` processes, slowest first. `make test` hands pytest-xdist's workers whole
# modules (--dist loadfile: a module's deployments start once), and these go first so the workers end together.
SLOW_FIRST = ("test_faults.py", "test_telegram.py", "test_harness.py", "test_processes.py", "test_inbound_faults.py")


def _slowness(item: pytest.Item) -> int:
    name = item.path.name
    return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without BAOXIU_TEST_PG_URL, leave the PostgreSQL tests out and say so once."""
    items[:] = sorted((item for item in items if not _for_another_mode(item)), key=_slowness)
    if PG_URL:
        return
    left_out = [item for item in items if _needs_postgres(item)]
    if left_out:
        items[:] = [item for item in items if not _needs_postgres(item)]
        config.hook.pytest_deselected(items=left_out)
        config.stash[LEFT_OUT] = len(left_out)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    left_out = config.stash.get(LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(f"{left_out} PostgreSQL tests not run. {PG_HINT}")


def reset_postgres(url: str) -> None:
    """An empty public schema, so each test starts from nothing as on SQLite."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it, not even a schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'baoxiu.db'}"
    assert PG_URL, "PostgreSQL tests are left out without BAOXIU_TEST_PG_URL"
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once, which every test that needs an empty schema gets a copy of."""
    path = tmp_path_factory.mktemp("template") / "baoxiu.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close folds the write-ahead log into the file
    return path


def _emptied_at_head(engine: Engine) -> bool:
    """Empty every table when the schema is exactly the code's head (what migrating again would give); else
    say it is not, and leave it alone."""
    tables = [table.name for table in Base.metadata.sorted_tables]
    with engine.begin() as connection:
        if set(inspect(connection).get_table_names()) != {*tables, "alembic_version"}:
            return False
        if connection.execute(text("SELECT version_num FROM alembic_version")).scalar() != _head():
            return False
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    return True


@functools.cache
def _head() -> str:
    return schema_state(make_engine("sqlite://"))[1]


def migrated(database: str, folder: Path, template: Path) -> Engine:
    """An empty database at the schema's head, without migrating each time: on SQLite a copy of the template
    in folder; on PostgreSQL the worker's database with its tables emptied, or made anew when a test changed it."""
    if database == "sqlite":
        path = folder / "baoxiu.db"
        shutil.copyfile(template, path)
        return make_engine(f"sqlite:///{path}")
    assert PG_URL, "PostgreSQL tests are left out without BAOXIU_TEST_PG_URL"
    engine = make_engine(PG_URL)
    if not _emptied_at_head(engine):
        reset_postgres(PG_URL)
        upgrade(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """An empty database at the schema's head."""
    engine = migrated(request.param, tmp_path, sqlite_template)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """An empty PostgreSQL database at the schema's head, for what only PostgreSQL does (tests marked postgres)."""
    engine = migrated("postgresql", tmp_path, sqlite_template)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: Engine) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(engine)


def add_ticket(uow: UnitOfWork, draft: TicketDraft, now: datetime, code: str = "SG") -> Ticket:
    """A ticket numbered and stored as the services do, inside the caller's transaction, without dispatch."""
    from zoneinfo import ZoneInfo

    from core.domain.model import Actor
    from core.domain.tickets import open_ticket, ticket_number

    day = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    number = ticket_number(code, day, uow.tickets.next_sequence(code, day))
    ticket = open_ticket(draft, code, number, Actor("operator", "front desk"), now)
    uow.tickets.add(ticket)
    return ticket


def demo_estate() -> Estate:
    import tomllib

    from bot.bootstrap import read_estate

    return read_estate(tomllib.loads(DEMO_ESTATE.read_text(encoding="utf-8")))


def desk_on(uow: UnitOfWork, *, telegram: bool = False, **config: Any) -> Desk:
    """The desk as `make console` builds it, where every push waits on the console; with `telegram`, as
    `baoxiu run` builds it with Telegram configured, where pushes go to Telegram when the person has an id there."""
    from bot.bootstrap import settings
    from bot.config import parse_config

    parsed = parse_config({"telegram": {"token": "123:test"}, **config} if telegram else config, environ={})
    return Desk(uow, settings(parsed, "SG"))


def demo_desk(*, telegram: bool = False) -> Desk:
    """The demo estate in memory: what the conversation and service tests talk to."""
    uow = FakeUnitOfWork()
    with uow:
        uow.directory.sync(demo_estate())
        uow.commit()
    return desk_on(uow, telegram=telegram)


def on_telegram() -> Desk:
    """The demo estate in memory, served as `baoxiu run` serves it with Telegram configured."""
    return demo_desk(telegram=True)


@pytest.fixture
def desk() -> Desk:
    """The demo estate in memory, as `make console` serves it."""
    return demo_desk()


@pytest.fixture
def sqlite_desk(tmp_path: Path, sqlite_template: Path) -> Iterator[Desk]:
    """The demo estate on a fresh SQLite file, for the few conversations that must also be seen stored."""
    engine = migrated("sqlite", tmp_path, sqlite_template)
    uow = SqlAlchemyUnitOfWork(engine)
    with uow:
        uow.directory.sync(demo_estate())
        uow.commit()
    yield desk_on(uow)
    engine.dispose()
