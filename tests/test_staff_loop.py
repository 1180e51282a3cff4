"""The staff loop as people live it: a report, the push, one tap per step, the resident's verdict and rating."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from core.desk import Desk
from core.model import Status
from tests.chat import Chat, Clock, assert_says, stored
from tests.conftest import NOW

TODAY = "SG-20261127"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def zhang(desk: Desk, clock: Clock) -> Chat:
    return Chat(desk, "张三 Zhang San", language_hint="en", clock=clock)


@pytest.fixture
def li(desk: Desk, clock: Clock) -> Chat:
    """李伟 Li Wei, plumber and builder, on shift Monday to Friday 08:00-18:00 (NOW is Friday 10:30)."""
    return Chat(desk, "李伟 Li Wei", language_hint="en", clock=clock)


@pytest.fixture
def chen(desk: Desk, clock: Clock) -> Chat:
    """陈静 Chen Jing, supervisor and customer service."""
    return Chat(desk, "陈静 Chen Jing", language_hint="en", clock=clock)


def report_leak(resident: Chat) -> str:
    resident.says("/lang")
    resident.presses("English")
    resident.run([("kitchen pipe leaking in 1-1-1201", "How urgent"), ("urgent", "Quick check"),
                  ("2", "Please check your report"), ("submit", "Ticket number")])  # fmt: skip
    return f"{TODAY}-0001"


class TestTheWholeLoop:
    def test_report_push_accept_on_my_way_done_rework_done_accepted_and_rated(
        self, zhang: Chat, li: Chat, sqlite_engine: Engine
    ) -> None:
        li.says("/lang")  # the technician has talked to the bot on this channel, so pushes reach him here
        li.presses("English")
        number = report_leak(zhang)

        assert_says(li.inbox(), f"""
            🔧 New job for you
            {number} · ⚠️ Urgent · Plumbing (water, pipes, drains)
            Place: 1-1-1201
            Problem: kitchen pipe leaking in 1-1-1201
            Resident: 张三 Zhang San 13800000001
            Be there by: 11-27 12:32
            Bring: pipe wrench, sealing tape
            1. ✅ Accept
            2. ↩️ Decline""")
        assert_says(li.says("1"), f"You have {number}.\nResident: 张三 Zhang San\n🚶 On my way")
        assert_says(zhang.inbox(), f"🔧 {number}: 李伟 will do your repair.")

        assert_says(li.presses("On my way"), "When will you be there?\n15 min\n30 min")
        assert_says(li.presses("30 min"), f"{number}: the resident expects you in about 30 minutes.")
        assert_says(zhang.inbox(), f"🚶 {number}: 李伟 is on the way, there in about 30 minutes.")

        li.presses("Arrived")
        assert_says(zhang.inbox(), f"📍 {number}: 李伟 has arrived.")
        li.presses("Start")
        assert_says(li.presses("Done"), "What did you do?")
        assert_says(li.says("replaced the washer"), "Materials used?")
        assert_says(li.says("washer 2 5; sealing tape 3"), f"{number} is done. The resident is asked to confirm")

        assert_says(zhang.inbox(), f"✅ {number}: 李伟 says the repair is done. Is it fixed?\n1. ✅ Fixed\n2. ❌ Not fixed")
        assert_says(zhang.says("2"), f"What is still wrong with {number}?")
        assert_says(zhang.says("still dripping under the sink"), f"{number} goes back for rework")

        assert_says(li.inbox(), f"🔁 Rework on {number} (1): the resident says “still dripping under the sink”")
        li.presses("Accept")
        li.presses("Done")
        li.says("tightened the trap")
        li.presses("None")
        assert_says(zhang.inbox(), "Is it fixed?")
        assert_says(zhang.presses("Fixed"), f"Glad to hear it! {number} is closed. How would you rate the service?")
        assert_says(zhang.presses("⭐⭐⭐⭐⭐"), "Thank you for rating")
        assert_says(zhang.says("quick and tidy"), "Thank you! Your comment is passed on.")

        (ticket,) = stored(sqlite_engine)
        assert ticket.status is Status.CLOSED and ticket.rework_count == 1
        assert (ticket.rating, ticket.rating_comment) == (5, "quick and tidy")
        assert ticket.cost == 13.0 and [m.name for m in ticket.materials] == ["washer", "sealing tape"]
        steps = [(e.action, e.actor.name) for e in ticket.history]
        assert steps == [
            ("create", "张三 Zhang San"),
            ("assign", "dispatch"),
            ("accept", "李伟 Li Wei"),
            ("on_the_way", "李伟 Li Wei"),
            ("arrive", "李伟 Li Wei"),
            ("start", "李伟 Li Wei"),
            ("resolve", "李伟 Li Wei"),
            ("rework", "张三 Zhang San"),
            ("accept", "李伟 Li Wei"),
            ("resolve", "李伟 Li Wei"),
            ("confirm_fix", "张三 Zhang San"),
            ("rate", "张三 Zhang San"),
            ("rate", "张三 Zhang San"),
        ]
        assert ticket.history[1].details["reason"] == "chosen: on shift, plumbing, no open tickets"
