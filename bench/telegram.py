"""Updates per second through baoxiu and through a bare python-telegram-bot echo bot, on one fake Bot API.

Run from the repository root: `.venv/bin/python bench/telegram.py` (add `--messages N`, `--rounds N`). With
BAOXIU_TEST_PG_URL set, baoxiu is also measured on PostgreSQL (that database is emptied first).

Every bot under test runs in its own process; the fake Bot API (tests/fake_telegram.py) in another.
Residents talk as they would: 200 of them each send 10 messages of two repair reports, in order per
person, interleaved across people. A run ends at the last message the fake receives. The fake has no
flood limits, so baoxiu's limits are raised for the run (they would cap it at Telegram's 30/s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import reset_postgres  # noqa: E402
from tests.fake_telegram import TOKEN, text_update  # noqa: E402

PYTHON = sys.executable
BAOXIU = str(Path(sys.executable).parent / "baoxiu")
SECRET = "bench-secret"
CONVERSATION = ["厨房水管漏水", "1-2-502", "2", "2", "1", "卫生间灯不亮了", "1-2-502", "2", "2", "1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit("timed out waiting for a process to come up")


@contextmanager
def process(args: list[str], cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAOXIU_")}
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def updates(count: int) -> list[list[dict[str, object]]]:
    """Per person, their messages in order."""
    people = max(1, count // len(CONVERSATION))
    return [[text_update(100_000 + p, text) for text in CONVERSATION] for p in range(people)]


def until_quiet(fake_port: int, start: float, at_least: int) -> tuple[float, int]:
    """Seconds from start to the last message sent, once they have stopped coming for a moment, and how many.

    One kept-alive client, polled gently: a new client per poll costs enough CPU to slow the bots."""
    last_count, last_change = -1, time.monotonic()
    with httpx.Client() as client:
        while True:
            count = int(client.get(f"http://127.0.0.1:{fake_port}/_control/sent").json()["sent"])
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
            elif count >= at_least and now - last_change > 1.0:
                return last_change - start, count
            time.sleep(0.05)


async def post_webhooks(url: str, people: list[list[dict[str, object]]], workers: int = 16) -> None:
    queue: asyncio.Queue[list[dict[str, object]]] = asyncio.Queue()
    for person in people:
        queue.put_nowait(person)
    update_id = iter(range(1, 10**9))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            for update in queue.get_nowait():
                response = await client.post(url, json={"update_id": next(update_id), **update}, headers=headers)
                response.raise_for_status()

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(workers)))


def drive(mode: str, fake_port: int, bot_port: int, people: list[list[dict[str, object]]]) -> tuple[float, float]:
    """Updates handled per second, and messages sent per second (baoxiu also pushes jobs to staff)."""
    total = sum(len(p) for p in people)
    start = time.monotonic()
    if mode == "polling":
        interleaved = [person[i] for i in range(len(CONVERSATION)) for person in people]
        httpx.post(f"http://127.0.0.1:{fake_port}/_control/updates", json=interleaved, timeout=60)
    else:
        asyncio.run(post_webhooks(f"http://127.0.0.1:{bot_port}/telegram", people))
    elapsed, sent = until_quiet(fake_port, start, at_least=total)
    return total / elapsed, sent / elapsed


def measure_echo(mode: str, people: list[list[dict[str, object]]]) -> tuple[float, float]:
    fake_port, bot_port = free_port(), free_port()
    with process([PYTHON, "-m", "tests.fake_telegram", "--port", str(fake_port)], cwd=REPO):
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{fake_port}/_control/sent").status_code == 200)
        # As a module from the repository root: run from bench/, `import telegram` would find this file.
        args = [PYTHON, "-m", "bench.echo_bot", "--token", TOKEN, "--mode", mode,
                "--base-url", f"http://127.0.0.1:{fake_port}/bot", "--port", str(bot_port)]  # fmt: skip
        with process(args, cwd=REPO):
            if mode == "webhook":
                wait_until(lambda: httpx.post(f"http://127.0.0.1:{bot_port}/telegram", json={}).status_code < 600)
            time.sleep(1.5)  # polling: let it make its first getUpdates
            return drive(mode, fake_port, bot_port, people)


def measure_baoxiu(mode: str, people: list[list[dict[str, object]]], database_url: str | None) -> tuple[float, float]:
    fake_port, bot_port = free_port(), free_port()
    with (
        tempfile.TemporaryDirectory() as folder,
        process([PYTHON, "-m", "tests.fake_telegram", "--port", str(fake_port)], cwd=REPO),
    ):
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{fake_port}/_control/sent").status_code == 200)
        url = database_url or f"sqlite:///{Path(folder) / 'baoxiu.db'}"
        Path(folder, "baoxiu.toml").write_text(
            f"""
[database]
url = "{url}"
[server]
port = {bot_port}
[telegram]
token = "{TOKEN}"
mode = "{mode}"
base_url = "http://127.0.0.1:{fake_port}/bot"
base_file_url = "http://127.0.0.1:{fake_port}/file/bot"
webhook_url = "http://127.0.0.1:{bot_port}/telegram"
webhook_secret = "{SECRET}"
max_messages_per_second = 100000
max_group_messages_per_minute = 100000
max_chat_messages_per_second = 100000
""",
            encoding="utf-8",
        )
        load = [BAOXIU, "--config", "baoxiu.toml", "directory", "load", str(REPO / "bot" / "demo_estate.toml")]
        subprocess.run(load, cwd=folder, check=True, capture_output=True)
        with process([BAOXIU, "--config", "baoxiu.toml", "run"], cwd=Path(folder)):
            wait_until(lambda: httpx.get(f"http://127.0.0.1:{bot_port}/healthz").status_code == 200)
            time.sleep(1.5)
            return drive(mode, fake_port, bot_port, people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="each bot measured this many times; medians shown")
    args = parser.parse_args()
    people = updates(args.messages)
    total = sum(len(p) for p in people)
    pg_url = os.environ.get("BAOXIU_TEST_PG_URL")
    databases = [("sqlite", None)] + ([("postgresql", pg_url)] if pg_url else [])
    print(f"{total} resident messages, {len(people)} residents, one fake Bot API; updates/s (higher is better)")
    print("(sent/s: messages the fake Bot API received per second; baoxiu's include its pushes to staff)")
    print(f"Medians of {args.rounds} rounds; in each round the echo bot and baoxiu run back to back, and the")
    print("ratio is taken within the round, since this machine's speed drifts between runs.")
    columns = ("mode", "database", "echo bot", "baoxiu", "ratio", "echo sent/s", "baoxiu sent/s", "ratio per round")
    print("{:<8} {:<10} {:>9} {:>9} {:>6} {:>12} {:>14}  {}".format(*columns))
    for mode in ("polling", "webhook"):
        runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _ in databases}
        for _ in range(args.rounds):
            echo, echo_sent = measure_echo(mode, people)
            for name, url in databases:
                if url:
                    reset_postgres(url)
                ours, ours_sent = measure_baoxiu(mode, people, url)
                runs[name].append((echo, ours, echo_sent, ours_sent))
        for name, measured in runs.items():
            echo, ours, echo_sent, ours_sent = (statistics.median(column) for column in zip(*measured, strict=True))
            ratios = [o / e for e, o, _, _ in measured]
            row = (mode, name, f"{echo:.0f}", f"{ours:.0f}", f"{statistics.median(ratios):.2f}", f"{echo_sent:.0f}",
                   f"{ours_sent:.0f}", " ".join(f"{r:.2f}" for r in ratios))  # fmt: skip
            print("{:<8} {:<10} {:>9} {:>9} {:>6} {:>12} {:>14}  {}".format(*row), flush=True)


if __name__ == "__main__":
    main()
