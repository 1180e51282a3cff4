"""Shared fixtures: a fresh database on SQLite and, when BAOXIU_TEST_PG_URL is set, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from core.desk import Desk
from core.domain.directory import Estate
from core.domain.model import Ticket
from core.domain.tickets import TicketDraft
from core.ports import UnitOfWork
from storage.db import make_engine, upgrade
from storage.uow import SqlAlchemyUnitOfWork
from tests.fakes import FakeUnitOfWork

REPO = Path(__file__).resolve().parent.parent
DEMO_ESTATE = REPO / "bot" / "demo_estate.toml"


def round_the_clock(folder: Path) -> Path:
    """The demo estate with its day shifts made round the clock, so that who gets a job does not depend on
    the moment a test runs in real time (the console and Telegram tests do)."""
    text = DEMO_ESTATE.read_text(encoding="utf-8").replace('"mon-fri 08:00-18:00"', '"daily 00:00-24:00"')
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without BAOXIU_TEST_PG_URL, leave the PostgreSQL tests out and say so once."""
    items[:] = [item for item in items if not _for_another_mode(item)]
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
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'baoxiu.db'}"
    assert PG_URL, "PostgreSQL tests are left out without BAOXIU_TEST_PG_URL"
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """An empty PostgreSQL database, for what only PostgreSQL does (tests marked postgres)."""
    assert PG_URL, "PostgreSQL tests are left out without BAOXIU_TEST_PG_URL"
    reset_postgres(PG_URL)
    engine = make_engine(PG_URL)
    upgrade(engine)
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
def sqlite_desk(tmp_path: Path) -> Iterator[Desk]:
    """The demo estate on a fresh SQLite file, for the few conversations that must also be seen stored."""
    engine = make_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    upgrade(engine)
    uow = SqlAlchemyUnitOfWork(engine)
    with uow:
        uow.directory.sync(demo_estate())
        uow.commit()
    yield desk_on(uow)
    engine.dispose()
