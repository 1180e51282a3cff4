"""core/ stays the pure domain: DESIGN.md §2 forbids it any I/O library."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

FORBIDDEN = {"telegram", "wechatpy", "sqlalchemy", "apscheduler", "httpx", "starlette", "uvicorn", "aiohttp",
             "requests", "alembic", "psycopg", "click", "rich", "storage", "bot"}  # fmt: skip
CORE_FILES = sorted((REPO / "core").rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_no_io_library(path: object) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported.isdisjoint(FORBIDDEN), sorted(imported & FORBIDDEN)


def test_the_example_config_documents_every_key_and_loads() -> None:
    import tomllib

    from bot.config import known_keys, parse_config

    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert {section: sorted(keys) for section, keys in known_keys().items()} == {
        section: sorted(data.get(section, {})) for section in known_keys()
    }
    parse_config(data, environ={})


def test_the_commented_triage_examples_in_the_example_config_are_valid() -> None:
    import tomllib

    from bot.config import parse_config

    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    triage = text[text.index("[triage]") :]

    def uncomment(line: str) -> str:
        is_setting = line.startswith("# ") and ("=" in line or line.startswith("# ["))
        return line[2:] if is_setting else line

    uncommented = "\n".join(uncomment(line) for line in triage.splitlines())
    rules = parse_config(tomllib.loads(uncommented), environ={}).triage
    assert "escalator" in rules.category_keywords["lift"]
    assert rules.self_checks["electrical"] == {}
