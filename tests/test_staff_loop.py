"""The staff loop as people live it: a report, the push, one tap per step, the resident's verdict and rating."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from core.conversation.buttons import OnTicket, encode
from core.desk import Desk
from core.domain.model import Status
from core.services.dispatching import roll_over
from storage.uow import SqlAlchemyUnitOfWork
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


def in_english(*people: Chat) -> None:
    """Each picks English with /lang, as a person would; staff who have talked here get their pushes here."""
    for person in people:
        person.says("/lang")
        person.presses("English")


def report_leak(resident: Chat) -> str:
    in_english(resident)
    resident.run([("kitchen pipe leaking in 1-1-1201", "How urgent"), ("urgent", "Quick check"),
                  ("2", "Please check your report"), ("submit", "Ticket number")])  # fmt: skip
    return f"{TODAY}-0001"


class TestTheWholeLoop:
    def test_report_push_accept_on_my_way_done_rework_done_accepted_and_rated(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        in_english(li)  # the technician has talked to the bot on this channel, so pushes reach him here
        number = report_leak(zhang)

        assert_says(
            li.inbox(),
            f"""
            🔧 New job for you
            {number} · ⚠️ Urgent · Plumbing (water, pipes, drains)
            Place: 1-1-1201
            Problem: kitchen pipe leaking in 1-1-1201
            Resident: 张三 Zhang San 13800000001
            Be there by: 11-27 12:32
            Bring: pipe wrench, sealing tape
            1. ✅ Accept
            2. ↩️ Decline""",
        )
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

        assert_says(
            zhang.inbox(), f"✅ {number}: 李伟 says the repair is done. Is it fixed?\n1. ✅ Fixed\n2. ❌ Not fixed"
        )
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

        (ticket,) = stored(desk)
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


def telegram_to(desk: Desk, chat: str) -> list[str]:
    """Texts queued for a Telegram chat (a staff group's grab pool, say)."""
    with desk.uow as uow:
        due = uow.outbox.due(NOW + timedelta(days=1), channels=("telegram",), recipient=chat)
    return [str(m.payload["text"]) for m in due]


DUTY_GROUP = "-1001000000001"


class TestDeclineRollOverAndThePool:
    def test_a_decline_with_nobody_left_goes_to_the_grab_pool_where_the_first_claim_wins(
        self, zhang: Chat, li: Chat, chen: Chat, desk: Desk, clock: Clock
    ) -> None:
        zhao = Chat(desk, "赵强 Zhao Qiang", language_hint="en", clock=clock)
        in_english(li, chen, zhao)
        number = report_leak(zhang)
        li.inbox()
        assert_says(li.presses("Decline"), f"Why can't you take {number}? Tap a reason or write one.")
        assert_says(li.presses("Busy with another job"), f"{number} declined; it is in the grab pool.")
        # The staff group is told in the estate's language.
        assert_says(telegram_to(desk, DUTY_GROUP)[-1], f"🙋 待抢单：先抢先得\n{number}")
        assert "13800000001" not in telegram_to(desk, DUTY_GROUP)[-1]  # no resident's phone in a group
        assert chen.inbox() == ""  # the supervisor is not pushed each pool job: it waits under /queue
        assert_says(chen.says("/queue"), f"Unassigned (1)\n• {number}")

        assert_says(
            zhao.says(payload=encode(OnTicket("grab", number))), f"You have {number}.\nResident: 张三 Zhang San"
        )
        assert_says(
            li.says(payload=encode(OnTicket("grab", number))),
            f"Too late: {number} was already taken by 赵强 Zhao Qiang.",
        )
        assert_says(telegram_to(desk, DUTY_GROUP)[-1], f"✋ 工单 {number} 已被 赵强 Zhao Qiang 接走。")
        assert_says(zhang.inbox(), f"🔧 {number}: 赵强 will do your repair.")
        (ticket,) = stored(desk)
        assert [e.action for e in ticket.history] == ["create", "assign", "decline", "pool", "claim"]
        assert ticket.history[2].details["reason"] == "Busy with another job"

    def test_a_push_left_unanswered_rolls_over(self, zhang: Chat, li: Chat, desk: Desk) -> None:
        in_english(li)
        number = report_leak(zhang)
        assert desk.act(zhang.now + timedelta(minutes=9), roll_over) == []
        assert desk.act(zhang.now + timedelta(minutes=11), roll_over) == [number]
        li.now += timedelta(minutes=11)
        assert_says(li.inbox(), f"⏰ {number} went to someone else: it was not accepted in time.")
        (ticket,) = stored(desk)
        assert ticket.status is Status.NEW and ticket.history[2].details["reason"] == "no answer within 10 minutes"
        assert ticket.history[2].actor.kind == "system"


class TestLateAnswers:
    def test_an_answer_long_after_the_question_is_set_aside_and_said_so(
        self, zhang: Chat, li: Chat, desk: Desk
    ) -> None:
        in_english(li)
        number = report_leak(zhang)
        li.inbox()
        li.presses("Accept")
        assert_says(li.presses("Done"), "What did you do?")
        li.wait(31)
        assert_says(li.says("replaced the washer"), "That answer came more than 30 minutes after my question")
        (ticket,) = stored(desk)
        assert ticket.status is Status.ACCEPTED and number == ticket.number

    def test_a_button_that_makes_no_sense_is_answered(self, li: Chat) -> None:
        in_english(li)
        assert_says(li.says(payload="s:bogus"), "That button is from an older message and no longer works.")
        assert_says(li.says(payload=encode(OnTicket("accept", "NOPE"))), "There is no ticket NOPE.")


class TestStrangers:
    def test_customer_service_is_asked_once_to_confirm_a_stranger_who_reports_twice(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        in_english(chen)
        stranger = Chat(desk, "Wu Xin", language_hint="en", clock=clock)
        for fault in ("kitchen pipe leaking in 1-2-502", "bathroom pipe leaking in 1-2-502"):
            stranger.run([(fault, "How urgent"), ("urgent", "Quick check"), ("2", "Please check your report"),
                          ("submit", "Ticket number")])  # fmt: skip
        asked = chen.inbox()
        assert asked.count("who is not in the directory and says they live in 1-2-502") == 1


class TestPermissions:
    def test_only_the_assignee_or_a_supervisor_acts_and_a_refusal_changes_nothing(
        self, zhang: Chat, li: Chat, desk: Desk, clock: Clock
    ) -> None:
        number = report_leak(zhang)
        wang = Chat(desk, "王芳 Wang Fang", language_hint="en", clock=clock)
        in_english(wang)
        assert_says(wang.says(payload=encode(OnTicket("accept", number))),
                    "Only the technician it is assigned to, or a supervisor, can do that.")  # fmt: skip
        assert_says(wang.says("/queue"), "Only supervisors and customer service can do that.")
        assert_says(wang.says(f"/assign {number} 王芳"), "Only supervisors and customer service can do that.")
        assert_says(
            wang.says(payload=encode(OnTicket("grab", number))), "Only a technician of that trade can take this job."
        )
        assert_says(wang.says(f"/status {number}"), "You can only see tickets assigned to you.")
        (ticket,) = stored(desk)
        assert ticket.status is Status.ASSIGNED and ticket.assignee_name == "李伟 Li Wei"
        assert [e.action for e in ticket.history] == ["create", "assign"]

    def test_a_resident_cannot_accept_someone_elses_repair(self, zhang: Chat, desk: Desk, clock: Clock) -> None:
        number = report_leak(zhang)
        emily = Chat(desk, "Emily Brown", clock=clock)
        assert_says(emily.says(payload=encode(OnTicket("fixed", number))), f"I can't find a ticket {number} of yours.")


class TestSupervisors:
    def test_queue_assign_and_reassign(self, zhang: Chat, li: Chat, chen: Chat, desk: Desk, clock: Clock) -> None:
        zhao = Chat(desk, "赵强 Zhao Qiang", language_hint="en", clock=clock)
        in_english(li, chen, zhao)
        number = report_leak(zhang)
        li.inbox()
        li.presses("Decline")
        li.says("my van broke down")
        assert_says(chen.says("/queue"), f"📋 Queue\nUnassigned (1)\n• {number} · Plumbing")
        assert_says(chen.says(f"/assign {number} Zhao"), f"{number} is assigned to 赵强 Zhao Qiang")
        assert_says(zhao.inbox(), f"🔧 New job for you\n{number}")
        assert_says(chen.says(f"/reassign {number} nobody"), "I don't know “nobody”. Technicians:")
        assert_says(chen.says(f"/reassign {number} 李伟"), f"{number} is assigned to 李伟 Li Wei")
        assert_says(zhao.inbox(), f"{number} was reassigned to 李伟 Li Wei.")
        assert_says(chen.says("/assign"), "Please write it as: /assign NUMBER NAME")

    def test_a_change_of_plan_and_a_cost_above_the_threshold_wait_for_approval(
        self, zhang: Chat, li: Chat, chen: Chat
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)
        li.inbox()
        li.presses("Accept")
        li.presses("Start")
        assert_says(li.presses("Change of plan"), "What should be done instead, and why?")
        assert_says(li.says("the whole pipe is rotten: replace it, ¥800"), "went to the supervisor")
        assert_says(chen.inbox(), f"📝 {number}: 李伟 Li Wei asks to change the plan.\nthe whole pipe is rotten")
        assert_says(chen.presses("Approve"), f"{number}: approved.")
        assert_says(li.inbox(), f"{number}: 陈静 Chen Jing approved your request.")

        li.presses("Done")
        li.says("replaced the pipe")
        zhang.inbox()
        assert_says(li.says("pipe 1 800"), f"{number}: the cost ¥800 needs a supervisor's approval")
        assert zhang.inbox() == ""  # not done until approved
        assert_says(chen.inbox(), f"💰 {number}: 李伟 Li Wei asks to approve a cost of ¥800 (over ¥500).")
        chen.presses("Approve")
        assert_says(zhang.inbox(), f"✅ {number}: 李伟 says the repair is done. Is it fixed?")

    def test_new_opens_a_ticket_for_a_resident_who_phoned(self, chen: Chat, desk: Desk) -> None:
        in_english(chen)
        chen.run([
            ("/new", "Where is the problem?"),
            ("1-1-1201", "What is wrong?"),
            ("toilet blocked", "How urgent is it?"),
            ("normal", "Please check your report"),
            ("submit", "is open for 张三 Zhang San"),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.source, ticket.reporter, ticket.reporter_contact) == (
            "front_desk",
            "张三 Zhang San",
            "13800000001",
        )
        assert ticket.history[0].actor.name == "陈静 Chen Jing" and ticket.status is Status.ASSIGNED


class TestFeedbackAndChasing:
    def test_the_department_replies_and_an_anonymous_reporter_stays_anonymous(
        self, desk: Desk, chen: Chat, clock: Clock
    ) -> None:
        emily = Chat(desk, "Emily Brown", clock=clock)
        in_english(chen)
        emily.run([
            ("I want to complain about the guard at the gate, he was rude", "Is it about a particular place"),
            ("skip", "Should staff see your name?"),
            ("anonymously", "Name shown to staff: no, anonymous"),
            ("1", "Your name is hidden from staff."),
        ])  # fmt: skip
        push = chen.inbox()
        assert_says(push, f"💬 Feedback for 客服中心 Customer service\n{TODAY}-0001 · Service quality · anonymous")
        assert "Emily" not in push
        assert_says(chen.presses("Reply"), "Write your reply to the resident in one message.")
        assert_says(chen.says("We have spoken to the guard; sorry."), "Your reply:")
        assert_says(chen.presses("Send and mark answered"), "Sent.")
        assert_says(
            emily.inbox(), "💬 SG-20261127-0001: 客服中心 Customer service replies:\nWe have spoken to the guard"
        )
        assert_says(emily.presses("Yes, settled"), "is closed")
        (ticket,) = stored(desk)
        assert ticket.status is Status.CLOSED and ticket.resolution == "We have spoken to the guard; sorry."

    def test_a_chase_reaches_the_assignee_and_the_second_the_supervisor(
        self, zhang: Chat, li: Chat, chen: Chat
    ) -> None:
        in_english(li, chen)
        number = report_leak(zhang)
        li.inbox()
        zhang.says(f"/chase {number}")
        assert_says(li.inbox(), f"⏰ {number}: the resident is asking when you will come.")
        assert chen.inbox() == ""
        zhang.wait(61)
        zhang.says(f"/chase {number}")
        assert_says(chen.inbox(), f"⏰ {number} has been chased 2 times by the resident.")


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
        desk = desk_on(SqlAlchemyUnitOfWork(engine))
        clock = Clock()
        zhang = Chat(desk, "张三 Zhang San", language_hint="en", clock=clock)
        zhang.run([("kitchen pipe leaking in 1-1-1201", "How urgent"), ("emergency", "Please check your report"),
                   ("submit", "If anyone is in danger")])  # fmt: skip
        number = f"{TODAY}-0001"
        li, zhao, chen = (
            Chat(desk, name, language_hint="en", clock=clock)
            for name in ("李伟 Li Wei", "赵强 Zhao Qiang", "陈静 Chen Jing")
        )
        for person in (li, zhao, chen):
            person.says("/jobs")
        (ticket,) = stored(desk)
        offer = ticket.history[-1]
        assert offer.action == "offer" and offer.details["to"] == ["李伟 Li Wei", "赵强 Zhao Qiang", "陈静 Chen Jing"]

        start = threading.Barrier(2)
        answers: dict[str, str] = {}

        def take(person: Chat) -> None:
            grab = encode(OnTicket("grab", number))
            inbound = Inbound("console", person.chat, person.sender, payload=grab, language_hint="en")
            start.wait()
            answers[person.sender] = "\n".join(r.text for r in desk.handle(inbound, clock.now))

        threads = [threading.Thread(target=take, args=(person,)) for person in (li, zhao)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [name for name, answer in answers.items() if answer.startswith(f"You have {number}.")]
        losers = [name for name, answer in answers.items() if "Too late" in answer]
        assert len(winners) == 1 and len(losers) == 1, answers
        (ticket,) = stored(desk)
        assert ticket.status is Status.ACCEPTED and ticket.assignee_name == winners[0]
        assert [e.action for e in ticket.history].count("claim") == 1
        loser = li if losers[0] == li.sender else zhao
        assert_says(loser.inbox(), f"✋ 工单 {number} 已被 {winners[0]} 接走。")  # who never chose a language
