"""`baoxiu console` as a new user runs it: a conversation piped in one message a line (the first one into a real
process, the others in this one)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.command_line import Result, baoxiu, baoxiu_process
from tests.conftest import round_the_clock


def piped(cwd: Path, *args: str, lines: tuple[str, ...] = (), process: bool = False) -> Result:
    """`baoxiu ARGS` in cwd with the lines piped in, in this process or as a real one; never a traceback."""
    result = (baoxiu_process if process else baoxiu)(cwd, *args, lines=lines)
    assert "Traceback" not in result.out + result.err, result.err
    return result


def after(out: str, line: str) -> str:
    """What the bot answered to one echoed input line, up to the next one."""
    echo = f"» {line}\n"
    assert echo in out, f"{line!r} was not echoed in:\n{out}"
    return out.split(echo, 1)[1].split("\n» ", 1)[0]


# --- conversations a new user might pipe in, each by a different person -----------------------------

LEAK_IN_CHINESE = (
    "厨房水管漏水",  # the default resident, 张三 Zhang San of 1-1-1201
    "1",  # 问题在哪里？ 1. 1-1-1201
    "一般",  # 情况有多紧急？ by its word, not the suggested 加急
    "还是坏",  # 请先自查 … 2. 🔧 仍未修好，请派人上门
    "确认",  # 请核对您的报修信息 … 1. ✅ 提交
)
COMPLAINT_IN_ENGLISH = (
    "I want to complain: the security guard at the gate was rude to my mother",
    "skip",  # Is it about a particular place or thing?
    "anonymously",  # Should staff see your name?
    "submit",
)
STRANGER_IN_THE_GARAGE = (
    "车库的灯坏了",
    "一般",
    "确认",
)
LONG_LINE = "the bathroom tap is leaking: " + "drip" * 750
ODD_LINES = (
    "",
    "🙂",
    "report",
    "1",  # Where is the problem? 1. 3-1-2302
    "",
    "👍👍",
    "   ",
    LONG_LINE,
    "2",  # How urgent is it? 2. ✓ Urgent
    "still broken",
    "submit",
)


@dataclass
class Session:
    """The demo estate loaded once, then four conversations and one look at the tickets."""

    folder: Path
    load: Result
    chats: dict[str, Result] = field(default_factory=dict)
    tickets: list[dict[str, Any]] = field(default_factory=list)

    def by(self, reporter: str) -> list[dict[str, Any]]:
        return [ticket for ticket in self.tickets if ticket["reporter"] == reporter]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    folder = tmp_path_factory.mktemp("console")
    # The demo estate with its plumber on shift round the clock: who gets the job does not depend on the hour.
    session = Session(folder, piped(folder, "directory", "load", str(round_the_clock(folder))))
    assert session.load.code == 0, session.load.err
    session.chats["zhang"] = piped(folder, "console", lines=LEAK_IN_CHINESE, process=True)
    session.chats["emily"] = piped(folder, "console", "--as", "Emily", lines=COMPLAINT_IN_ENGLISH)
    session.chats["stranger"] = piped(folder, "console", "--as", "Nobody Known", lines=STRANGER_IN_THE_GARAGE)
    session.chats["odd"] = piped(folder, "console", "--as", "Emily Brown", lines=ODD_LINES)
    listed = piped(folder, "tickets", "list", "--json")
    assert listed.code == 0, listed.err
    session.tickets = json.loads(listed.out)
    return session


class TestALeakReportedInChinese:
    def test_the_conversation_runs_to_the_end_and_exits_0(self, session: Session) -> None:
        chat = session.chats["zhang"]

        assert chat.code == 0, chat.err
        assert chat.err == ""

    def test_each_line_is_echoed_and_answered_with_numbered_choices(self, session: Session) -> None:
        out = session.chats["zhang"].out

        for line in LEAK_IN_CHINESE:
            assert f"» {line}\n" in out
        assert "问题在哪里？" in after(out, "厨房水管漏水")
        assert "  1. 1-1-1201\n" in after(out, "厨房水管漏水")
        assert "情况有多紧急？建议选择：加急。\n  1. 紧急：有安全隐患，或停水、停电、电梯停运\n  2. ✓ 加急" in after(
            out, "1"
        )
        assert "请先自查" in after(out, "一般")
        assert "  2. 🔧 仍未修好，请派人上门\n" in after(out, "一般")
        assert "紧急程度：一般\n  1. ✅ 提交\n" in after(out, "还是坏")
        assert "工单号：SG-" in after(out, "确认")

    def test_the_ticket_is_listed_with_the_place_trade_and_chosen_urgency(self, session: Session) -> None:
        (ticket,) = session.by("张三 Zhang San")

        assert ticket["location"] == "1-1-1201"
        assert ticket["category"] == "plumbing"
        assert ticket["urgency"] == "normal"
        assert ticket["source"] == "resident_chat"
        assert (ticket["kind"], ticket["verified"]) == ("repair", True)
        assert (ticket["status"], ticket["assignee"]) == ("assigned", "李伟 Li Wei")
        assert ticket["description"] == "厨房水管漏水"
        assert f"工单号：{ticket['number']}" in session.chats["zhang"].out


class TestAComplaintInEnglish:
    def test_it_ends_in_an_anonymous_feedback_ticket_for_the_right_department(self, session: Session) -> None:
        chat = session.chats["emily"]
        (ticket,) = session.by("anonymous resident")  # what `tickets list` shows staff of her

        assert chat.code == 0, chat.err
        assert f"Thank you. Your feedback is recorded as {ticket['number']}." in chat.out
        assert "Your name is hidden from staff." in chat.out
        assert (ticket["kind"], ticket["category"], ticket["department"]) == ("feedback", "security", "秩序部 Security")
        assert (ticket["anonymous"], ticket["reporter_contact"]) == (True, None)
        assert ticket["source"] == "resident_chat"


class TestSomeoneNotInTheDirectory:
    def test_they_can_still_report_and_the_ticket_is_unverified(self, session: Session) -> None:
        chat = session.chats["stranger"]
        (ticket,) = session.by("Nobody Known")

        assert chat.code == 0, chat.err
        assert chat.err == "note: Nobody Known is not in the directory; chatting as an unknown resident\n"
        assert f"工单号：{ticket['number']}" in chat.out
        assert ticket["verified"] is False
        shown = piped(session.folder, "tickets", "show", ticket["number"]).out
        assert "\nreporter:    Nobody Known  (unverified: not in the directory yet)\n" in shown
        assert (ticket["location"], ticket["category"], ticket["urgency"]) == (
            "地下车库 Underground garage", "electrical", "normal",
        )  # fmt: skip


class TestOddInput:
    def test_empty_emoji_and_overlong_lines_never_crash_it(self, session: Session) -> None:
        chat = session.chats["odd"]

        assert chat.code == 0, chat.err
        assert chat.err == ""
        assert "Tell me in a few words what is wrong" in after(chat.out, "🙂")
        assert "I can only read words here." in after(chat.out, "👍👍")
        assert "Ticket number: SG-" in after(chat.out, "submit")

    def test_an_overlong_line_is_cut_to_2000_characters_with_a_note(self, session: Session) -> None:
        answer = after(session.chats["odd"].out, LONG_LINE)
        repairs = [t for t in session.by("Emily Brown") if t["kind"] == "repair"]

        assert len(LONG_LINE) > 3000
        assert answer.startswith("Your message was long; I kept the first 2,000 characters.\n")
        assert [t["description"] for t in repairs] == [LONG_LINE[:2000]]


def test_without_a_directory_it_says_to_load_one_first(tmp_path: Path) -> None:
    result = piped(tmp_path, "console", lines=("厨房水管漏水",))

    assert result.code == 1
    assert result.out == ""
    assert result.err == "baoxiu: no estate is loaded yet; run `baoxiu directory load FILE.toml` first\n"


class TestTwoTerminals:
    """A resident and a technician, each in their own `baoxiu console`, on one database."""

    def test_a_repair_goes_from_report_to_closed(self, tmp_path: Path) -> None:
        assert piped(tmp_path, "directory", "load", str(round_the_clock(tmp_path))).code == 0
        technician = ("--staff", "Li Wei")
        piped(tmp_path, "console", *technician, lines=("/lang", "English"))  # so pushes reach this terminal

        resident = piped(tmp_path, "console", lines=("/lang", "English", "kitchen pipe leaking in 1-1-1201",
                                                      "2", "still broken", "submit"))  # fmt: skip
        number = after(resident.out, "submit").split("Ticket number: ")[1].split()[0]

        accepted = piped(tmp_path, "console", *technician, lines=("1",))
        assert f"🔔 🔧 New job for you\n{number}" in accepted.out
        assert f"You have {number}." in after(accepted.out, "1")

        done = piped(tmp_path, "console", *technician, lines=(f"/status {number}", "Done", "replaced the washer",
                                                               "none"))  # fmt: skip
        assert f"{number} is done. The resident is asked to confirm the repair." in done.out

        closing = piped(tmp_path, "console", lines=("1", "5", "skip"))
        assert f"🔔 🔧 {number}: Li Wei will do your repair." in closing.out
        assert f"{number}: Li Wei says the repair is done.\nWork done: replaced the washer\nIs it fixed?" in closing.out
        assert f"Glad to hear it! {number} is closed." in after(closing.out, "1")
        listed = json.loads(piped(tmp_path, "tickets", "list", "--json").out)
        assert [(t["status"], t["rating"], t["assignee"]) for t in listed] == [("closed", 5, "李伟 Li Wei")]
