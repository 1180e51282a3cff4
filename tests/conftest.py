"""Shared fixtures: a fresh database on SQLite and, when BAOXIU_TEST_PG_URL is set, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from core.desk import Desk
from storage.db import make_engine, upgrade
from storage.uow import SqlAlchemyUnitOfWork

REPO = Path(__file__).resolve().parent.parent
DEMO_ESTATE = REPO / "bot" / "demo_estate.toml"


def round_the_clock(folder: Path) -> Path:
    """The demo estate with its day shifts made round the clock, so that who gets a job does not depend on
    the moment a test runs in real time (the console and Telegram tests do)."""
    text = DEMO_ESTATE.read_text(encoding="utf-8").replace('"mon-fri 08:00-18:00"', '"daily 00:00-24:00"')
    path = folder / "estate.toml"
    path.write_text(text, encoding="utf-8")
    return path


PG_URL = os.environ.get("BAOXIU_TEST_PG_URL")
PG_HINT = "To run them: export BAOXIU_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test"

LEFT_OUT = pytest.StashKey[int]()

NOW = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # 10:30 on a Friday in Shanghai


def _needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
    return on_postgres or item.get_closest_marker("postgres") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without BAOXIU_TEST_PG_URL, leave the PostgreSQL tests out and say so once."""
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
def uow(engine: Engine) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(engine)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """The demo estate on a fresh SQLite file: what the dialogue tests talk to."""
    import tomllib

    from core.directory import parse_directory

    engine = make_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    upgrade(engine)
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.directory.sync(parse_directory(tomllib.loads(DEMO_ESTATE.read_text(encoding="utf-8"))))
        uow.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def desk(sqlite_engine: Engine) -> Desk:
    from bot.bootstrap import build_desk
    from bot.config import parse_config

    return build_desk(parse_config({}, environ={}), sqlite_engine, "SG")
