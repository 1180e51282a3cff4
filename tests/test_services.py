"""The services and notices behind the conversation: who is reached where, who may do what when the answer
arrives, and what holds when several turns run at once."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from core.conversation.buttons import OnTicket, encode
from core.conversation.messages import Capabilities, Inbound
from core.desk import Desk
from core.domain.directory import Resident, Staff
from core.domain.lifecycle import Action
from core.domain.model import Actor, Location, Material, Source, Status, TicketKind, Urgency
from core.domain.people import Address
from core.domain.tickets import TicketDraft
from core.ports import OutboxMessage
from core.services import jobs
from core.services.delivery import undeliverable
from core.services.tickets import find_ticket, open_ticket
from storage.uow import SqlAlchemyUnitOfWork
from tests.chat import Chat, Clock, assert_says, stored
from tests.conftest import NOW, demo_estate, desk_on, on_telegram
from tests.fakes import FakeUnitOfWork

TODAY = "SG-20261127"
LI_TELEGRAM, LI_CONSOLE = Address("telegram", "5001"), Address("console", "李伟 Li Wei")


def leak(room: str = "1-1-1201", **changes: Any) -> TicketDraft:
    values: dict[str, Any] = {"kind": TicketKind.REPAIR, "source": Source.FRONT_DESK, "location": Location(room=room),
                              "category": "plumbing", "description": "kitchen pipe leaking", "urgency": Urgency.URGENT,
                              "reporter": "张三 Zhang San", "reporter_resident_id": 1}  # fmt: skip
    values.update(changes)
    return TicketDraft(**values)


def through(chat: Chat, *messages: str) -> str:
    """Say these one after the other (a report these tests need, not their subject); the last answer."""
    answer = ""
    for message in messages:
        answer = chat.says(message)
    return answer


ZHANG_REPORTS = ("厨房水管漏水 1-1-1201", "加急", "2", "1")


def queued(desk: Desk, address: Address) -> list[OutboxMessage]:
    with desk.uow as uow:
        return uow.outbox.due(NOW + timedelta(days=1), channels=(address.channel,), recipient=address.id)


def desk_with(*, change: dict[str, dict[str, Any]] | None = None, **config: Any) -> Desk:
    """The demo estate in memory, with some people of the directory changed."""
    estate = demo_estate()
    for name, fields in (change or {}).items():
        estate = replace(
            estate,
            staff=tuple(replace(s, **fields) if s.name == name else s for s in estate.staff),
            residents=tuple(replace(r, **fields) if r.name == name else r for r in estate.residents),
        )
    uow = FakeUnitOfWork()
    with uow:
        uow.directory.sync(estate)
        uow.commit()
    return desk_on(uow, telegram=True, **config)


SERVED = ("console", "telegram")


def refused(desk: Desk, push: OutboxMessage) -> OutboxMessage | None:
    """The channel refused the push for good (the bot was blocked): what the outbox sender does then."""
    with desk.uow as uow:
        uow.outbox.mark_dead(push.key, "Forbidden: bot was blocked by the user")
        rerouted = undeliverable(uow, push, NOW, SERVED)
        uow.commit()
    return rerouted


class TestWhereAPersonIsReached:
    def test_a_push_goes_to_the_address_used_last(self) -> None:
        li_wechat = Address("wechat", "oSTAFF_liwei")
        desk = desk_with(change={"李伟 Li Wei": {"addresses": (LI_TELEGRAM, li_wechat)}})
        desk = Desk(desk.uow, replace(desk.settings, channels={**desk.settings.channels, "wechat": Capabilities()}))
        clock = Clock()
        zhang = Chat(desk, "张三 Zhang San", clock=clock)
        Chat(desk, li_wechat.id, channel="wechat", clock=clock).says("/jobs")
        assert through(zhang, *ZHANG_REPORTS).startswith("✅ 报修已提交，工单号：SG-20261127-0001")
        (push,) = queued(desk, li_wechat)
        assert push.payload["fallback"] == [["telegram", LI_TELEGRAM.id]]
        assert queued(desk, LI_TELEGRAM) == []

        Chat(desk, LI_TELEGRAM.id, channel="telegram", clock=clock).says(
            "/jobs"
        )  # now Telegram: the next push goes there
        assert through(zhang, "卫生间水管漏水 1-1-1201", "加急", "2", "1").startswith(
            "✅ 报修已提交，工单号：SG-20261127-0002"
        )
        (push,) = queued(desk, LI_TELEGRAM)
        assert push.payload["text"].startswith("🔧 您有新工单\nSG-20261127-0002")
        assert push.payload["fallback"] == [["wechat", li_wechat.id]]

    def test_a_push_does_not_wait_in_the_console_while_a_channel_that_delivers_it_is_there(self) -> None:
        desk = desk_with()
        clock = Clock()
        li = Chat(desk, "李伟 Li Wei", clock=clock)  # an operator looks at his jobs on the console, after Telegram
        Chat(desk, LI_TELEGRAM.id, channel="telegram", clock=clock).says("/jobs")
        clock.now += timedelta(minutes=1)
        li.says("/jobs")
        through(Chat(desk, "张三 Zhang San", clock=clock), *ZHANG_REPORTS)
        (push,) = queued(desk, LI_TELEGRAM)
        assert push.payload["text"].startswith("🔧 您有新工单\nSG-20261127-0001")
        assert push.payload["fallback"] == [["console", LI_CONSOLE.id]]
        assert queued(desk, LI_CONSOLE) == []

    def test_staff_who_prefer_a_channel_get_their_pushes_there_whatever_they_used_last(self) -> None:
        desk = desk_with(change={"李伟 Li Wei": {"prefer": "telegram"}})
        clock = Clock()
        Chat(desk, "李伟 Li Wei", clock=clock).says("/jobs")  # the console, used last
        through(Chat(desk, "张三 Zhang San", clock=clock), *ZHANG_REPORTS)
        assert [m.recipient for m in queued(desk, LI_TELEGRAM)] == [LI_TELEGRAM.id]
        assert queued(desk, LI_CONSOLE) == []

    def test_a_refused_push_goes_to_the_next_address_and_with_none_left_the_history_says_so(self) -> None:
        desk = desk_with()
        clock = Clock()
        li = Chat(desk, "李伟 Li Wei", clock=clock)
        Chat(desk, LI_TELEGRAM.id, channel="telegram", clock=clock).says("/jobs")  # Telegram used last
        through(Chat(desk, "张三 Zhang San", clock=clock), *ZHANG_REPORTS)
        (push,) = queued(desk, LI_TELEGRAM)
        rerouted = refused(desk, push)
        assert rerouted is not None and (rerouted.channel, rerouted.recipient) == ("console", LI_CONSOLE.id)
        assert_says(li.inbox(), f"🔧 您有新工单\n{TODAY}-0001")
        assert refused(desk, rerouted) is None  # the console refused too: nobody is left
        (ticket,) = stored(desk)
        assert ticket.history[-1].action == "note" and ticket.history[-1].details == {"unreachable": ["李伟 Li Wei"]}

    def test_an_address_linked_after_the_push_was_queued_is_tried_when_the_push_is_refused(self) -> None:
        """He opens a console while the push waits; the desk that queued it had not seen that yet."""
        desk = desk_with()
        clock = Clock()
        Chat(desk, LI_TELEGRAM.id, channel="telegram", clock=clock).says("/jobs")
        through(Chat(desk, "张三 Zhang San", clock=clock), *ZHANG_REPORTS)
        (push,) = queued(desk, LI_TELEGRAM)
        assert push.payload["fallback"] == []  # he has no console yet
        li = Chat(desk, "李伟 Li Wei", clock=clock)
        li.says("/jobs")
        rerouted = refused(desk, push)
        assert rerouted is not None and (rerouted.channel, rerouted.recipient) == ("console", LI_CONSOLE.id)
        assert_says(li.inbox(), f"🔧 您有新工单\n{TODAY}-0001")
        assert refused(desk, rerouted) is None  # each address is tried once

    def test_someone_with_no_address_on_a_channel_this_desk_serves_is_noted_as_unreachable(self) -> None:
        desk = desk_with(change={"张三 Zhang San": {"addresses": (Address("wechat", "oRES_zhangsan_0001"),)}})
        desk.act(NOW, lambda work: open_ticket(work, leak(), Actor("operator", "front desk")))
        (ticket,) = stored(desk)
        assert [e.action for e in ticket.history] == ["create", "assign", "note"]
        # 李伟 is reached on Telegram; 张三 only on WeChat, which this desk does not serve yet.
        assert ticket.history[2].details == {"unreachable": ["张三 Zhang San"]}
        assert queued(desk, LI_TELEGRAM)[0].payload["person"] == "李伟 Li Wei"
        shown = Chat(desk, "陈静 Chen Jing").says(f"/status {ticket.number}")  # what a supervisor reads of it
        assert shown.splitlines()[-3].endswith(" 系统派单：无法联系到张三 Zhang San"), shown


class TestAnonymousFeedbackInTheHistory:
    def test_an_anonymous_reporter_nobody_could_reach_is_named_to_staff_in_their_language_only_as_anonymous(
        self,
    ) -> None:
        desk = desk_with(change={"张三 Zhang San": {"addresses": (Address("wechat", "oRES_zhangsan_0001"),)}})
        complaint = leak(kind=TicketKind.FEEDBACK, category="security", description="门岗保安态度很差",
                         location=Location(), anonymous=True, department="秩序部 Security")  # fmt: skip
        # Written down at the desk: 张三 is told, on WeChat, which this desk does not serve.
        ticket = desk.act(NOW, lambda work: open_ticket(work, complaint, Actor("operator", "front desk")))
        (stored_ticket,) = stored(desk)
        assert stored_ticket.history[-1].details == {"unreachable": ["anonymous resident"]}
        shown = Chat(desk, "陈静 Chen Jing").says(f"/status {ticket.number}")
        assert shown.splitlines()[-2].endswith(" 系统派单：无法联系到匿名住户") and "张三" not in shown, shown


class TestRolesDecideWhoHears:
    def test_a_change_of_plan_goes_to_supervisors_and_managers_alike(self) -> None:
        manager = Staff("周敏 Zhou Min", ("manager",), addresses=(Address("telegram", "5200"),))
        desk = desk_with()
        with desk.uow as uow:
            estate = uow.directory.get("SG")
            assert estate is not None
            uow.directory.sync(replace(estate, staff=(*estate.staff, manager)))
            uow.commit()
        ticket = desk.act(NOW, lambda work: open_ticket(work, leak(), Actor("operator", "front desk")))
        with desk.uow as uow:
            li = next(s for s in desk.estate(uow, NOW).staff if s.name.startswith("李伟"))

        def accept_then_change(work: Any) -> None:
            job = find_ticket(work.uow, ticket.number, for_update=True)
            work.actor = Actor("staff", li.name, li.id)
            work.change(job, Action.ACCEPT)
            jobs.change_plan(work, li, job, "replace the whole pipe, ¥800")

        desk.act(NOW, accept_then_change)
        for approver in ("5100", "5200"):  # 陈静, supervisor; 周敏, manager
            (request,) = [m for m in queued(desk, Address("telegram", approver)) if ticket.number in m.payload["text"]]
            assert request.payload["text"].startswith(f"📝 {ticket.number}：李伟申请变更维修方案。")
            assert [c["label"] for c in request.payload["choices"]] == ["👍 批准", "👎 驳回"]


class TestAnswersAreCheckedWhenTheyArrive:
    def test_a_note_typed_after_the_job_was_reassigned_does_not_finish_it(self, desk: Desk) -> None:
        clock = Clock()
        li, chen, zhang = (Chat(desk, name, language_hint="en", clock=clock)
                           for name in ("李伟 Li Wei", "陈静 Chen Jing", "张三 Zhang San"))  # fmt: skip
        for person in (li, chen, zhang):
            person.says("/lang")
            person.presses("English")
        through(zhang, "kitchen pipe leaking in 1-1-1201", "urgent", "2", "submit")
        number = f"{TODAY}-0001"
        li.inbox()
        li.presses("Accept")
        assert li.presses("Done") == "What did you do? One message, please."
        assert chen.says(f"/reassign {number} 赵强").startswith("Zhao Qiang is not on shift now.\n")  # nights
        assert chen.says("1") == (f"{number} is assigned to Zhao Qiang; they have been asked to accept.")
        assert li.says("replaced the washer") == "Only the technician it is assigned to, or a supervisor, can do that."
        (ticket,) = stored(desk)
        assert (ticket.status, ticket.assignee_name, ticket.resolution) == (Status.ASSIGNED, "赵强 Zhao Qiang", "")

    def test_the_service_refuses_under_lock_what_the_conversation_allowed_a_moment_before(self, desk: Desk) -> None:
        """A reassignment can land between the conversation's check and the change: the service checks again."""
        ticket = desk.act(NOW, lambda work: open_ticket(work, leak(), Actor("operator", "front desk")))
        with desk.uow as uow:
            li, zhao = (s for s in desk.estate(uow, NOW).staff if s.name[:2] in ("李伟", "赵强"))

        def finish_after_reassignment(work: Any) -> list[str]:
            job = find_ticket(work.uow, ticket.number, for_update=True)
            work.change(job, Action.REASSIGN, assignee=zhao.name, assignee_id=zhao.id)
            jobs.finish(work, li, job, "replaced the washer", (Material("washer", Decimal(1), cost=Decimal(5)),), None)
            return [a.text for a in work.answers]

        assert desk.act(NOW, finish_after_reassignment) == [
            "只有被派单的维修师傅或主管可以进行此操作。"  # in the estate's language: no person asked here
        ]
        (stored_ticket,) = stored(desk)
        assert stored_ticket.status is Status.ASSIGNED and stored_ticket.materials == ()


class TestExamples:
    def test_a_command_without_a_number_shows_the_persons_own_latest_ticket(self, desk: Desk) -> None:
        emily = Chat(desk, "Emily Brown")
        through(emily, "the kitchen tap drips in 3-1-2302", "normal", "2", "1")
        assert emily.says("/status").startswith(
            f"Please add the ticket number, for example: /status {TODAY}-0001\n\nWhat can I do for you?"
        )

    def test_without_tickets_the_example_is_this_estates_code_and_today(self) -> None:
        desk = desk_with()
        estate_code_elsewhere = desk.settings.estate_code
        stranger = Chat(desk, "visitor", language_hint="en")
        assert stranger.says("/chase").startswith(
            f"Please add the ticket number, for example: /chase {estate_code_elsewhere}-20261127-0001"
        )


class TestRegistration:
    def report_as_stranger(self, desk: Desk, clock: Clock) -> tuple[Chat, str]:
        stranger = Chat(desk, "8800", channel="telegram", language_hint="en", clock=clock)
        assert through(stranger, "my kitchen tap is leaking", "1-1-1201", "urgent", "2", "1").startswith(
            "✅ Your report is in. Ticket number: SG-20261127-0001"
        )
        return stranger, f"{TODAY}-0001"

    def confirmed_on_telegram(self, desk: Desk, clock: Clock, choice: str) -> str:
        """A stranger reports, and customer service (陈静, on Telegram) confirms them with the button named."""
        chen = Chat(desk, "5100", channel="telegram", clock=clock)
        chen.says("/jobs")
        _, number = self.report_as_stranger(desk, clock)
        chen.inbox()
        chen.presses(choice)
        return number

    def test_customer_service_says_which_resident_a_stranger_is_and_their_address_becomes_theirs(
        self, desk: Desk
    ) -> None:
        clock = Clock()
        chen = Chat(desk, "陈静 Chen Jing", language_hint="en", clock=clock)
        chen.says("/lang")
        chen.presses("English")
        stranger, _ = self.report_as_stranger(desk, clock)
        push = chen.inbox()
        assert push.endswith("  1. ✅ It is Zhang San\n  2. ✅ A new resident of 1-1-1201")
        assert chen.says("1") == "Confirmed: 张三 Zhang San lives in 1-1-1201. Their reports are verified from now on."
        (ticket,) = stored(desk)
        assert (ticket.verified, ticket.reporter_resident_id, ticket.reporter) == (True, 1, "张三 Zhang San")
        # The next message from that account is 张三's: his language, his name, his rooms.
        assert stranger.says("/start").startswith("Hello Zhang San! This is the Sunrise Garden repair desk.")

    def test_a_new_resident_of_the_room_is_registered_and_reports_verified_from_then_on(self, desk: Desk) -> None:
        clock = Clock()
        chen = Chat(desk, "陈静 Chen Jing", clock=clock)
        chen.says("/jobs")  # her console is where she was last: the request comes here
        stranger, _ = self.report_as_stranger(desk, clock)
        chen.inbox()
        assert chen.presses("新住户") == (
            "已确认：8800 住在 1-1-1201。此后其报修均为已核实。"  # 陈静 reads Chinese
        )
        assert stranger.says("the bathroom light is broken") == (  # their room is offered now
            "Where is the problem? Tap your home, or type the place.\n"
            "For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).\n"
            "  1. 1-1-1201\n"
            "  2. Somewhere else"
        )
        assert stored(desk)[0].verified

    def test_after_it_is_resident_their_news_goes_to_the_account_that_was_confirmed(self) -> None:
        desk = on_telegram()
        clock = Clock()
        number = self.confirmed_on_telegram(desk, clock, "张三")
        stranger_address, zhang_address = Address("telegram", "8800"), Address("telegram", "7001")
        assert [m.payload["text"] for m in queued(desk, stranger_address)] == ["客服已确认您住在 1-1-1201，谢谢！"]
        li = Chat(desk, "5001", channel="telegram", clock=clock)
        li.inbox()
        li.presses("接单")
        assert [m.payload["text"] for m in queued(desk, stranger_address)][1:] == [
            f"🔧 {number}：维修师傅李伟将为您维修。"
        ]
        assert queued(desk, zhang_address) == []

    def test_a_language_chosen_as_a_stranger_is_kept_once_registered(self, desk: Desk) -> None:
        clock = Clock()
        chen = Chat(desk, "陈静 Chen Jing", clock=clock)
        chen.says("/jobs")
        stranger = Chat(desk, "8800", channel="telegram", language_hint="zh-hans", clock=clock)
        stranger.says("/lang")
        stranger.presses("English")
        through(stranger, "my kitchen tap is leaking", "1-1-1201", "urgent", "2", "1")
        chen.inbox()
        chen.presses("新住户")
        assert stranger.says("/tickets") == (
            "Your open tickets:\n"
            f"• {TODAY}-0001 · Plumbing (water, pipes, drains) · a technician has been assigned\n"
            f"  1. {TODAY}-0001"
        )

    def test_a_registered_resident_the_directory_file_then_lists_is_still_told_of_their_report(
        self, engine: Engine
    ) -> None:
        uow = SqlAlchemyUnitOfWork(engine)
        with uow:
            uow.directory.sync(demo_estate())
            uow.commit()
        desk = desk_on(uow, telegram=True)
        clock = Clock()
        number = self.confirmed_on_telegram(desk, clock, "新住户")
        estate = demo_estate()
        wu = Resident("Wu Xin", ("1-1-1201",), addresses=(Address("telegram", "8800"),))
        with uow:  # management adds them to the file, with the account customer service confirmed
            report = uow.directory.sync(replace(estate, residents=(*estate.residents, wu)))
            uow.commit()
        clock.now += timedelta(seconds=5)  # running desks look at the directory's version once a second
        assert (report.added, report.deactivated) == ({"resident": 1}, {"resident": 1})
        with uow:
            residents = desk.estate(uow, clock.now).residents
        assert [r.name for r in residents if "1-1-1201" in r.rooms] == ["张三 Zhang San", "Wu Xin"]
        li = Chat(desk, "5001", channel="telegram", clock=clock)
        li.inbox()
        li.presses("接单")
        assert [m.payload["text"] for m in queued(desk, Address("telegram", "8800"))][-1:] == [
            f"🔧 {number}：维修师傅李伟将为您维修。"
        ]
        (ticket,) = stored(desk)
        assert "unreachable" not in ticket.history[-1].details


@pytest.mark.postgres
class TestAtTheSameTime:
    def test_views_do_not_wait_for_a_ticket_someone_is_changing(self, pg_engine: Engine) -> None:
        """/status, a job's view and /queue read without locking: a long change elsewhere holds none of them."""
        desk = self.demo_desk(pg_engine)
        ticket = desk.act(NOW, lambda work: open_ticket(work, leak(), Actor("operator", "front desk")))
        holding, release = threading.Event(), threading.Event()

        def change_slowly() -> None:
            with SqlAlchemyUnitOfWork(pg_engine) as uow:
                find_ticket(uow, ticket.number, for_update=True)
                holding.set()
                release.wait(20)

        changer = threading.Thread(target=change_slowly)
        changer.start()
        holding.wait(10)
        answers: list[str] = []

        def look() -> None:
            for name, text in (("张三 Zhang San", f"/status {ticket.number}"), ("李伟 Li Wei", f"/status {ticket.number}"),
                               ("陈静 Chen Jing", "/queue")):  # fmt: skip
                answers.append("\n".join(r.text for r in Chat(desk, name).desk.handle(
                    Inbound("console", f"console:{name}", name, text), NOW)))  # fmt: skip

        looker = threading.Thread(target=look)
        looker.start()
        looker.join(10)
        finished = not looker.is_alive()
        release.set()
        changer.join(10)
        looker.join(10)
        assert finished, "a view waited for the ticket's lock"
        assert [a.split("\n")[0] for a in answers] == [
            f"{ticket.number} · 给排水（漏水、水管、下水道）",
            f"{ticket.number} · ⚠️ 加急 · 给排水（漏水、水管、下水道）",
            "📋 待处理队列",
        ]

    def test_two_dispatches_at_once_never_both_give_the_last_place_under_the_cap(self, pg_engine: Engine) -> None:
        """李伟 is the only plumber on shift; with a cap of one job, one of two reports at once goes to him and
        the other to the grab pool."""
        desk = self.demo_desk(pg_engine, dispatch={"max_open_per_technician": 1})
        start = threading.Barrier(2)
        made: list[str] = []

        def report(room: str) -> None:
            own = desk_on(SqlAlchemyUnitOfWork(pg_engine), dispatch={"max_open_per_technician": 1})
            start.wait(10)
            made.append(own.act(NOW, lambda work: open_ticket(work, leak(room), Actor("operator", "desk"))).number)

        threads = [threading.Thread(target=report, args=(room,)) for room in ("1-1-1201", "1-2-502")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert len(made) == 2
        outcomes = sorted(t.history[1].action for t in stored(desk))
        assert outcomes == ["assign", "pool"], outcomes
        assert [t.assignee_name for t in stored(desk) if t.status is Status.ASSIGNED] == ["李伟 Li Wei"]

    @staticmethod
    def demo_desk(engine: Engine, **config: Any) -> Desk:
        uow = SqlAlchemyUnitOfWork(engine)
        with uow:
            uow.directory.sync(demo_estate())
            uow.commit()
        return desk_on(uow, **config)


def test_a_pressed_button_carries_what_the_codec_reads() -> None:
    from core.conversation.buttons import Outdated, Pick, decode

    for button in (Pick("urgency", "urgent"), Pick("yes"), OnTicket("rate", "SG-20261127-0001", "5")):
        assert decode(encode(button)) == button
        assert len(encode(button)) <= 64  # Telegram's limit for callback data
    for old in ("menu:repair", "t:fixed:SG-20261127-0001", "s:accept:SG-1", "", "1t:", "2p:yes"):
        assert decode(old) == Outdated(old)
