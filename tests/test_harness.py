"""The multi-process harness itself: several `baoxiu run` on one database, each answering what it is sent.

Two processes each send what they queued and also poll the shared outbox, with no claim on a row yet: a
message is now and then sent twice. These tests ask for "at least once" from Telegram's side and count on
the database for what must happen once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL
from tests.fake_telegram import text_update
from tests.harness import Deployment

ZHANG = 7001  # a resident of 1-1-1201 in the demo estate, who reads Chinese
GREETING = "Hello! This is the Sunrise Garden repair desk."


def hello(deployment: Deployment, i: int, user: int) -> None:
    """Say hello to process i, and wait until the greeting has come (at least once)."""
    deployment.say(i, user, "hello", until=GREETING, language="en")


def greeted(deployment: Deployment, user: int) -> Callable[[], bool]:
    return lambda: any(m["text"].startswith(GREETING) for m in deployment.messages_to(user))


def group_alive(group: int) -> bool:
    """Any process left in the group that is not a zombie."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two processes on one PostgreSQL database, shared by the tests here (each with people of its own)."""
    assert PG_URL is not None
    with Deployment(tmp_path_factory.mktemp("two"), processes=2, database_url=PG_URL) as deployment:
        yield deployment
        total = len([m for m in deployment.sent if m["method"] == "sendMessage"])
        print(f"\nharness: Telegram got {total} messages, {deployment.extra_sends()} more than the outbox sent")


@pytest.mark.postgres
def test_both_processes_answer(two: Deployment) -> None:
    hello(two, 0, 8301)
    hello(two, 1, 8302)


@pytest.mark.postgres
def test_a_report_made_through_both_processes_is_one_ticket(two: Deployment) -> None:
    two.say(0, ZHANG, "厨房水管漏水", until="问题在哪里")  # each step waits for its own answer
    two.press(1, ZHANG, "1-1-1201", until="情况有多紧急")
    two.press(0, ZHANG, "加急", until="请先自查")
    two.press(1, ZHANG, "仍未修好", until="请核对您的报修信息")
    done = [m for m in two.press(0, ZHANG, "提交", until="工单号：") if "工单号：" in m["text"]]
    number = done[0]["text"].split("工单号：")[1].split()[0]
    (ticket,) = [t for t in two.tickets() if t["reporter"].startswith("张三")]
    assert (ticket["number"], ticket["location"], ticket["urgency"]) == (number, "1-1-1201", "urgent")


@pytest.mark.postgres
def test_updates_delivered_at_once_to_both_are_all_answered(two: Deployment) -> None:
    people = range(8310, 8318)
    two.deliver_many((person % 2, text_update(person, "hello", language="en")) for person in people)
    for person in people:
        two.wait_for(greeted(two, person))


@pytest.mark.postgres
def test_killing_one_process_leaves_the_other_answering_and_it_comes_back(two: Deployment) -> None:
    killed = two.pid(1)
    two.kill(1)
    assert not two.alive(1) and two.healthz(1) is None
    two.wait_for(lambda: not group_alive(killed))  # its desk workers died with it
    with pytest.raises(httpx.TransportError):
        two.deliver(1, text_update(8320, "hello", language="en"))
    hello(two, 0, 8321)
    two.restart(1)  # not running: just started
    assert two.pid(1) != killed
    hello(two, 1, 8322)


def test_one_process_on_sqlite(tmp_path: Path) -> None:
    with Deployment(tmp_path, processes=1) as one:
        hello(one, 0, 8330)


def test_sqlite_is_for_one_process_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one process"):
        Deployment(tmp_path, processes=2)
