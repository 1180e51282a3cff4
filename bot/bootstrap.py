"""The composition root: builds engines, units of work and the desk from config, inside functions only."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.channels import ADDRESS_FIELDS, CONSOLE, TELEGRAM
from bot.config import Config
from bot.i18n import translator
from core.conversation.context import DeskSettings
from core.conversation.messages import Capabilities
from core.desk import Desk
from core.domain.directory import Estate, parse_directory
from core.domain.errors import DomainError
from core.ports import UnitOfWork
from storage.db import make_engine, upgrade
from storage.uow import SqlAlchemyUnitOfWork


def open_database(config: Config) -> Engine:
    """An engine on an up-to-date schema (an empty or older database is upgraded first)."""
    engine = make_engine(config.database.url)
    upgrade(engine)
    return engine


def unit_of_work(engine: Engine) -> UnitOfWork:
    return SqlAlchemyUnitOfWork(engine)


def estate_code(uow: UnitOfWork, config: Config, requested: str | None = None) -> str:
    """The estate a command works on: asked for, configured, or the only one there is."""
    codes = uow.directory.codes()
    wanted = requested or config.app.estate
    if wanted:
        match = next((code for code in codes if code.upper() == wanted.upper()), None)
        if match is None:
            known = ", ".join(codes) or "none"
            raise DomainError(f'estate "{wanted}" is not in the database (loaded: {known})')
        return match
    if not codes:
        raise DomainError("no estate is loaded yet; run `baoxiu directory load FILE.toml` first")
    if len(codes) > 1:
        raise DomainError(f"several estates are loaded ({', '.join(codes)}); set [app] estate or pass --estate")
    return codes[0]


def channels(config: Config) -> dict[str, Capabilities]:
    """The channels this deployment serves, where pushes can go: the console always (it shows what waits for
    a person when they open it), Telegram when it has a token."""
    served = {CONSOLE.name: CONSOLE.capabilities}
    if config.telegram.token:
        served[TELEGRAM.name] = TELEGRAM.capabilities
    return served


def settings(config: Config, code: str) -> DeskSettings:
    return DeskSettings(
        estate_code=code,
        rules=config.triage,
        sla=config.sla.policy(),
        translators=translator,
        default_locale=config.app.locale,
        zone=config.zone,
        dispatch=config.dispatch.policy(),
        channels=channels(config),
    )


def build_desk(config: Config, engine: Engine, code: str) -> Desk:
    return Desk(unit_of_work(engine), settings(config, code))


def read_estate(data: dict[str, object]) -> Estate:
    """A directory file's data, with the address keys the channels declare."""
    return parse_directory(data, ADDRESS_FIELDS)
