"""Engines and schema versions: SQLite tuned for a single host, PostgreSQL for several processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
MIGRATION_LOCK = 0x6261_6F78  # "baox": one process migrates at a time on PostgreSQL


class DatabaseError(Exception):
    """The database cannot be used; the message says why in one line."""


def make_engine(url: str) -> Engine:
    try:
        return _make_engine(url)
    except (NoSuchModuleError, ImportError) as error:
        raise DatabaseError(f'database url "{url}": its driver is not installed ({error})') from None


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f'database url "{url}" is not a valid URL (e.g. sqlite:///baoxiu.db)') from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            parent = Path(parsed.database).expanduser().resolve().parent
            if not parent.is_dir():
                raise DatabaseError(f"cannot open database {parsed.database}: folder {parent} does not exist")
        engine = create_engine(parsed, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_recycle=1800, connect_args={"connect_timeout": 5})
    raise DatabaseError(f'database url "{url}": only sqlite:// and postgresql:// are supported')


def _tune_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so writers queue instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA wal_autocheckpoint=10000")  # fewer, larger checkpoints: each one syncs the disk
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["engine"] = engine
    return config


def _describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def schema_state(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision, the code's head revision)."""
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    assert head is not None
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as error:
        raise DatabaseError(f"cannot reach database {_describe(engine)}: {_first_line(error)}") from None
    except DBAPIError as error:  # e.g. a file that is not an SQLite database
        raise DatabaseError(f"cannot use database {_describe(engine)}: {_first_line(error)}") from None
    return current, head


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the code's head; refuse a database written by a newer baoxiu."""
    current, head = schema_state(engine)
    known = {rev.revision for rev in ScriptDirectory.from_config(_alembic_config(engine)).walk_revisions()}
    if current is not None and current not in known:
        raise DatabaseError(
            f"database {_describe(engine)} is at schema revision {current}, newer than this baoxiu "
            f"(which knows up to {head}); upgrade baoxiu before using this database"
        )
    if current != head:
        with engine.connect() as connection:
            sqlite = engine.dialect.name == "sqlite"
            raw = connection.connection.driver_connection
            if sqlite:  # SQLite alters a table by copying it, which its own foreign keys would refuse
                raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                with connection.begin():
                    if engine.dialect.name == "postgresql":
                        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                    config = _alembic_config(engine)
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise DatabaseError(f"the migration left rows pointing nowhere: {broken[:5]}")
            finally:
                if sqlite:
                    raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    return current, head


def _first_line(error: Exception) -> str:
    message = str(getattr(error, "orig", None) or error).strip()
    return message.splitlines()[0] if message else type(error).__name__
