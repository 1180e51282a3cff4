"""Where `baoxiu run` answers: a message that breaks its turn costs only itself (the pool's own isolation is
tests/test_pool.py); a database that is away is not the message's fault, and a message nobody would deliver again
is tried again here, then rejected; the apology is in the language the desk would have answered in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.config import parse_config
from bot.runtime.pool import WorkerDied
from bot.runtime.workers import DeskProcesses, InLoopDesk
from core.conversation.messages import Inbound, Reply
from core.desk import Desk
from core.domain.people import Address
from core.ports import OutboxMessage
from tests.conftest import demo_estate, desk_on
from tests.fakes import FakeUnitOfWork

NOW = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
EMILY, ZHANG = "7002", "7001"  # the demo estate's residents on Telegram: Emily's directory locale is "en"
SORRY_EN = "Sorry, something went wrong with your message. It has been recorded and our staff will look into it."
SORRY_ZH = "抱歉，处理您的消息时出了问题。我们已记录下来，工作人员会跟进处理。"


def render(inbound: Inbound, reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    return [(inbound.chat, {"text": reply.text})]


def message(native_id: str, language: str = "en", sender: str | None = None) -> Inbound:
    sender = sender or native_id
    return Inbound("telegram", sender, sender, "hello", native_id=native_id, language_hint=language)


def database_error() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def demo_desk() -> Desk:
    """The desk of this process (it rejects, and reads the apology's language), on the demo estate."""
    uow = FakeUnitOfWork()
    with uow:
        uow.directory.sync(demo_estate())
        uow.commit()
    return desk_on(uow)


class Pool:
    """A stand-in for the worker pool: some messages kill their worker (so many times), some make the turn raise."""

    def __init__(self, deaths: dict[str, int] | None = None, raising: dict[str, Exception] | None = None,
                 away: dict[str, int] | None = None) -> None:  # fmt: skip
        self.deaths, self.raising, self.away = dict(deaths or {}), dict(raising or {}), dict(away or {})
        self.runs: list[str] = []

    async def run(self, function: Callable[..., Any], /, *args: Any) -> Any:
        inbound: Inbound = args[0]
        self.runs.append(inbound.native_id)
        await asyncio.sleep(0)  # others' messages are in flight meanwhile
        if self.deaths.get(inbound.native_id, 0) > 0:
            self.deaths[inbound.native_id] -= 1
            raise WorkerDied(f"worker process 123 died running _handle (exit code -9) for {inbound.native_id}")
        if inbound.native_id in self.raising:
            raise self.raising[inbound.native_id]
        if self.away.get(inbound.native_id, 0) > 0:  # the database fails this turn (so many times)
            self.away[inbound.native_id] -= 1
            raise database_error()
        return [Reply(f"answer to {inbound.native_id}")], [OutboxMessage(f"k{inbound.native_id}", "telegram", "c", {})]

    async def close(self) -> None:
        """Nothing to stop."""


def runner(pool: Pool, desk: Desk | None = None) -> tuple[DeskProcesses, FakeUnitOfWork, list[OutboxMessage]]:
    desk, queued = desk or demo_desk(), list[OutboxMessage]()
    processes = DeskProcesses(parse_config({}, environ={}), "SG", 2, desk, on_queued=queued.extend)
    processes.pool = pool  # type: ignore[assignment]
    assert isinstance(desk.uow, FakeUnitOfWork)
    return processes, desk.uow, queued


def rejected(uow: FakeUnitOfWork) -> dict[tuple[str, str], str]:
    return {key: outcome for key, outcome in uow.committed.handled.items() if outcome == "rejected"}


def test_a_message_whose_worker_died_once_is_tried_again_and_answered() -> None:
    processes, uow, queued = runner(Pool(deaths={"7": 1}))
    replies = asyncio.run(processes.handle(message("7"), NOW, render))
    assert [r.text for r in replies] == ["answer to 7"]
    assert [m.key for m in queued] == ["k7"] and rejected(uow) == {}


def test_a_message_that_kills_its_worker_twice_costs_only_itself() -> None:
    pool = Pool(deaths={"poison": 2})
    processes, uow, queued = runner(pool)

    async def together() -> list[list[Reply]]:
        return await asyncio.gather(*(processes.handle(message(n, "zh-hans" if n == "poison" else "en"), NOW, render)
                                      for n in ("1", "poison", "2", "3")))  # fmt: skip

    answers = asyncio.run(together())
    assert [[r.text for r in replies] for replies in answers] == [["answer to 1"], [], ["answer to 2"], ["answer to 3"]]
    assert pool.runs.count("poison") == 2  # tried once more, never for ever
    assert rejected(uow) == {("telegram", "poison"): "rejected"}
    apology = [m for m in queued if m.recipient == "poison"]
    assert [m.payload["text"] for m in apology] == [SORRY_ZH]  # in the sender's language
    # Telegram delivering it again finds it handled: it is not tried a third time.
    with uow:
        assert uow.conversations.open("telegram", "poison", "poison", message("poison").address, NOW, "poison") is None


def test_a_turn_that_raises_is_rejected_at_once_with_an_apology() -> None:
    pool = Pool(raising={"8": RuntimeError("a bug")})
    processes, uow, queued = runner(pool)
    assert asyncio.run(processes.handle(message("8"), NOW, render)) == []
    assert pool.runs == ["8"] and rejected(uow) == {("telegram", "8"): "rejected"}
    assert [m.payload["text"] for m in queued] == [SORRY_EN]


def test_a_database_that_is_away_is_left_to_the_channel_which_keeps_the_message_and_tries_again() -> None:
    processes, uow, queued = runner(Pool(raising={"9": database_error()}))
    with pytest.raises(OperationalError):
        asyncio.run(processes.handle(message("9"), NOW, render))
    assert rejected(uow) == {} and queued == []
    with uow:  # nothing claimed it: the message tried again is answered
        assert uow.conversations.open("telegram", "9", "9", message("9").address, NOW, "9") is not None


def test_a_worker_that_dies_is_replaced_but_a_database_that_fails_goes_back_to_the_channel() -> None:
    pool = Pool(deaths={"13": 1}, away={"13": 1})
    processes, uow, queued = runner(pool)
    with pytest.raises(OperationalError):
        asyncio.run(processes.handle(message("13"), NOW, render))
    assert [r.text for r in asyncio.run(processes.handle(message("13"), NOW, render))] == ["answer to 13"]
    assert pool.runs == ["13"] * 3 and [m.key for m in queued] == ["k13"] and rejected(uow) == {}


class BrokenDesk(Desk):
    """The demo desk, whose every turn raises, as one with a bug would."""

    def handle(self, inbound: Inbound, now: datetime, render: Any = None) -> list[Reply]:
        raise KeyError("a bug")


class FlakyDesk(Desk):
    """The demo desk, whose first turns the database fails (so many times)."""

    failures = 0

    def handle(self, inbound: Inbound, now: datetime, render: Any = None) -> list[Reply]:
        if self.failures > 0:
            self.failures -= 1
            raise database_error()
        return super().handle(inbound, now, render)


def in_loop(kind: type[Desk]) -> tuple[InLoopDesk, Desk, list[OutboxMessage]]:
    demo, queued = demo_desk(), list[OutboxMessage]()
    desk = kind(demo.uow, demo.settings)
    desk.queued_listeners.append(queued.extend)
    return InLoopDesk(desk, on_queued=queued.extend), desk, queued


def test_on_sqlite_too_a_turn_that_raises_is_rejected_with_an_apology() -> None:
    runner, desk, queued = in_loop(BrokenDesk)
    assert asyncio.run(runner.handle(message("10", "en-GB"), NOW, render)) == []
    assert [m.payload["text"] for m in queued] == [SORRY_EN]
    assert rejected(desk.uow) == {("telegram", "10"): "rejected"}  # type: ignore[arg-type]


def test_on_sqlite_too_a_turn_the_database_failed_goes_back_to_the_channel_unrejected() -> None:
    runner, desk, queued = in_loop(FlakyDesk)
    assert isinstance(desk, FlakyDesk)
    desk.failures = 1
    with pytest.raises(OperationalError):
        asyncio.run(runner.handle(message("15", sender=EMILY), NOW, render))
    assert asyncio.run(runner.handle(message("15", sender=EMILY), NOW, render)) and queued
    assert rejected(desk.uow) == {}  # type: ignore[arg-type]


def test_the_apology_is_in_the_language_the_person_chose_or_the_directory_gives() -> None:
    """Both residents' chat apps are in Chinese: Emily's directory entry says English, 张三 chose English (/lang)."""
    desk = demo_desk()
    with desk.uow as uow:
        zhang = desk.estate(uow, NOW).person_at(Address("telegram", ZHANG))
        assert zhang is not None
        uow.people.set_locale(zhang.ref, "en", NOW)
        uow.commit()
    processes, _, queued = runner(Pool(raising={"17": RuntimeError("a bug"), "18": RuntimeError("a bug")}), desk)
    asyncio.run(processes.handle(message("17", "zh-hans", sender=EMILY), NOW, render))
    asyncio.run(processes.handle(message("18", "zh-hans", sender=ZHANG), NOW, render))
    assert [(m.recipient, m.payload["text"]) for m in queued] == [(EMILY, SORRY_EN), (ZHANG, SORRY_EN)]


def test_when_the_language_cannot_be_read_the_apology_is_in_the_chat_apps() -> None:
    desk = desk_on(FakeUnitOfWork())  # no estate: reading the sender fails, as with the database away
    processes, uow, queued = runner(Pool(raising={"19": RuntimeError("a bug")}), desk)
    asyncio.run(processes.handle(message("19", "zh-hans", sender=EMILY), NOW, render))
    assert [m.payload["text"] for m in queued] == [SORRY_ZH] and rejected(uow) == {("telegram", "19"): "rejected"}
