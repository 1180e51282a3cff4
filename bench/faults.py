"""Crashes, restarts and a database outage while residents report: what became of every promise.

Run from the repository root: `.venv/bin/python bench/faults.py` (about 4 minutes; `--help` for the knobs). For each
database and mode, `baoxiu run` serves a fake Bot API (tests/fake_telegram.py, with Telegram's offset and webhook
retry semantics) while simulated residents each file reports and remember the ticket numbers they are told. The
serving process and its desk workers are killed with SIGKILL at random moments and started again; on PostgreSQL the
database itself is stopped for a while and started again (a private cluster on a free port, made by this script as
the `postgres` user: initdb refuses root). Without PostgreSQL's initdb, or with `--databases sqlite`, only SQLite.

It prints, per database and mode: reports told and stored, reports stored twice, messages lost (confirmed to
Telegram and never answered), messages sent twice, chats whose messages came out of order, the time from a crash to
the next message sent, the memory of the baoxiu processes (proportional set size) and the database's size. The
targets: nothing lost, nothing stored twice, no chat out of order, at most one duplicate per chat per crash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from storage.tables import InboundMessageRow, OutboxRow, TicketRow  # noqa: E402
from tests.fake_telegram import text_update  # noqa: E402
from tests.harness import SECRET, SECRET_HEADER, Deployment, free_port, stamped  # noqa: E402

NUMBER = re.compile(r"SG-\d{8}-\d{4}")
FIRST_RESIDENT = 930_000  # strangers to the directory: they type their room


def script(user: int, report: int) -> list[str]:
    """A stranger's repair report, answered by typing: the fault (a text of its own, to find it stored twice),
    the room, urgent, still broken, submit."""
    return [f"厨房水管漏水（{user}的第{report + 1}处）", "1-2-502", "2", "2", "1"]


class Faulted(Deployment):
    """One `baoxiu run` in polling or webhook mode (the harness's deployment, which serves webhooks)."""

    def __init__(self, folder: Path, database_url: str | None, mode: str, workers: int) -> None:
        super().__init__(folder, processes=1, database_url=database_url, workers=workers, start_timeout=60,
                         settings={"telegram": {"mode": mode}})  # fmt: skip
        self.mode = mode

    def _wait_until_ready(self, i: int) -> None:
        if self.mode == "webhook":
            super()._wait_until_ready(i)
            return
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and self.healthz(i) != 200:
            time.sleep(0.05)


@dataclass
class Run:
    users: list[int] = field(default_factory=list)
    unanswered: int = 0  # messages a resident waited on in vain
    confirmed: list[str] = field(default_factory=list)  # update ids Telegram was told were received
    crashes: list[float] = field(default_factory=list)  # seconds from a kill to the next message sent
    outages: list[float] = field(default_factory=list)  # seconds from the database's return to the next message


async def resident(d: Faulted, user: int, reports: int, run: Run, patience: float) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for report in range(reports):
            for said in script(user, report):
                before = len(d.fake.messages_to(user))
                run.confirmed.append(str(await deliver(d, client, text_update(user, said))))
                deadline = time.monotonic() + patience
                while len(d.fake.messages_to(user)) <= before and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if len(d.fake.messages_to(user)) <= before:
                    run.unanswered += 1


async def deliver(d: Faulted, client: httpx.AsyncClient, update: dict[str, Any]) -> int:
    """As Telegram: by getUpdates (kept until an offset confirms it), or posted until the webhook answers 200; the
    update's id. Telegram numbers updates in the order they come, so the fake does it for getUpdates."""
    if d.mode == "polling":
        return await asyncio.to_thread(d.fake.push, update)
    update = stamped(update)
    while True:
        with contextlib.suppress(httpx.TransportError):
            response = await client.post(d.webhook_url(0), json=update, headers={SECRET_HEADER: SECRET})
            if response.status_code == 200:
                return int(update["update_id"])
        await asyncio.sleep(0.2)


async def next_message_after(d: Faulted, since: int, limit: float = 120.0) -> float:
    started = time.monotonic()
    while len(d.fake.sent) <= since and time.monotonic() - started < limit:
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def crash_now_and_then(d: Faulted, run: Run, kills: int, total: int, stop: asyncio.Event) -> None:
    """Kill at random moments of the run: after a random share of the residents' messages were confirmed."""
    for at in sorted(random.uniform(0.1, 0.9) * total for _ in range(kills)):
        while len(run.confirmed) < at and not stop.is_set():
            await asyncio.sleep(0.01)
        if stop.is_set():
            return
        sent = len(d.fake.sent)
        began = time.monotonic()
        d.kill(0)  # the serving process and its desk workers, as a container's crash
        await asyncio.to_thread(d.start, 0)
        run.crashes.append(time.monotonic() - began + await next_message_after(d, sent))


async def database_outage(cluster: Cluster, run: Run, seconds: float, total: int, d: Faulted) -> None:
    while len(run.confirmed) < total / 2:
        await asyncio.sleep(0.01)
    await asyncio.to_thread(cluster.stop)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(cluster.start)
    run.outages.append(await next_message_after(d, len(d.fake.sent)))


class Cluster:
    """A PostgreSQL cluster of this script's own, on a free port, so that it can be stopped and started."""

    def __init__(self, folder: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("no initdb under /usr/lib/postgresql")
        self.bin = found[-1].parent
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"

    def _as_postgres(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def create(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.folder.parent.chmod(0o755)  # postgres must reach its folder through ours
            shutil.chown(self.folder, "postgres", "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-o",
                          f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")  # fmt: skip

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def proportional_set_size(d: Faulted) -> float:
    """MB of the serving process and its desk workers together, memory they share counted once."""
    group = d.pid(0)
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(int(entry.name)) != group:
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def database_size(url: str, folder: Path) -> float:
    if url.startswith("sqlite"):
        return sum(p.stat().st_size for p in folder.glob("baoxiu.db*")) / 2**20
    engine = create_engine(url)
    with engine.connect() as connection:
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size) / 2**20


def once(texts: list[str]) -> list[str]:
    return [t for n, t in enumerate(texts) if n == 0 or texts[n - 1] != t]


@dataclass
class Figures:
    told: int
    stored: int
    told_not_stored: int
    stored_twice: int
    messages_lost: int
    sent_twice: int
    most_in_a_chat: int  # sent twice to one chat: at most one per crash
    chats_out_of_order: int
    crashes: int
    worst_recovery: float
    memory_mb: float
    database_mb: float


def judge(d: Faulted, run: Run, url: str, folder: Path, crashes: int) -> Figures:
    engine = create_engine(url)
    with engine.connect() as connection:
        tickets = connection.execute(select(TicketRow.number, TicketRow.description)).all()
        inbound = select(InboundMessageRow.native_id, InboundMessageRow.outcome)
        outcomes = dict(connection.execute(inbound.where(InboundMessageRow.channel == "telegram")).all())
        sent = select(OutboxRow.id, OutboxRow.recipient, OutboxRow.payload).where(OutboxRow.status == "sent")
        rows = connection.execute(sent).all()
    engine.dispose()
    # What each resident was told: the ticket number of every confirmation that reached them.
    told = {n for user in run.users for m in d.fake.messages_to(user) if "工单号" in m.get("text", "")
            for n in NUMBER.findall(m["text"])}  # fmt: skip
    stored = {number for number, _ in tickets}
    twice = sum(n - 1 for n in Counter(description for _, description in tickets).values() if n > 1)
    settled = ("handled", "rejected")
    lost = run.unanswered + sum(1 for update_id in run.confirmed if outcomes.get(update_id) not in settled)
    by_chat: dict[str, list[str]] = {}
    for _, recipient, payload in sorted(rows):
        by_chat.setdefault(str(recipient), []).append(str(payload.get("text", "")))
    sent_twice = out_of_order = most_in_a_chat = 0
    for chat, expected in by_chat.items():
        got = [str(m.get("text", "")) for m in d.fake.messages_to(chat)]
        sent_twice += max(0, len(got) - len(expected))
        most_in_a_chat = max(most_in_a_chat, len(got) - len(expected))
        # A message sent again after a crash comes right after its first sending (nothing later to its chat goes
        # before it is marked): with repeats taken out, the chat's messages must be the outbox's, in its order.
        if once(got) != once(expected):
            out_of_order += 1
            pairs = enumerate(zip(once(got), once(expected), strict=False))
            at = next((n for n, (a, b) in pairs if a != b), min(len(once(got)), len(once(expected))) - 1)
            print(f"out of order in chat {chat} at message {at}: {once(got)[at][:60]!r} where "
                  f"{once(expected)[at][:60]!r} was next", file=sys.stderr)  # fmt: skip
    recoveries = [*run.crashes, *run.outages]
    return Figures(len(told), len(stored), len(told - stored), twice, lost, sent_twice, most_in_a_chat, out_of_order,
                   crashes,
                   max(recoveries, default=0.0), proportional_set_size(d), database_size(url, folder))  # fmt: skip


async def drive(d: Faulted, args: argparse.Namespace, run: Run, cluster: Cluster | None) -> None:
    stop = asyncio.Event()
    run.users = [FIRST_RESIDENT + n for n in range(args.residents)]
    residents = [resident(d, user, args.reports, run, args.patience) for user in run.users]
    total = args.residents * args.reports * len(script(0, 0))
    crashing = asyncio.create_task(crash_now_and_then(d, run, args.kills, total, stop))
    outage = None
    if cluster is not None and args.outage > 0:
        outage = asyncio.create_task(database_outage(cluster, run, args.outage, total, d))
    await asyncio.gather(*residents)
    stop.set()
    await crashing
    if outage is not None:
        await outage
    # Quiet: nothing waiting to be sent, nothing more arriving.
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 2.0:
        if len(d.fake.sent) != last:
            last, quiet_since = len(d.fake.sent), time.monotonic()
        await asyncio.sleep(0.1)


def measure(database: str, mode: str, args: argparse.Namespace) -> Figures:
    folder = Path(tempfile.mkdtemp(prefix=f"baoxiu-faults-{database}-{mode}-"))
    cluster = None
    url = None
    try:
        if database == "postgresql":
            cluster = Cluster(folder / "pg")
            url = cluster.create()
        d = Faulted(folder, url, mode, args.workers)
        with d:
            run = Run()
            asyncio.run(drive(d, args, run, cluster))
            return judge(d, run, d.database_url, folder, len(run.crashes))
    finally:
        if cluster is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                cluster.stop()
        if args.keep:
            print(f"(kept {folder})", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> list[tuple[str, str, Figures]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--residents", type=int, default=30)
    parser.add_argument("--reports", type=int, default=2, help="reports per resident (5 messages each)")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of baoxiu per database and mode")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds PostgreSQL is stopped (0: none)")
    parser.add_argument("--patience", type=float, default=90.0, help="seconds a resident waits for an answer")
    parser.add_argument("--workers", type=int, default=2, help="desk workers on PostgreSQL")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--modes", default="polling,webhook")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep each run's folder (logs, SQLite database)")
    args = parser.parse_args(argv)
    random.seed(args.seed)
    databases = args.databases.split(",")
    if "postgresql" in databases and not sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        print("no PostgreSQL initdb here: SQLite only", file=sys.stderr)
        databases.remove("postgresql")
    results = []
    print(f"{'database':10} {'mode':8} {'told':>5} {'stored':>6} {'lost':>5} {'twice':>5} {'msgs lost':>9} "
          f"{'sent twice':>10} {'per chat':>8} {'disorder':>8} {'crashes':>7} {'recovery':>8} {'memory':>8} "
          f"{'db size':>8}")  # fmt: skip
    for database in databases:
        for mode in args.modes.split(","):
            f = measure(database, mode, args)
            results.append((database, mode, f))
            print(f"{database:10} {mode:8} {f.told:5} {f.stored:6} {f.told_not_stored:5} {f.stored_twice:5} "
                  f"{f.messages_lost:9} {f.sent_twice:10} {f.most_in_a_chat:8} {f.chats_out_of_order:8} {f.crashes:7} "
                  f"{f.worst_recovery:7.1f}s {f.memory_mb:6.0f}MB {f.database_mb:6.1f}MB", flush=True)  # fmt: skip
    return results


if __name__ == "__main__":
    main()
