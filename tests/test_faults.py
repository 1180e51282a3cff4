"""A quick run of bench/faults.py, the fault run: residents report while `baoxiu run` is killed with SIGKILL and, on
PostgreSQL, the database is stopped and started; every promise must hold. The longer run is the command itself:
`.venv/bin/python bench/faults.py`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HAS_INITDB = bool(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")))
COLUMNS = ("told", "stored", "lost", "twice", "msgs_lost", "sent_twice", "per_chat", "disorder", "crashes")


@pytest.mark.parametrize(
    "database",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not HAS_INITDB, reason="no PostgreSQL initdb"))],
)
def test_nothing_is_lost_or_stored_twice_and_each_chat_keeps_its_order_through_crashes(database: str) -> None:
    residents = 6
    result = subprocess.run(
        [sys.executable, "bench/faults.py", "--residents", str(residents), "--reports", "1", "--kills", "2",
         "--outage", "2", "--databases", database, "--modes", "polling", "--patience", "60"],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = [line.split() for line in result.stdout.splitlines() if line.startswith(database)]
    figures = dict(zip(COLUMNS, map(int, row[2:11]), strict=True))
    assert figures["told"] == residents and figures["stored"] == residents, result.stdout
    assert figures["lost"] == figures["twice"] == figures["msgs_lost"] == figures["disorder"] == 0, result.stdout
    assert figures["crashes"] == 2
    assert figures["per_chat"] <= figures["crashes"], result.stdout  # at most one duplicate per chat per crash
