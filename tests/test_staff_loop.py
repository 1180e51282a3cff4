"""The staff loop as people live it: a report, the push, one tap per step, the resident's verdict and rating.

Each row of a transcript is who acts, what they do (say, press a button, or look at what was pushed to them) and
the bot's whole answer to them. Every person shares one clock: each message moves it 20 seconds on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from bot.channels.console import render
from core.conversation.buttons import OnTicket, encode
from core.conversation.messages import Reply
from core.desk import Desk
from core.domain.directory import Staff
from core.domain.model import Attachment, Status
from core.services.dispatching import roll_over
from storage.uow import SqlAlchemyUnitOfWork
from tests.chat import INBOX, Chat, Clock, Press, assert_answer, block, choices, lines, play, replies, stored
from tests.conftest import NOW, on_telegram

TODAY = "SG-20261127"
NUMBER = f"{TODAY}-0001"
DUTY_GROUP = "-1001000000001"

# The steps a job can take next, as the technician's buttons.
ACCEPTED = choices("🚶 On my way", "📍 Arrived", "🛠️ Start", "✅ Done", "⏸️ On hold", "📝 Change of plan",
                   "💰 Quote a charge")  # fmt: skip
STARTED = choices("✅ Done", "⏸️ On hold", "📝 Change of plan", "💰 Quote a charge")
ACCEPT_OR_DECLINE = choices("✅ Accept", "↩️ Decline")
EMPTY_QUEUE = """
    📋 Queue

    Unassigned (0)

    Overdue (0)

    On hold (0)

    Waiting for approval (0)"""


def leak(heading: str, be_there_by: str) -> str:
    """张三's leak as a technician's job card, with its buttons."""
    return lines(f"""
        {heading}
        {NUMBER} · ⚠️ Urgent · Plumbing (water, pipes, drains)
        Place: 1-1-1201
        Problem: kitchen pipe leaking in 1-1-1201
        Resident: Zhang San 13800000001
        Be there by: {be_there_by}
        Bring: pipe wrench, sealing tape, spare valves and washers, drain auger""", ACCEPT_OR_DECLINE)  # fmt: skip


def yours(steps: str = ACCEPTED) -> str:
    """What the technician who took the leak is answered."""
    return lines(f"""
        You have {NUMBER}.
        {NUMBER} · ⚠️ Urgent · Plumbing (water, pipes, drains)
        Place: 1-1-1201
        Problem: kitchen pipe leaking in 1-1-1201
        Resident: Zhang San 13800000001""", steps)  # fmt: skip


def leak_view(status: str, history: str, due: str = "11-28 10:33") -> str:
    """The leak as staff see it with /status: the job, where it stands, and its history (one event a line)."""
    events = "\n".join(f"  {event}" for event in block(history).splitlines())
    return lines(f"""
        {NUMBER} · ⚠️ Urgent · Plumbing (water, pipes, drains)
        Place: 1-1-1201
        Problem: kitchen pipe leaking in 1-1-1201
        Resident: Zhang San 13800000001
        Status: {status}
        Assigned to: Li Wei
        Due: {due}
        History:""", events)  # fmt: skip


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


@pytest.fixture
def zhao(desk: Desk, clock: Clock) -> Chat:
    """赵强 Zhao Qiang, plumber on night duty: off shift on a Friday morning."""
    return Chat(desk, "赵强 Zhao Qiang", language_hint="en", clock=clock)


def speaking(language: str, *people: Chat) -> None:
    """Each picks a language with /lang, as a person would; staff who have talked here get their pushes here."""
    for person in people:
        person.says("/lang")
        person.presses(language)


def in_english(*people: Chat) -> None:
    speaking("English", *people)


def report_leak(resident: Chat) -> str:
    in_english(resident)
    resident.run([
        ("kitchen pipe leaking in 1-1-1201", """
            How urgent is it? I suggest: Urgent.
              1. Emergency: unsafe, or water/power/lift out
              2. ✓ Urgent: today, please
              3. Normal: within a few days"""),
        ("urgent", """
            Quick check: is the valve under the sink or the main water valve fully open? For a leak, closing the valve stops the water until the technician arrives. For no water, ask a neighbour whether they have water too.
              1. ✅ Fixed it myself
              2. 🔧 Still broken: send someone"""),
        ("2", lines("""
            Please check your report:
            Place: 1-1-1201
            Problem: kitchen pipe leaking in 1-1-1201
            Type: Plumbing (water, pipes, drains)
            Urgency: Urgent""", choices("✅ Submit", "✏️ Change something", "✖️ Cancel"))),
        ("submit", f"""
            ✅ Your report is in. Ticket number: {NUMBER}
            Urgent: we will respond within 1 hour."""),
    ])  # fmt: skip
    return NUMBER


def duty_group(desk: Desk) -> str:
    """Everything queued so far for the engineering duty group on Telegram (its grab pool), as the console shows it."""
    with desk.uow as uow:
        due = uow.outbox.due(NOW + timedelta(days=1), channels=("telegram",), recipient=DUTY_GROUP)
    return "\n\n".join(render(Reply.load(m.payload)) for m in due)


class TestTheWholeLoop:
    def test_report_push_accept_on_my_way_done_rework_done_accepted_and_rated(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        in_english(li)  # the technician has talked to the bot on this channel, so pushes reach him here
        number = report_leak(zhang)
        play([
            (li, INBOX, leak("🔧 New job for you", "11-27 12:32")),
            (li, "1", yours()),
            (zhang, INBOX, f"🔧 {number}: Li Wei will do your repair."),
            (li, Press("On my way"), lines("When will you be there?", choices("15 min", "30 min", "60 min"))),
            (li, Press("30 min"), lines(f"{number}: the resident expects you in about 30 minutes.",
                                        choices("📍 Arrived", "🛠️ Start", "✅ Done", "⏸️ On hold", "📝 Change of plan", "💰 Quote a charge"))),
            (zhang, INBOX, f"🚶 {number}: Li Wei is on the way, there in about 30 minutes."),
            (li, Press("Arrived"), lines(f"{number}: arrival noted; the resident has been told.",
                                         choices("🛠️ Start", "✅ Done", "⏸️ On hold", "📝 Change of plan", "💰 Quote a charge"))),
            (zhang, INBOX, f"📍 {number}: Li Wei has arrived."),
            (li, Press("Start"), lines(f"{number}: started.", STARTED)),
            (zhang, INBOX, ""),  # starting work is not news for the resident
            (li, Press("Done"), "What did you do? One message, please."),
            (li, "replaced the washer", lines(
                "Materials used? One per line or separated by “;”: name, quantity, unit price (e.g. “valve 1 35”). Or tap “None”.",
                choices("None"))),
            (li, "washer 2 5; sealing tape 3", f"{number} is done. The resident is asked to confirm the repair."),
            # Before "is it fixed?", what was done: the resident judges knowing it.
            (zhang, INBOX, lines(f"""
                ✅ {number}: Li Wei says the repair is done.
                Work done: replaced the washer
                Materials: washer ×2, sealing tape ×1
                Is it fixed?""", choices("✅ Fixed", "❌ Not fixed"))),
            (zhang, "2", f"Sorry to hear that. What is still wrong with {number}? One message, please."),
            (zhang, "still dripping under the sink", f"Sorry it isn't right yet. {number} goes back for rework; we'll tell you when it is done."),
            (li, INBOX, leak(f"🔁 Rework on {number} (1): the resident says “still dripping under the sink”", "11-27 12:36")),
            # A rework is a visit like the first: on the way and arrived are offered again.
            (li, Press("Accept"), yours()),
            (li, Press("Done"), "What did you do? One message, please."),
            (li, "tightened the trap", lines(
                "Materials used? One per line or separated by “;”: name, quantity, unit price (e.g. “valve 1 35”). Or tap “None”.",
                choices("None"))),
            (li, Press("None"), f"{number} is done. The resident is asked to confirm the repair."),
            (zhang, INBOX, f"""
                🔁 {number}: Li Wei will come back to put it right.

                ✅ {number}: Li Wei says the repair is done.
                Work done: tightened the trap
                Materials: washer ×2, sealing tape ×1
                Is it fixed?
                  1. ✅ Fixed
                  2. ❌ Not fixed"""),
            (zhang, Press("Fixed"), lines(f"Glad to hear it! {number} is closed. How would you rate the service?",
                                          choices("⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"))),
            (zhang, Press("⭐⭐⭐⭐⭐"), lines(f"Thank you for rating {number} ⭐⭐⭐⭐⭐. Anything to add? Write it, or tap Skip.",
                                         choices("Skip"))),
            (zhang, "quick and tidy", "Thank you! Your comment is passed on."),
        ])  # fmt: skip

        (ticket,) = stored(desk)
        assert ticket.status is Status.CLOSED and ticket.rework_count == 1
        assert (ticket.rating, ticket.rating_comment) == (5, "quick and tidy")
        assert ticket.cost == 13.0 and [m.name for m in ticket.materials] == ["washer", "sealing tape"]
        # The first visit's times are kept beside the rework's: the first response time survives it.
        first, again = ticket.milestones["first_accepted"], ticket.milestones["accepted"]
        assert first < again and ticket.milestones["first_on_the_way"] < again and "on_the_way" not in ticket.milestones
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


POOL_CARD = f"""
    🙋 待抢单：先抢先得
    {NUMBER} · ⚠️ 加急 · 给排水（漏水、水管、下水道）
    地点：1-1-1201
    问题描述：kitchen pipe leaking in 1-1-1201
      1. 🙋 抢单"""


def on_telegram_as(desk: Desk, clock: Clock, user: str) -> Chat:
    """Someone of the directory writing from their Telegram account (their id), with an English app."""
    return Chat(desk, user, channel="telegram", language_hint="en", clock=clock)


class TestDeclineRollOverAndThePool:
    """The grab pool lives in the trade's staff group on Telegram: here everyone works on Telegram."""

    @pytest.fixture
    def desk(self) -> Desk:
        return on_telegram()

    @pytest.fixture
    def zhang(self, desk: Desk, clock: Clock) -> Chat:
        return on_telegram_as(desk, clock, "7001")

    @pytest.fixture
    def li(self, desk: Desk, clock: Clock) -> Chat:
        return on_telegram_as(desk, clock, "5001")

    @pytest.fixture
    def chen(self, desk: Desk, clock: Clock) -> Chat:
        return on_telegram_as(desk, clock, "5100")

    @pytest.fixture
    def zhao(self, desk: Desk, clock: Clock) -> Chat:
        return on_telegram_as(desk, clock, "5003")

    def test_a_decline_with_nobody_left_goes_to_the_grab_pool_where_the_first_on_shift_to_claim_wins(
        self, zhang: Chat, li: Chat, chen: Chat, zhao: Chat, desk: Desk
    ) -> None:
        in_english(li, chen, zhao)
        number = report_leak(zhang)
        play([
            (li, INBOX, leak("🔧 New job for you", "11-27 12:34")),
            (li, Press("Decline"), lines(f"Why can't you take {number}? Tap a reason or write one.",
                                         choices("Busy with another job", "Not my trade", "Off duty"))),
            (li, Press("Busy with another job"), f"{number} declined; it is in the grab pool."),
            (chen, INBOX, ""),  # the supervisor is not pushed each pool job: it waits under /queue
            (chen, "/queue", lines(f"""
                📋 Queue

                Unassigned (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · new

                Overdue (0)

                On hold (0)

                Waiting for approval (0)""", choices(number))),
        ])  # fmt: skip
        # The staff group is told in the estate's language, without the resident's name or phone.
        assert_answer(duty_group(desk), POOL_CARD)
        # 赵强 is a plumber but off shift on a Friday morning: the pool is for those on shift.
        assert_answer(
            zhao.says(payload=encode(OnTicket("grab", number))),
            f"{number} was not offered to you: it is for those on shift it was offered to.",
        )
        assert_answer(li.says(payload=encode(OnTicket("grab", number))), yours())
        assert_answer(
            zhao.says(payload=encode(OnTicket("grab", number))),
            f"Too late: {number} was already taken by Li Wei.",
        )
        assert_answer(duty_group(desk), replies(POOL_CARD, f"✋ 工单 {number} 已被 李伟 接走。"))
        zhang.run([(INBOX, f"🔧 {number}: Li Wei will do your repair.")])
        (ticket,) = stored(desk)
        assert [e.action for e in ticket.history] == ["create", "assign", "decline", "pool", "claim"]
        assert ticket.history[2].details["reason"] == "Busy with another job"

    def test_an_emergency_is_claimed_only_by_those_it_was_offered_to_not_by_a_forged_button(
        self, zhang: Chat, li: Chat, zhao: Chat, desk: Desk
    ) -> None:
        in_english(li, zhao)
        for said in ("kitchen pipe leaking in 1-1-1201", "emergency", "submit"):
            zhang.says(said)
        (offered,) = stored(desk)
        assert offered.history[-1].action == "offer" and "赵强 Zhao Qiang" not in offered.history[-1].details["to"]
        # 赵强, a plumber off shift, was not offered it; a button made up for him takes nothing.
        assert_answer(
            zhao.says(payload=encode(OnTicket("grab", NUMBER))),
            f"{NUMBER} was not offered to you: it is for those on shift it was offered to.",
        )
        assert stored(desk) == [offered]
        assert li.says(payload=encode(OnTicket("grab", NUMBER))).startswith(
            f"You have {NUMBER}.\n{NUMBER} · 🚨 EMERGENCY"
        )

    def test_a_push_left_unanswered_rolls_over_to_the_grab_pool(self, zhang: Chat, li: Chat, desk: Desk) -> None:
        in_english(li)
        number = report_leak(zhang)
        li.run([(INBOX, leak("🔧 New job for you", "11-27 12:32"))])
        assert desk.act(zhang.now + timedelta(minutes=9), roll_over) == []
        assert desk.act(zhang.now + timedelta(minutes=11), roll_over) == [number]
        assert_answer(duty_group(desk), POOL_CARD)  # the only plumber on shift had it: nobody is left to ask
        (ticket,) = stored(desk)
        assert ticket.status is Status.NEW and ticket.history[2].details["reason"] == "no answer within 10 minutes"
        assert ticket.history[2].actor.kind == "system"
        assert [e.action for e in ticket.history] == ["create", "assign", "decline", "pool"]

    def test_the_technician_who_let_a_push_roll_over_is_told_where_it_went(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        in_english(li)
        number = report_leak(zhang)
        li.run([(INBOX, leak("🔧 New job for you", "11-27 12:32"))])
        desk.act(zhang.now + timedelta(minutes=11), roll_over)
        li.wait(11)
        li.run([(INBOX, f"⏰ {number} was not accepted in time; it is in the grab pool.")])


class TestLateAnswers:
    def test_an_answer_long_after_the_question_is_set_aside_and_said_so(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        in_english(li)
        number = report_leak(zhang)
        li.run([
            (INBOX, leak("🔧 New job for you", "11-27 12:32")),
            (Press("Accept"), yours()),
            (Press("Done"), "What did you do? One message, please."),
        ])  # fmt: skip
        li.wait(31)
        li.run([
            ("replaced the washer", f"""
                That answer came more than 30 minutes after my question, so I set it aside. Please tap the step again.

                Hello Li Wei! Your open jobs:
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · accepted · Li Wei
                  1. {number}"""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.ACCEPTED and ticket.resolution == ""

    def test_a_button_that_makes_no_sense_is_answered(self, li: Chat) -> None:
        in_english(li)
        assert_answer(li.says(payload="s:bogus"), """
            That button is from an older message and no longer works.

            You have no open jobs. /help shows what I can do.""")  # fmt: skip
        assert_answer(li.says(payload=encode(OnTicket("accept", "NOPE"))), "There is no ticket NOPE.")

    def test_a_button_of_a_repair_on_feedback_and_back_is_answered(self, zhang: Chat, chen: Chat, desk: Desk) -> None:
        """No message carries them, but a button's data can be made up: the answer says so, and nothing changes."""
        in_english(chen)
        repair = report_leak(zhang)
        for said in ("/feedback the guard at gate 2 was rude", "skip", "with my name", "submit"):
            zhang.says(said)
        feedback = f"{TODAY}-0002"
        before = stored(desk)
        assert [t.kind.value for t in before] == ["repair", "feedback"]
        for verb, number in (("reply", repair), ("done", feedback), ("accept", feedback)):
            assert_answer(
                chen.says(payload=encode(OnTicket(verb, number))), "That button belongs to an earlier message."
            )
        assert stored(desk) == before


class TestStrangers:
    def test_customer_service_is_asked_once_to_confirm_a_stranger_who_reports_twice(
        self, desk: Desk, chen: Chat, li: Chat, clock: Clock
    ) -> None:
        in_english(chen, li)
        stranger = Chat(desk, "Wu Xin", language_hint="en", clock=clock)
        for number, fault in ((f"{TODAY}-0001", "kitchen pipe leaking in 1-2-502"),
                              (f"{TODAY}-0002", "bathroom pipe leaking in 1-2-502")):  # fmt: skip
            stranger.run([
                (fault, """
                    How urgent is it? I suggest: Urgent.
                      1. Emergency: unsafe, or water/power/lift out
                      2. ✓ Urgent: today, please
                      3. Normal: within a few days"""),
                ("urgent", """
                    Quick check: is the valve under the sink or the main water valve fully open? For a leak, closing the valve stops the water until the technician arrives. For no water, ask a neighbour whether they have water too.
                      1. ✅ Fixed it myself
                      2. 🔧 Still broken: send someone"""),
                ("2", lines(f"""
                    Please check your report:
                    Place: 1-2-502
                    Problem: {fault}
                    Type: Plumbing (water, pipes, drains)
                    Urgency: Urgent""", choices("✅ Submit", "✏️ Change something", "✖️ Cancel"))),
                ("submit", f"""
                    ✅ Your report is in. Ticket number: {number}
                    Urgent: we will respond within 1 hour."""),
            ])  # fmt: skip
        # Nobody lives in 1-2-502 in the directory: the only choice is a new resident.
        chen.run([
            (INBOX, f"""
                {TODAY}-0001: a report from Wu Xin, who is not in the directory and says they live in 1-2-502.
                  1. ✅ Confirm their registration"""),
        ])  # fmt: skip
        # The technician knows that the resident is who they say they are, not yet confirmed.
        assert li.inbox().count("Resident: Wu Xin (not in the directory yet)\n") == 2
        # Customer service answers by typing, in either language, as on WeChat.
        assert chen.says("确认") == "Confirmed: Wu Xin lives in 1-2-502. Their reports are verified from now on."


class TestTypedSteps:
    def test_the_arrival_time_is_tapped_or_typed_in_minutes_and_a_wrong_answer_asks_again(
        self, zhang: Chat, li: Chat
    ) -> None:
        in_english(li)
        number = report_leak(zhang)
        li.inbox()
        when = lines("When will you be there?", choices("15 min", "30 min", "60 min"))
        li.run([
            ("1", yours()),
            ("on my way", when),
            ("soon", replies("Please tap one, or type the minutes, e.g. 45.", when)),
            ("0", replies("Please tap one, or type the minutes, e.g. 45.", when)),
            ("never mind", replies("Left as it was; nothing was changed.", lines(leak_view("accepted", """
                11-27 10:32 Zhang San: reported
                11-27 10:32 dispatch: assigned to Li Wei
                11-27 10:33 Li Wei: accepted""", due="11-28 10:32"), ACCEPTED))),
            ("on my way", when),
            ("45", lines(f"{number}: the resident expects you in about 45 minutes.",
                                 choices("📍 Arrived", "🛠️ Start", "✅ Done", "⏸️ On hold", "📝 Change of plan", "💰 Quote a charge"))),
        ])  # fmt: skip
        assert "on the way, there in about 45 minutes" in zhang.inbox()

    def test_a_hold_reason_in_the_technicians_own_words(self, zhang: Chat, li: Chat) -> None:
        in_english(li)
        number = report_leak(zhang)
        li.inbox()
        for said in ("1", "start"):
            li.says(said)
        li.run([
            ("on hold", lines("What are you waiting for? Tap one or write it.",
                              choices("waiting for parts", "waiting for access"))),
            ("the owner is away until Friday", lines(
                f"{number}: on hold; the deadline waits until you resume.", choices("▶️ Resume", "📝 Change of plan"))),
        ])  # fmt: skip
        assert "on hold (the owner is away until Friday)" in zhang.inbox()

    def test_thirty_typed_at_the_chinese_list_is_thirty_minutes(self, zhang: Chat, li: Chat) -> None:
        number = report_leak(zhang)
        speaking("中文", li)
        li.inbox()
        li.says("接单")
        assert li.says("出发") == lines("预计多久到达？", choices("15分钟", "30分钟", "60分钟"))
        assert li.says("30").startswith(f"{number}：已告知住户您约 30 分钟后到达。\n")


WHERE = lines("""
    Where is the problem? Tap your home, or type the place.
    For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).""", choices("1-1-1201", "Somewhere else"))  # fmt: skip


def answer_the_push_by_number_then_go_on(zhang: Chat, number: str) -> None:
    """ "Is it fixed?" came in the middle of a report: 1 answers it, the rating follows, then the report goes on."""
    zhang.run([
        ("1", lines(f"Glad to hear it! {number} is closed. How would you rate the service?",
                    choices("⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"))),
        ("5", lines(f"Thank you for rating {number} ⭐⭐⭐⭐⭐. Anything to add? Write it, or tap Skip.",
                    choices("Skip"))),
        ("skip", replies("Thank you!", "Let's continue your report.", WHERE)),
        ("1", lines("How urgent is it? I suggest: Normal.", choices(
            "Emergency: unsafe, or water/power/lift out", "Urgent: today, please", "✓ Normal: within a few days"))),
    ])  # fmt: skip


class TestAPushInTheMiddleOfAReport:
    def test_a_number_answers_the_push_and_the_report_is_offered_again_right_after(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        in_english(li)
        number = report_leak(zhang)
        li.inbox()
        for said in ("1", "Start", "Done", "replaced the washer", "None"):
            li.says(said)
        zhang.run([("the bedroom light is broken", WHERE)])
        assert zhang.inbox().endswith("Is it fixed?\n  1. ✅ Fixed\n  2. ❌ Not fixed")  # arrives mid-report
        answer_the_push_by_number_then_go_on(zhang, number)

    def test_a_push_left_unanswered_leaves_the_report_to_go_on(self, zhang: Chat, li: Chat) -> None:
        in_english(li)
        report_leak(zhang)
        li.inbox()
        for said in ("1", "Start", "Done", "replaced the washer", "None"):
            li.says(said)
        zhang.says("the bedroom light is broken")
        zhang.inbox()  # "Is it fixed?" with its two choices
        assert zhang.says("1-1-1201").startswith("How urgent is it?")  # not a choice of the push: the report goes on


class TestAPushOnAChannelThatDeliversIt:
    """On Telegram (and WeChat) a push arrives by itself, with no look at an inbox: the list it brings is still the
    last one the person saw, so a number or a word typed next answers it."""

    @pytest.fixture
    def desk(self) -> Desk:
        return on_telegram()

    @staticmethod
    def in_private(desk: Desk, clock: Clock, user: str) -> Chat:
        return Chat(desk, user, channel="telegram", chat=user, language_hint="en", clock=clock)

    def test_typed_answers_take_the_job_and_then_the_acceptance_in_the_middle_of_a_report(
        self, desk: Desk, clock: Clock
    ) -> None:
        zhang, li = self.in_private(desk, clock, "7001"), self.in_private(desk, clock, "5001")
        in_english(li)
        number = report_leak(zhang)
        assert li.says("1") == yours()  # the job's push: 1 is Accept
        for said in ("Start", "Done", "replaced the washer"):
            li.says(said)
        zhang.run([("the bedroom light is broken", WHERE)])
        li.says("None")
        li.says("No photo")  # the repair is done: "Is it fixed?" is pushed to the resident, mid-report
        answer_the_push_by_number_then_go_on(zhang, number)

    def test_a_list_the_conversation_showed_after_the_push_is_the_one_a_number_picks(
        self, desk: Desk, clock: Clock
    ) -> None:
        zhang, li = self.in_private(desk, clock, "7001"), self.in_private(desk, clock, "5001")
        in_english(li)
        number = report_leak(zhang)
        assert li.says("/jobs").startswith(f"Your open jobs:\n• {number}")  # after the push: its list is the jobs'
        assert li.says("1").startswith(f"{number} · ⚠️ Urgent")

    def test_customer_service_confirms_a_strangers_registration_by_typing_its_number(
        self, desk: Desk, clock: Clock
    ) -> None:
        chen, stranger = self.in_private(desk, clock, "5100"), self.in_private(desk, clock, "8104")
        in_english(chen)
        for said in ("kitchen pipe leaking in 1-2-502", "urgent", "2", "submit"):
            stranger.says(said)
        assert chen.says("1") == "Confirmed: 8104 lives in 1-2-502. Their reports are verified from now on."


class TestAReportSetAside:
    """The report being written when a push's question took over: taken up after, dropped when stale or cancelled."""

    def finished_repair_then_a_second_report(self, zhang: Chat, li: Chat) -> str:
        in_english(li)
        number = report_leak(zhang)
        li.inbox()
        for said in ("1", "Start", "Done", "replaced the washer", "None"):
            li.says(said)
        zhang.says("the bedroom light is broken")
        zhang.inbox()
        return number

    def test_a_command_after_not_fixed_gives_the_report_back(self, zhang: Chat, li: Chat) -> None:
        number = self.finished_repair_then_a_second_report(zhang, li)
        zhang.run([
            ("2", f"Sorry to hear that. What is still wrong with {number}? One message, please."),
            ("/tickets", replies(lines(f"""
                Your open tickets:
                • {number} · Plumbing (water, pipes, drains) · repaired: waiting for your confirmation""", choices(number)),
                "Let's continue your report.", lines("""
                Where is the problem? Tap your home, or type the place.
                For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).""",
                choices("1-1-1201", "Somewhere else")))),
        ])  # fmt: skip

    def test_a_report_set_aside_and_left_past_the_idle_limit_is_dropped(self, zhang: Chat, li: Chat) -> None:
        self.finished_repair_then_a_second_report(zhang, li)
        zhang.says("1")  # fixed: the stars are asked, the report set aside
        zhang.wait(31)
        zhang.run([
            ("the neighbours are very noisy at night", replies(
                "Your unfinished report from earlier was dropped after 30 minutes without an answer.",
                lines("Is it about a particular place or thing? Type it, or skip.", choices("Skip")))),
        ])  # fmt: skip

    def test_cancel_drops_the_report_set_aside_too(self, zhang: Chat, li: Chat) -> None:
        self.finished_repair_then_a_second_report(zhang, li)
        zhang.says("1")
        assert zhang.says("/cancel").startswith("Report discarded; nothing was sent.\n")
        assert zhang.says("1-1-1201").startswith("Hello Zhang San!")  # idle: no report set aside takes the place


class TestPermissions:
    def test_only_the_assignee_or_a_supervisor_acts_and_a_refusal_changes_nothing(
        self, zhang: Chat, li: Chat, desk: Desk, clock: Clock
    ) -> None:
        number = report_leak(zhang)
        wang = Chat(desk, "王芳 Wang Fang", language_hint="en", clock=clock)
        in_english(wang)
        assert_answer(wang.says(payload=encode(OnTicket("accept", number))),
                      "Only the technician it is assigned to, or a supervisor, can do that.")  # fmt: skip
        wang.run([
            ("/queue", "Only supervisors and customer service can do that."),
            (f"/assign {number} 王芳", "Only supervisors and customer service can do that."),
        ])  # fmt: skip
        assert_answer(
            wang.says(payload=encode(OnTicket("grab", number))), "Only a technician of that trade can take this job."
        )
        wang.run([(f"/status {number}", "You can only see tickets assigned to you.")])
        (ticket,) = stored(desk)
        assert ticket.status is Status.ASSIGNED and ticket.assignee_name == "李伟 Li Wei"
        assert [e.action for e in ticket.history] == ["create", "assign"]

    def test_a_resident_cannot_accept_someone_elses_repair(self, zhang: Chat, desk: Desk, clock: Clock) -> None:
        number = report_leak(zhang)
        emily = Chat(desk, "Emily Brown", clock=clock)
        assert_answer(
            emily.says(payload=encode(OnTicket("fixed", number))),
            f"I can't find a ticket {number} of yours. Send /tickets to see them.",
        )
        assert stored(desk)[0].status is Status.ASSIGNED


class TestSupervisors:
    def test_assigning_someone_of_another_trade_is_warned_and_can_be_called_off(
        self, zhang: Chat, chen: Chat, desk: Desk
    ) -> None:
        in_english(chen)
        number = report_leak(zhang)
        chen.run([
            (f"/reassign {number} 王芳", lines(f"""
                Wang Fang does not do Plumbing (water, pipes, drains).
                Give {number} to Wang Fang anyway?""", choices("✅ Yes, assign", "✖️ No"))),
            ("maybe", replies("Please pick one of the choices, by its number or its name.", lines(f"""
                Wang Fang does not do Plumbing (water, pipes, drains).
                Give {number} to Wang Fang anyway?""", choices("✅ Yes, assign", "✖️ No")))),
            ("no", f"{number} was not assigned."),
        ])  # fmt: skip
        assert stored(desk)[0].assignee_name == "李伟 Li Wei"

    def test_queue_assign_and_reassign(self, zhang: Chat, li: Chat, chen: Chat, zhao: Chat) -> None:
        in_english(li, chen, zhao)
        number = report_leak(zhang)
        play([
            (li, INBOX, leak("🔧 New job for you", "11-27 12:34")),
            (li, Press("Decline"), lines(f"Why can't you take {number}? Tap a reason or write one.",
                                         choices("Busy with another job", "Not my trade", "Off duty"))),
            (li, "my van broke down", f"{number} declined; it is in the grab pool."),
            (chen, "/queue", lines(f"""
                📋 Queue

                Unassigned (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · new

                Overdue (0)

                On hold (0)

                Waiting for approval (0)""", choices(number))),
            # 赵强 works nights: at 10:30 the supervisor is told, and assigns him anyway.
            (chen, f"/assign {number} Zhao", lines(f"""
                Zhao Qiang is not on shift now.
                Give {number} to Zhao Qiang anyway?""", choices("✅ Yes, assign", "✖️ No"))),
            (chen, "yes", f"{number} is assigned to Zhao Qiang; they have been asked to accept."),
            (zhao, INBOX, leak("🔧 New job for you", "11-27 12:35")),
            (chen, f"/reassign {number} nobody", "I don't know “nobody”. Technicians: Li Wei, Wang Fang, Zhao Qiang"),
            (chen, f"/reassign {number} 李伟", f"{number} is assigned to Li Wei; they have been asked to accept."),
            (zhao, INBOX, f"{number} was reassigned to Li Wei."),
            (li, INBOX, leak("🔧 New job for you", "11-27 12:36")),
            (chen, f"/reassign {number} Li", f"{number} is already with Li Wei."),
            (chen, "/assign", "Please write it as: /assign NUMBER NAME"),
        ])  # fmt: skip

    def test_a_change_of_plan_and_a_cost_above_the_threshold_wait_for_approval(
        self, zhang: Chat, li: Chat, chen: Chat
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)
        play([
            (li, INBOX, leak("🔧 New job for you", "11-27 12:33")),
            (li, Press("Accept"), yours()),
            (zhang, INBOX, f"🔧 {number}: Li Wei will do your repair."),
            (li, Press("Start"), lines(f"{number}: started.", STARTED)),
            (li, Press("Change of plan"), "What should be done instead, and why? Add the cost if it changes, e.g. “replace the whole pipe, ¥800”."),
            (li, "the whole pipe is rotten: replace it, ¥800", f"{number}: your change of plan went to the supervisor. I'll tell you the answer."),
            (chen, INBOX, lines(f"""
                📝 {number}: Li Wei asks to change the plan.
                the whole pipe is rotten: replace it, ¥800
                {number} · ⚠️ Urgent · Plumbing (water, pipes, drains)
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201""", choices("👍 Approve", "👎 Reject"))),
            (chen, Press("Approve"), f"{number}: approved."),
            (li, INBOX, lines(f"{number}: Chen Jing approved your request.", STARTED)),
            (li, Press("Done"), "What did you do? One message, please."),
            (li, "replaced the pipe", lines(
                "Materials used? One per line or separated by “;”: name, quantity, unit price (e.g. “valve 1 35”). Or tap “None”.",
                choices("None"))),
            (li, "pipe 1 800", f"{number}: the cost ¥800.00 needs a supervisor's approval; it will be marked done when approved."),
            (zhang, INBOX, ""),  # not done until approved
            (chen, INBOX, lines(f"""
                💰 {number}: Li Wei asks to approve a cost of ¥800.00 (over ¥500.00).
                Work done: replaced the pipe
                {number} · ⚠️ Urgent · Plumbing (water, pipes, drains)
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201""", choices("👍 Approve", "👎 Reject"))),
            (chen, Press("Approve"), f"{number}: approved."),
            (zhang, INBOX, lines(f"""
                ✅ {number}: Li Wei says the repair is done.
                Work done: replaced the pipe
                Materials: pipe ×1
                Is it fixed?""", choices("✅ Fixed", "❌ Not fixed"))),
        ])  # fmt: skip

    def test_a_job_whose_cost_waits_for_approval_is_not_put_on_hold(
        self, zhang: Chat, li: Chat, chen: Chat, desk: Desk
    ) -> None:
        """Approving the cost finishes the job: on hold, the approval would be recorded and the work done lost."""
        in_english(li, chen)
        number = report_leak(zhang)
        li.inbox()
        li.presses("Accept")
        li.presses("Start")
        li.presses("Done")
        li.says("replaced the pipe")
        li.says("pipe 1 800")
        li.run([
            (f"/status {number}", leak_view("in progress", """
                11-27 10:33 Zhang San: reported
                11-27 10:33 dispatch: assigned to Li Wei
                11-27 10:33 Li Wei: accepted
                11-27 10:34 Li Wei: started
                11-27 10:35 Li Wei: asked for approval""")),  # no step offered until the supervisor decides
        ])  # fmt: skip
        # On hold, tapped on the message that showed the job started:
        assert_answer(
            li.says(payload=encode(OnTicket("hold", number))),
            f"{number} is already waiting for a supervisor's decision.",
        )
        chen.inbox()
        chen.presses("Approve")
        (ticket,) = stored(desk)
        assert (ticket.status, ticket.cost, ticket.resolution) == (
            Status.RESOLVED,
            Decimal("800.00"),
            "replaced the pipe",
        )

    def test_a_rejected_change_of_plan_goes_back_to_the_technician_and_the_job_goes_on(
        self, zhang: Chat, li: Chat, chen: Chat, desk: Desk
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)
        play([
            (li, INBOX, leak("🔧 New job for you", "11-27 12:33")),
            (li, Press("Accept"), yours()),
            (zhang, INBOX, f"🔧 {number}: Li Wei will do your repair."),
            (li, Press("Start"), lines(f"{number}: started.", STARTED)),
            (li, Press("Change of plan"), "What should be done instead, and why? Add the cost if it changes, e.g. “replace the whole pipe, ¥800”."),
            (li, "replace the whole pipe, ¥800", f"{number}: your change of plan went to the supervisor. I'll tell you the answer."),
            (chen, "/queue", lines(f"""
                📋 Queue

                Unassigned (0)

                Overdue (0)

                On hold (0)

                Waiting for approval (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · in progress · Li Wei""", choices(number))),
            # Until it is decided, Done and another change of plan wait: only hold remains.
            (li, f"/status {number}", lines(leak_view("in progress", """
                11-27 10:33 Zhang San: reported
                11-27 10:33 dispatch: assigned to Li Wei
                11-27 10:33 Li Wei: accepted
                11-27 10:34 Li Wei: started
                11-27 10:34 Li Wei: asked for approval"""), choices("⏸️ On hold"))),
            (chen, INBOX, lines(f"""
                📝 {number}: Li Wei asks to change the plan.
                replace the whole pipe, ¥800
                {number} · ⚠️ Urgent · Plumbing (water, pipes, drains)
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201""", choices("👍 Approve", "👎 Reject"))),
            (chen, Press("Reject"), f"{number}: rejected."),
            (li, INBOX, lines(f"{number}: Chen Jing rejected your request; please talk to them.", STARTED)),
            (zhang, INBOX, ""),  # a plan the supervisor turned down is not news for the resident
            (li, Press("Done"), "What did you do? One message, please."),
            (li, "replaced the washer", lines(
                "Materials used? One per line or separated by “;”: name, quantity, unit price (e.g. “valve 1 35”). Or tap “None”.",
                choices("None"))),
            (li, "washer 1 5", f"{number} is done. The resident is asked to confirm the repair."),
            (zhang, INBOX, lines(f"""
                ✅ {number}: Li Wei says the repair is done.
                Work done: replaced the washer
                Materials: washer ×1
                Is it fixed?""", choices("✅ Fixed", "❌ Not fixed"))),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert [e.action for e in ticket.history][-3:] == ["request_approval", "reject", "resolve"]
        assert ticket.pending_approval is None and ticket.cost == 5.0

    def test_a_supervisor_opening_a_ticket_from_the_queue_sees_the_plan_to_decide_on(
        self, zhang: Chat, li: Chat, chen: Chat
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)
        li.inbox()
        li.presses("Accept")
        li.presses("Start")
        li.presses("Change of plan")
        li.says("replace the whole pipe, ¥800")
        chen.run([
            ("/queue", lines(f"""
                📋 Queue

                Unassigned (0)

                Overdue (0)

                On hold (0)

                Waiting for approval (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · in progress · Li Wei""", choices(number))),
            (Press(number), lines(f"""
                {number} · ⚠️ Urgent · Plumbing (water, pipes, drains)
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201
                Resident: Zhang San 13800000001
                Status: in progress
                Assigned to: Li Wei
                Due: 11-28 10:33
                History:
                  11-27 10:33 Zhang San: reported
                  11-27 10:33 dispatch: assigned to Li Wei
                  11-27 10:33 Li Wei: accepted
                  11-27 10:34 Li Wei: started
                  11-27 10:34 Li Wei: asked for approval
                📝 {number}: Li Wei asks to change the plan.
                replace the whole pipe, ¥800""", choices("👍 Approve", "👎 Reject"))),
        ])  # fmt: skip

    def test_the_overdue_section_of_the_queue(self, zhang: Chat, li: Chat, chen: Chat) -> None:
        in_english(li, chen)
        number = report_leak(zhang)  # urgent: to be resolved within 24 hours, by 11-28 10:33
        li.inbox()
        li.run([(Press("Accept"), yours())])
        chen.run([("/queue", EMPTY_QUEUE)])
        chen.now = NOW + timedelta(hours=24)  # Saturday 10:30: not yet
        chen.run([("/queue", EMPTY_QUEUE)])
        chen.wait(3)  # 10:33:20, past the deadline
        chen.run([
            ("/queue", lines(f"""
                📋 Queue

                Unassigned (0)

                Overdue (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · accepted · Li Wei

                On hold (0)

                Waiting for approval (0)""", choices(number))),
            (Press(number), lines(leak_view("accepted", """
                11-27 10:33 Zhang San: reported
                11-27 10:33 dispatch: assigned to Li Wei
                11-27 10:33 Li Wei: accepted"""), ACCEPTED)),
        ])  # fmt: skip

    def test_an_unassigned_ticket_past_its_response_time_is_both_unassigned_and_overdue(
        self, zhang: Chat, li: Chat, chen: Chat
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)  # urgent: to be answered within the hour
        li.inbox()
        li.presses("Decline")
        li.presses("Busy with another job")
        chen.wait(61)
        chen.run([
            ("/queue", lines(f"""
                📋 Queue

                Unassigned (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · new

                Overdue (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · new

                On hold (0)

                Waiting for approval (0)""", choices(number))),
        ])  # fmt: skip

    def test_new_opens_a_ticket_for_a_resident_who_phoned(self, zhang: Chat, chen: Chat, desk: Desk) -> None:
        in_english(chen, zhang)
        chen.run([
            ("/new", """
                Where is the problem? Type the room or the place.
                For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage)."""),
            ("1-1-1201", "What is wrong? Describe it in a few words; a photo helps too."),
            ("toilet blocked", """
                How urgent is it? I suggest: Urgent.
                  1. Emergency: unsafe, or water/power/lift out
                  2. ✓ Urgent: today, please
                  3. Normal: within a few days"""),
            # No self-check: the resident is on the phone, not at the valve.
            ("normal", lines("""
                Please check your report:
                Place: 1-1-1201
                Problem: toilet blocked
                Type: Plumbing (water, pipes, drains)
                Urgency: Normal""", choices("✅ Submit", "✏️ Change something", "✖️ Cancel"))),
            ("submit", f"✅ {NUMBER} is open for Zhang San: a technician has been assigned."),
        ])  # fmt: skip
        zhang.run([
            (INBOX, f"""
                🧾 {NUMBER}: your report was written down for you by our staff: toilet blocked
                Normal: we will respond within 4 hours."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.source, ticket.reporter, ticket.reporter_contact) == (
            "front_desk",
            "张三 Zhang San",
            "13800000001",
        )
        assert ticket.history[0].actor.name == "陈静 Chen Jing" and ticket.status is Status.ASSIGNED

    def test_a_command_in_the_middle_of_new_picks_the_report_up_again(self, chen: Chat) -> None:
        """A number typed after /queue answers the report's question, not a list the command showed."""
        in_english(chen)
        urgency = """
            How urgent is it? I suggest: Urgent.
              1. Emergency: unsafe, or water/power/lift out
              2. ✓ Urgent: today, please
              3. Normal: within a few days"""
        chen.run([
            ("/new 1-2-803 toilet blocked", urgency),
            ("/queue", replies("""
                📋 Queue

                Unassigned (0)

                Overdue (0)

                On hold (0)

                Waiting for approval (0)""", "Let's continue your report.", urgency)),
            ("3", lines("Who reported it? Their name and phone, so the technician can reach them. Or tap Skip.",
                        choices("Skip"))),
            ("skip", lines("""
                Please check your report:
                Place: 1-2-803
                Problem: 1-2-803 toilet blocked
                Type: Plumbing (water, pipes, drains)
                Urgency: Normal""", choices("✅ Submit", "✏️ Change something", "✖️ Cancel"))),
        ])  # fmt: skip

    def test_new_for_a_room_where_nobody_lives_is_a_walk_in(self, li: Chat, chen: Chat, desk: Desk) -> None:
        in_english(chen, li)
        chen.run([
            ("/new", """
                Where is the problem? Type the room or the place.
                For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage)."""),
            ("1-2-803", "What is wrong? Describe it in a few words; a photo helps too."),
            ("the front door lock is broken", """
                How urgent is it? I suggest: Normal.
                  1. Emergency: unsafe, or water/power/lift out
                  2. Urgent: today, please
                  3. ✓ Normal: within a few days"""),
            ("normal", lines("Who reported it? Their name and phone, so the technician can reach them. Or tap Skip.",
                             choices("Skip"))),
            ("Mr Wang 13912345678", lines("""
                Please check your report:
                Place: 1-2-803
                Problem: the front door lock is broken
                Type: Building (walls, doors, windows)
                Urgency: Normal""", choices("✅ Submit", "✏️ Change something", "✖️ Cancel"))),
            ("1", f"✅ {NUMBER} is open for Mr Wang 13912345678: a technician has been assigned."),
            (INBOX, ""),  # no resident of 1-2-803 to tell, and no stranger to register
        ])  # fmt: skip
        li.run([
            (INBOX, lines(f"""
                🔧 New job for you
                {NUMBER} · Normal · Building (walls, doors, windows)
                Place: 1-2-803
                Problem: the front door lock is broken
                Resident: Mr Wang 13912345678
                Be there by: 11-28 10:33
                Bring: drill, sealant, spare hinges and locks""", ACCEPT_OR_DECLINE)),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        # The caller is who the technician reaches; the ticket keeps who wrote it down too.
        assert (ticket.source, ticket.reporter, ticket.taken_by, ticket.reporter_contact) == (
            "front_desk", "Mr Wang 13912345678", "陈静 Chen Jing", "Mr Wang 13912345678",
        )  # fmt: skip
        assert ticket.reporter_resident_id is None and ticket.reporter_address is None


class TestOnHold:
    def test_on_hold_for_parts_then_resumed_and_the_deadline_waited(
        self, zhang: Chat, li: Chat, chen: Chat, desk: Desk
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)
        play([
            (li, INBOX, leak("🔧 New job for you", "11-27 12:33")),
            (li, Press("Accept"), yours()),
            (zhang, INBOX, f"🔧 {number}: Li Wei will do your repair."),
            (li, Press("Start"), lines(f"{number}: started.", STARTED)),
            (li, Press("On hold"), lines("What are you waiting for? Tap one or write it.",
                                                  choices("waiting for parts", "waiting for access"))),
            (li, Press("parts"), lines(f"{number}: on hold; the deadline waits until you resume.",
                                       choices("▶️ Resume", "📝 Change of plan"))),
            (zhang, INBOX, f"⏸️ {number}: the repair is on hold (waiting for parts). The deadline waits meanwhile."),
            (zhang, f"/status {number}", lines(f"""
                {number} · Plumbing (water, pipes, drains)
                Status: on hold (waiting for parts or access)
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201
                Reported: 2026-11-27 10:33
                Technician: Li Wei""", choices("⏰ Chase"))),
            (chen, "/queue", lines(f"""
                📋 Queue

                Unassigned (0)

                Overdue (0)

                On hold (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · on hold · Li Wei

                Waiting for approval (0)""", choices(number))),
        ])  # fmt: skip
        li.now = NOW + timedelta(days=3)  # Monday 10:30: past the first deadline (Saturday 10:33), but it waited
        play([
            (chen, "/queue", lines(f"""
                📋 Queue

                Unassigned (0)

                Overdue (0)

                On hold (1)
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · on hold · Li Wei

                Waiting for approval (0)""", choices(number))),
            (li, "/jobs", lines(f"""
                Your open jobs:
                • {number} · Plumbing (water, pipes, drains) · 1-1-1201 · on hold · Li Wei""", choices(number))),
            (li, Press(number), lines(leak_view("on hold", """
                11-27 10:33 Zhang San: reported
                11-27 10:33 dispatch: assigned to Li Wei
                11-27 10:33 Li Wei: accepted
                11-27 10:34 Li Wei: started
                11-27 10:34 Li Wei: put on hold: waiting for parts"""), choices("▶️ Resume", "📝 Change of plan"))),
            (li, Press("Resume"), lines(f"{number}: resumed.", STARTED)),
            (zhang, INBOX, f"▶️ {number}: the repair goes on."),
            # The three days on hold are added to the deadline.
            (li, f"/status {number}", lines(leak_view("in progress", """
                11-27 10:33 Zhang San: reported
                11-27 10:33 dispatch: assigned to Li Wei
                11-27 10:33 Li Wei: accepted
                11-27 10:34 Li Wei: started
                11-27 10:34 Li Wei: put on hold: waiting for parts
                11-30 10:31 Li Wei: resumed""", due="12-01 10:30"), STARTED)),
            (chen, "/queue", EMPTY_QUEUE),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.IN_PROGRESS and ticket.history[-2].details == {"reason": "parts"}


class TestFeedbackAndChasing:
    def test_the_department_replies_and_an_anonymous_reporter_stays_anonymous(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        emily = Chat(desk, "Emily Brown", clock=clock)
        in_english(chen)
        emily.run([
            ("I want to complain about the guard at the gate, he was rude", lines(
                "Is it about a particular place or thing? Type it, or skip.", choices("Skip"))),
            ("skip", lines("Should staff see your name? Anonymous feedback still gets its reply here.",
                           choices("With my name", "Anonymously"))),
            ("anonymously", lines("""
                Please check your feedback:
                About: Service quality
                Message: I want to complain about the guard at the gate, he was rude
                Place or thing: (none)
                Name shown to staff: no, anonymous""", choices("✅ Submit", "✏️ Change something", "✖️ Cancel"))),
            ("1", f"""
                Thank you. Your feedback is recorded as {NUMBER}.
                Customer service will reply to you here within 4 hours.
                Your name is hidden from staff."""),
        ])  # fmt: skip
        play([
            (chen, INBOX, f"""
                💬 Feedback for Customer service
                {NUMBER} · Service quality · anonymous resident
                I want to complain about the guard at the gate, he was rude
                Reply by: 11-27 14:32
                  1. ✍️ Reply"""),
            (chen, Press("Reply"), "Write your reply to the resident in one message."),
            (chen, "We have spoken to the guard; sorry.", lines("""
                Your reply:
                We have spoken to the guard; sorry.""", choices("✅ Send and mark answered", "💬 Send, keep it open"))),
            (chen, Press("Send and mark answered"), f"Sent. {NUMBER} is answered; the resident is asked whether it settles the matter."),
            (emily, INBOX, lines(f"""
                💬 {NUMBER}: Customer service replies:
                We have spoken to the guard; sorry.

                Does this settle it?""", choices("✅ Yes, settled", "❌ No, not settled"))),
            (emily, Press("Yes, settled"), lines(f"Glad to hear it! {NUMBER} is closed. How would you rate the service?",
                                                 choices("⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"))),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.CLOSED and ticket.resolution == "We have spoken to the guard; sorry."

    def test_anonymous_feedback_is_anonymous_wherever_staff_look_until_a_manager_asks_on_the_record(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        with desk.uow as uow:
            estate = uow.directory.get("SG")
            assert estate is not None
            uow.directory.sync(replace(estate, staff=(*estate.staff, Staff("周敏 Zhou Min", ("manager",)))))
            uow.commit()
        zhou = Chat(desk, "周敏 Zhou Min", language_hint="en", clock=clock)
        zhou.says("/jobs")  # his console: where what managers hear reaches him
        emily = Chat(desk, "Emily Brown", clock=clock)
        in_english(chen)
        for says in ("feedback", "1", "the guard at the gate was rude to my mother", "skip", "anonymously", "1"):
            emily.says(says)
        emily.says("/chase " + NUMBER)
        status = f"""
            {NUMBER} · Normal · Service quality
            Place: -
            Problem: the guard at the gate was rude to my mother
            Status: assigned
            Assigned to: Customer service
            Due: 11-30 10:33
            History:
              11-27 10:33 anonymous resident: reported
              11-27 10:33 dispatch: assigned to Customer service
              11-27 10:33 anonymous resident: chased"""
        looked = """
              11-27 10:34 Zhou Min: looked up who gave this anonymous feedback"""
        play([
            (chen, f"/status {NUMBER}", lines(status, choices("✍️ Reply"))),
            (chen, f"/reveal {NUMBER}", "Only a manager can see who gave anonymous feedback."),
            (zhou, f"/reveal {NUMBER}", f"{NUMBER} was given by Emily Brown. That you looked is kept in the ticket's history."),
            (chen, f"/status {NUMBER}", lines(status + looked, choices("✍️ Reply"))),
        ])  # fmt: skip
        assert "Emily" not in chen.inbox() + zhou.inbox()  # what the chase told them

    def test_a_reply_that_keeps_the_feedback_open_then_one_that_answers_it(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        emily = Chat(desk, "Emily Brown", clock=clock)
        in_english(chen)
        for says in ("feedback", "1", "nobody answered the front desk phone all morning", "skip", "1", "1"):
            emily.says(says)
        send = choices("✅ Send and mark answered", "💬 Send, keep it open")
        emily.says(f"/add {NUMBER}")
        assert emily.says("it happened again at noon") == f"Added to {NUMBER}; Customer service is told."
        assert f"📎 {NUMBER}: the resident adds:\nit happened again at noon" in chen.inbox()  # with the card
        play([
            (chen, Press("Reply"), "Write your reply to the resident in one message."),
            (chen, "Sorry: the line was broken. It is being repaired today.", lines(
                "Your reply:\nSorry: the line was broken. It is being repaired today.", send)),
            (chen, Press("keep it open"), f"Sent to the resident. {NUMBER} stays open."),
            # The resident gets the reply, and is not asked whether it settles anything yet.
            (emily, INBOX, f"""
                💬 {NUMBER}: Customer service replies:
                Sorry: the line was broken. It is being repaired today."""),
            (emily, "/tickets", lines(f"""
                Your open tickets:
                • {NUMBER} · Service quality · with the department""", choices(NUMBER))),
            (chen, f"/status {NUMBER}", lines(f"""
                {NUMBER} · Normal · Service quality
                Place: -
                Problem: nobody answered the front desk phone all morning
                Status: assigned
                Assigned to: Customer service
                Due: 11-30 10:32
                History:
                  11-27 10:32 Emily Brown: reported
                  11-27 10:32 dispatch: assigned to Customer service
                  11-27 10:33 Emily Brown: added: it happened again at noon
                  11-27 10:34 Chen Jing: replied""", choices("✍️ Reply"))),
            (chen, Press("Reply"), "Write your reply to the resident in one message."),
            (chen, "The line works again since noon.", lines("Your reply:\nThe line works again since noon.", send)),
            (chen, Press("mark answered"), f"Sent. {NUMBER} is answered; the resident is asked whether it settles the matter."),
            (emily, INBOX, lines(f"""
                💬 {NUMBER}: Customer service replies:
                The line works again since noon.

                Does this settle it?""", choices("✅ Yes, settled", "❌ No, not settled"))),
            (emily, Press("Yes, settled"), lines(f"Glad to hear it! {NUMBER} is closed. How would you rate the service?",
                                                 choices("⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"))),
            (emily, "/tickets", lines("You have no open tickets.", choices("🔧 Report a repair"))),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert [e.action for e in ticket.history] == ["create", "assign", "note", "reply", "resolve", "confirm_fix"]
        assert ticket.status is Status.CLOSED and ticket.resolution == "The line works again since noon."

    def test_a_feedback_card_asks_for_the_reply_by_the_time_the_resident_was_promised(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        emily = Chat(desk, "Emily Brown", clock=clock)
        in_english(chen)
        for says in ("feedback", "1", "nobody answered the front desk phone all morning", "skip", "1"):
            emily.says(says)
        emily.run([
            ("1", f"""
                Thank you. Your feedback is recorded as {NUMBER}.
                Customer service will reply to you here within 4 hours."""),
        ])  # fmt: skip
        chen.run([
            (INBOX, f"""
                💬 Feedback for Customer service
                {NUMBER} · Service quality · Emily Brown
                nobody answered the front desk phone all morning
                Reply by: 11-27 14:32
                  1. ✍️ Reply"""),
        ])  # fmt: skip

    def test_a_chase_reaches_the_assignee_and_the_second_the_supervisor(
        self, zhang: Chat, li: Chat, chen: Chat
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)
        li.inbox()
        summary = f"""
            {number} · ⚠️ Urgent · Plumbing (water, pipes, drains)
            Place: 1-1-1201
            Problem: kitchen pipe leaking in 1-1-1201"""
        play([
            (zhang, f"/chase {number}", f"We've reminded the team about {number}. Thank you for your patience."),
            (li, INBOX, lines(f"⏰ {number}: the resident is asking when you will come.", summary,
                              "Resident: Zhang San 13800000001")),
            (chen, INBOX, ""),
        ])  # fmt: skip
        zhang.wait(61)
        play([
            (zhang, f"/chase {number}", f"We've reminded the team about {number}. Thank you for your patience."),
            # The supervisor's copy has no phone number: it is the technician who calls.
            (chen, INBOX, lines(f"⏰ {number} has been chased 2 times by the resident.", summary)),
        ])  # fmt: skip


class TestInChinese:
    """The same loop where its texts differ, for staff and a resident who read Chinese (the estate's language)."""

    @pytest.fixture
    def people(self, desk: Desk, clock: Clock) -> tuple[Chat, Chat, Chat]:
        zhang, li, chen = (
            Chat(desk, name, clock=clock) for name in ("张三 Zhang San", "李伟 Li Wei", "陈静 Chen Jing")
        )
        speaking("中文", li, chen)
        zhang.run([
            ("1-1-1201 厨房水管漏水", """
                情况有多紧急？建议选择：加急。
                  1. 紧急：有安全隐患，或停水、停电、电梯停运
                  2. ✓ 加急：请当天处理
                  3. 一般：几天内处理即可"""),
            ("加急", """
                请先自查：水槽下方的阀门或入户总阀是否完全打开？如果漏水，可先关闭阀门止水，等待维修师傅上门。如果停水，可以问问邻居家是否也停水。
                  1. ✅ 我已自行解决
                  2. 🔧 仍未修好，请派人上门"""),
            ("2", lines("""
                请核对您的报修信息：
                地点：1-1-1201
                问题描述：1-1-1201 厨房水管漏水
                类型：给排水（漏水、水管、下水道）
                紧急程度：加急""", choices("✅ 提交", "✏️ 修改信息", "✖️ 取消"))),
            ("1", f"""
                ✅ 报修已提交，工单号：{NUMBER}
                加急：我们将在1小时内响应。"""),
        ])  # fmt: skip
        play([
            (li, INBOX, lines(f"""
                🔧 您有新工单
                {NUMBER} · ⚠️ 加急 · 给排水（漏水、水管、下水道）
                地点：1-1-1201
                问题描述：1-1-1201 厨房水管漏水
                报修人：张三 13800000001
                请于 11-27 12:32 前到场
                请携带：管钳、生料带、备用阀门和垫圈、管道疏通器""", choices("✅ 接单", "↩️ 退单"))),
            (li, "1", lines(f"""
                您已接下工单 {NUMBER}。
                {NUMBER} · ⚠️ 加急 · 给排水（漏水、水管、下水道）
                地点：1-1-1201
                问题描述：1-1-1201 厨房水管漏水
                报修人：张三 13800000001""",
                choices("🚶 我已出发", "📍 已到场", "🛠️ 开始维修", "✅ 完工", "⏸️ 暂停", "📝 变更方案", "💰 收费报价"))),
            (zhang, INBOX, f"🔧 {NUMBER}：维修师傅李伟将为您维修。"),
            (li, Press("开始维修"), lines(f"{NUMBER}：已开始维修。", choices("✅ 完工", "⏸️ 暂停", "📝 变更方案", "💰 收费报价"))),
        ])  # fmt: skip
        return zhang, li, chen

    def test_on_hold_and_resumed(self, people: tuple[Chat, Chat, Chat]) -> None:
        zhang, li, chen = people
        play([
            (li, Press("暂停"), lines("在等什么？请点选一项，或直接写明原因。", choices("等待配件", "等待入户"))),
            (li, Press("等待入户"), lines(f"{NUMBER}：已暂停，恢复前处理时限暂停计时。", choices("▶️ 继续维修", "📝 变更方案"))),
            (zhang, INBOX, f"⏸️ {NUMBER}：维修暂停（等待入户），暂停期间不计入处理时限。"),
            (zhang, f"/status {NUMBER}", lines(f"""
                {NUMBER} · 给排水（漏水、水管、下水道）
                状态：暂停中（等待配件或入户）
                地点：1-1-1201
                问题描述：1-1-1201 厨房水管漏水
                报修时间：2026-11-27 10:32
                维修师傅：李伟""", choices("⏰ 催单"))),
            (chen, "/queue", lines(f"""
                📋 待处理队列

                待派单 (0)

                已超时 (0)

                暂停中 (1)
                • {NUMBER} · 给排水（漏水、水管、下水道） · 1-1-1201 · 暂停中 · 李伟

                待审批 (0)""", choices(NUMBER))),
            (li, Press("继续维修"), lines(f"{NUMBER}：已恢复处理。", choices("✅ 完工", "⏸️ 暂停", "📝 变更方案", "💰 收费报价"))),
            (zhang, INBOX, f"▶️ {NUMBER}：维修已恢复。"),
        ])  # fmt: skip

    def test_a_rejected_change_of_plan(self, people: tuple[Chat, Chat, Chat]) -> None:
        zhang, li, chen = people
        play([
            (li, Press("变更方案"), "需要改成怎么处理？原因是什么？如果费用有变化请注明，例如“整根水管更换，¥800”。"),
            (li, "整根水管锈穿了，需要更换，¥800", f"{NUMBER}：您的方案变更已提交主管，审批结果出来后会通知您。"),
            (chen, INBOX, lines(f"""
                📝 {NUMBER}：李伟申请变更维修方案。
                整根水管锈穿了，需要更换，¥800
                {NUMBER} · ⚠️ 加急 · 给排水（漏水、水管、下水道）
                地点：1-1-1201
                问题描述：1-1-1201 厨房水管漏水""", choices("👍 批准", "👎 驳回"))),
            (chen, Press("驳回"), f"工单 {NUMBER}：已驳回。"),
            (li, INBOX, lines(f"工单 {NUMBER}：陈静 驳回了您的申请，请与其沟通。",
                              choices("✅ 完工", "⏸️ 暂停", "📝 变更方案", "💰 收费报价"))),
            (zhang, INBOX, ""),
        ])  # fmt: skip

    def test_the_overdue_section_of_the_queue(self, people: tuple[Chat, Chat, Chat]) -> None:
        _, _, chen = people
        chen.now = NOW + timedelta(hours=25)
        chen.run([
            ("/queue", lines(f"""
                📋 待处理队列

                待派单 (0)

                已超时 (1)
                • {NUMBER} · 给排水（漏水、水管、下水道） · 1-1-1201 · 处理中 · 李伟

                暂停中 (0)

                待审批 (0)""", choices(NUMBER))),
        ])  # fmt: skip

    def test_a_ticket_s_history_reads_in_chinese(self, people: tuple[Chat, Chat, Chat]) -> None:
        _, li, _ = people
        li.presses("暂停")
        li.presses("等待配件")
        li.run([
            (f"/status {NUMBER}", lines(f"""
                {NUMBER} · ⚠️ 加急 · 给排水（漏水、水管、下水道）
                地点：1-1-1201
                问题描述：1-1-1201 厨房水管漏水
                报修人：张三 13800000001
                状态：暂停中
                处理人：李伟
                完成时限：11-28 10:32
                处理记录：
                  11-27 10:32 张三：报修
                  11-27 10:32 系统派单：已派单给李伟
                  11-27 10:33 李伟：已接单
                  11-27 10:33 李伟：开始维修
                  11-27 10:34 李伟：暂停：等待配件""", choices("▶️ 继续维修", "📝 变更方案"))),
        ])  # fmt: skip

    def test_a_reply_that_keeps_the_feedback_open(self, desk: Desk, clock: Clock) -> None:
        zhang, chen = Chat(desk, "张三 Zhang San", clock=clock), Chat(desk, "陈静 Chen Jing", clock=clock)
        speaking("中文", chen)
        for says in ("投诉", "1", "前台电话一上午都没人接", "跳过", "显示姓名", "提交"):
            zhang.says(says)
        send = choices("✅ 发送并标记为已回复", "💬 发送，暂不结单")
        chen.inbox()
        play([
            (chen, Press("回复"), "请用一条消息写下给住户的回复。"),
            (chen, "抱歉，电话线路故障，今天修复。", lines("您的回复：\n抱歉，电话线路故障，今天修复。", send)),
            (chen, Press("暂不结单"), f"已发送给住户，工单 {NUMBER} 暂不结单。"),
            (zhang, INBOX, f"💬 {NUMBER}：客服中心回复：\n抱歉，电话线路故障，今天修复。"),
            (zhang, "/tickets", lines(f"您未完结的工单：\n• {NUMBER} · 服务质量 · 相关部门处理中", choices(NUMBER))),
        ])  # fmt: skip

    def test_new_for_a_room_where_nobody_lives(self, desk: Desk, clock: Clock) -> None:
        li, chen = Chat(desk, "李伟 Li Wei", clock=clock), Chat(desk, "陈静 Chen Jing", clock=clock)
        speaking("中文", li, chen)
        chen.run([
            ("/new", """
                问题在哪里？请输入房号或具体地点。
                例如：1-1-1201、1栋1单元1201，或车库等公共区域。"""),
            ("1-2-803", "遇到了什么问题？请简单描述一下，附上照片会更好。"),
            ("入户门锁坏了", """
                情况有多紧急？建议选择：加急。
                  1. 紧急：有安全隐患，或停水、停电、电梯停运
                  2. ✓ 加急：请当天处理
                  3. 一般：几天内处理即可"""),
            ("一般", lines("报修人是谁？请留下姓名和电话，方便维修师傅联系；没有可点击跳过。", choices("跳过"))),
            ("跳过", lines("""
                请核对您的报修信息：
                地点：1-2-803
                问题描述：入户门锁坏了
                类型：房屋土建（墙面、门、窗）
                紧急程度：一般""", choices("✅ 提交", "✏️ 修改信息", "✖️ 取消"))),
            ("1", f"✅ 已为 前台来访（陈静代报） 创建工单 {NUMBER}：已派单给维修师傅。"),
        ])  # fmt: skip
        li.run([
            (INBOX, lines(f"""
                🔧 您有新工单
                {NUMBER} · 一般 · 房屋土建（墙面、门、窗）
                地点：1-2-803
                问题描述：入户门锁坏了
                报修人：前台来访（陈静代报）
                请于 11-28 10:33 前到场
                请携带：电钻、密封胶、备用合页和门锁""", choices("✅ 接单", "↩️ 退单"))),
        ])  # fmt: skip

    def test_a_walk_in_taken_in_english_reads_in_chinese_for_the_technician(self, desk: Desk, clock: Clock) -> None:
        li, chen = Chat(desk, "李伟 Li Wei", clock=clock), Chat(desk, "陈静 Chen Jing", clock=clock)
        speaking("中文", li)
        in_english(chen)
        for says in ("/new", "1-2-803", "the front door lock is broken", "normal", "skip", "1"):
            chen.says(says)
        li.run([
            (INBOX, lines(f"""
                🔧 您有新工单
                {NUMBER} · 一般 · 房屋土建（墙面、门、窗）
                地点：1-2-803
                问题描述：the front door lock is broken
                报修人：前台来访（陈静代报）
                请于 11-28 10:33 前到场
                请携带：电钻、密封胶、备用合页和门锁""", choices("✅ 接单", "↩️ 退单"))),
        ])  # fmt: skip


class TestEmergencies:
    def test_two_technicians_taking_an_emergency_at_the_same_moment_one_wins(self, engine: Engine) -> None:
        """李伟 and 赵强 (on duty round the clock here) both get the emergency and tap at once."""
        import threading
        import tomllib

        from bot.bootstrap import read_estate
        from core.conversation.messages import Inbound
        from tests.conftest import DEMO_ESTATE, desk_on

        directory = tomllib.loads(DEMO_ESTATE.read_text(encoding="utf-8"))
        for person in directory["staff"]:
            if person["name"] == "赵强 Zhao Qiang":
                person["shifts"] = ["daily 00:00-24:00"]
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.directory.sync(read_estate(directory))
            uow.commit()
        desk = desk_on(SqlAlchemyUnitOfWork(engine), telegram=True)
        clock = Clock()
        zhang = Chat(desk, "7001", channel="telegram", language_hint="en", clock=clock)
        zhang.run([
            ("kitchen pipe leaking in 1-1-1201", """
                How urgent is it? I suggest: Urgent.
                  1. Emergency: unsafe, or water/power/lift out
                  2. ✓ Urgent: today, please
                  3. Normal: within a few days"""),
            ("emergency", lines("""
                Please check your report:
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201
                Type: Plumbing (water, pipes, drains)
                Urgency: Emergency""", choices("✅ Submit", "✏️ Change something", "✖️ Cancel"))),
            ("submit", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Emergency: we will respond within 15 minutes.
                If anyone is in danger, leave the area and call 119 (fire) or 110 (police) now."""),
        ])  # fmt: skip
        names = {"5001": "李伟 Li Wei", "5003": "赵强 Zhao Qiang", "5100": "陈静 Chen Jing"}
        li, zhao, chen = (Chat(desk, id, channel="telegram", language_hint="en", clock=clock) for id in names)
        for person in (li, zhao, chen):
            person.says("/jobs")
        (ticket,) = stored(desk)
        offer = ticket.history[-1]
        assert offer.action == "offer" and offer.details["to"] == ["李伟 Li Wei", "赵强 Zhao Qiang", "陈静 Chen Jing"]

        for person in (li, zhao):
            assert_answer(person.inbox(), lines(f"""
                🚨 紧急工单：谁先接单谁去
                {NUMBER} · 🚨 紧急 · 给排水（漏水、水管、下水道）
                地点：1-1-1201
                问题描述：kitchen pipe leaking in 1-1-1201
                报修人：张三 13800000001
                请于 11-27 11:01 前到场
                请携带：管钳、生料带、备用阀门和垫圈、管道疏通器""", choices("🙋 抢单")))  # fmt: skip

        start = threading.Barrier(2)
        answers: dict[str, str] = {}

        def take(person: Chat) -> None:
            grab = encode(OnTicket("grab", NUMBER))
            inbound = Inbound("telegram", person.chat, person.sender, payload=grab, language_hint="en")
            start.wait()
            answers[person.sender] = "\n\n".join(render(r) for r in desk.handle(inbound, clock.now))

        threads = [threading.Thread(target=take, args=(person,)) for person in (li, zhao)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        (ticket,) = stored(desk)
        assert ticket.status is Status.ACCEPTED and [e.action for e in ticket.history].count("claim") == 1
        # Which of the two wins is the race's to decide; the other is told who did.
        winner, loser = (li, zhao) if ticket.assignee_name == names[li.sender] else (zhao, li)
        assert_answer(answers[winner.sender], lines(f"""
            You have {NUMBER}.
            {NUMBER} · 🚨 EMERGENCY · Plumbing (water, pipes, drains)
            Place: 1-1-1201
            Problem: kitchen pipe leaking in 1-1-1201
            Resident: Zhang San 13800000001""", ACCEPTED))  # fmt: skip
        english, chinese = names[winner.sender].split(" ", 1)[1], names[winner.sender].split(" ")[0]
        assert_answer(answers[loser.sender], f"Too late: {NUMBER} was already taken by {english}.")
        assert_answer(loser.inbox(), f"✋ 工单 {NUMBER} 已被 {chinese} 接走。")  # who never chose a language


class TestTalkToAPerson:
    def test_a_resident_asks_for_a_person_midway_is_answered_through_the_bot_and_handed_back(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        emily = Chat(desk, "Emily Brown", clock=clock)
        in_english(chen)
        emily.says("the kitchen tap drips")
        emily.run([
            ("agent", f"""
                🙋 I've asked customer service to answer you ({NUMBER}). They will write here, usually within 4 hours; meanwhile, tell them what you need. Send /bot to go back to the assistant."""),
            ("it has been dripping for a week, can someone call me?",
             "Passed on: customer service will see it when they answer. Send /bot to go back to the assistant."),
        ])  # fmt: skip
        play([
            (chen, INBOX, lines(f"""
                🙋 {NUMBER}: Emily Brown asks to talk to a person.
                Emily Brown: the kitchen tap drips""", choices("💬 Answer"))),
            (chen, Press("Answer"), f"""
                💬 You are answering Emily Brown ({NUMBER}). What you write goes to them; /end hands them back to the assistant.
                Emily Brown: the kitchen tap drips
                Emily Brown: it has been dripping for a week, can someone call me?"""),
            (emily, INBOX, "👩‍💼 Chen Jing of customer service is answering you now."),
            (chen, "Hello Emily, I will call you in five minutes.", ""),
            (emily, INBOX, "💬 Chen Jing: Hello Emily, I will call you in five minutes."),
            (emily, "thank you", ""),
            (chen, INBOX, "💬 Emily Brown: thank you"),
            (chen, "2", ""),  # a number is said, not a choice
            (emily, INBOX, "💬 Chen Jing: 2"),
            (chen, "/end", f"{NUMBER} is over; Emily Brown is back with the assistant."),
            (emily, INBOX, "Chen Jing has handed you back to the assistant. Thank you for talking to us! Write anything, and I'll help."),
        ])  # fmt: skip
        answer = emily.says("ok")
        assert answer.startswith("Let's continue your report."), answer  # the report begun before is taken up
        (ticket,) = [t for t in stored(desk) if t.is_chat]
        assert ticket.status is Status.CLOSED
        assert [e.action for e in ticket.history] == ["create", "assign", "note", "claim", "reply", "note", "reply",
                                                      "resolve", "close"]  # fmt: skip
        assert chen.says("too late?") != "" and "was not sent" not in emily.inbox()

    def test_a_photo_sent_to_customer_service_is_kept_and_counted(self, desk: Desk, chen: Chat, clock: Clock) -> None:
        emily = Chat(desk, "Emily Brown", clock=clock)
        in_english(chen)
        emily.says("agent")
        chen.inbox()
        chen.presses("Answer")
        emily.inbox()
        assert emily.says("here it is", attachments=(Attachment("photo", "file-1"),)) == ""
        assert chen.inbox() == "💬 Emily Brown: here it is\n📷 Photos: 1"
        (ticket,) = stored(desk)
        assert [a.ref for a in ticket.attachments] == ["file-1"]

    def test_typed_in_chinese_and_left_by_the_resident(self, desk: Desk, clock: Clock) -> None:
        zhang = Chat(desk, "张三 Zhang San", clock=clock)
        chen = Chat(desk, "陈静 Chen Jing", clock=clock)
        zhang.run([
            ("转人工", f"🙋 已为您转接人工客服（{NUMBER}）。客服会在这里回复您，一般在4小时内；在此期间，您可以先写下您的问题。发送 /bot 可返回自助服务。"),
            ("算了", "已转达：客服接入后会看到。发送 /bot 可返回自助服务。"),  # said to customer service, not "drop the report"
            ("结束人工", "已返回自助服务。请问有什么可以帮您？"),
        ])  # fmt: skip
        assert "🙋" in chen.inbox()
        assert chen.presses("接待") == f"工单 {NUMBER} 当前状态为“已取消”，无需操作。"
        (ticket,) = stored(desk)
        assert ticket.status is Status.CANCELLED and [e.details.get("added") for e in ticket.history][2] == "算了"

    def test_one_resident_at_a_time_and_the_menu_ends_the_conversation(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        in_english(chen)
        emily, zhang = Chat(desk, "Emily Brown", clock=clock), Chat(desk, "张三 Zhang San", clock=clock)
        emily.says("agent")
        zhang.says("转人工")
        chen.inbox()
        chen.says(payload=encode(OnTicket("talk", NUMBER)))
        second = NUMBER[:-1] + "2"
        assert chen.says(payload=encode(OnTicket("talk", second))) == (
            f"You are answering Emily Brown ({NUMBER}): send /end first, then take the next one."
        )
        assert emily.says("/start").startswith("You are back with the assistant.")  # the menu ends it
        assert chen.inbox() == f"{NUMBER}: Emily Brown went back to the assistant."
        assert emily.says("the kitchen tap drips").startswith("Where is the problem?")  # not to customer service

    def test_the_second_to_answer_is_told_who_did(self, desk: Desk, chen: Chat, clock: Clock) -> None:
        with desk.uow as uow:
            estate = uow.directory.get("SG")
            assert estate is not None
            helper = Staff("林娜 Lin Na", ("customer_service",), departments=("客服中心 Customer service",))
            uow.directory.sync(replace(estate, staff=(*estate.staff, helper)))
            uow.commit()
        lin = Chat(desk, "林娜 Lin Na", clock=clock)
        in_english(chen, lin)
        Chat(desk, "Emily Brown", clock=clock).says("talk to a person")
        assert "asks to talk to a person" in chen.inbox() and "asks to talk to a person" in lin.inbox()
        answer = encode(OnTicket("talk", NUMBER))
        chen.presses("Answer")
        assert lin.inbox() == f"{NUMBER}: Chen Jing is answering."
        assert lin.says(payload=answer) == "Chen Jing is already answering them."  # the button of the card before


def quoted(zhang: Chat, li: Chat, typed: str) -> str:
    """张三 reports a leak, 李伟 accepts it and quotes a charge as typed; the ticket's number."""
    in_english(li)
    number = report_leak(zhang)
    li.inbox()
    li.says("1")
    li.presses("Quote a charge")
    li.says(typed)
    return number


class TestChargeableWork:
    def test_a_quote_is_agreed_in_chat_before_the_work_and_shown_again_at_acceptance(
        self, zhang: Chat, li: Chat
    ) -> None:
        in_english(li)
        number = report_leak(zhang)
        play([
            (li, INBOX, leak("🔧 New job for you", "11-27 12:32")),
            (li, "1", yours()),
            (zhang, INBOX, f"🔧 {number}: Li Wei will do your repair."),
            (li, Press("Quote a charge"), "What will the resident pay, and for what? The amount first, e.g. “120 replace the mixer tap”. Only for work in the home that the property fee does not cover: the resident agrees before you start. (0 takes back a quote still waiting.)"),
            (li, "replace the tap", "Please start with the amount in yuan, then what it is for, e.g. “120 replace the mixer tap”.\n\nWhat will the resident pay, and for what? The amount first, e.g. “120 replace the mixer tap”. Only for work in the home that the property fee does not cover: the resident agrees before you start. (0 takes back a quote still waiting.)"),
            (li, "¥120.5 new mixer tap (the old one is cracked)", lines("💰 Your quote of ¥120.50 is sent to the resident. I'll tell you their answer; start once they agree.",
                        choices("🚶 On my way", "📍 Arrived", "⏸️ On hold", "📝 Change of plan", "💰 Quote a charge"))),
        ])  # fmt: skip
        start = encode(OnTicket("start", number))  # the job card's button, tapped before the resident answered
        assert (
            li.says(payload=start)
            == f"{number} waits for the resident's answer to your quote of ¥120.50; I'll tell you."
        )
        play([
            (zhang, INBOX, lines(f"""
                💰 {number}: Li Wei quotes ¥120.50 for: new mixer tap (the old one is cracked)
                This work in your home is not covered by the property fee, so it is charged to you. Do you agree? Nothing is done until you answer.""",
                choices("✅ Agree, pay ¥120.50", "✖️ Decline"))),
            (zhang, "agree", f"Thank you. ¥120.50 is agreed for {number}; Li Wei will go ahead."),
            (li, INBOX, lines(f"✅ {number}: Zhang San agreed to pay ¥120.50 for: new mixer tap (the old one is cracked). You can start.", ACCEPTED)),
            (li, Press("Start"), lines(f"{number}: started.", STARTED)),
            (li, Press("Done"), "What did you do? One message, please."),
            (li, "fitted a new mixer tap", lines(
                "Materials used? One per line or separated by “;”: name, quantity, unit price (e.g. “valve 1 35”). Or tap “None”.",
                choices("None"))),
            (li, "none", f"{number} is done. The resident is asked to confirm the repair."),
        ])  # fmt: skip
        assert zhang.inbox().startswith(f"""✅ {number}: Li Wei says the repair is done.
Work done: fitted a new mixer tap
You pay: ¥120.50 (the charge you agreed to)
Is it fixed?""")

    def test_a_declined_quote_is_not_charged_and_the_technician_is_told(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        number = quoted(zhang, li, "80 replace the valve")
        assert zhang.inbox().endswith("1. ✅ Agree, pay ¥80.00\n  2. ✖️ Decline")
        assert (
            zhang.says("2")
            == "Noted: you declined. Li Wei will do only what the property fee covers; nothing is charged."
        )
        assert li.inbox().startswith(f"✖️ {number}: Zhang San declined the charge of ¥80.00.")
        assert zhang.says("1") != "Thank you."  # nothing left to answer: the number means the menu now
        (ticket,) = stored(desk)
        assert ticket.charge == 0 and [q.answer for q in ticket.quotes] == ["declined"]

    def test_a_replaced_quote_cannot_be_agreed_by_its_old_button_and_a_quote_can_be_taken_back(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        number = quoted(zhang, li, "80 replace the valve")
        zhang.inbox()
        old_agree = encode(OnTicket("quote", number, "yes:1"))
        li.presses("Quote a charge")
        li.says("¥1,200 replace the whole pipe")
        assert "✅ Agree, pay ¥1200.00" in zhang.inbox()
        assert zhang.says(payload=old_agree) == (
            f"That charge was replaced by a newer one for {number}: please answer the newest message."
        )
        li.presses("Quote a charge")
        assert li.says("0").startswith(f"{number}: your quote of ¥1200.00 is taken back.")
        assert zhang.inbox() == f"💰 {number}: the charge of ¥1200.00 is taken back; nothing is charged."
        (ticket,) = stored(desk)
        assert [q.answer for q in ticket.quotes] == ["replaced", "withdrawn"] and ticket.charge == 0
        assert ticket.quote_waiting is None  # the job may start

    @pytest.mark.parametrize(
        ("typed", "amount", "what"),
        [("120 replace the tap", "120.00", "replace the tap"), ("换2个龙头 120元", "120.00", "换2个龙头"),
         ("1,200.50 new boiler", "1200.50", "new boiler"), ("120.999 tap", None, None),
         ("replace 3 valves for 90", None, None)],
    )  # fmt: skip
    def test_the_amount_is_the_first_number_or_the_one_marked_as_money(
        self, typed: str, amount: str | None, what: str | None
    ) -> None:
        from core.conversation.staff import parse_quote

        expected = (Decimal(amount), what) if amount is not None else None
        assert parse_quote(typed) == expected

    def test_in_chinese_a_typed_word_answers(self, desk: Desk, clock: Clock) -> None:
        zhang = Chat(desk, "张三 Zhang San", clock=clock)
        li = Chat(desk, "李伟 Li Wei", clock=clock)
        li.says("/jobs")
        for says in ("厨房水管漏水", "1", "加急", "仍未修好", "提交"):
            zhang.says(says)
        li.inbox()
        li.says("1")
        li.presses("收费报价")
        assert li.says("换混水龙头 150元").startswith(
            "💰 您 ¥150.00 的报价已发给住户，有答复会通知您；住户同意后再开工。"
        )
        assert (
            li.says("开始维修") == f"工单 {NUMBER} 正在等待住户确认您 ¥150.00 的报价，有结果会通知您。"
        )  # typed, no list shown
        assert "✅ 同意，支付 ¥150.00" in zhang.inbox()
        assert zhang.says("同意") == f"谢谢。{NUMBER} 的费用 ¥150.00 已确认，李伟将继续施工。"
        li.inbox()
        assert li.says("开始维修").startswith(f"{NUMBER}：已开始维修。")
