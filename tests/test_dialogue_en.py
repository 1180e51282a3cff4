"""The intake dialogue in English, as transcripts: Emily Brown (3-1-2302) talks to the desk.

Each row is what Emily says and the bot's whole answer, as the console shows it."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from bot.channels.console import ConsoleChat
from core.conversation.buttons import Pick, encode
from core.desk import Desk
from core.domain.model import Attachment, Status
from core.domain.people import Address
from tests.chat import Chat, Press, assert_answer, block, choices, lines, replies, stored
from tests.conftest import NOW, on_telegram

TODAY = "SG-20261127"

MENU = choices("🔧 Report a repair", "💬 Feedback or complaint", "📋 My tickets", "❓ Help", "🌐 中文 / English")
SUBMIT = choices("✅ Submit", "✏️ Change something", "✖️ Cancel")
WHERE = block("""
    Where is the problem? Tap your home, or type the place.
    For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).
      1. 3-1-2302
      2. Somewhere else""")
WHAT = "What is wrong? Describe it in a few words; a photo helps too."
# One fixed order, most urgent first, so that a number means the same in every report; the proposal is ticked.
SUGGEST_EMERGENCY = block("""
    How urgent is it? I suggest: Emergency.
      1. ✓ Emergency: unsafe, or water/power/lift out
      2. Urgent: today, please
      3. Normal: within a few days""")
SUGGEST_URGENT = block("""
    How urgent is it? I suggest: Urgent.
      1. Emergency: unsafe, or water/power/lift out
      2. ✓ Urgent: today, please
      3. Normal: within a few days""")
SUGGEST_NORMAL = block("""
    How urgent is it? I suggest: Normal.
      1. Emergency: unsafe, or water/power/lift out
      2. Urgent: today, please
      3. ✓ Normal: within a few days""")
VALVE_CHECK = block("""
    Quick check: is the valve under the sink or the main water valve fully open? For a leak, closing the valve stops the water until the technician arrives. For no water, ask a neighbour whether they have water too.
      1. ✅ Fixed it myself
      2. 🔧 Still broken: send someone""")
FEEDBACK_ABOUT = block("""
    What is your feedback about?
      1. Service quality
      2. Facilities
      3. Cleaning and hygiene
      4. Security
      5. Community life
      6. Something else""")
WRITE_IT = "Please write your feedback. Photos are welcome too."
PLACE_OR_THING = "Is it about a particular place or thing? Type it, or skip.\n" + choices("Skip")
SHOW_NAME = block("""
    Should staff see your name? Anonymous feedback still gets its reply here.
      1. With my name
      2. Anonymously""")
HELP = block("""
    I take repair reports and feedback for Sunrise Garden.
    • Describe a fault in one message, e.g. "kitchen pipe leaking in 1-1-1201", and I'll ask for the rest.
    • /tickets: your open tickets · /status NUMBER: one ticket
    • /withdraw NUMBER: cancel a report nobody is working on yet · /chase NUMBER: ask us to hurry
    • /add NUMBER: add a detail or a photo to a report
    • /cancel: drop the report you're writing · /lang: 中文 / English · /start: the menu""")
HELLO = "Hello Emily! This is the Sunrise Garden repair desk.\nWhat can I do for you?"
NUMBER = f"{TODAY}-0001"


@pytest.fixture
def emily(desk: Desk) -> Chat:
    return Chat(desk, "Emily Brown")


def lower_it(word: str) -> str:
    return lines(f"""
        You mentioned "{word}": that is why this is an emergency, and someone comes at once. If there could be gas, fire, smoke, sparks or someone trapped, keep it an emergency. Is there really no danger?""",
        choices("🚨 Keep it an emergency", "⬇️ No danger: lower it"))  # fmt: skip


class TestRepairFromOneMessage:
    def test_a_described_fault_goes_straight_to_the_missing_questions(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("kitchen pipe leaking in 1-1-1201", SUGGEST_URGENT),
            ("2", VALVE_CHECK),  # the suggested one: the list keeps one order, so 2 is always Urgent
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
                ✅ Your report is in. Ticket number: {NUMBER}
                Urgent: we will respond within 1 hour."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.location.room, ticket.category, ticket.urgency) == ("1-1-1201", "plumbing", "urgent")
        assert ticket.reporter == "Emily Brown" and ticket.verified
        assert (ticket.status, ticket.assignee_name) == (Status.ASSIGNED, "李伟 Li Wei")  # on shift on a Friday
        assert ticket.source == "resident_chat"

    @pytest.mark.parametrize(
        ("message", "place", "kind", "word"),
        [
            ("3号楼电梯坏了有人被困", "Building 3 lifts", "Lift", "被困"),
            ("someone is trapped in the lift", "Building 3 lifts", "Lift", "trapped"),
            ("smell of gas in 3-1-2302", "3-1-2302", "Fire safety", "smell of gas"),
            ("sparks coming from the socket in 1-1-1201", "1-1-1201", "Electrical (power, lights, sockets)", "sparks"),
            ("smoke in the garage", "Underground garage", "Fire safety", "smoke"),
        ],
    )
    def test_a_safety_word_keeps_it_an_emergency_and_says_why(
        self, emily: Chat, desk: Desk, message: str, place: str, kind: str, word: str
    ) -> None:
        repeat_back = lines(
            "Please check your report:", f"Place: {place}", f"Problem: {message}", f"Type: {kind}",
            "Urgency: Emergency", f'Kept at emergency because you mentioned "{word}".', SUBMIT,
        )  # fmt: skip
        emily.run([
            (message, repeat_back),
            ("2", """
                What would you like to change?
                  1. Place
                  2. Problem
                  3. Type
                  4. Urgency"""),
            ("urgency", lower_it(word)),
            ("keep it", replies(f'This stays an emergency because you mentioned "{word}".', repeat_back)),
            ("1", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Emergency: we will respond within 15 minutes.
                If anyone is in danger, leave the area and call 119 (fire) or 110 (police) now."""),
        ])  # fmt: skip
        assert [t.urgency for t in stored(desk)] == ["emergency"]

    def test_an_emergency_named_by_a_safety_word_is_lowered_only_once_the_risk_is_named_and_on_the_record(
        self, emily: Chat, desk: Desk
    ) -> None:
        emily.says("smell of gas in 3-1-2302")
        emily.says("change something")
        emily.run([
            ("urgency", lower_it("smell of gas")),
            ("what?", replies("Please pick one of the choices, by its number or its name.", lower_it("smell of gas"))),
            ("no danger", SUGGEST_EMERGENCY),
            ("normal", lines("""
                Please check your report:
                Place: 3-1-2302
                Problem: smell of gas in 3-1-2302
                Type: Fire safety
                Urgency: Normal""", SUBMIT)),
            ("submit", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Normal: we will respond within 4 hours."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.urgency == "normal"
        assert ticket.history[0].actor.name == "Emily Brown"
        assert (
            ticket.history[0].details["lowered_from_emergency"] == 'mentioned "smell of gas", said there is no danger'
        )

    @pytest.mark.parametrize(
        "message",
        ["no water in 3-1-2302 since this morning", "power cut in 3-1-2302", "lift is broken in building 3",
         "water is leaking into my home from upstairs, 3-1-2302", "停水了 3-1-2302"],
    )  # fmt: skip
    def test_a_seed_emergency_that_names_its_place_is_proposed_as_an_emergency_at_once(
        self, emily: Chat, message: str
    ) -> None:
        emily.run([(message, SUGGEST_EMERGENCY)])

    def test_a_seed_emergency_without_a_place_asks_where_then_proposes_an_emergency(self, emily: Chat) -> None:
        emily.run([("家里停电了", WHERE), ("1", SUGGEST_EMERGENCY)])


class TestRepairFromTheMenu:
    def test_the_menu_then_every_question_in_turn(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("hello", lines(HELLO, MENU)),
            ("1", WHERE),
            ("1", WHAT),
            ("the bathroom door does not close", SUGGEST_NORMAL),
            ("normal", lines("""
                Please check your report:
                Place: 3-1-2302
                Problem: the bathroom door does not close
                Type: Building (walls, doors, windows)
                Urgency: Normal""", SUBMIT)),
            ("1", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Normal: we will respond within 4 hours."""),
        ])  # fmt: skip
        assert stored(desk)[0].location.room == "3-1-2302"

    def test_an_unclear_symptom_asks_for_the_category(self, emily: Chat) -> None:
        which_kind = block("""
            Which kind of problem is it?
              1. Plumbing (water, pipes, drains)
              2. Electrical (power, lights, sockets)
              3. Building (walls, doors, windows)
              4. Heating and air conditioning
              5. Lift
              6. Fire safety
              7. Something else""")
        emily.run([
            ("/report", WHERE),
            ("3-1-2302", WHAT),
            ("something strange is going on", which_kind),
            ("banana", replies("Please pick one of the choices, by its number or its name.", which_kind)),
            ("hvac", SUGGEST_NORMAL),
        ])  # fmt: skip

    def test_a_photo_is_kept_and_still_asks_for_words(self, emily: Chat, desk: Desk) -> None:
        emily.run([("report", WHERE), ("1", WHAT)])
        photo = Attachment("photo", "telegram:file-1", "")
        assert_answer(
            emily.says(attachments=(photo,)),
            "Got the photo, thank you. Please also describe the problem in a few words.",
        )
        emily.run([
            ("the ceiling is cracked", SUGGEST_NORMAL),
            ("normal", lines("""
                Please check your report:
                Place: 3-1-2302
                Problem: the ceiling is cracked
                Type: Building (walls, doors, windows)
                Urgency: Normal
                Attachments: 1""", SUBMIT)),
            ("1", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Normal: we will respond within 4 hours."""),
        ])  # fmt: skip
        assert stored(desk)[0].attachments == (photo,)


class TestPlaces:
    @pytest.mark.parametrize(
        ("typed", "room"),
        [("1-1-1201", "1-1-1201"), ("1栋1单元1201", "1-1-1201"), ("1号楼2单元302室", "1-2-302"),
         ("building 3 unit 1 room 2302", "3-1-2302"), ("3号楼2302", "3-1-2302"), ("1－1－1201", "1-1-1201")],
    )  # fmt: skip
    def test_rooms_in_the_usual_notations(self, emily: Chat, typed: str, room: str) -> None:
        emily.run([
            ("1", WHERE),
            ("2", "Type the place: a room like 1-1-1201, or a shared place like 车库 (garage) or 3号楼电梯."),
            (typed, WHAT),
            ("door handle came off", SUGGEST_NORMAL),
            ("normal", lines(f"""
                Please check your report:
                Place: {room}
                Problem: door handle came off
                Type: Building (walls, doors, windows)
                Urgency: Normal""", SUBMIT)),
        ])  # fmt: skip

    @pytest.mark.parametrize("typed", ["garage", "车库", "B1", "the GARAGE", "地下车库", "garag"])
    def test_common_areas_by_name_alias_or_near_miss(self, emily: Chat, typed: str) -> None:
        emily.run([
            ("1", WHERE),
            (typed, WHAT),
            ("light broken", SUGGEST_NORMAL),
            ("normal", lines("""
                Please check your report:
                Place: Underground garage
                Problem: light broken
                Type: Electrical (power, lights, sockets)
                Urgency: Normal""", SUBMIT)),
        ])  # fmt: skip

    def test_a_room_without_the_unit_offers_the_units(self, emily: Chat) -> None:
        emily.run([
            ("1", WHERE),
            ("1号楼1201", """
                Which unit is it?
                  1. 1-1-1201
                  2. 1-2-1201"""),
            ("2", WHAT),
            ("door handle came off", SUGGEST_NORMAL),
            ("normal", lines("""
                Please check your report:
                Place: 1-2-1201
                Problem: door handle came off
                Type: Building (walls, doors, windows)
                Urgency: Normal""", SUBMIT)),
        ])  # fmt: skip

    def test_an_unknown_place_is_offered_as_written_or_a_shared_place_at_the_first_miss(
        self, emily: Chat, desk: Desk
    ) -> None:
        def unknown(said: str, place: str) -> str:
            return lines(f"""
                {said}
                Use it as written (staff will check it), pick a shared place, or type the place again.""",
                choices(f"✍️ Use “{place}” as written", "Underground garage", "Building 3 lifts"))  # fmt: skip

        emily.run([
            ("1", WHERE),
            ("9-9-999", unknown("I can't find 9-9-999 in Sunrise Garden.", "9-9-999")),
            ("the moon", unknown("Sorry, I don't know the place “the moon”.", "the moon")),
            ("behind the bike shed", unknown("Sorry, I don't know the place “behind the bike shed”.",
                                             "behind the bike shed")),
            ("as written", WHAT),
            ("fence is broken", SUGGEST_NORMAL),
            ("urgent", lines("""
                Please check your report:
                Place: behind the bike shed
                Problem: fence is broken
                Type: Building (walls, doors, windows)
                Urgency: Urgent""", SUBMIT)),
            ("1", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Urgent: we will respond within 1 hour.
                Staff will check the place you gave."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.location.needs_review and ticket.location.text == "behind the bike shed"

    def test_a_shared_place_picked_after_a_miss(self, emily: Chat) -> None:
        emily.run([("1", WHERE)])
        assert emily.says("by the west gate").startswith("Sorry, I don't know the place “by the west gate”.\n")
        assert emily.says("garage") == WHAT

    def test_an_unknown_room_in_the_first_message_is_explained(self, emily: Chat) -> None:
        emily.run([("9-9-9999 kitchen tap leaking", replies("I can't find 9-9-9999 in Sunrise Garden.", WHERE))])


class TestSelfCheck:
    def test_fixed_it_myself_records_a_self_resolved_ticket_and_sends_nobody(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("the breaker keeps tripping in 3-1-2302", SUGGEST_NORMAL),
            ("urgent", """
                Quick check: open your home's distribution box. Is a breaker switch pointing down (tripped)? Push it back up once. If it trips again at once, leave it down and do not retry.
                  1. ✅ Fixed it myself
                  2. 🔧 Still broken: send someone"""),
            ("fixed", f"Glad it works again! I've noted it as {NUMBER}, solved by yourself; nobody will be sent."),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.CLOSED
        assert [e.action for e in ticket.history] == ["create", "self_resolve"]

    def test_no_self_check_for_emergencies_or_categories_without_tips(self, emily: Chat) -> None:
        emily.run([
            ("power cut in 3-1-2302", SUGGEST_EMERGENCY),
            ("emergency", lines("""
                Please check your report:
                Place: 3-1-2302
                Problem: power cut in 3-1-2302
                Type: Electrical (power, lights, sockets)
                Urgency: Emergency""", SUBMIT)),
            ("/cancel", lines("Report discarded; nothing was sent.", MENU)),
            ("crack in the wall of 3-1-2302", SUGGEST_NORMAL),
            ("normal", lines("""
                Please check your report:
                Place: 3-1-2302
                Problem: crack in the wall of 3-1-2302
                Type: Building (walls, doors, windows)
                Urgency: Normal""", SUBMIT)),
        ])  # fmt: skip


class TestRepeatBack:
    def test_changing_a_field_returns_to_the_repeat_back(self, emily: Chat, desk: Desk) -> None:
        fields = block("""
            What would you like to change?
              1. Place
              2. Problem
              3. Type
              4. Urgency""")
        emily.run([
            ("kitchen pipe leaking in 1-1-1201", SUGGEST_URGENT),
            ("emergency", lines("""
                Please check your report:
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201
                Type: Plumbing (water, pipes, drains)
                Urgency: Emergency""", SUBMIT)),
            ("change", fields),
            ("3", """
                Which kind of problem is it? I think: Plumbing (water, pipes, drains).
                  1. ✓ Plumbing (water, pipes, drains)
                  2. Electrical (power, lights, sockets)
                  3. Building (walls, doors, windows)
                  4. Heating and air conditioning
                  5. Lift
                  6. Fire safety
                  7. Something else"""),
            ("civil", lines("""
                Please check your report:
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201
                Type: Building (walls, doors, windows)
                Urgency: Emergency""", SUBMIT)),
            ("2", fields),
            ("place", WHERE),
            ("garage", lines("""
                Please check your report:
                Place: Underground garage
                Problem: kitchen pipe leaking in 1-1-1201
                Type: Building (walls, doors, windows)
                Urgency: Emergency""", SUBMIT)),
            ("more water on the floor now", replies("Added to the description.", lines("""
                Please check your report:
                Place: Underground garage
                Problem: kitchen pipe leaking in 1-1-1201
                more water on the floor now
                Type: Building (walls, doors, windows)
                Urgency: Emergency""", SUBMIT))),
            ("1", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Emergency: we will respond within 15 minutes.
                If anyone is in danger, leave the area and call 119 (fire) or 110 (police) now."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.category, ticket.location.common_area) == ("civil", "地下车库 Underground garage")

    def test_cancel_at_the_repeat_back_sends_nothing(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("kitchen pipe leaking in 1-1-1201", SUGGEST_URGENT),
            ("emergency", lines("""
                Please check your report:
                Place: 1-1-1201
                Problem: kitchen pipe leaking in 1-1-1201
                Type: Plumbing (water, pipes, drains)
                Urgency: Emergency""", SUBMIT)),
            ("3", lines("Report discarded; nothing was sent.", MENU)),
        ])  # fmt: skip
        assert stored(desk) == []


class TestFeedback:
    def test_a_complaint_with_a_place_routed_to_its_department(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("2", FEEDBACK_ABOUT),
            ("hygiene", WRITE_IT),
            ("rubbish has not been collected for three days", PLACE_OR_THING),
            ("garage", SHOW_NAME),
            ("1", lines("""
                Please check your feedback:
                About: Cleaning and hygiene
                Message: rubbish has not been collected for three days
                Place or thing: Underground garage
                Name shown to staff: yes""", SUBMIT)),
            ("1", f"""
                Thank you. Your feedback is recorded as {NUMBER}.
                Cleaning will reply to you here within 4 hours."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.kind, ticket.category, ticket.department) == ("feedback", "hygiene", "环境部 Cleaning")
        assert not ticket.anonymous

    def test_anonymous_feedback_hides_the_name_but_keeps_the_way_back(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("I want to complain about the guard at the gate, he was rude", PLACE_OR_THING),
            ("skip", SHOW_NAME),
            ("anonymously", lines("""
                Please check your feedback:
                About: Service quality
                Message: I want to complain about the guard at the gate, he was rude
                Place or thing: (none)
                Name shown to staff: no, anonymous""", SUBMIT)),
            ("1", f"""
                Thank you. Your feedback is recorded as {NUMBER}.
                Customer service will reply to you here within 4 hours.
                Your name is hidden from staff."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.anonymous and ticket.reporter_address == Address("console", "Emily Brown")
        assert ticket.category == "service_quality" and ticket.department == "客服中心 Customer service"

    def test_out_of_scope_gets_a_pointer_and_is_recorded_closed(self, emily: Chat, desk: Desk) -> None:
        emily.run([
            ("feedback", FEEDBACK_ABOUT),
            ("6", WRITE_IT),
            ("my neighbours had a fight and I want to report an assault", f"""
                Thank you for telling us. This is outside what the property company can handle:
                Disputes and crimes are for the police: call 110. In danger, call 110 now.
                I've recorded your message as {NUMBER}."""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.CLOSED
        assert ticket.history[-1].action == "close_out_of_scope"


def report_a_crack(emily: Chat) -> None:
    emily.run([
        ("crack in the wall of 3-1-2302", SUGGEST_NORMAL),
        ("normal", lines("""
            Please check your report:
            Place: 3-1-2302
            Problem: crack in the wall of 3-1-2302
            Type: Building (walls, doors, windows)
            Urgency: Normal""", SUBMIT)),
        ("1", f"""
            ✅ Your report is in. Ticket number: {NUMBER}
            Normal: we will respond within 4 hours."""),
    ])  # fmt: skip


class TestMyTickets:
    @pytest.fixture
    def desk(self) -> Desk:
        """Served with Telegram, where the supervisors a chase tells are reached."""
        return on_telegram()

    WAITING = block(f"""
        {NUMBER} · Building (walls, doors, windows)
        Status: received, waiting for a technician
        Place: 3-1-2302
        Problem: crack in the wall of 3-1-2302
        Reported: 2026-11-27 19:31
        We will respond by 2026-11-27 23:31.
          1. ⏰ Chase
          2. ✖️ Withdraw""")

    def report(self, emily: Chat) -> None:
        """On Friday evening, when the only builder is off: the ticket waits in the grab pool."""
        emily.now = NOW + timedelta(hours=9)
        report_a_crack(emily)

    def test_list_show_chase_once_an_hour_and_withdraw(self, emily: Chat, desk: Desk) -> None:
        self.report(emily)
        emily.run([
            ("/tickets", f"""
                Your open tickets:
                • {NUMBER} · Building (walls, doors, windows) · received, waiting for a technician
                  1. {NUMBER}"""),
            (f"/status {NUMBER.lower()}", self.WAITING),
            (f"/chase {NUMBER}", f"We've reminded the team about {NUMBER}. Thank you for your patience."),
            (f"/chase {NUMBER}", f"You chased {NUMBER} at 19:32. You can chase again after 20:32."),
        ])  # fmt: skip
        emily.wait(61)
        emily.run([
            (f"/chase {NUMBER}", f"We've reminded the team about {NUMBER}. Thank you for your patience."),
            (f"/withdraw {NUMBER}", f"{NUMBER} is withdrawn. Nobody will be sent."),
            ("/tickets", lines("You have no open tickets.", choices("🔧 Report a repair"))),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.status is Status.CANCELLED
        assert [e.action for e in ticket.history] == ["create", "pool", "chase", "chase", "cancel"]

    def test_buttons_from_the_list_show_a_ticket(self, emily: Chat, desk: Desk) -> None:
        self.report(emily)
        emily.run([
            ("/tickets", f"""
                Your open tickets:
                • {NUMBER} · Building (walls, doors, windows) · received, waiting for a technician
                  1. {NUMBER}"""),
            (Press(NUMBER), self.WAITING),
            (Press("Withdraw"), f"{NUMBER} is withdrawn. Nobody will be sent."),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.CANCELLED

    def test_someone_elses_ticket_is_not_shown_or_withdrawn(self, desk: Desk, emily: Chat) -> None:
        Chat(desk, "张三 Zhang San").run([
            ("1-1-1201 厨房漏水", """
                情况有多紧急？建议选择：加急。
                  1. 紧急：有安全隐患，或停水、停电、电梯停运
                  2. ✓ 加急：请当天处理
                  3. 一般：几天内处理即可"""),
            ("2", """
                请先自查：水槽下方的阀门或入户总阀是否完全打开？如果漏水，可先关闭阀门止水，等待维修师傅上门。如果停水，可以问问邻居家是否也停水。
                  1. ✅ 我已自行解决
                  2. 🔧 仍未修好，请派人上门"""),
            ("2", """
                请核对您的报修信息：
                地点：1-1-1201
                问题描述：1-1-1201 厨房漏水
                类型：给排水（漏水、水管、下水道）
                紧急程度：加急
                  1. ✅ 提交
                  2. ✏️ 修改信息
                  3. ✖️ 取消"""),
            ("1", f"""
                ✅ 报修已提交，工单号：{NUMBER}
                加急：我们将在1小时内响应。"""),
        ])  # fmt: skip
        not_hers = f"I can't find a ticket {NUMBER} of yours. Send /tickets to see them."
        emily.run([(f"/{command} {NUMBER}", not_hers) for command in ("status", "withdraw", "chase")])
        (ticket,) = stored(desk)
        assert ticket.status is Status.ASSIGNED and "chase" not in [e.action for e in ticket.history]

    def test_a_dispatched_ticket_shows_its_technician(self, emily: Chat) -> None:
        report_a_crack(emily)
        emily.run([
            (f"/status {NUMBER}", f"""
                {NUMBER} · Building (walls, doors, windows)
                Status: a technician has been assigned
                Place: 3-1-2302
                Problem: crack in the wall of 3-1-2302
                Reported: 2026-11-27 10:31
                Technician: Li Wei
                  1. ⏰ Chase
                  2. ✖️ Withdraw"""),
        ])  # fmt: skip

    def test_a_detail_and_a_photo_added_to_a_report_reach_its_technician(self, emily: Chat, desk: Desk) -> None:
        from core.domain.model import Attachment

        report_a_crack(emily)
        emily.run([
            (f"/add {NUMBER}", f"What would you like to add to {NUMBER}? Write it, or send a photo."),
            ("it is getting wider, about 2 cm now", f"Added to {NUMBER}; Li Wei is told."),
            (f"/add {NUMBER[:-1]}9", f"I can't find a ticket {NUMBER[:-1]}9 of yours. Send /tickets to see them."),
            (f"/add {NUMBER}", f"What would you like to add to {NUMBER}? Write it, or send a photo."),
        ])  # fmt: skip
        voice = Attachment("voice", "attachments/telegram/note.ogg", "")
        assert emily.says("", attachments=(voice,)) == replies(  # a voice note alone is not kept: words, please
            "I can only read words here. Please answer in a few words, or tap a choice.",
            f"What would you like to add to {NUMBER}? Write it, or send a photo.",
        )
        photo = Attachment("photo", "attachments/telegram/wider.jpg", "")
        assert emily.says("", attachments=(photo,)) == f"Added to {NUMBER}; Li Wei is told."
        (ticket,) = stored(desk)
        assert [e.details for e in ticket.history if e.action == "note"] == [
            {"added": "it is getting wider, about 2 cm now", "photos": 0}, {"added": "", "photos": 1},
        ]  # fmt: skip
        assert [a.ref for a in ticket.attachments] == ["attachments/telegram/wider.jpg"]
        with desk.uow as uow:  # 李伟 is told on Telegram, where this desk reaches him
            pushed = [m.payload["text"] for m in uow.outbox.due(emily.now + timedelta(days=1), recipient="5001")]
        assert pushed[-2:] == [f"📎 {NUMBER}：住户补充：\nit is getting wider, about 2 cm now",
                               f"📎 {NUMBER}：住户补充：\n📷 照片：1 张"]  # fmt: skip

    def test_a_reply_to_a_reports_confirmation_adds_to_it_and_to_nothing_else(self, emily: Chat, desk: Desk) -> None:
        report_a_crack(emily)
        confirmation = f"✅ Your report is in. Ticket number: {NUMBER}"
        assert emily.says("it is getting wider", replying_to=confirmation) == f"Added to {NUMBER}; Li Wei is told."
        other = "✅ Your report is in. Ticket number: SG-20261127-0099"  # not a report of hers: an ordinary message
        assert emily.says("thanks", replying_to=other).startswith("Hello Emily!")
        (ticket,) = stored(desk)
        assert [e.details.get("added") for e in ticket.history if e.action == "note"] == ["it is getting wider"]

    def test_a_dispatched_ticket_can_be_withdrawn_soon_after_and_its_technician_is_told(
        self, emily: Chat, desk: Desk
    ) -> None:
        report_a_crack(emily)
        emily.wait(9)
        emily.run([(f"/withdraw {NUMBER}", f"{NUMBER} is withdrawn. Nobody will be sent.")])
        assert stored(desk)[0].status is Status.CANCELLED
        with desk.uow as uow:  # 李伟 is told on Telegram, where this desk reaches him
            pushed = [m.payload["text"] for m in uow.outbox.due(emily.now + timedelta(days=1), recipient="5001")]
        assert pushed[-1] == f"✖️ {NUMBER} 已取消。"

    def test_a_dispatched_ticket_later_is_for_the_front_desk_whose_number_is_given(
        self, emily: Chat, desk: Desk
    ) -> None:
        report_a_crack(emily)
        emily.wait(11)
        emily.run([
            (f"/withdraw {NUMBER}", f"{NUMBER} can't be withdrawn here: its status is “a technician has been assigned”. Please call the front desk: 0755-8600 1234."),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.ASSIGNED


class TestAnywhere:
    def test_help_in_the_middle_answers_then_resumes(self, emily: Chat) -> None:
        emily.run([
            ("1", WHERE),
            ("/help", replies(HELP, "Let's continue your report.", WHERE)),
            ("1", WHAT),
        ])  # fmt: skip

    def test_my_tickets_in_the_middle_answers_first_then_resumes(self, emily: Chat) -> None:
        emily.run([
            ("1", WHERE),
            ("/tickets", replies(lines("You have no open tickets.", choices("🔧 Report a repair")),
                                 "Let's continue your report.", WHERE)),
        ])  # fmt: skip

    def test_cancel_drops_the_draft_and_says_so(self, emily: Chat) -> None:
        emily.run([
            ("/cancel", lines("There is nothing to cancel.", MENU)),
            ("1", WHERE),
            ("/cancel", lines("Report discarded; nothing was sent.", MENU)),
            ("1", WHERE),
        ])  # fmt: skip

    def test_a_draft_idle_for_half_an_hour_is_dropped_politely(self, emily: Chat) -> None:
        emily.run([("1", WHERE), ("1", WHAT)])
        emily.wait(31)
        emily.run([
            ("the tap drips", replies("Your unfinished report from earlier was dropped after 30 minutes without an answer.", WHERE)),
        ])  # fmt: skip

    def test_a_draft_within_half_an_hour_is_kept(self, emily: Chat) -> None:
        emily.run([("1", WHERE), ("1", WHAT)])
        emily.wait(29)
        emily.run([("the tap drips", SUGGEST_NORMAL)])

    def test_long_text_is_cut_with_a_note(self, emily: Chat, desk: Desk) -> None:
        long = "the tap drips " + "x" * 3000
        kept = long[:2000]
        emily.run([
            ("1", WHERE),
            ("1", WHAT),
            (long, replies("Your message was long; I kept the first 2,000 characters.", SUGGEST_NORMAL)),
            ("normal", VALVE_CHECK),
            ("still broken", lines("Please check your report:", "Place: 3-1-2302", f"Problem: {kept}",
                                   "Type: Plumbing (water, pipes, drains)", "Urgency: Normal", SUBMIT)),
            ("1", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Normal: we will respond within 4 hours."""),
        ])  # fmt: skip
        assert stored(desk)[0].description == kept

    @pytest.mark.parametrize("nothing", ["", "   ", "👍", "🙂🙂", "…"])
    def test_empty_or_emoji_only_gets_a_friendly_prompt_and_the_question_again(self, emily: Chat, nothing: str) -> None:
        emily.run([
            ("1", WHERE),
            ("1", WHAT),
            (nothing, replies("I can only read words here. Please answer in a few words, or tap a choice.", WHAT)),
        ])  # fmt: skip

    def test_a_sticker_or_nothing_at_the_start_gets_the_menu(self, emily: Chat) -> None:
        emily.run([
            ("", replies("Hello! Tell me in a few words what is wrong, or pick from the menu.",
                         lines("What can I do for you?", MENU))),
        ])  # fmt: skip

    def test_a_stale_button_is_explained(self, emily: Chat) -> None:
        emily.run([("hello", lines(HELLO, MENU)), (Press("Report a repair"), WHERE)])
        assert_answer(
            emily.says(payload=encode(Pick("menu", "feedback"))),
            replies("That button belongs to an earlier question.", WHERE),
        )

    def test_a_button_from_an_older_baoxiu_is_answered_and_the_question_asked_again(self, emily: Chat) -> None:
        emily.run([("hello", lines(HELLO, MENU)), (Press("Report a repair"), WHERE)])
        assert_answer(
            emily.says(payload="menu:feedback"),
            replies("That button is from an older message and no longer works.", WHERE),
        )

    def test_an_unknown_command_points_to_help(self, emily: Chat) -> None:
        emily.run([
            ("/frobnicate", replies("I don't know the command /frobnicate. Send /help to see what I can do.",
                                    lines("What can I do for you?", MENU))),
        ])  # fmt: skip

    def test_commands_without_a_number_show_an_example(self, emily: Chat) -> None:
        emily.run([
            ("/status", replies("Please add the ticket number, for example: /status SG-20261127-0001",
                                lines("What can I do for you?", MENU))),
        ])  # fmt: skip


class TestUnknownPeople:
    def test_a_stranger_may_report_and_the_ticket_is_unverified(self, desk: Desk) -> None:
        stranger = Chat(desk, "visitor-42", language_hint="en-GB")
        stranger.run([
            ("the gate of building 1 is broken", """
                Where is the problem? Type the room or the place.
                For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage)."""),
            ("1-1-1201", SUGGEST_NORMAL),
            ("urgent", lines("""
                Please check your report:
                Place: 1-1-1201
                Problem: the gate of building 1 is broken
                Type: Building (walls, doors, windows)
                Urgency: Urgent""", SUBMIT)),
            ("1", f"""
                ✅ Your report is in. Ticket number: {NUMBER}
                Urgent: we will respond within 1 hour."""),
            ("/tickets", f"""
                Your open tickets:
                • {NUMBER} · Building (walls, doors, windows) · a technician has been assigned
                  1. {NUMBER}"""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert not ticket.verified and ticket.reporter_resident_id is None
        assert ticket.reporter_address == Address("console", "visitor-42")


def test_a_number_that_is_not_among_the_choices_is_asked_again(emily: Chat) -> None:
    emily.run([
        ("I want to complain: the guard was rude", PLACE_OR_THING),
        ("2", replies("Please pick a number from 1 to 1.", PLACE_OR_THING)),
        ("skip", SHOW_NAME),
    ])  # fmt: skip


def test_a_piped_console_session_starts_afresh(desk: Desk) -> None:
    emily = Chat(desk, "Emily Brown")
    emily.run([("kitchen pipe leaking in 3-1-2302", SUGGEST_URGENT)])  # left unfinished, as a script that stopped early
    output = io.StringIO()
    ConsoleChat(desk, "Emily Brown", output, interactive=False, clock=lambda: emily.now).run(
        ["the bedroom light is broken"]
    )
    # The script's line starts a report of its own: it is not taken as the answer to the old urgency question.
    assert_answer(output.getvalue(), lines("» the bedroom light is broken", WHERE) + "\n\n")


def test_a_report_waiting_to_join_a_ticket_that_closed_meanwhile_goes_on_as_its_own(desk: Desk, emily: Chat) -> None:
    from core.domain.lifecycle import Action
    from core.domain.model import Actor
    from core.services.tickets import find_ticket

    Chat(desk, "张三 Zhang San").run([
        ("车库的灯坏了", """
            情况有多紧急？建议选择：一般。
              1. 紧急：有安全隐患，或停水、停电、电梯停运
              2. 加急：请当天处理
              3. ✓ 一般：几天内处理即可"""),
        ("一般", """
            请核对您的报修信息：
            地点：地下车库
            问题描述：车库的灯坏了
            类型：电路（停电、灯具、插座）
            紧急程度：一般
              1. ✅ 提交
              2. ✏️ 修改信息
              3. ✖️ 取消"""),
        ("1", f"""
            ✅ 报修已提交，工单号：{NUMBER}
            一般：我们将在4小时内响应。"""),
    ])  # fmt: skip
    emily.run([
        ("the garage light is broken", f"""
            {NUMBER} is already open for this: Electrical (power, lights, sockets) at Underground garage, reported by 1 resident. Join it to get its updates, instead of a new report?
              1. 👍 Join it
              2. New report"""),
    ])  # fmt: skip
    desk.act(emily.now, lambda work: work.change(find_ticket(work.uow, NUMBER, True), Action.CANCEL,
                                                 Actor("staff", "陈静")))  # fmt: skip
    emily.run([("/help", replies(HELP, "Let's continue your report.", SUGGEST_NORMAL))])


def test_a_ticket_joined_is_in_the_residents_tickets_to_see_and_chase_but_not_to_withdraw(
    desk: Desk, emily: Chat
) -> None:
    zhang = Chat(desk, "张三 Zhang San")
    for says in ("车库的灯坏了", "一般", "1"):
        zhang.says(says)
    emily.says("the garage light is broken")
    emily.run([
        ("1", f"You have joined {NUMBER}; 2 residents reported this fault. We'll tell you when it is fixed."),
        ("/tickets", lines(f"""
            Your open tickets:
            • {NUMBER} · Electrical (power, lights, sockets) · a technician has been assigned""", choices(NUMBER))),
        (Press(NUMBER), lines(f"""
            {NUMBER} · Electrical (power, lights, sockets)
            Status: a technician has been assigned
            Place: Underground garage
            Problem: 车库的灯坏了
            Reported: 2026-11-27 10:31
            Technician: Wang Fang""", choices("⏰ Chase"))),
        (f"/withdraw {NUMBER}", f"I can't find a ticket {NUMBER} of yours. Send /tickets to see them."),
        (f"/chase {NUMBER}", f"We've reminded the team about {NUMBER}. Thank you for your patience."),
    ])  # fmt: skip
    assert stored(desk)[0].status is Status.ASSIGNED


def test_a_patrol_finding_joined_by_one_resident_is_reported_by_one_resident(desk: Desk, emily: Chat) -> None:
    from core.domain.model import Actor, Location, Source, TicketKind, Urgency
    from core.domain.tickets import TicketDraft
    from core.services.tickets import open_ticket

    draft = TicketDraft(kind=TicketKind.REPAIR, source=Source.PATROL, location=Location(common_area="地下车库 Underground garage"),
                        category="electrical", description="B1 区两盏灯不亮", urgency=Urgency.NORMAL,
                        reporter="")  # fmt: skip
    desk.act(emily.now, lambda work: open_ticket(work, draft, Actor("staff", "赵强 Zhao Qiang")))
    emily.run([
        ("the garage light is broken", f"""
            {NUMBER} is already open for this: Electrical (power, lights, sockets) at Underground garage, found by our staff. Join it to get its updates, instead of a new report?
              1. 👍 Join it
              2. New report"""),
        ("1", f"You have joined {NUMBER}, which our staff found; we'll tell you when it is fixed."),
    ])  # fmt: skip
    assert stored(desk)[0].reporters == 1


def test_ticket_details_asked_for_in_a_group_are_answered_privately(desk: Desk, emily: Chat) -> None:
    from core.conversation.messages import ChatKind

    report_a_crack(emily)
    in_group = Chat(desk, "Emily Brown", chat="console:group", chat_kind=ChatKind.GROUP)
    in_group.says(f"/status {NUMBER}")
    note, details = in_group.last
    assert (note.text, note.choices, note.recipient) == ("I've sent you the answer in a private chat.", (), None)
    assert details.recipient == "Emily Brown"
    assert_answer(details.text, f"""
        {NUMBER} · Building (walls, doors, windows)
        Status: a technician has been assigned
        Place: 3-1-2302
        Problem: crack in the wall of 3-1-2302
        Reported: 2026-11-27 10:31
        Technician: Li Wei""")  # fmt: skip
    assert [c.label for c in details.choices] == ["⏰ Chase", "✖️ Withdraw"]  # within minutes of reporting


def test_in_a_group_nothing_is_said_to_customer_service_and_a_person_is_asked_for_in_private(
    desk: Desk, emily: Chat
) -> None:
    from core.conversation.messages import ChatKind

    emily.says("agent")  # a conversation with customer service is open in her private chat
    in_group = Chat(desk, "Emily Brown", chat="console:group", chat_kind=ChatKind.GROUP)
    assert in_group.says("agent") == "To talk to a person, write to me in a private chat."
    assert in_group.says("the lift in building 3 is stuck").startswith("How urgent is it?")  # a report, not a relay
    (chat,) = [t for t in stored(desk) if t.is_chat]
    assert [e for e in chat.history if "added" in e.details] == []  # nothing from the group reached it


class TestTypedAnswers:
    """On WeChat every answer is typed: each choice by its words as well as its number."""

    def test_part_of_a_label_and_the_words_people_use_pick_the_choice(self, emily: Chat, desk: Desk) -> None:
        read_back = lines("""
            Please check your report:
            Place: 3-1-2302
            Problem: kitchen pipe leaking
            Type: Plumbing (water, pipes, drains)
            Urgency: Urgent""", SUBMIT)  # fmt: skip
        emily.run([
            ("kitchen pipe leaking", WHERE),
            ("3-1-2302", SUGGEST_URGENT),
            ("today, please", VALVE_CHECK),
            ("send someone", read_back),
            ("change something", """
                What would you like to change?
                  1. Place
                  2. Problem
                  3. Type
                  4. Urgency"""),
            ("never mind", lines("Report discarded; nothing was sent.", MENU)),
        ])  # fmt: skip
        assert stored(desk) == []
