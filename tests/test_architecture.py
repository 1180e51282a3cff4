"""core/ stays the pure domain (the README's Layout): no I/O library, and no channel's name; the conversation
is its tables."""

from __future__ import annotations

import ast
import re

import pytest

from tests.conftest import REPO

FORBIDDEN = {"telegram", "wechatpy", "sqlalchemy", "apscheduler", "httpx", "starlette", "uvicorn", "aiohttp",
             "requests", "alembic", "psycopg", "click", "rich", "storage", "bot"}  # fmt: skip
CORE_FILES = sorted((REPO / "core").rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_no_io_library(path: object) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported.isdisjoint(FORBIDDEN), sorted(imported & FORBIDDEN)


CHANNEL_NAMES = re.compile(r"(?i)(?<![a-z])(telegram|wechat|wecom|console)")


def channel_names_in(source: str) -> list[str]:
    """Every line that names a channel: in code, strings, comments and docstrings alike, for which channel does
    what is for its adapter in bot/channels to say."""
    return [f"{n}: {line.strip()}" for n, line in enumerate(source.splitlines(), start=1) if CHANNEL_NAMES.search(line)]


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_core_never_names_a_channel(path: object) -> None:
    """What a channel can do is the capability its adapter declares; which key is whose, the adapter's to say."""
    assert channel_names_in(path.read_text(encoding="utf-8")) == []  # type: ignore[attr-defined]


def test_the_check_for_channel_names_sees_code_comments_and_docstrings() -> None:
    source = '''"""A module that says Telegram in its docstring."""

def f(channel):  # and wechat in a comment
    return channel == "kind" or CONSOLE
'''
    assert channel_names_in(source) == [
        '1: """A module that says Telegram in its docstring."""',
        "3: def f(channel):  # and wechat in a comment",
        '4: return channel == "kind" or CONSOLE',
    ]


def test_no_transition_is_made_outside_the_conversation_tables() -> None:
    """Steps move only through the engine, which reads where each outcome leads from the tables."""
    for path in sorted((REPO / "core" / "conversation").glob("*.py")):
        if path.name == "engine.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"state\.step\s*=(?!=)", text), f"{path.name} sets the step itself"


def test_every_transition_leads_to_a_step_of_its_flow() -> None:
    from core.conversation.engine import END, NEXT, SAME, WAIT, transitions
    from core.conversation.resident import RESIDENT
    from core.conversation.staff import STAFF

    for conversation in (RESIDENT, STAFF):
        for name, step, outcome, target in transitions(conversation):
            steps = conversation.flows[name].steps
            assert target in (NEXT, SAME, WAIT, END) or target in steps, (name, step, outcome, target)
        for flow in conversation.flows.values():
            assert all(row in flow.steps for row, _ in flow.order), flow.name


def test_the_example_config_documents_every_key_and_loads() -> None:
    import tomllib

    from bot.config import known_keys, parse_config

    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert {section: sorted(keys) for section, keys in known_keys().items()} == {
        section: sorted(data.get(section, {})) for section in known_keys()
    }
    parse_config(data, environ={})


def test_channels_not_served_yet_are_said_so_in_the_example_and_when_set() -> None:
    """Defect 9: [wechat] and [wecom] are read (a contract) but nothing serves them yet."""
    import tomllib

    from bot.config import parse_config
    from bot.runtime.server import unserved

    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    assert text[text.index("[wechat]") - 400 : text.index("[wechat]")].count("NOT SERVED YET") == 1
    assert unserved(parse_config(tomllib.loads(text), environ={})) == []  # the example's values are the defaults
    set_up = parse_config({"wechat": {"app_id": "wx123"}, "wecom": {"corp_id": "ww1"}}, environ={})
    assert unserved(set_up) == ["wechat", "wecom"]
