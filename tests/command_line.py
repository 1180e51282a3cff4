"""`baoxiu` commands as a user runs them, in this process or in a real one.

Most tests run the command in this process (click's runner, in the folder and environment given): the same
code from argument parsing to exit status, without paying a second of interpreter start-up each time. A few
tests run the installed console script as a real process, so that what only a process shows (the entry
point, the exit status the shell sees, stdin being a pipe) stays covered.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import cli

BAOXIU = Path(sys.executable).parent / "baoxiu"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """No BAOXIU_* setting but those given, as on a machine where nobody set one."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BAOXIU_")}
    return environ | {"PYTHONUTF8": "1", **(env or {})}


def baoxiu(cwd: Path, *args: str, env: Mapping[str, str] | None = None, lines: tuple[str, ...] = ()) -> Result:
    """Run `baoxiu ARGS` in this process, in cwd, with the lines as its standard input."""
    wanted = _environment(env)
    unset: dict[str, str | None] = {k: None for k in os.environ if k not in wanted}
    runner = CliRunner(env={**unset, **wanted})
    with contextlib.chdir(cwd):
        result = runner.invoke(
            cli, list(args), input="".join(f"{line}\n" for line in lines), prog_name="baoxiu", catch_exceptions=False
        )
    return Result(result.exit_code, result.stdout, result.stderr)


def baoxiu_process(cwd: Path, *args: str, env: Mapping[str, str] | None = None, lines: tuple[str, ...] = ()) -> Result:
    """Run the installed console script as its own process, in cwd, with the lines piped to its standard input."""
    done = subprocess.run(
        [str(BAOXIU), *args],
        cwd=cwd,
        env=_environment(env),
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    return Result(done.returncode, done.stdout, done.stderr)
