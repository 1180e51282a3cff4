"""What Telegram was told was received is never lost, with the real python-telegram-bot against the fake Bot API
(tests/fake_telegram.py), in both modes.

An update is confirmed (the next getUpdates offset, the webhook's 200) once it is kept in the database; it is answered
after. While the database is away, updates are not confirmed and Telegram keeps them; a turn the database fails
waits and is tried again, never rejected for it; what a stopped process kept is answered at the next start; an
update nobody can read is rejected and confirmed, and the next one is answered. The desk, the database and the
outbox are real.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from bot.channels import telegram as telegram_module
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram import render as telegram_render
from bot.config import TelegramSection
from bot.runtime.outbox_sender import OutboxSender
from bot.runtime.server import build_app
from bot.runtime.workers import InLoopDesk
from core.ports import OutboxMessage
from storage.repositories.conversations import SqlAlchemyConversationRepository
from storage.repositories.outbox import SqlAlchemyOutbox
from storage.tables import DialogueStateRow, InboundMessageRow, TicketRow
from storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import demo_estate, desk_on
from tests.fake_telegram import TOKEN, FakeTelegram, text_update

ZHANG, EMILY = 7001, 7002  # residents of the demo estate; Emily's directory entry says English
SORRY_EN = "Sorry, something went wrong with your message. It has been recorded and our staff will look into it."
SECRET = "s3cret-token"


class Faults:
    """The database fails the next `turns` turns where they queue their answers (a deadlock, a dropped connection),
    and the next `keeps` attempts to keep updates (it is away)."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.turns = self.keeps = 0
        dbapi_error = engine.dialect.loaded_dbapi.OperationalError
        add_all, keep = SqlAlchemyOutbox.add_all, SqlAlchemyConversationRepository.keep

        def failing_turn(
            outbox: SqlAlchemyOutbox, messages: list[OutboxMessage], now: Any, held: Any = None
        ) -> list[OutboxMessage]:
            if self.turns > 0:
                self.turns -= 1
                raise OperationalError("INSERT INTO outbox ...", {}, dbapi_error("deadlock detected"))
            return add_all(outbox, messages, now, held)

        def failing_keep(repository: SqlAlchemyConversationRepository, channel: str, received: Any, now: Any) -> int:
            if self.keeps > 0:
                self.keeps -= 1
                raise OperationalError("INSERT INTO inbound_messages ...", {}, dbapi_error("connection refused"))
            return keep(repository, channel, received, now)

        monkeypatch.setattr(SqlAlchemyOutbox, "add_all", failing_turn)
        monkeypatch.setattr(SqlAlchemyConversationRepository, "keep", failing_keep)
        monkeypatch.setattr(telegram_module, "FIRST_WAIT", 0.01)  # no real waits between tries


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
    port: int

    def texts(self, chat: int) -> list[str]:
        return [m["text"] for m in self.fake.messages_to(chat)]

    def outcome(self, update_id: int | str) -> tuple[str, str] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(InboundMessageRow.outcome, InboundMessageRow.reason).where(
                    InboundMessageRow.channel == "telegram", InboundMessageRow.native_id == str(update_id)
                )
            ).first()
        return (row[0], row[1]) if row is not None else None

    def stored(self) -> tuple[int, int]:
        """Tickets and conversations in the database."""
        with self.engine.connect() as connection:
            tickets = len(connection.execute(select(TicketRow.id)).all())
            conversations = len(connection.execute(select(DialogueStateRow.chat)).all())
        return tickets, conversations

    async def push(self, update: dict[str, Any]) -> int:
        return await asyncio.to_thread(self.fake.push, update)

    async def say(self, user: int, text: str, language: str = "zh-hans") -> int:
        """A message to the bot, once it has been answered (or apologised for)."""
        before = len(self.fake.messages_to(user))
        update_id = await self.push(text_update(user, text, language=language))
        await until(lambda: len(self.fake.messages_to(user)) > before)
        return update_id

    async def health(self) -> tuple[int, dict[str, Any]]:
        """/healthz: its status and what it says."""
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{self.port}/healthz")
        return response.status_code, dict(response.json())

    async def post(self, body: bytes) -> int:
        """A call to the webhook, as whoever knows its secret might make it; the status it got."""
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{self.port}/telegram", content=body,
                                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})  # fmt: skip
        return response.status_code


@asynccontextmanager
async def serving(
    engine: Engine, fake: FakeTelegram, tmp_path: Path, mode: str, unhealthy_after: timedelta = timedelta(minutes=2)
) -> AsyncIterator[Bot]:
    """baoxiu as `baoxiu run` puts it together on SQLite (the desk on the loop's thread), in this process."""
    uow = SqlAlchemyUnitOfWork(engine)
    with uow:
        uow.directory.sync(demo_estate())
        uow.commit()
    desk = desk_on(uow)
    sender = OutboxSender(uow, transports={})
    desk.queued_listeners.append(sender.submit)
    desk.sender = sender.claims
    runner = InLoopDesk(desk, on_queued=sender.submit)
    port = free_port()
    settings = TelegramSection(token=TOKEN, mode=mode, base_url=fake.base_url, base_file_url=fake.base_file_url,
                               webhook_url=f"http://127.0.0.1:{port}/telegram", webhook_secret=SECRET,
                               max_chat_messages_per_second=50)  # fmt: skip
    channel = TelegramChannel(settings, runner, uow, tmp_path)
    sender.transports["telegram"] = channel.send
    server = uvicorn.Server(uvicorn.Config(build_app(engine, channel, sender, unhealthy_after), host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))  # fmt: skip
    stopping = asyncio.Event()
    serve = asyncio.create_task(server.serve())
    send = asyncio.create_task(sender.run(stopping))
    await until(lambda: server.started)
    await runner.start([telegram_render])
    await channel.start()
    try:
        yield Bot(fake, channel, engine, port)
    finally:
        await channel.stop()
        await runner.close()
        stopping.set()
        server.should_exit = True
        await asyncio.gather(serve, send)


MODES = pytest.mark.parametrize("mode", ["polling", "webhook"])


@MODES
def test_a_turn_the_database_fails_again_and_again_waits_and_is_answered_not_rejected(
    engine: Engine, fake: FakeTelegram, faults: Faults, tmp_path: Path, mode: str
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, mode) as bot:
            faults.turns = 6
            first = await bot.say(ZHANG, "厨房水管漏水")
            assert faults.turns == 0 and fake.rejected_webhook_posts == 0  # Telegram was told at once
            assert bot.texts(ZHANG) and SORRY_EN not in bot.texts(ZHANG)  # the intake's question, not an apology
            assert bot.outcome(first) == ("handled", "")
            # The report goes on from what the failed tries left: nothing of theirs was kept.
            second = await bot.say(ZHANG, "1")
            assert bot.outcome(second) == ("handled", "")
            assert bot.texts(ZHANG)[-1].startswith("情况有多紧急？")  # 1-1-1201 taken: the urgency is asked

    asyncio.run(scenario())


@MODES
def test_while_the_database_is_away_updates_are_not_confirmed_and_are_answered_when_it_is_back(
    engine: Engine, fake: FakeTelegram, faults: Faults, tmp_path: Path, mode: str
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, mode) as bot:
            faults.keeps = 5
            update_id = await bot.say(EMILY, "the kitchen pipe is leaking", language="en")
            assert faults.keeps == 0
            assert bot.texts(EMILY) == [bot.texts(EMILY)[0]] and bot.texts(EMILY)[0].startswith("Where is the problem?")
            assert bot.outcome(update_id) == ("handled", "")
            if mode == "webhook":
                assert fake.rejected_webhook_posts == 5  # 503 each time, and Telegram called again

    asyncio.run(scenario())


@MODES
def test_what_a_stopped_process_kept_and_did_not_answer_is_answered_at_the_next_start(
    engine: Engine, fake: FakeTelegram, tmp_path: Path, mode: str
) -> None:
    kept = {"update_id": 900_001, **text_update(ZHANG, "厨房水管漏水")}
    with SqlAlchemyUnitOfWork(engine) as uow:  # confirmed to Telegram, then the process died before answering
        uow.conversations.keep("telegram", [("900001", kept)], datetime.now(UTC))
        uow.commit()

    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, mode) as bot:
            await until(lambda: bot.texts(ZHANG))
            assert bot.texts(ZHANG)[0].startswith("问题在哪里？") or bot.texts(ZHANG)[0].startswith("情况有多紧急")
            assert bot.outcome(900_001) == ("handled", "")

    asyncio.run(scenario())


ODD: list[tuple[str, dict[str, Any], str]] = [
    ("a message that is a string", {"message": "hello"}, "rejected"),
    ("a message that is a list", {"message": [1, 2]}, "rejected"),
    ("a button without a message", {"callback_query": {"id": "q1", "from": {"id": ZHANG, "is_bot": False,
                                                                         "first_name": "Z"}, "chat_instance": "c"}},
     "passed"),
    ("a message from nobody in no chat", {"message": {"message_id": 1, "date": 1, "text": "hi"}}, "passed"),
    ("a message without a date", {"message": {"message_id": 1, "chat": {"id": ZHANG, "type": "private"},
                                              "from": {"id": ZHANG, "is_bot": False, "first_name": "Z"},
                                              "text": "/help"}}, "rejected"),
]  # fmt: skip


@MODES
@pytest.mark.parametrize(("what", "odd", "outcome"), ODD, ids=[what for what, _, _ in ODD])
def test_an_odd_update_is_rejected_with_its_reason_or_passed_over_or_answered_and_the_next_one_is_answered(
    engine: Engine, fake: FakeTelegram, tmp_path: Path, mode: str, what: str, odd: dict[str, Any], outcome: str
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, mode) as bot:
            update_id = await bot.push(odd)
            await until(lambda: (bot.outcome(update_id) or ("",))[0] == outcome)
            if outcome == "rejected":
                assert (bot.outcome(update_id) or ("", ""))[1].startswith("unreadable: ")
            await bot.say(EMILY, "the kitchen pipe is leaking", language="en")
            assert bot.texts(EMILY)[0].startswith("Where is the problem?")
            assert fake.rejected_webhook_posts == 0

    asyncio.run(scenario())


@MODES
def test_text_a_database_cannot_hold_is_kept_cleaned_and_answered(
    engine: Engine, fake: FakeTelegram, tmp_path: Path, mode: str
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, mode) as bot:
            if mode == "polling":
                await bot.say(EMILY, "the kitchen\x00 pipe is leaking", language="en")
            else:  # as Telegram writes them: escaped (a NUL, a lone surrogate)
                update = {"update_id": 5, **text_update(EMILY, "the kitchen@@ pipe is ##leaking", language="en")}
                body = json.dumps(update).replace("@@", "\\u0000").replace("##", "\\ud800")
                assert await bot.post(body.encode()) == 200
                await until(lambda: bot.texts(EMILY))
            assert bot.texts(EMILY)[0].startswith("Where is the problem?")  # a fault was read in it

    asyncio.run(scenario())


WEBHOOK_REFUSED = [
    ("not JSON", b"{not json"),
    ("JSON nested very deep", b"[" * 100_000 + b"]" * 100_000),
    ("an update id too large", b'{"update_id": 1e400, "message": {}}'),
    ("an update id that is text", b'{"update_id": "12", "message": {}}'),
    ("a list", b"[1, 2]"),
]


def test_a_webhook_call_that_is_no_update_at_all_gets_400_and_nothing_is_kept(
    engine: Engine, fake: FakeTelegram, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, "webhook") as bot:
            for what, body in WEBHOOK_REFUSED:
                assert await bot.post(body) == 400, what
            with engine.connect() as connection:
                assert connection.execute(select(InboundMessageRow.native_id)).all() == []
            # One with an id, however odd the rest, is kept and answered (here: rejected) with a 200.
            assert await bot.post(json.dumps({"update_id": 77, "message": 5}).encode()) == 200
            await until(lambda: bot.outcome(77) is not None and bot.outcome(77)[0] == "rejected")  # type: ignore[index]

    asyncio.run(scenario())


def test_telegram_unreachable_at_start_is_tried_again_while_health_says_so_then_served(
    engine: Engine, fake: FakeTelegram, faults: Faults, tmp_path: Path
) -> None:
    fake.fail("getMe", 502, times=4)

    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, "polling") as bot:
            failing = (await bot.health())[1]["channels"]["telegram"]["receiving"]
            assert failing["status"] == "failing" and failing["error"] == "simulated failure" and failing["since"]
            await until(lambda: fake.calls.count("getMe") >= 5)
            await bot.say(EMILY, "the kitchen pipe is leaking", language="en")
            assert (await bot.health())[1]["channels"]["telegram"]["receiving"] == {"status": "ok"}

    asyncio.run(scenario())


def test_health_says_a_channel_fails_to_deliver_since_when_and_what_waits_and_turns_503_past_the_threshold(
    engine: Engine, fake: FakeTelegram, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with serving(engine, fake, tmp_path, "polling", unhealthy_after=timedelta(0)) as bot:
            assert await bot.health() == (200, {"status": "ok", "outbox_pending": 0, "channels": {"telegram": {
                "waiting": 0, "receiving": {"status": "ok"}, "sending": {"status": "ok"}}}})  # fmt: skip
            fake.fail("sendMessage", 502, times=1000)
            await bot.push(text_update(EMILY, "the kitchen pipe is leaking", language="en"))
            await until(lambda: "sendMessage" in fake.calls)
            await asyncio.sleep(0.2)  # the failure is written back
            status, body = await bot.health()
            telegram = body["channels"]["telegram"]
            assert status == 503 and body["status"] == "failing" and telegram["waiting"] == 1
            assert telegram["sending"]["status"] == "failing" and telegram["sending"]["since"]
            assert telegram["receiving"] == {"status": "ok"}
            fake.fail("sendMessage", 502, times=0)
            await until(lambda: bot.texts(EMILY))  # tried again after its backoff
            assert (await bot.health())[0] == 200

    asyncio.run(scenario())
