"""The intake dialogue in English, as transcripts: Emily Brown (3-1-2302) talks to the desk."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from bot.channels.console import ConsoleChat
from core.conversation.buttons import Pick, encode
from core.desk import Desk
from core.domain.model import Attachment, Status
from core.domain.people import Address
from tests.chat import Chat, assert_says, stored
from tests.conftest import NOW

TODAY = "SG-20261127"


@pytest.fixture
def emily(desk: Desk) -> Chat:
    return Chat(desk, "Emily Brown")


class TestRepairFromOneMessage:
    def test_a_described_fault_goes_straight_to_the_missing_questions(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("kitchen pipe leaking in 1-1-1201", """
                How urgent is it? I suggest: Urgent.
                1. ✓ Urgent: today, please
                2. Emergency
                3. Normal"""),
            ("1", """
                Quick check: is the valve under the sink or the main water valve fully open?
                1. ✅ Fixed it myself
                2. 🔧 Still broken: send someone"""),
            ("2", """
                Please check your report:
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201
                Type: Plumbing (water, pipes, drains)
                Urgency: Urgent
                1. ✅ Submit
                2. ✏️ Change something
                3. ✖️ Cancel"""),
            ("submit", f"""
                ✅ Your report is in. Ticket number: {TODAY}-0001
                Urgent: we will respond within 1 hour."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.location.room, ticket.category, ticket.urgency) == ("1-1-1201", "plumbing", "urgent")
        assert ticket.reporter == "Emily Brown" and ticket.verified
        assert (ticket.status, ticket.assignee_name) == (Status.ASSIGNED, "李伟 Li Wei")  # on shift on a Friday
        assert ticket.source == "resident_chat"

    @pytest.mark.parametrize(
        ("message", "place"),
        [
            ("3号楼电梯坏了有人被困", "3号楼电梯 Building 3 lifts"),
            ("someone is trapped in the lift", "3号楼电梯 Building 3 lifts"),
            ("smell of gas in 3-1-2302", "3-1-2302"),
            ("sparks coming from the socket in 1-1-1201", "1-1-1201"),
            ("smoke in the garage", "地下车库 Underground garage"),
        ],
    )
    def test_a_safety_word_keeps_it_an_emergency_and_says_why(
        self, emily: Chat, desk: Desk, message: str, place: str
    ) -> None:
        answer = emily.says(message)
        assert_says(answer, f"Place: {place}\nUrgency: Emergency\nKept at emergency because you mentioned")
        emily.run([
            ("2", "What would you like to change?"),
            ("urgency", "This stays an emergency because you mentioned"),
            ("1", "If anyone is in danger, leave the area and call 119 (fire) or 110 (police) now."),
        ])  # fmt: skip
        assert [t.urgency for t in stored(desk)] == ["emergency"]

    @pytest.mark.parametrize(
        "message",
        ["no water in 3-1-2302 since this morning", "power cut in 3-1-2302", "lift is broken in building 3",
         "water is leaking into my home from upstairs, 3-1-2302", "停水了 3-1-2302", "家里停电了"],
    )  # fmt: skip
    def test_seed_emergencies_are_proposed_as_emergencies(self, emily: Chat, message: str) -> None:
        answer = emily.says(message)
        if "Where is the problem?" in answer:
            answer = emily.says("1")
        assert_says(answer, "How urgent is it? I suggest: Emergency.")


class TestRepairFromTheMenu:
    def test_the_menu_then_every_question_in_turn(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("hello", """
                Hello Emily! This is the 阳光花园 Sunrise Garden repair desk.
                1. 🔧 Report a repair
                2. 💬 Feedback or complaint
                3. 📋 My tickets
                4. ❓ Help
                5. 🌐 中文 / English"""),
            ("1", """
                Where is the problem? Tap your home, or type the place.
                1. 3-1-2302
                2. Somewhere else"""),
            ("1", "What is wrong? Describe it in a few words"),
            ("the bathroom door does not close", "How urgent is it?"),
            ("normal", "Please check your report:\nType: Building (walls, doors, windows)\nUrgency: Normal"),
            ("1", f"Ticket number: {TODAY}-0001\nNormal: we will respond within 4 hours."),
        ])  # fmt: skip
        assert stored(desk)[0].location.room == "3-1-2302"

    def test_an_unclear_symptom_asks_for_the_category(self, emily: Chat) -> None:
        emily.run([
            ("/report", "Where is the problem?"),
            ("3-1-2302", "What is wrong?"),
            ("something strange is going on", """
                Which kind of problem is it?
                1. Plumbing (water, pipes, drains)
                2. Electrical"""),
            ("banana", "Please pick one of the choices, by its number or its name."),
            ("hvac", "How urgent is it?"),
        ])  # fmt: skip

    def test_a_photo_is_kept_and_still_asks_for_words(self, emily: Chat, desk: Desk) -> None:
        emily.run([("report", "Where is the problem?"), ("1", "What is wrong?")])
        photo = Attachment("photo", "telegram:file-1", "")
        assert_says(emily.says(attachments=(photo,)), "Got the photo, thank you. Please also describe the problem")
        emily.run([
            ("the ceiling is cracked", "How urgent is it?"),
            ("normal", "Attachments: 1"),
            ("1", "Ticket number:"),
        ])  # fmt: skip
        assert stored(desk)[0].attachments == (photo,)


class TestPlaces:
    @pytest.mark.parametrize(
        ("typed", "room"),
        [("1-1-1201", "1-1-1201"), ("1栋1单元1201", "1-1-1201"), ("1号楼2单元302室", "1-2-302"),
         ("building 3 unit 1 room 2302", "3-1-2302"), ("3号楼2302", "3-1-2302"), ("1－1－1201", "1-1-1201")],
    )  # fmt: skip
    def test_rooms_in_the_usual_notations(self, emily: Chat, typed: str, room: str) -> None:
        emily.run([("1", "Where is the problem?"), ("2", "Type the place"), (typed, "What is wrong?")])
        assert_says(emily.says("door handle came off"), "How urgent")
        assert_says(emily.says("3"), f"Place: {room}")

    @pytest.mark.parametrize("typed", ["garage", "车库", "B1", "the GARAGE", "地下车库", "garag"])
    def test_common_areas_by_name_alias_or_near_miss(self, emily: Chat, typed: str) -> None:
        emily.run([("1", "Where"), (typed, "What is wrong?")])
        assert_says(emily.says("light broken"), "How urgent")
        assert_says(emily.says("3"), "Place: 地下车库 Underground garage")

    def test_a_room_without_the_unit_offers_the_units(self, emily: Chat) -> None:
        emily.run([
            ("1", "Where"),
            ("1号楼1201", "Which unit is it?\n1. 1-1-1201\n2. 1-2-1201"),
            ("2", "What is wrong?"),
        ])  # fmt: skip

    def test_an_unknown_place_gets_examples_then_is_taken_as_written_after_three_tries(
        self, emily: Chat, desk: Desk
    ) -> None:
        emily.run([
            ("1", "Where"),
            ("9-9-999", "I can't find 9-9-999 in 阳光花园 Sunrise Garden.\nFor example: 1-1-1201"),
            ("the moon", "Sorry, I didn't recognise that place.\nWhere is the problem?"),
            ("behind the bike shed", 'I\'ll pass the place on as you wrote it: "behind the bike shed". Staff will check it.'),
            ("fence is broken", "How urgent"),
            ("3", "Place: behind the bike shed"),
            ("1", "Staff will check the place you gave."),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.location.needs_review and ticket.location.text == "behind the bike shed"


class TestSelfCheck:
    def test_fixed_it_myself_records_a_self_resolved_ticket_and_sends_nobody(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("the breaker keeps tripping in 3-1-2302", "How urgent"),
            ("urgent", "Quick check: open your home's distribution box."),
            ("fixed", f"Glad it works again! I've noted it as {TODAY}-0001, solved by yourself; nobody will be sent."),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.CLOSED
        assert [e.action for e in ticket.history] == ["create", "self_resolve"]

    def test_no_self_check_for_emergencies_or_categories_without_tips(self, emily: Chat) -> None:
        assert_says(emily.says("power cut in 3-1-2302"), "I suggest: Emergency")
        assert_says(emily.says("emergency"), "Please check your report:")
        emily.says("/cancel")
        assert_says(emily.says("crack in the wall of 3-1-2302"), "How urgent")
        assert_says(emily.says("normal"), "Please check your report:")


class TestRepeatBack:
    def test_changing_a_field_returns_to_the_repeat_back(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("kitchen pipe leaking in 1-1-1201", "How urgent"),
            ("emergency", "Please check your report:"),
            ("change", "What would you like to change?\n1. Place\n2. Problem\n3. Type\n4. Urgency"),
            ("3", "Which kind of problem is it? I think: Plumbing"),
            ("civil", "Please check your report:\nType: Building (walls, doors, windows)"),
            ("2", "What would you like to change?"),
            ("place", "Where is the problem?"),
            ("garage", "Please check your report:\nPlace: 地下车库 Underground garage"),
            ("more water on the floor now", "Added to the description.\nProblem: kitchen pipe leaking in 1-1-1201\nmore water on the floor now"),
            ("1", "Ticket number:"),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.category, ticket.location.common_area) == ("civil", "地下车库 Underground garage")

    def test_cancel_at_the_repeat_back_sends_nothing(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("kitchen pipe leaking in 1-1-1201", "How urgent"),
            ("emergency", "Please check your report:"),
            ("3", "Report discarded; nothing was sent.\n1. 🔧 Report a repair"),
        ])  # fmt: skip
        assert stored(desk) == []


class TestFeedback:
    def test_a_complaint_with_a_place_routed_to_its_department(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("2", "What is your feedback about?\n1. Service quality"),
            ("hygiene", "Please write your feedback."),
            ("rubbish has not been collected for three days", "Is it about a particular place or thing?\n1. Skip"),
            ("garage", "Should staff see your name?\n1. With my name\n2. Anonymously"),
            ("1", """
                Please check your feedback:
                About: Cleaning and hygiene
                Message: rubbish has not been collected for three days
                Place or thing: 地下车库 Underground garage
                Name shown to staff: yes"""),
            ("1", f"Thank you. Your feedback is recorded as {TODAY}-0001.\n环境部 Cleaning will reply to you here within 4 hours."),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.kind, ticket.category, ticket.department) == ("feedback", "hygiene", "环境部 Cleaning")
        assert not ticket.anonymous

    def test_anonymous_feedback_hides_the_name_but_keeps_the_way_back(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("I want to complain about the guard at the gate, he was rude", "Is it about a particular place"),
            ("skip", "Should staff see your name?"),
            ("anonymously", "Name shown to staff: no, anonymous"),
            ("1", "Your name is hidden from staff."),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.anonymous and ticket.reporter_address == Address("console", "Emily Brown")
        assert ticket.category == "service_quality" and ticket.department == "客服中心 Customer service"

    def test_out_of_scope_gets_a_pointer_and_is_recorded_closed(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("feedback", "What is your feedback about?"),
            ("6", "Please write your feedback."),
            ("my neighbours had a fight and I want to report an assault", """
                This is outside what the property company can handle:
                Disputes and crimes are for the police: call 110.
                I've recorded your message as"""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.CLOSED
        assert ticket.history[-1].action == "close_out_of_scope"


class TestMyTickets:
    def report(self, chat: Chat) -> None:
        """On Friday evening, when the only builder is off: the ticket waits in the grab pool."""
        chat.now = NOW + timedelta(hours=9)
        chat.run([("crack in the wall of 3-1-2302", "How urgent"), ("normal", "Please check"), ("1", "Ticket number")])

    def test_list_show_chase_once_an_hour_and_withdraw(self, emily: Chat, desk: Desk) -> None:
        self.report(emily)
        number = f"{TODAY}-0001"
        emily.run([
            ("/tickets", f"Your open tickets:\n• {number} · Building (walls, doors, windows) · received, waiting for a technician"),
            (f"/status {number.lower()}", f"{number}\nStatus: received, waiting for a technician\nPlace: 3-1-2302"),
            (f"/chase {number}", f"We've reminded the team about {number}."),
            (f"/chase {number}", f"You chased {number} at"),
        ])  # fmt: skip
        emily.wait(61)
        emily.run([
            (f"/chase {number}", "We've reminded the team"),
            (f"/withdraw {number}", f"{number} is withdrawn. Nobody will be sent."),
            ("/tickets", "You have no open tickets."),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.CANCELLED
        assert [e.action for e in ticket.history] == ["create", "pool", "chase", "chase", "cancel"]

    def test_buttons_from_the_list_show_a_ticket(self, emily: Chat) -> None:
        self.report(emily)
        emily.says("/tickets")
        assert_says(emily.presses(f"{TODAY}-0001"), "Status: received")
        assert_says(emily.presses("Withdraw"), "is withdrawn")

    def test_someone_elses_ticket_is_not_shown_or_withdrawn(self, desk: Desk, emily: Chat) -> None:
        zhang = Chat(desk, "张三 Zhang San")
        zhang.run([("1-1-1201 厨房漏水", "1"), ("1", "2"), ("2", "1"), ("1", "SG-")])
        for command in ("/status", "/withdraw", "/chase"):
            assert_says(emily.says(f"{command} {TODAY}-0001"), f"I can't find a ticket {TODAY}-0001 of yours.")

    def test_a_dispatched_ticket_cannot_be_withdrawn(self, emily: Chat, desk: Desk) -> None:
        emily.run([("crack in the wall of 3-1-2302", "How urgent"), ("normal", "Please check"), ("1", "Ticket number")])
        assert_says(
            emily.says(f"/withdraw {TODAY}-0001"),
            "so it can't be withdrawn here",
        )
        assert_says(emily.says(f"/status {TODAY}-0001"), "Technician: 李伟")


class TestAnywhere:
    def test_help_in_the_middle_answers_then_resumes(self, emily: Chat) -> None:
        emily.run([
            ("1", "Where is the problem?"),
            ("/help", "I take repair reports and feedback for 阳光花园 Sunrise Garden.\nLet's continue your report.\nWhere is the problem?"),
            ("1", "What is wrong?"),
        ])  # fmt: skip

    def test_my_tickets_in_the_middle_answers_first_then_resumes(self, emily: Chat) -> None:
        emily.run(
            [
                ("1", "Where"),
                ("/tickets", "You have no open tickets.\nLet's continue your report.\nWhere is the problem?"),
            ]
        )

    def test_cancel_drops_the_draft_and_says_so(self, emily: Chat) -> None:
        emily.run([
            ("/cancel", "There is nothing to cancel."),
            ("1", "Where"),
            ("/cancel", "Report discarded; nothing was sent."),
            ("1", "Where is the problem?"),
        ])  # fmt: skip

    def test_a_draft_idle_for_half_an_hour_is_dropped_politely(self, emily: Chat) -> None:
        emily.run([("1", "Where"), ("1", "What is wrong?")])
        emily.wait(31)
        assert_says(
            emily.says("the tap drips"),
            "Your unfinished report from earlier was dropped after 30 minutes without an answer.\nWhere is the problem?",
        )

    def test_a_draft_within_half_an_hour_is_kept(self, emily: Chat) -> None:
        emily.run([("1", "Where"), ("1", "What is wrong?")])
        emily.wait(29)
        answer = emily.says("the tap drips")
        assert "dropped" not in answer and "How urgent" in answer

    def test_long_text_is_cut_with_a_note(self, emily: Chat, desk: Desk) -> None:
        emily.run([("1", "Where"), ("1", "What is wrong?")])
        assert_says(emily.says("the tap drips " + "x" * 3000), "I kept the first 2,000 characters.\nHow urgent")
        emily.run([("normal", "Quick check"), ("still broken", "Please check"), ("1", "Ticket number")])
        assert len(stored(desk)[0].description) == 2000

    @pytest.mark.parametrize("nothing", ["", "   ", "👍", "🙂🙂", "…"])
    def test_empty_or_emoji_only_gets_a_friendly_prompt_and_the_question_again(self, emily: Chat, nothing: str) -> None:
        emily.run([("1", "Where"), ("1", "What is wrong?")])
        assert_says(emily.says(nothing), "I can only read words here.\nWhat is wrong?")

    def test_a_sticker_or_nothing_at_the_start_gets_the_menu(self, emily: Chat) -> None:
        assert_says(emily.says(""), "Tell me in a few words what is wrong, or pick from the menu.\n1. 🔧")

    def test_a_stale_button_is_explained(self, emily: Chat) -> None:
        emily.says("hello")
        emily.presses("Report a repair")
        assert_says(
            emily.says(payload=encode(Pick("menu", "feedback"))),
            "That button belongs to an earlier question.\nWhere is the problem?",
        )

    def test_a_button_from_an_older_baoxiu_is_answered_and_the_question_asked_again(self, emily: Chat) -> None:
        emily.says("hello")
        emily.presses("Report a repair")
        assert emily.says(payload="menu:feedback") == (
            "That button is from an older message and no longer works.\n\n"
            "Where is the problem? Tap your home, or type the place.\n"
            "For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).\n"
            "  1. 3-1-2302\n"
            "  2. Somewhere else"
        )

    def test_an_unknown_command_points_to_help(self, emily: Chat) -> None:
        assert_says(emily.says("/frobnicate"), "I don't know the command /frobnicate. Send /help")

    def test_commands_without_a_number_show_an_example(self, emily: Chat) -> None:
        assert_says(emily.says("/status"), "Please add the ticket number, for example: /status SG-20261127-0001")


class TestUnknownPeople:
    def test_a_stranger_may_report_and_the_ticket_is_unverified(self, desk: Desk) -> None:
        stranger = Chat(desk, "visitor-42", language_hint="en-GB")
        stranger.run([
            ("the gate of building 1 is broken", "Where is the problem? Type the room or the place."),
            ("1-1-1201", "How urgent"),
            ("3", "Please check"),
            ("1", "Ticket number"),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert not ticket.verified and ticket.reporter_resident_id is None
        assert ticket.reporter_address == Address("console", "visitor-42")
        assert_says(stranger.says("/tickets"), f"• {TODAY}-0001")


def test_a_number_that_is_not_among_the_choices_is_asked_again(emily: Chat, desk: Desk) -> None:
    emily.run([
        ("I want to complain: the guard was rude", "Is it about a particular place or thing?\n1. Skip"),
        ("2", "Please pick a number from 1 to 1.\nIs it about a particular place or thing?"),
        ("skip", "Should staff see your name?"),
    ])  # fmt: skip


def test_a_piped_console_session_starts_afresh(desk: Desk) -> None:
    emily = Chat(desk, "Emily Brown")
    emily.says("kitchen pipe leaking in 3-1-2302")  # left unfinished, as a script that stopped early
    output = io.StringIO()
    ConsoleChat(desk, "Emily Brown", output, interactive=False, clock=lambda: emily.now).run(
        ["the bedroom light is broken"]
    )
    assert "Where is the problem?" in output.getvalue() and "Please pick" not in output.getvalue()


def test_a_report_waiting_to_join_a_ticket_that_closed_meanwhile_goes_on_as_its_own(desk: Desk, emily: Chat) -> None:
    from core.domain.lifecycle import Action
    from core.domain.model import Actor
    from core.services.tickets import find_ticket

    zhang = Chat(desk, "张三 Zhang San")
    zhang.run([("车库的灯坏了", "情况有多紧急"), ("3", "请核对"), ("1", "工单号")])
    assert_says(emily.says("the garage light is broken"), f"{TODAY}-0001 is already open for this")
    desk.act(emily.now, lambda work: work.change(find_ticket(work.uow, f"{TODAY}-0001", True), Action.CANCEL,
                                                 Actor("staff", "陈静")))  # fmt: skip
    assert_says(emily.says("/help"), "Let's continue your report.\nHow urgent is it?")


def test_ticket_details_asked_for_in_a_group_are_answered_privately(desk: Desk) -> None:
    from core.conversation.messages import ChatKind

    emily = Chat(desk, "Emily Brown")
    emily.run([("crack in the wall of 3-1-2302", "How urgent"), ("normal", "Please check"), ("1", "Ticket number")])
    in_group = Chat(desk, "Emily Brown", chat="console:group", chat_kind=ChatKind.GROUP)
    in_group.says(f"/status {TODAY}-0001")
    note, details = in_group.last
    assert note.text == "I've sent you the answer in a private chat." and note.recipient is None
    assert "Place: 3-1-2302" in details.text and details.recipient == "Emily Brown"
