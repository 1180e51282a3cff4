"""Several `baoxiu run` processes on one database, behind a fake Telegram, for tests across processes.

    with Deployment(tmp_path, processes=2, database_url=PG_URL) as d:
        d.say(0, 7001, "hello", language="en")          # to process 0's webhook, and wait for the answer
        d.kill(1)                                        # SIGKILL: process 1 and its desk workers
        d.restart(1)
        assert d.tickets() == []

Each process has its own config file (its own port and webhook address) in one shared folder: the same
database, the same bot token and webhook secret, the same attachments folder. Telegram's side is one
`FakeTelegram`: it keeps every message the processes send. Updates reach a chosen process the way
Telegram delivers them, a POST to its `/telegram` with the secret header, answered 200 once the update is
handled and its answers are in the outbox.

On leaving, every process still running is stopped with SIGTERM and must exit with status 0; one that
died without being told to fails the test too. Every process is started in a session of its own, so its
desk workers are found and killed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, select

from storage.tables import OutboxRow
from tests.conftest import REPO, reset_postgres, round_the_clock
from tests.fake_telegram import TOKEN, FakeTelegram, button_update, text_update

# `baoxiu` from this checkout, whichever virtualenv runs the tests (its console script may belong to another).
DEFAULT_COMMAND: tuple[str, ...] = (sys.executable, "-c", "from bot.cli import main; main()")
SECRET = "harness-s3cret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# update_ids no earlier run can have used, even on a database that is not emptied first.
_update_ids = itertools.count(int(time.time() * 1000))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stamped(update: dict[str, Any]) -> dict[str, Any]:
    """The update with an update_id of its own, unless it has one (delivering it again keeps it)."""
    return update if "update_id" in update else {"update_id": next(_update_ids), **update}


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)  # strings, numbers, booleans and lists read the same in TOML


def toml(sections: dict[str, dict[str, Any]]) -> str:
    return "".join(
        f"[{name}]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in values.items()) + "\n"
        for name, values in sections.items()
    )


class _Fake(FakeTelegram):
    """The fake Bot API, noting every webhook address set: a process is ready once it has set its own."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.webhooks_set: list[str] = []

    async def _setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhooks_set.append(str(params["url"]))
        return await super()._setWebhook(params)


class Deployment:
    """N `baoxiu run` processes in webhook mode on one database, the demo estate loaded round the clock.

    `database_url` None means SQLite in the folder, for one process only; a PostgreSQL database is emptied
    first (unless `reset` is False). `command` is how to run baoxiu (default: this checkout's, with the
    running interpreter). `settings` adds to or overrides the config's sections, e.g.
    `{"dispatch": {"unanswered_minutes": 1}}`. `workers` is each process's desk workers on PostgreSQL: one
    by default, which starts quickest (0: baoxiu's own default, one more than the cores)."""

    def __init__(
        self,
        folder: Path,
        processes: int = 2,
        database_url: str | None = None,
        *,
        command: Sequence[str] = DEFAULT_COMMAND,
        workers: int = 1,
        settings: dict[str, dict[str, Any]] | None = None,
        reset: bool = True,
        start_timeout: float = 30.0,
    ) -> None:
        if processes < 1:
            raise ValueError("a deployment needs at least one process")
        url = database_url or f"sqlite:///{folder / 'baoxiu.db'}"
        if url.startswith("sqlite") and processes > 1:
            raise ValueError("SQLite serves one process only: give a PostgreSQL database_url for several")
        self.folder = folder
        self.database_url = url
        self.command = tuple(command)
        self.workers = workers
        self.settings = settings or {}
        self.reset = reset
        self.start_timeout = start_timeout
        self.fake: FakeTelegram = _Fake()
        self.ports = [free_port() for _ in range(processes)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * processes
        self._told_to_stop = [False] * processes  # killed or terminated on purpose: not a failure
        self._groups: set[int] = set()  # every process group started, to leave no desk worker behind
        self._starts = [0] * processes
        self._webhooks_before = [0] * processes  # webhooks process i had set before its latest start
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BAOXIU_")}
        self.env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.env["PYTHONUTF8"] = "1"
        self._database: Engine | None = None  # the harness's own look at the database, made on first use

    # --- set-up and tear-down ------------------------------------------------------------------------------

    def __enter__(self) -> Deployment:
        self.fake.start()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.reset and self.database_url.startswith("postgresql"):
                reset_postgres(self.database_url)
            for i in range(len(self)):
                self.config_path(i).write_text(self._config(i), encoding="utf-8")
            self.cli("directory", "load", str(round_the_clock(self.folder)))
            for i in range(len(self)):
                self._spawn(i)
            for i in range(len(self)):
                self._wait_until_ready(i)
        except BaseException:
            self._tear_down(check=False)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._tear_down(check=kind is None)

    def __len__(self) -> int:
        return len(self.processes)

    def _config(self, i: int) -> str:
        port = self.ports[i]
        sections: dict[str, dict[str, Any]] = {
            "database": {"url": self.database_url},
            "server": {"port": port, "workers": self.workers},
            "telegram": {
                "token": TOKEN,
                "mode": "webhook",
                "base_url": self.fake.base_url,
                "base_file_url": self.fake.base_file_url,
                "webhook_url": self.webhook_url(i),
                "webhook_secret": SECRET,
                "max_chat_messages_per_second": 50,  # the fake has no flood limits; keep the tests quick
                "max_group_messages_per_minute": 6000,
            },
        }
        for name, values in self.settings.items():
            sections[name] = {**sections.get(name, {}), **values}
        return toml(sections)

    def _tear_down(self, check: bool) -> None:
        problems = []
        stopping = [i for i in range(len(self)) if self.alive(i)]
        for i in stopping:  # all at once: each takes a moment to finish what it holds
            process = self.processes[i]
            assert process is not None
            process.terminate()
        for i, process in enumerate(self.processes):
            if process is None:
                continue
            if i in stopping:
                try:
                    code = process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    code = process.wait()
                    problems.append(f"process {i} did not stop within 20 s of SIGTERM")
                if code != 0:
                    problems.append(f"process {i} exited with status {code} after SIGTERM")
            elif not self._told_to_stop[i]:
                problems.append(f"process {i} died by itself with status {process.returncode}")
        for group in self._groups:  # desk workers a killed process left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        self.fake.stop()
        if self._database is not None:
            self._database.dispose()
        if problems and check:
            raise AssertionError("\n".join(problems) + "\n\n" + self.logs())
        if not check:  # a test failed: what the processes said belongs with its output
            print(self.logs())

    # --- the processes -------------------------------------------------------------------------------------

    def config_path(self, i: int = 0) -> Path:
        return self.folder / f"baoxiu-{i}.toml"

    def log_path(self, i: int) -> Path:
        return self.folder / f"baoxiu-{i}.log"

    def log(self, i: int) -> str:
        """Everything process i has logged, across its restarts."""
        path = self.log_path(i)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"===== process {i} ({self.log_path(i)}) =====\n{self.log(i)}" for i in range(len(self)))

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def webhook_url(self, i: int) -> str:
        return f"{self.url(i)}/telegram"

    def pid(self, i: int) -> int:
        process = self.processes[i]
        assert process is not None, f"process {i} was never started"
        return process.pid

    def alive(self, i: int) -> bool:
        process = self.processes[i]
        return process is not None and process.poll() is None

    def _spawn(self, i: int) -> None:
        assert not self.alive(i), f"process {i} is running already"
        self._starts[i] += 1
        self._webhooks_before[i] = self._webhooks_set(i)
        with self.log_path(i).open("ab") as log:
            log.write(f"----- harness: start {self._starts[i]} of process {i} -----\n".encode())
            log.flush()
            process = subprocess.Popen([*self.command, "--config", str(self.config_path(i)), "run"],
                                       cwd=self.folder, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.processes[i] = process
        self._groups.add(process.pid)
        self._told_to_stop[i] = False

    def _webhooks_set(self, i: int) -> int:
        assert isinstance(self.fake, _Fake)
        return self.fake.webhooks_set.count(self.webhook_url(i))

    def _wait_until_ready(self, i: int) -> None:
        """/healthz says 200 and the process has registered its webhook: it takes and answers updates."""
        process = self.processes[i]
        assert process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"process {i} exited with status {process.returncode} while starting\n"
                                     + self.log(i))  # fmt: skip
            if self.healthz(i) == 200 and self._webhooks_set(i) > self._webhooks_before[i]:
                return
            time.sleep(0.05)
        raise AssertionError(f"process {i} was not ready within {self.start_timeout} s\n" + self.log(i))

    def healthz(self, i: int) -> int | None:
        """The status of process i's /healthz, or None when nothing listens on its port."""
        try:
            return httpx.get(f"{self.url(i)}/healthz", timeout=5).status_code
        except httpx.TransportError:
            return None

    def start(self, i: int) -> None:
        """Start process i again (after kill or terminate) and wait until it is ready."""
        self._spawn(i)
        self._wait_until_ready(i)

    def kill(self, i: int, group: bool = True) -> None:
        """SIGKILL, as a crash: with `group`, process i's desk workers die with it, as in a container; without,
        only the serving process dies (its workers are killed when the deployment ends)."""
        process = self.processes[i]
        assert process is not None and process.poll() is None, f"process {i} is not running"
        self._told_to_stop[i] = True
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=10)

    def terminate(self, i: int, expect: int | None = 0, timeout: float = 20.0) -> int:
        """SIGTERM, and wait for the exit: its status, checked against `expect` unless that is None."""
        process = self.processes[i]
        assert process is not None and process.poll() is None, f"process {i} is not running"
        self._told_to_stop[i] = True
        process.terminate()
        code = process.wait(timeout=timeout)
        if expect is not None:
            assert code == expect, f"process {i} exited with status {code}, not {expect}\n" + self.log(i)
        return code

    def restart(self, i: int, kill: bool = False) -> None:
        """Stop process i (SIGTERM, or SIGKILL with `kill`) if it runs, and start it again."""
        if self.alive(i):
            if kill:
                self.kill(i)
            else:
                self.terminate(i)
        self.start(i)

    def running(self) -> list[int]:
        return [i for i in range(len(self)) if self.alive(i)]

    # --- the command line ----------------------------------------------------------------------------------

    def run_cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """`baoxiu --config <process 0's config> ARGS`, as it is: exit status, stdout and stderr."""
        return subprocess.run([*self.command, "--config", str(self.config_path(0)), *args], cwd=self.folder,
                              env=self.env, capture_output=True, text=True, encoding="utf-8",
                              timeout=timeout)  # fmt: skip

    def cli(self, *args: str) -> Any:
        """`baoxiu ARGS` against the deployment's database, which must succeed; its JSON with --json."""
        result = self.run_cli(*args)
        assert result.returncode == 0, f"baoxiu {' '.join(args)}: status {result.returncode}\n{result.stderr}"
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def tickets(self) -> list[dict[str, Any]]:
        return self.cli("tickets", "list", "--json")  # type: ignore[no-any-return]

    # --- updates in --------------------------------------------------------------------------------------

    def deliver(self, i: int, update: dict[str, Any], timeout: float = 30.0) -> int:
        """POST the update to process i's webhook once, as Telegram does, and return the HTTP status (200 once
        it is handled). Raises httpx.TransportError when nothing listens, as after kill(i). An update without
        an update_id gets a fresh one; to deliver the same update twice, give both calls `stamped(update)`."""
        response = httpx.post(self.webhook_url(i), json=stamped(update), headers={SECRET_HEADER: SECRET},
                              timeout=timeout)  # fmt: skip
        return response.status_code

    def deliver_many(
        self, deliveries: Iterable[tuple[int, dict[str, Any]]], timeout: float = 30.0, failover: bool = False
    ) -> list[int]:
        """(process, update) pairs, all at once; returns their update_ids once every one is acknowledged.

        Like Telegram, an update that is refused or finds nobody listening is posted again until it gets 200,
        to the same process, or with `failover` to the next one (a load balancer's way). Runs its own event
        loop: call it from a test that is not itself async."""
        pairs = [(i, stamped(update)) for i, update in deliveries]
        asyncio.run(self._deliver_all(pairs, timeout, failover))
        return [int(update["update_id"]) for _, update in pairs]

    async def _deliver_all(self, pairs: list[tuple[int, dict[str, Any]]], timeout: float, failover: bool) -> None:
        deadline = time.monotonic() + timeout
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

            async def one(i: int, update: dict[str, Any]) -> None:
                last = "nothing"
                while time.monotonic() < deadline:
                    try:
                        response = await client.post(self.webhook_url(i), json=update, headers={SECRET_HEADER: SECRET})
                        if response.status_code == 200:
                            return
                        last = f"status {response.status_code}"
                    except httpx.TransportError as error:
                        last = repr(error)
                    if failover:
                        i = (i + 1) % len(self)
                    await asyncio.sleep(0.1)
                raise AssertionError(f"update {update['update_id']} was not acknowledged: {last}")

            await asyncio.gather(*(one(i, update) for i, update in pairs))

    # --- a person's side of the chat, through a chosen process ----------------------------------------------

    def say(self, i: int, user: int, text: str, chat: int | None = None, until: str | None = None,
            timeout: float = 15.0, **extra: Any) -> list[dict[str, Any]]:  # fmt: skip
        """A person's message to process i; returns the messages that came to the chat since (see `answers`)."""
        target = chat if chat is not None else user
        before = len(self.fake.messages_to(target))
        status = self.deliver(i, text_update(user, text, chat_id=chat, **extra))
        assert status == 200, f"process {i} answered {status}\n" + self.log(i)
        return self.answers(target, before, until, timeout)

    def press(self, i: int, user: int, label: str, chat: int | None = None, until: str | None = None,
              language: str = "zh-hans", timeout: float = 15.0) -> list[dict[str, Any]]:  # fmt: skip
        """A person presses the button labelled `label` (or part of it) on the latest message that has one,
        through process i; returns the messages that came to the chat since (see `answers`)."""
        target = chat if chat is not None else user
        with_button = [m for m in self.fake.messages_to(target) if label in " ".join(buttons(m))]
        assert with_button, f"no message to {target} has a button {label!r}"
        before = len(self.fake.messages_to(target))
        status = self.deliver(i, button_update(user, with_button[-1], label, chat_id=chat, language=language))
        assert status == 200, f"process {i} answered {status}\n" + self.log(i)
        return self.answers(target, before, until, timeout)

    def answers(
        self, chat: int | str, before: int, until: str | None = None, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """The messages to the chat after its first `before`, once there is one containing `until` (without it:
        any), and then a quiet moment. With several processes a message may come twice, and a late copy of an
        earlier one may come first: `until` waits for the answer itself."""

        def arrived() -> bool:
            new = self.fake.messages_to(chat)[before:]
            return any(until in m.get("text", "") for m in new) if until is not None else bool(new)

        self.fake.wait_for(arrived, timeout)
        return self.fake.wait_for_messages(chat, before + 1, timeout)[before:]

    # --- what Telegram saw ---------------------------------------------------------------------------------

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Every sendMessage, edit and callback answer the fake received, in order."""
        return self.fake.sent

    def messages_to(self, chat: int | str) -> list[dict[str, Any]]:
        return self.fake.messages_to(chat)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        return self.fake.wait_for(predicate, timeout)

    def outbox(self) -> list[dict[str, Any]]:
        """The outbox table as it stands, oldest first: key, channel, recipient, status, attempts, last_error."""
        columns = [OutboxRow.key, OutboxRow.channel, OutboxRow.recipient, OutboxRow.status, OutboxRow.attempts,
                   OutboxRow.last_error]  # fmt: skip
        with self._engine().connect() as connection:
            rows = connection.execute(select(*columns).order_by(OutboxRow.id)).mappings().all()
        return [dict(row) for row in rows]

    def extra_sends(self) -> int:
        """How many more messages Telegram received than the outbox holds as sent: the repeats, when processes
        sent the same message more than once. Exact once every process has written back what it sent."""
        sent = [row for row in self.outbox() if row["channel"] == "telegram" and row["status"] == "sent"]
        return len([m for m in list(self.fake.sent) if m["method"] == "sendMessage"]) - len(sent)

    def _engine(self) -> Engine:
        if self._database is None:
            self._database = create_engine(self.database_url)
        return self._database


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
