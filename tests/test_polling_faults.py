"""A database that fails a turn, with the real python-telegram-bot against the fake Bot API (tests/fake_telegram.py).

In polling mode Telegram counts an update as delivered once it is fetched: a turn the database failed is tried again
in the process, and a message it keeps failing is rejected with an apology, never dropped in silence. In webhook
mode the failed call is made again by Telegram, and the update delivered again is answered, not taken for a
duplicate. The desk, the database and the outbox are real; the database fails where a turn queues its answers,
after it has claimed the message.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram import render as telegram_render
from bot.config import TelegramSection
from bot.runtime.outbox_sender import OutboxSender
from bot.runtime.server import build_app
from bot.runtime.workers import InLoopDesk
from core.ports import OutboxMessage
from storage.repositories.outbox import SqlAlchemyOutbox
from storage.tables import InboundMessageRow
from storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import demo_estate, desk_on
from tests.fake_telegram import TOKEN, FakeTelegram, text_update

ZHANG, EMILY = 7001, 7002  # residents of the demo estate; Emily's directory entry says English
SORRY_EN = "Sorry, something went wrong with your message. It has been recorded and our staff will look into it."
SECRET = "s3cret-token"


class Faults:
    """The database fails the next `turns` turns where they queue their answers (a deadlock, say)."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.turns = 0
        dbapi_error = engine.dialect.loaded_dbapi.OperationalError
        add_all = SqlAlchemyOutbox.add_all

        def failing(outbox: SqlAlchemyOutbox, messages: list[OutboxMessage], now: Any) -> list[OutboxMessage]:
            if self.turns > 0:
                self.turns -= 1
                raise OperationalError("INSERT INTO outbox ...", {}, dbapi_error("deadlock detected"))
            return add_all(outbox, messages, now)

        monkeypatch.setattr(SqlAlchemyOutbox, "add_all", failing)


@pytest.fixture
def faults(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Faults:
    return Faults(engine, monkeypatch)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait for what the bot does on this loop (the fake's own wait_for would stop the loop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := predicate()):
        if loop.time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)
    return result


@dataclass
class Bot:
    fake: FakeTelegram
    channel: TelegramChannel
    engine: Engine

    def texts(self, chat: int) -> list[str]:
        return [m["text"] for m in self.fake.messages_to(chat)]

    def outcome(self, update_id: int) -> tuple[str, str] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(InboundMessageRow.outcome, InboundMessageRow.reason).where(
                    InboundMessageRow.channel == "telegram", InboundMessageRow.native_id == str(update_id)
                )
            ).first()
        return (row[0], row[1]) if row is not None else None

    async def say(self, user: int, text: str, language: str = "zh-hans") -> int:
        """A message to the bot, once it has been answered (or apologised for)."""
        before = len(self.fake.messages_to(user))
        update_id = await asyncio.to_thread(self.fake.push, text_update(user, text, language=language))
        await until(lambda: len(self.fake.messages_to(user)) > before)
        return update_id


@asynccontextmanager
async def serving(engine: Engine, fake: FakeTelegram, tmp_path: Path, mode: str) -> AsyncIterator[Bot]:
    """baoxiu as `baoxiu run` puts it together on SQLite (the desk on the loop's thread), in this process."""
    uow = SqlAlchemyUnitOfWork(engine)
    with uow:
        uow.directory.sync(demo_estate())
        uow.commit()
    desk = desk_on(uow)
    sender = OutboxSender(uow, transports={})
    desk.queued_listeners.append(sender.submit)
    runner = InLoopDesk(desk, on_queued=sender.submit, again_after=(0.0, 0.0, 0.0))  # no real waits
    port = free_port()
    settings = TelegramSection(token=TOKEN, mode=mode, base_url=fake.base_url, base_file_url=fake.base_file_url,
                               webhook_url=f"http://127.0.0.1:{port}/telegram", webhook_secret=SECRET,
                               max_chat_messages_per_second=50)  # fmt: skip
    channel = TelegramChannel(settings, runner, tmp_path)
    sender.transports["telegram"] = channel.send
    server = uvicorn.Server(uvicorn.Config(build_app(engine, uow, channel), host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))  # fmt: skip
    stopping = asyncio.Event()
    serve = asyncio.create_task(server.serve())
    send = asyncio.create_task(sender.run(stopping))
    await until(lambda: server.started)
    await runner.start([telegram_render])
    await channel.start()
    try:
        yield Bot(fake, channel, engine)
    finally:
        await channel.stop()
        await runner.close()
        stopping.set()
        server.should_exit = True
        await asyncio.gather(serve, send)


def test_polling_a_turn_the_database_failed_for_a_moment_is_answered(
    engine: Engine, fake: FakeTelegram, faults: Faults, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, "polling") as bot:
            faults.turns = 2
            first = await bot.say(ZHANG, "厨房水管漏水")
            assert faults.turns == 0
            assert bot.texts(ZHANG) and SORRY_EN not in bot.texts(ZHANG)  # the intake's question, not an apology
            assert bot.outcome(first) == ("handled", "")
            # The report goes on from what the failed tries left: nothing of theirs was kept.
            second = await bot.say(ZHANG, "1")
            assert bot.outcome(second) == ("handled", "")
            assert bot.texts(ZHANG)[-1].startswith("情况有多紧急？")  # 1-1-1201 taken: the urgency is asked

    asyncio.run(scenario())


def test_polling_a_message_the_database_keeps_failing_is_rejected_with_an_apology_in_the_persons_language(
    engine: Engine, fake: FakeTelegram, faults: Faults, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, "polling") as bot:
            faults.turns = 4  # the first try and the three more
            lost = await bot.say(EMILY, "the kitchen pipe is leaking", language="zh-hans")
            assert faults.turns == 0
            assert bot.texts(EMILY) == [SORRY_EN]  # her directory entry says English, whatever her app says
            outcome = bot.outcome(lost)
            assert outcome is not None and outcome[0] == "rejected" and "deadlock detected" in outcome[1]
            # Her next message is answered as usual.
            await bot.say(EMILY, "the kitchen pipe is leaking", language="zh-hans")
            assert bot.texts(EMILY)[1].startswith("Where is the problem?")

    asyncio.run(scenario())


def test_webhook_a_call_the_database_failed_is_made_again_and_answered_not_taken_for_a_duplicate(
    engine: Engine, fake: FakeTelegram, faults: Faults, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, "webhook") as bot:
            assert fake.webhook["secret_token"] == SECRET
            faults.turns = 1
            update_id = await bot.say(ZHANG, "厨房水管漏水")
            assert fake.rejected_webhook_posts == 1  # a 5xx, and Telegram called again
            assert bot.texts(ZHANG) and SORRY_EN not in bot.texts(ZHANG)
            assert bot.outcome(update_id) == ("handled", "")

    asyncio.run(scenario())
