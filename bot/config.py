"""The TOML configuration: every key typed, documented in config.example.toml, and checked."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import tomllib
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.domain.deadlines import SlaPolicy, Window
from core.domain.directory import closest
from core.domain.dispatch import DispatchPolicy
from core.domain.model import Trade, Urgency, amount_of
from core.domain.triage import LearnedOdds, TriageRules, rules_from_config
from core.i18n import LOCALES

DEFAULT_DATABASE_URL = "sqlite:///baoxiu.db"


class ConfigError(Exception):
    """A problem with the configuration, said in one line."""


@dataclass(frozen=True)
class AppSection:
    locale: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    estate: str = ""  # the estate code to use when the database holds several
    attachments_dir: str = "attachments"


@dataclass(frozen=True)
class DatabaseSection:
    url: str = DEFAULT_DATABASE_URL


@dataclass(frozen=True)
class ServerSection:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 0  # PostgreSQL: processes that answer messages; 0 = one more than the CPU cores
    unhealthy_after_seconds: int = 120  # /healthz answers 503 once a channel has failed this long


@dataclass(frozen=True)
class TelegramSection:
    token: str = ""
    mode: str = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: str = ""
    max_messages_per_second: int = 30
    max_group_messages_per_minute: int = 20
    max_chat_messages_per_second: int = 1


@dataclass(frozen=True)
class WechatSection:
    app_id: str = ""
    app_secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"


@dataclass(frozen=True)
class WecomSection:
    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"


@dataclass(frozen=True)
class SlaSection:
    emergency_response_minutes: int = 15
    emergency_resolve_hours: int = 4
    urgent_response_minutes: int = 60
    urgent_resolve_hours: int = 24
    normal_response_minutes: int = 240
    normal_resolve_hours: int = 72

    def policy(self) -> SlaPolicy:
        return SlaPolicy(
            {
                urgency: Window(
                    timedelta(minutes=getattr(self, f"{urgency.value}_response_minutes")),
                    timedelta(hours=getattr(self, f"{urgency.value}_resolve_hours")),
                )
                for urgency in Urgency
            }
        )


@dataclass(frozen=True)
class DispatchSection:
    max_open_per_technician: int = 5
    unanswered_minutes: int = 10
    cost_approval_threshold: float = 500.0
    emergency_arrival_minutes: int = 30
    urgent_arrival_minutes: int = 120
    normal_arrival_minutes: int = 1440
    tools: dict[str, list[str]] = field(default_factory=dict)

    def policy(self) -> DispatchPolicy:
        return DispatchPolicy(
            max_open_per_technician=self.max_open_per_technician,
            unanswered=timedelta(minutes=self.unanswered_minutes),
            cost_approval_threshold=amount_of(self.cost_approval_threshold),  # exact from here on
            arrival={u: timedelta(minutes=getattr(self, f"{u.value}_arrival_minutes")) for u in Urgency},
            tools={trade: tuple(items) for trade, items in self.tools.items()},
        )


@dataclass(frozen=True)
class RetentionSection:
    """Days kept of what grows with traffic (storage.retention); tickets and their history are kept for good."""

    inbound_messages: int = 7
    outbox: int = 30
    dialogue_states: int = 30

    def days(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Config:
    app: AppSection = field(default_factory=AppSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    server: ServerSection = field(default_factory=ServerSection)
    telegram: TelegramSection = field(default_factory=TelegramSection)
    wechat: WechatSection = field(default_factory=WechatSection)
    wecom: WecomSection = field(default_factory=WecomSection)
    sla: SlaSection = field(default_factory=SlaSection)
    dispatch: DispatchSection = field(default_factory=DispatchSection)
    triage: TriageRules = field(default_factory=TriageRules)
    retention: RetentionSection = field(default_factory=RetentionSection)
    path: Path | None = None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.app.timezone)


# The typed sections; [triage] has a shape of its own and is read by core.triage.rules_from_config.
SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("path", "triage")
}


def known_keys() -> dict[str, list[str]]:
    return {name: [f.name for f in dataclasses.fields(section)] for name, section in SECTIONS.items()}


def _type_name(expected: Any) -> str:
    return {str: "a string", int: "a whole number", bool: "true or false", float: "a number"}.get(
        expected, str(expected)
    )


def _check_type(where: str, value: Any, expected: Any) -> Any:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(expected)
        if value is None and type(None) in options:
            return None
        expected = next(option for option in options if option is not type(None))
        origin = typing.get_origin(expected)
    if origin is list:
        (item,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: must be a list of {_type_name(item)[2:]}s")
        return [_check_type(f"{where}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(expected)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: must be a table")
        return {k: _check_type(f"{where}.{k}", v, item) for k, v in value.items()}
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):
        raise ConfigError(f"{where}: must be {_type_name(int)}, not {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: must be {_type_name(expected)}, not {value!r}")
    return value


# BAOXIU_* variables that are not settings: the config file's name, and the test suite's own (BAOXIU_TEST_*).
NOT_SETTINGS = ("BAOXIU_CONFIG",)


def environment_name(section: str, key: str) -> str:
    return f"BAOXIU_{section.upper()}_{key.upper()}"


def _check_environment(environ: typing.Mapping[str, str]) -> None:
    """A BAOXIU_* variable that names no setting is a mistake to point out, as an unknown key in the file is."""
    names = [environment_name(section, key) for section, keys in known_keys().items() for key in keys]
    for variable in sorted(environ):
        if not variable.startswith("BAOXIU_") or variable in NOT_SETTINGS or variable.startswith("BAOXIU_TEST_"):
            continue
        if variable not in names:
            raise ConfigError(f"unknown setting {variable} in the environment{closest(variable, names)}")


def _from_environment(section: str, key: str, expected: Any, environ: typing.Mapping[str, str]) -> Any:
    """`BAOXIU_TELEGRAM_TOKEN` and the like, so secrets stay out of files."""
    name = environment_name(section, key)
    raw = environ.get(name)
    if raw is None:
        return None
    try:
        if expected is int:
            return int(raw)
        if expected is float:
            return float(raw)
    except ValueError:
        raise ConfigError(f"{name} (from the environment): must be {_type_name(expected)}, not {raw!r}") from None
    if expected is str:
        return raw
    raise ConfigError(f"{name} (from the environment): {section}.{key} can only be set in the config file")


def _blame_environment(message: str, from_environment: set[tuple[str, str]]) -> str:
    """An error about a value that came from the environment names the variable, not the file's key."""
    for section, key in from_environment:
        if message.startswith(f"{section}.{key}:"):
            return f"{environment_name(section, key)} (from the environment){message[len(section) + len(key) + 1 :]}"
    return message


@functools.cache
def learned_model() -> dict[str, LearnedOdds]:
    """The shipped second opinion of triage, per language (trained by tests/triage_train.py)."""
    data = json.loads((Path(__file__).parent / "triage_model.json").read_text(encoding="utf-8"))
    return {language: LearnedOdds(float(m["prior"]), {str(f): float(w) for f, w in m["weights"].items()})
            for language, m in data.items()}  # fmt: skip


def parse_config(data: dict[str, Any], environ: typing.Mapping[str, str], path: Path | None = None) -> Config:
    _check_environment(environ)
    sections: dict[str, Any] = {}
    from_environment: set[tuple[str, str]] = set()
    for name, value in data.items():
        if name not in SECTIONS and name != "triage":
            raise ConfigError(f"unknown section [{name}]{closest(name, list(SECTIONS))}")
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table")
    for name, section in SECTIONS.items():
        raw = data.get(name, {})
        hints = typing.get_type_hints(section)
        known = [f.name for f in dataclasses.fields(section)]
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(f"unknown key {name}.{key}{closest(key, known)}")
            values[key] = _check_type(f"{name}.{key}", value, hints[key])
        for key in known:
            from_env = _from_environment(name, key, hints[key], environ)
            if from_env is not None:
                values[key] = from_env
                from_environment.add((name, key))
        sections[name] = section(**values)
    try:
        triage = rules_from_config(data.get("triage", {}), learned_model())
    except ValueError as error:
        raise ConfigError(str(error)) from None
    config = Config(**sections, triage=triage, path=path)
    try:
        _check_values(config)
    except ConfigError as error:
        raise ConfigError(_blame_environment(str(error), from_environment)) from None
    return config


def _check_values(config: Config) -> None:
    if config.app.locale not in LOCALES:
        raise ConfigError(f'app.locale: "{config.app.locale}" is not zh_CN or en')
    try:
        zoneinfo.ZoneInfo(config.app.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'app.timezone: "{config.app.timezone}" is not a time zone (e.g. Asia/Shanghai)') from None
    telegram = config.telegram
    if telegram.mode not in ("polling", "webhook"):
        raise ConfigError(f'telegram.mode: "{telegram.mode}" is not "polling" or "webhook"')
    if telegram.token and telegram.mode == "webhook" and not (telegram.webhook_url and telegram.webhook_secret):
        raise ConfigError("telegram: webhook mode needs webhook_url and webhook_secret")
    if telegram.webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", telegram.webhook_secret):
        raise ConfigError("telegram.webhook_secret: use 1 to 256 of A-Z a-z 0-9 _ -")
    for key in ("max_messages_per_second", "max_group_messages_per_minute", "max_chat_messages_per_second"):
        if getattr(telegram, key) <= 0:
            raise ConfigError(f"telegram.{key}: must be greater than 0")
    if not 0 < config.server.port < 65536:
        raise ConfigError(f"server.port: {config.server.port} is not a port number")
    if config.server.unhealthy_after_seconds <= 0:
        raise ConfigError("server.unhealthy_after_seconds: must be greater than 0")
    if config.server.workers < 0:
        raise ConfigError("server.workers: must be 0 (one more than the CPU cores) or a number of processes")
    for key, value in dataclasses.asdict(config.sla).items():
        if value <= 0:
            raise ConfigError(f"sla.{key}: must be greater than 0")
    for key, value in dataclasses.asdict(config.dispatch).items():
        if key != "tools" and value <= 0:
            raise ConfigError(f"dispatch.{key}: must be greater than 0")
    for key, value in config.retention.days().items():
        if value < 1:
            raise ConfigError(f"retention.{key}: must be 1 day or more")
    if config.retention.inbound_messages < 2:  # Telegram delivers an update again for up to 24 hours
        raise ConfigError("retention.inbound_messages: must be 2 days or more, to know a message delivered again")
    trades = [t.value for t in Trade]
    for trade in config.dispatch.tools:
        if trade not in trades:
            raise ConfigError(f'dispatch.tools: "{trade}" is not a trade ({", ".join(trades)}){closest(trade, trades)}')


def load_config(path: str | Path | None = None, environ: typing.Mapping[str, str] | None = None) -> Config:
    """The file named by --config or BAOXIU_CONFIG, or the defaults when there is none."""
    environ = os.environ if environ is None else environ
    chosen = path or environ.get("BAOXIU_CONFIG")
    if not chosen:
        return parse_config({}, environ)
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {file} does not exist") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {file}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {file} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: TOML syntax error: {error}") from None
    try:
        return parse_config(data, environ, file)
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from None
