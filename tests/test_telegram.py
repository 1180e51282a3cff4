"""Telegram end to end: `baoxiu run` with the real python-telegram-bot, against a fake Bot API on 127.0.0.1.

Each mode (polling, webhook) gets its own fake server, database and `baoxiu run` process; tests use
their own people, so they can share it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.runtime.workers import WORKER_NICENESS
from storage.db import make_engine
from storage.uow import SqlAlchemyUnitOfWork
from tests.command_line import baoxiu
from tests.conftest import PG_URL, reset_postgres, round_the_clock
from tests.fake_telegram import BOT, TOKEN, FakeTelegram, button_update, text_update

BAOXIU = str(Path(sys.executable).parent / "baoxiu")
GROUP = -1002000000001  # 1号楼业主群 in the demo estate
ZHANG, EMILY, CHEN_JING = 7001, 7002, 5100  # residents, and customer service
LI_WEI = 5001  # plumber and builder


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    fake: FakeTelegram
    folder: Path
    mode: str
    port: int
    process: subprocess.Popen[bytes]
    url: str  # the database
    languages: dict[int, str] = field(default_factory=dict)  # each person's app language, as Telegram reports it

    def cli(self, *args: str) -> Any:
        """A command run beside `baoxiu run`, as an operator would, on its database."""
        result = baoxiu(self.folder, "--config", "baoxiu.toml", *args)
        assert result.code == 0, result.err
        return result.json() if "--json" in args else result.out

    def tickets(self) -> list[dict[str, Any]]:
        return self.cli("tickets", "list", "--json")  # type: ignore[no-any-return]

    def say(self, user: int, text: str, chat: int | None = None, **extra: Any) -> int:
        """A person's message, then wait until baoxiu has answered it."""
        target = chat if chat is not None else user
        before = len(self.fake.messages_to(target))
        self.languages[user] = extra.setdefault("language", self.languages.get(user, "zh-hans"))
        self.fake.push(text_update(user, text, chat_id=chat, **extra))
        self.fake.wait_for_messages(target, before + 1)
        return len(self.fake.messages_to(target)) - before

    def settled(self) -> None:
        """Wait until the outbox has nothing left to send (every message sent, or refused for good)."""
        self.fake.wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{self.port}/healthz").json().get("outbox_pending") == 0, timeout=30
        )

    def last(self, chat: int) -> dict[str, Any]:
        return self.fake.messages_to(chat)[-1]

    def press(self, user: int, label: str, chat: int | None = None) -> dict[str, Any]:
        target = chat if chat is not None else user
        before = len(self.fake.messages_to(target))
        language = self.languages.get(user, "zh-hans")
        self.fake.push(button_update(user, self.last(target), label, chat_id=chat, language=language))
        self.fake.wait_for_messages(target, before + 1)
        return self.last(target)


@pytest.fixture(
    scope="module",
    params=["polling", "webhook", pytest.param("polling-postgresql", marks=pytest.mark.postgres)],
)
def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    mode, _, database = str(request.param).partition("-")
    fake = FakeTelegram().start()
    folder = tmp_path_factory.mktemp(request.param)
    port = free_port()
    url = f"sqlite:///{folder / 'baoxiu.db'}"
    if database == "postgresql":
        assert PG_URL is not None
        reset_postgres(PG_URL)
        url = PG_URL
    (folder / "baoxiu.toml").write_text(
        f"""
[database]
url = "{url}"
[server]
port = {port}
[telegram]
token = "{TOKEN}"
mode = "{mode}"
base_url = "{fake.base_url}"
base_file_url = "{fake.base_file_url}"
webhook_url = "http://127.0.0.1:{port}/telegram"
webhook_secret = "s3cret-token"
max_chat_messages_per_second = 50  # the fake has no flood limits; keep the tests quick
max_group_messages_per_minute = 6000
[dispatch]
max_open_per_technician = 100  # the tests share one estate: its plumber never reaches the cap here
""",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAOXIU_")}
    loaded = baoxiu(folder, "--config", "baoxiu.toml", "directory", "load", str(round_the_clock(folder)))
    assert loaded.code == 0, loaded.err
    log = (folder / "baoxiu.log").open("wb")
    process = subprocess.Popen([BAOXIU, "--config", "baoxiu.toml", "run"], cwd=folder, stdout=log, stderr=log, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            healthy = httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            listening = fake.webhook.get("url") if mode == "webhook" else "getUpdates" in fake.calls
            if healthy and listening:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    else:
        process.kill()
        raise AssertionError((folder / "baoxiu.log").read_text())
    outbox = Outbox(url)
    fake.nothing_left_for = outbox.nothing_left_for
    yield Running(fake, folder, mode, port, process, url)
    outbox.engine.dispose()
    process.terminate()
    assert process.wait(timeout=15) == 0, (folder / "baoxiu.log").read_text()
    fake.stop()


class Outbox:
    """baoxiu's outbox, read as an onlooker: a turn's answer is stored whole before its first part is sent, so
    the answer is complete once nothing waits there for the chat."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)  # plain reads: no BEGIN IMMEDIATE that would queue behind baoxiu's writes

    def nothing_left_for(self, chat: str) -> bool:
        query = text("SELECT count(*) FROM outbox WHERE channel = 'telegram' AND recipient = :chat "
                     "AND status = 'pending'")  # fmt: skip
        with self.engine.connect() as connection:
            return bool(connection.execute(query, {"chat": chat}).scalar_one() == 0)


def desk_workers(pid: int) -> list[int]:
    """The worker processes `baoxiu run` answers messages in (none on SQLite)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n---\n".join(m["text"] for m in messages)


def replied_to(message: dict[str, Any]) -> int | None:
    parameters = message.get("reply_parameters") or {}
    return parameters.get("message_id")


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


class TestPrivateChat:
    def test_a_leak_reported_with_buttons_from_first_message_to_ticket_number(self, running: Running) -> None:
        running.say(ZHANG, "厨房水管漏水")
        assert "问题在哪里" in running.last(ZHANG)["text"] and buttons(running.last(ZHANG)) == ["1-1-1201", "其他地点"]
        assert "情况有多紧急" in running.press(ZHANG, "1-1-1201")["text"]
        assert "请先自查" in running.press(ZHANG, "加急")["text"]
        assert "请核对您的报修信息" in running.press(ZHANG, "仍未修好")["text"]
        done = running.press(ZHANG, "提交")
        assert "工单号：SG-" in done["text"]
        # Every pressed button was answered, and its message edited so it cannot be pressed again.
        running.fake.wait_for(lambda: sum(m["method"] == "answerCallbackQuery" for m in running.fake.sent) >= 4)
        edits = [m for m in running.fake.sent if m["method"] == "editMessageText" and str(m["chat_id"]) == str(ZHANG)]
        assert any(m["text"].endswith("→ 1-1-1201") and not m.get("reply_markup") for m in edits)
        (ticket,) = [t for t in running.tickets() if t["reporter"].startswith("张三")]
        assert (ticket["location"], ticket["category"], ticket["urgency"]) == ("1-1-1201", "plumbing", "urgent")

    def test_a_stale_button_is_answered_not_acted_on(self, running: Running) -> None:
        running.say(EMILY, "/start")
        menu = running.last(EMILY)
        running.press(EMILY, "Report a repair")
        before = len(running.fake.messages_to(EMILY))
        running.fake.push(button_update(EMILY, menu, "Feedback"))  # the old menu, pressed again
        running.fake.wait_for_messages(EMILY, before + 1)
        assert "That button belongs to an earlier question." in texts(running.fake.messages_to(EMILY)[before:])
        running.say(EMILY, "/cancel")

    def test_the_same_update_twice_is_handled_once(self, running: Running) -> None:
        update_id = running.fake.push(text_update(8101, "hello", language="en"))
        running.fake.wait_for_messages(8101, 1)
        running.fake.resend(update_id)
        running.say(8101, "/help", language="en")  # a later message, so the duplicate has surely been seen
        greetings = [m for m in running.fake.messages_to(8101) if m["text"].startswith("Hello!")]
        assert len(greetings) == 1

    def test_a_reply_longer_than_telegram_allows_is_split(self, running: Running) -> None:
        user = 8102
        running.say(user, "the kitchen tap is broken", language="en")
        running.say(user, "1-2-502", language="en")
        running.press(user, "Normal")
        running.press(user, "Still broken")
        for _ in range(3):  # each addition makes the repeat-back longer
            running.say(user, "more detail " + "x" * 1990, language="en")
        confirm = [m for m in running.fake.messages_to(user)][-2:]
        assert all(len(m["text"]) <= 4096 for m in running.fake.messages_to(user))
        assert len(confirm[0]["text"]) + len(confirm[1]["text"]) > 5000
        assert not confirm[0].get("reply_markup") and buttons(confirm[1])[0] == "✅ Submit"

    def test_a_photo_is_downloaded_into_the_attachment_store(self, running: Running) -> None:
        user = 8103
        running.say(user, "ceiling crack in 1-2-502", language="en")
        photo = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                 {"file_id": "large-photo", "file_unique_id": "big", "width": 1280, "height": 960}]  # fmt: skip
        running.say(user, "", photo=photo, caption="see photo", language="en")
        running.press(user, "Normal")
        running.press(user, "Submit")
        stored = running.folder / "attachments" / "telegram" / "big.jpg"
        assert stored.read_bytes().startswith(b"\xff\xd8")
        (ticket,) = [t for t in running.tickets() if t["location"] == "1-2-502" and t["category"] == "civil"]
        assert ticket["attachments"] == [{"kind": "photo", "ref": "attachments/telegram/big.jpg",
                                          "caption": ""}]  # fmt: skip

    def test_a_reply_to_a_reports_confirmation_adds_to_that_report(self, running: Running) -> None:
        user = 8111
        running.say(user, "ceiling crack in 1-2-503", language="en")
        running.press(user, "Normal")
        done = running.press(user, "Submit")
        assert "Ticket number:" in done["text"]
        confirmation = {"message_id": done["message_id"], "date": 0, "chat": {"id": user, "type": "private"},
                        "from": BOT, "text": done["text"]}  # fmt: skip
        running.say(user, "it is getting wider", reply_to=confirmation, language="en")
        number = done["text"].split("Ticket number: ")[1].split()[0]
        assert running.last(user)["text"].startswith(f"Added to {number};")  # and whoever has it is told
        (ticket,) = [t for t in running.tickets() if t["location"] == "1-2-503"]
        shown = running.cli("tickets", "show", number)
        assert ticket["number"] == number and "it is getting wider" in shown


class TestStrangers:
    def test_an_unknown_user_reports_unverified_and_customer_service_confirms_by_typing_its_number(
        self, running: Running
    ) -> None:
        user = 8104
        running.say(user, "my kitchen tap is leaking", language="en")
        assert "Type the room or the place" in running.last(user)["text"] and not buttons(running.last(user))
        running.say(user, "1-2-803", language="en")
        running.press(user, "Urgent")
        running.press(user, "Still broken")
        number = running.press(user, "Submit")["text"].split("Ticket number: ")[1].split()[0]
        (ticket,) = [t for t in running.tickets() if t["number"] == number]
        assert ticket["verified"] is False
        push = running.fake.wait_for(lambda: [m for m in running.fake.messages_to(CHEN_JING) if number in m["text"]])
        assert "1-2-803" in push[-1]["text"] and buttons(push[-1]) == ["✅ 确认登记"]
        running.say(CHEN_JING, "1")  # typed, not tapped: the number of the pushed choice
        assert "1-2-803" in running.last(CHEN_JING)["text"]
        (ticket,) = [t for t in running.tickets() if t["number"] == number]
        assert ticket["verified"] is True


class TestGroups:
    def test_two_residents_reporting_at_once_keep_separate_drafts_and_no_details_are_posted(
        self, running: Running
    ) -> None:
        zhang_message = text_update(ZHANG, "/report 3号楼电梯坏了", chat_id=GROUP)
        emily_message = text_update(EMILY, "/report the garage light is broken", chat_id=GROUP, language="en")
        before = len(running.fake.messages_to(GROUP))
        running.fake.push(zhang_message)
        running.fake.push(emily_message)
        asked = running.fake.wait_for_messages(GROUP, before + 2)[before:]
        to_zhang = next(m for m in asked if replied_to(m) == zhang_message["message"]["message_id"])
        to_emily = next(m for m in asked if replied_to(m) == emily_message["message"]["message_id"])
        assert "情况有多紧急" in to_zhang["text"] and "How urgent" in to_emily["text"]

        # Emily presses 张三's button: Telegram shows her a note, and 张三's draft is untouched.
        running.fake.push(button_update(EMILY, to_zhang, "紧急", chat_id=GROUP))
        running.fake.wait_for(lambda: any(m.get("text", "").startswith("这个问题是问别人的")
                                          for m in running.fake.sent if m["method"] == "answerCallbackQuery"))  # fmt: skip
        running.fake.push(button_update(ZHANG, to_zhang, "紧急", chat_id=GROUP))
        running.fake.push(button_update(EMILY, to_emily, "Normal", chat_id=GROUP))
        confirms = running.fake.wait_for_messages(GROUP, before + 4)[before + 2 :]
        for message in confirms:
            running.fake.push(button_update(int((message["text"].startswith("请") and ZHANG) or EMILY), message,
                                            "提交" if message["text"].startswith("请") else "Submit", chat_id=GROUP))  # fmt: skip
        done = running.fake.wait_for_messages(GROUP, before + 6)[before + 4 :]
        assert any("工单号：SG-" in m["text"] for m in done) and any("Ticket number: SG-" in m["text"] for m in done)
        group_text = texts(running.fake.messages_to(GROUP))
        for personal in ("1-1-1201", "3-1-2302", "13800000001", "Zhang San", "Emily Brown"):
            assert personal not in group_text
        tickets = running.tickets()
        assert any(t["category"] == "lift" and t["reporter"].startswith("张三") for t in tickets)
        assert any(t["category"] == "electrical" and t["reporter"] == "Emily Brown" for t in tickets)

    def test_a_home_fault_continues_privately_and_progress_comes_back_to_the_group(self, running: Running) -> None:
        user = EMILY
        running.say(user, "/cancel")
        report = text_update(user, "@baoxiu_test_bot the tap in my kitchen drips", chat_id=GROUP, language="en")
        before = len(running.fake.messages_to(GROUP))
        running.fake.push(report)
        asked = running.fake.wait_for_messages(GROUP, before + 1)[-1]
        assert "continue privately" in asked["text"]
        link = asked["reply_markup"]["inline_keyboard"][0][0]["url"]
        assert link == "https://t.me/baoxiu_test_bot?start=c1002000000001"
        running.say(user, "/start c1002000000001", language="en")
        assert "Let's continue your report here, in private." in texts(running.fake.messages_to(user)[-2:])
        running.press(user, "3-1-2302")
        running.press(user, "Normal")
        running.press(user, "Still broken")
        number = running.press(user, "Submit")["text"].split("Ticket number: ")[1].split()[0]
        # The full loop: the push, accept, on my way, done, not fixed, rework, done, fixed and rated.
        push = running.fake.wait_for(lambda: [m for m in running.fake.messages_to(LI_WEI) if number in m["text"]])[-1]
        assert "新工单" in push["text"] and "Emily Brown" in push["text"]  # the contact, to the assignee only
        running.press(LI_WEI, "接单")
        notice = running.fake.wait_for(
            lambda: [m for m in running.fake.messages_to(GROUP) if number in m["text"] and "已派维修师傅" in m["text"]]
        )[-1]
        assert replied_to(notice) == report["message"]["message_id"]
        assert "3-1-2302" not in notice["text"] and "Emily" not in notice["text"] and "李伟" not in notice["text"]
        running.fake.wait_for(
            lambda: any("Li Wei will do your repair" in m["text"] for m in running.fake.messages_to(user))
        )
        running.press(LI_WEI, "出发")
        running.press(LI_WEI, "30")
        running.fake.wait_for(lambda: any("on the way, there in about 30 minutes" in m["text"]
                                          for m in running.fake.messages_to(user)))  # fmt: skip
        for step in ("完工", "换了阀芯", "无", "无照片"):  # done: a note, no materials, no after-photo
            if step in ("完工", "无", "无照片"):
                running.press(LI_WEI, step)
            else:
                running.say(LI_WEI, step)
        asked = running.fake.wait_for(
            lambda: [m for m in running.fake.messages_to(user) if "Is it fixed?" in m["text"]]
        )
        running.fake.push(button_update(user, asked[-1], "❌ Not fixed", language="en"))
        running.fake.wait_for(lambda: "What is still wrong" in running.last(user)["text"])
        running.say(user, "still drips at night", language="en")
        rework = running.fake.wait_for(lambda: [m for m in running.fake.messages_to(LI_WEI) if "返工" in m["text"]])
        assert "still drips at night" in rework[-1]["text"]
        running.press(LI_WEI, "接单")
        running.press(LI_WEI, "完工")
        running.say(LI_WEI, "换了整个龙头")
        running.press(LI_WEI, "无")
        running.press(LI_WEI, "无照片")
        asked = running.fake.wait_for(
            lambda: [m for m in running.fake.messages_to(user) if "Is it fixed?" in m["text"]]
        )
        running.fake.push(button_update(user, asked[-1], "✅ Fixed", language="en"))
        running.fake.wait_for(lambda: "How would you rate" in running.last(user)["text"])
        running.press(user, "⭐⭐⭐⭐⭐")
        assert "Thank you for rating" in running.last(user)["text"]
        (ticket,) = [t for t in running.tickets() if t["number"] == number]
        assert (ticket["status"], ticket["rating"], ticket["rework_count"]) == ("closed", 5, 1)

    def test_ten_residents_reporting_the_same_fault_make_one_ticket(self, running: Running) -> None:
        first = 8200
        running.say(first, "/report 地下车库漏水了", chat=GROUP)
        running.press(first, "加急", chat=GROUP)
        number = running.press(first, "提交", chat=GROUP)["text"].split("工单号：")[1].split()[0]
        for neighbour in range(first + 1, first + 10):
            running.say(neighbour, "/report 车库里在漏水", chat=GROUP)
            assert f"已有工单 {number}" in running.last(GROUP)["text"]
            joined = running.press(neighbour, "加入", chat=GROUP)["text"]
        assert f"您已加入工单 {number}，共有10位住户" in joined
        leaks = [t for t in running.tickets() if t["location"] == "地下车库 Underground garage"
                 and t["category"] == "plumbing"]  # fmt: skip
        assert [t["number"] for t in leaks] == [number]
        history = running.cli("tickets", "show", number, "--json")["history"]
        assert [e["action"] for e in history].count("join") == 9


class TestDelivery:
    def test_flood_limits_and_bad_gateways_delay_messages_but_each_arrives_exactly_once(self, running: Running) -> None:
        user = 8105
        running.fake.fail("sendMessage", 429, times=1, retry_after=1)
        running.fake.push(text_update(user, "hello", language="en"))
        running.fake.wait_for_messages(user, 1, timeout=20)
        running.fake.fail("sendMessage", 502, times=1)
        running.fake.push(text_update(user, "/help", language="en"))
        running.fake.wait_for_messages(user, 3, timeout=30)
        running.settled()  # nothing left to send: what came is all that will come
        assert [m["text"].split("\n")[0] for m in running.fake.messages_to(user)] == [
            "Hello! This is the Sunrise Garden repair desk.",
            "I take repair reports and feedback for Sunrise Garden.",
            "What can I do for you?",
        ]
        delivered = sum(m["method"] == "sendMessage" for m in running.fake.sent)
        assert running.fake.calls.count("sendMessage") - delivered == 2  # the two refused calls were real

    @pytest.mark.modes("webhook")
    def test_a_webhook_call_without_the_secret_is_refused_and_changes_nothing(self, running: Running) -> None:
        update = {"update_id": 999_999, **text_update(8106, "hello", language="en")}
        for secret in ("", "wrong"):
            response = httpx.post(f"http://127.0.0.1:{running.port}/telegram", json=update,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": secret})  # fmt: skip
            assert response.status_code == 403  # refused before anything was read: there is nothing to wait for
        assert running.fake.messages_to(8106) == []
        with SqlAlchemyUnitOfWork(make_engine(running.url)) as uow:
            assert uow.conversations.get("telegram", "8106", "8106") is None

    @pytest.mark.modes("polling", "polling-postgresql")
    def test_polling_serves_no_webhook(self, running: Running) -> None:
        assert httpx.post(f"http://127.0.0.1:{running.port}/telegram", json={}).status_code == 404

    @pytest.mark.modes("polling", "webhook")
    def test_on_sqlite_messages_are_answered_in_the_serving_process(self, running: Running) -> None:
        assert desk_workers(running.process.pid) == []

    @pytest.mark.modes("polling-postgresql")
    def test_a_desk_worker_that_dies_is_replaced_and_nothing_is_lost(self, running: Running) -> None:
        workers = desk_workers(running.process.pid)
        assert workers, "on PostgreSQL the desk answers in worker processes"
        serving = os.getpriority(os.PRIO_PROCESS, running.process.pid)
        assert {os.getpriority(os.PRIO_PROCESS, pid) - serving for pid in workers} == {WORKER_NICENESS}
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        user = 8107
        running.fake.push(text_update(user, "hello", language="en"))
        running.fake.wait_for_messages(user, 1, timeout=20)
        running.fake.push(text_update(user, "/help", language="en"))  # and the new workers go on answering
        running.fake.wait_for_messages(user, 3, timeout=20)
        assert [m["text"].split("\n")[0] for m in running.fake.messages_to(user)] == [
            "Hello! This is the Sunrise Garden repair desk.",
            "I take repair reports and feedback for Sunrise Garden.",
            "What can I do for you?",
        ]
        assert set(desk_workers(running.process.pid)).isdisjoint(workers)

    def test_a_push_to_someone_who_blocked_the_bot_goes_to_their_next_address(self, running: Running) -> None:
        """李伟 has a console too; he last wrote on Telegram, and then blocked the bot there."""
        console = ("--config", "baoxiu.toml", "console", "--staff", "李伟")
        assert baoxiu(running.folder, *console, lines=("/jobs",)).code == 0
        running.say(LI_WEI, "/jobs")
        running.fake.block(LI_WEI)
        try:
            user = 8109
            running.say(user, "the door lock of 1-2-502 is broken", language="en")  # civil: only 李伟 does it
            running.press(user, "Normal")
            number = running.press(user, "Submit")["text"].split("Ticket number: ")[1].split()[0]

            def pushed_to_his_console() -> str:
                opened = baoxiu(running.folder, *console)
                assert opened.code == 0, opened.err
                return opened.out if number in opened.out else ""

            shown = running.fake.wait_for(pushed_to_his_console, timeout=20)
        finally:
            running.fake.block(LI_WEI, blocked=False)
        assert f"🔔 🔧 您有新工单\n{number}" in shown
        assert not [m for m in running.fake.messages_to(LI_WEI) if number in m["text"]]

    def test_health_and_metrics(self, running: Running) -> None:
        running.say(8108, "hello", language="en")
        health = httpx.get(f"http://127.0.0.1:{running.port}/healthz").json()
        assert health["status"] == "ok"
        metrics = httpx.get(f"http://127.0.0.1:{running.port}/metrics").text
        assert 'baoxiu_outbox_sent_total{channel="telegram"}' in metrics


class TestCommandsInGroups:
    @pytest.mark.parametrize(
        ("typed", "read"),
        [("/status@baoxiu_bot SG-20261127-0001", "/status SG-20261127-0001"), ("/help@baoxiu_bot", "/help"),
         ("/help", "/help"), ("email me@example.com", "email me@example.com")],
    )  # fmt: skip
    def test_a_command_addressed_to_the_bot_by_name_reaches_the_desk_without_it(self, typed: str, read: str) -> None:
        from bot.channels.telegram import bare_command

        assert bare_command(typed) == read


class TestSplitting:
    @pytest.mark.parametrize("length", [1, 4096, 4097, 5000, 9000, 13000])
    def test_pieces_fit_telegram_and_lose_nothing_but_the_break_they_were_cut_at(self, length: int) -> None:
        from bot.channels.telegram import split_text

        words = ("漏水 leak " * 2000)[:length]
        parts = split_text(words, 4096)
        assert all(0 < len(part) <= 4096 for part in parts)
        assert "".join(parts).replace(" ", "") == words.replace(" ", "")
        # Cut at the last break before the limit: every piece but the last fills more than half a message.
        assert all(len(part) > 2048 for part in parts[:-1])
