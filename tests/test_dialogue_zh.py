"""The intake dialogue in Chinese, as transcripts: 张三 (1-1-1201) talks to the desk in his language.

Each row is what 张三 says and the bot's whole answer, as the console shows it: Chinese throughout, but for the
estate's own bilingual names (阳光花园 Sunrise Garden, 环境部 Cleaning) and what 张三 wrote himself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.desk import Desk
from core.domain.model import Status
from tests.chat import Chat, block, choices, lines, replies, stored
from tests.conftest import NOW

TODAY = "SG-20261127"
NUMBER = f"{TODAY}-0001"

MENU = choices("🔧 我要报修", "💬 意见或投诉", "📋 我的工单", "❓ 帮助", "🌐 中文 / English")
SUBMIT = choices("✅ 提交", "✏️ 修改信息", "✖️ 取消")
WHERE = block("""
    问题在哪里？请点击您的房屋，或输入具体地点。
    例如：1-1-1201、1栋1单元1201，或车库等公共区域。
      1. 1-1-1201
      2. 其他地点""")
WHAT = "遇到了什么问题？请简单描述一下，附上照片会更好。"
# One fixed order (紧急, 加急, 一般), so that a number means the same in every report; the proposal is ticked.
SUGGEST_EMERGENCY = block("""
    情况有多紧急？建议选择：紧急。
      1. ✓ 紧急：有安全隐患，或停水、停电、电梯停运
      2. 加急：请当天处理
      3. 一般：几天内处理即可""")
SUGGEST_URGENT = block("""
    情况有多紧急？建议选择：加急。
      1. 紧急：有安全隐患，或停水、停电、电梯停运
      2. ✓ 加急：请当天处理
      3. 一般：几天内处理即可""")
SUGGEST_NORMAL = block("""
    情况有多紧急？建议选择：一般。
      1. 紧急：有安全隐患，或停水、停电、电梯停运
      2. 加急：请当天处理
      3. ✓ 一般：几天内处理即可""")
FEEDBACK_ABOUT = block("""
    您要反馈哪方面的问题？
      1. 服务质量
      2. 公共设施
      3. 保洁卫生
      4. 安保秩序
      5. 社区生活
      6. 其他""")
HELP = block("""
    我负责受理阳光花园的报修和意见反馈。
    • 用一条消息描述故障即可，例如“1-1-1201厨房水管漏水”，其余信息我会再问您。
    • /tickets：查看未完结的工单 · /status 工单号：查看单个工单
    • /withdraw 工单号：撤回尚未处理的报修 · /chase 工单号：催单
    • /add 工单号：为已提交的报修补充说明或照片
    • /cancel：放弃正在填写的报修 · /lang：中文 / English · /start：主菜单""")
HELLO = "张三，您好！这里是阳光花园物业报修服务台。\n请问有什么可以帮您？"


@pytest.fixture
def zhang(desk: Desk) -> Chat:
    return Chat(desk, "张三 Zhang San")


def report_a_crack(zhang: Chat) -> None:
    zhang.run([
        ("1-1-1201 墙面裂缝", SUGGEST_NORMAL),
        ("一般", lines("""
            请核对您的报修信息：
            地点：1-1-1201
            问题描述：1-1-1201 墙面裂缝
            类型：房屋土建（墙面、门、窗）
            紧急程度：一般""", SUBMIT)),
        ("1", f"""
            ✅ 报修已提交，工单号：{NUMBER}
            一般：我们将在4小时内响应。"""),
    ])  # fmt: skip


def unknown_place(place: str) -> str:
    return lines(f"""
        抱歉，没有找到地点“{place}”。
        可以就按您写的提交（由员工核实），也可以选择公共区域，或重新输入地点。""",
        choices(f"✍️ 就用“{place}”", "地下车库", "3号楼电梯"))  # fmt: skip


class TestRepair:
    def test_a_leak_reported_from_the_menu(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("你好", lines(HELLO, MENU)),
            ("报修", WHERE),
            ("1", WHAT),
            ("厨房水管漏水", SUGGEST_URGENT),
            ("加急", """
                请先自查：水槽下方的阀门或入户总阀是否完全打开？如果漏水，可先关闭阀门止水，等待维修师傅上门。如果停水，可以问问邻居家是否也停水。
                  1. ✅ 我已自行解决
                  2. 🔧 仍未修好，请派人上门"""),
            ("2", lines("""
                请核对您的报修信息：
                地点：1-1-1201
                问题描述：厨房水管漏水
                类型：给排水（漏水、水管、下水道）
                紧急程度：加急""", SUBMIT)),
            ("确认", f"""
                ✅ 报修已提交，工单号：{NUMBER}
                加急：我们将在1小时内响应。"""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.location.room, ticket.category, ticket.urgency) == ("1-1-1201", "plumbing", "urgent")

    def test_people_trapped_in_a_lift_is_an_emergency_in_two_messages(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("3号楼电梯坏了有人被困", lines("""
                请核对您的报修信息：
                地点：3号楼电梯
                问题描述：3号楼电梯坏了有人被困
                类型：电梯
                紧急程度：紧急
                因您提到“被困”，已保留为紧急。""", SUBMIT)),
            ("1", f"""
                ✅ 报修已提交，工单号：{NUMBER}
                紧急：我们将在15分钟内响应。
                如有人员处于危险中，请立即离开现场，并拨打119（火警）或110（报警）。"""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.category, ticket.urgency, ticket.location.common_area) == (
            "lift",
            "emergency",
            "3号楼电梯 Building 3 lifts",
        )

    @pytest.mark.parametrize("message", ["家里停电了", "没水了", "水漫到楼下了"])
    def test_seed_emergencies_in_chinese_are_proposed_as_emergencies(self, zhang: Chat, message: str) -> None:
        zhang.run([(message, WHERE), ("1", SUGGEST_EMERGENCY)])

    @pytest.mark.parametrize(
        ("message", "word"), [("燃气泄漏有味道", "燃气泄漏"), ("厨房着火了", "着火"), ("楼道里在冒烟", "冒烟")]
    )
    def test_a_safety_word_in_chinese_skips_the_urgency_question(self, zhang: Chat, message: str, word: str) -> None:
        zhang.run([
            (message, WHERE),
            ("1", lines("请核对您的报修信息：", "地点：1-1-1201", f"问题描述：{message}", "类型：消防安全",
                        "紧急程度：紧急", f"因您提到“{word}”，已保留为紧急。", SUBMIT)),
        ])  # fmt: skip

    def test_fixed_by_the_self_check(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("1-1-1201 跳闸了", SUGGEST_URGENT),
            ("一般", """
                请先自查：打开家中的配电箱，是否有空气开关朝下（已跳闸）？可将它推上去一次。如果马上又跳闸，请保持断开，不要再次尝试。
                  1. ✅ 我已自行解决
                  2. 🔧 仍未修好，请派人上门"""),
            ("修好了", f"太好了，已经恢复正常！已记录为 {NUMBER}（已自行解决），不会再派维修师傅上门。"),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.CLOSED

    def test_unknown_places_in_chinese_then_taken_as_written(self, zhang: Chat) -> None:
        def unknown(said: str, place: str) -> str:
            return lines(f"""
                {said}
                可以就按您写的提交（由员工核实），也可以选择公共区域，或重新输入地点。""",
                choices(f"✍️ 就用“{place}”", "地下车库", "3号楼电梯"))  # fmt: skip

        zhang.run([
            ("报修", WHERE),
            ("9号楼", unknown("抱歉，没有找到地点“9号楼”。", "9号楼")),
            ("9-1-101", unknown("在阳光花园没有找到 9-1-101。", "9-1-101")),
            ("小区东门口", unknown("抱歉，没有找到地点“小区东门口”。", "小区东门口")),
            ("就用", WHAT),
        ])  # fmt: skip

    def test_the_problem_told_at_the_place_question_is_kept_and_the_place_asked_again(self, zhang: Chat) -> None:
        zhang.run([
            ("报修", WHERE),
            ("卫生间天花板一直往下滴水 楼上没人", replies("问题已记下。", WHERE)),
            ("1", """
                情况有多紧急？建议选择：紧急。
                  1. ✓ 紧急：有安全隐患，或停水、停电、电梯停运
                  2. 加急：请当天处理
                  3. 一般：几天内处理即可"""),
            # water from upstairs is not a valve of theirs to check, even called "normal"
            ("一般", lines("""
                请核对您的报修信息：
                地点：1-1-1201
                问题描述：卫生间天花板一直往下滴水 楼上没人
                类型：给排水（漏水、水管、下水道）
                紧急程度：一般""", choices("✅ 提交", "✏️ 修改信息", "✖️ 取消"))),
        ])  # fmt: skip

    def test_use_it_as_written_in_the_words_people_type(self, zhang: Chat) -> None:
        zhang.run([("报修", WHERE), ("东门岗亭", unknown_place("东门岗亭")), ("就用这个地址", WHAT)])

    def test_a_gas_bill_is_for_the_gas_company_not_a_fire_safety_emergency(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("燃气费账单不对", """
                感谢您的反映。此事不在物业的处理范围内：
                燃气费、电费的账单和充值由燃气公司、供电公司负责：请拨打账单或卡片上的服务电话。
                您的留言已记录，编号 SG-20261127-0001。"""),
        ])  # fmt: skip
        assert [(t.kind, t.urgency, t.status) for t in stored(desk)] == [("feedback", "normal", "closed")]

    def test_an_unknown_room_in_the_first_message_is_explained_and_a_shared_place_picked_by_its_alias(
        self, zhang: Chat
    ) -> None:
        zhang.run([
            ("9-9-9999 厨房漏水", replies("在阳光花园没有找到 9-9-9999。", WHERE)),
            ("东门岗亭", unknown_place("东门岗亭")),
            ("车库", SUGGEST_URGENT),
        ])  # fmt: skip

    def test_a_room_without_its_unit(self, zhang: Chat) -> None:
        zhang.run([
            ("报修", WHERE),
            ("1号楼1502", """
                请问是哪一户？
                  1. 1-1-1502
                  2. 1-2-1502"""),
            ("1", WHAT),
        ])  # fmt: skip


PLACE_OR_THING = lines("是否涉及具体的地点或物品？请输入，或点击跳过。", choices("跳过"))
SHOW_NAME = block("""
    是否向工作人员显示您的姓名？匿名反馈同样会在这里收到回复。
      1. 显示姓名
      2. 匿名""")


class TestFeedback:
    def test_a_complaint_said_straight_out_keeps_its_words(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("楼上邻居半夜噪音太大了", PLACE_OR_THING),
            ("跳过", SHOW_NAME),
            ("显示姓名", lines("""
                请核对您的反馈内容：
                反馈类型：社区生活
                反馈内容：楼上邻居半夜噪音太大了
                地点或物品：（无）
                向工作人员显示姓名：是""", SUBMIT)),
        ])  # fmt: skip

    def test_an_anonymous_complaint(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("我要投诉", FEEDBACK_ABOUT),
            ("3", "请写下您的意见或建议，也欢迎附上照片。"),
            ("楼道垃圾三天没人清理", PLACE_OR_THING),
            ("跳过", SHOW_NAME),
            ("匿名", lines("""
                请核对您的反馈内容：
                反馈类型：保洁卫生
                反馈内容：楼道垃圾三天没人清理
                地点或物品：（无）
                向工作人员显示姓名：否，匿名""", SUBMIT)),
            ("提交", f"""
                谢谢！您的反馈已记录，编号 {NUMBER}。
                环境部将在4小时内在这里回复您。
                您的姓名不会向工作人员显示。"""),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.anonymous and ticket.department == "环境部 Cleaning"

    def test_a_police_matter_is_pointed_to_110_and_recorded(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("投诉", FEEDBACK_ABOUT),
            ("其他", "请写下您的意见或建议，也欢迎附上照片。"),
            ("楼上邻居打架了", f"""
                感谢您的反映。此事不在物业的处理范围内：
                纠纷和违法犯罪问题请报警处理：拨打110。如遇危险，请立即拨打110。
                您的留言已记录，编号 {NUMBER}。"""),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.CLOSED


class TestMyTickets:
    def test_list_show_chase_and_withdraw(self, zhang: Chat, desk: Desk) -> None:
        zhang.now = NOW + timedelta(hours=9)  # Friday evening: the builder is off, the ticket waits in the pool
        report_a_crack(zhang)
        zhang.run([
            ("/tickets", f"""
                您未完结的工单：
                • {NUMBER} · 房屋土建（墙面、门、窗） · 已受理，等待派单
                  1. {NUMBER}"""),
            (f"/status {NUMBER}", f"""
                {NUMBER} · 房屋土建（墙面、门、窗）
                状态：已受理，等待派单
                地点：1-1-1201
                问题描述：1-1-1201 墙面裂缝
                报修时间：2026-11-27 19:31
                我们将在 2026-11-27 23:31 前响应。
                  1. ⏰ 催单
                  2. ✖️ 撤回"""),
            (f"/chase {NUMBER}", f"已为您催办工单 {NUMBER}，感谢您的耐心等待。"),
            (f"/chase {NUMBER}", f"您已于 19:32 催办过工单 {NUMBER}，20:32 后可再次催单。"),
            (f"/withdraw {NUMBER}", f"工单 {NUMBER} 已撤回，不会再派人上门。"),
            ("/tickets", lines("您目前没有未完结的工单。", choices("🔧 我要报修"))),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.CANCELLED

    def test_a_dispatched_ticket_withdrawn_in_the_first_minutes_is_told_to_its_technician(
        self, zhang: Chat, desk: Desk
    ) -> None:
        """张三 is resident 1 and 李伟 staff 1: the one who withdraws is not taken for the technician."""
        li = Chat(desk, "李伟 Li Wei", clock=zhang.clock)
        report_a_crack(zhang)
        li.inbox()
        zhang.run([(f"/withdraw {NUMBER}", f"工单 {NUMBER} 已撤回，不会再派人上门。")])
        assert li.inbox() == f"✖️ {NUMBER} 已取消。"

    def test_a_dispatched_ticket_past_the_first_minutes_is_for_the_front_desk(self, zhang: Chat, desk: Desk) -> None:
        report_a_crack(zhang)  # Friday morning: 李伟 is on shift and has it
        zhang.wait(11)
        zhang.run([
            (f"/withdraw {NUMBER}",
             f"工单 {NUMBER} 当前状态为“已派单给维修师傅”，无法在这里撤回，请致电物业前台：0755-8600 1234。"),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.ASSIGNED

    def test_my_tickets_in_the_middle_of_a_report_then_the_report_goes_on(self, zhang: Chat) -> None:
        report_a_crack(zhang)
        zhang.run([
            ("报修", WHERE),
            ("/tickets", replies(f"""
                您未完结的工单：
                • {NUMBER} · 房屋土建（墙面、门、窗） · 已派单给维修师傅
                  1. {NUMBER}""", "我们继续填写您的报修。", WHERE)),
            ("1", WHAT),  # a number picks from the last list shown: the question's
        ])  # fmt: skip


class TestLanguage:
    def test_switching_language_in_the_middle_asks_the_same_question_in_english(self, zhang: Chat) -> None:
        zhang.run([
            ("报修", WHERE),
            ("/lang", """
                请选择语言 / Choose your language
                  1. 中文
                  2. English"""),
            ("English", replies("I'll talk to you in English from now on.", """
                Where is the problem? Tap your home, or type the place.
                For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).
                  1. 1-1-1201
                  2. Somewhere else""")),
            ("1", "What is wrong? Describe it in a few words; a photo helps too."),
        ])  # fmt: skip

    def test_the_choice_of_language_is_remembered_and_can_be_taken_back(self, desk: Desk, zhang: Chat) -> None:
        english_menu = choices(
            "🔧 Report a repair", "💬 Feedback or complaint", "📋 My tickets", "❓ Help", "🌐 中文 / English"
        )
        language = lines("请选择语言 / Choose your language", choices("中文", "English"))
        zhang.run([
            ("/lang", language),
            ("2", replies("I'll talk to you in English from now on.", lines("What can I do for you?", english_menu))),
        ])  # fmt: skip
        again = Chat(desk, "张三 Zhang San")
        again.run([
            ("/start", lines("Hello Zhang San! This is the Sunrise Garden repair desk.", "What can I do for you?",
                             english_menu)),
            ("/lang", language),
            ("中文", replies("好的，以后我用中文和您交流。", lines("请问有什么可以帮您？", MENU))),
        ])  # fmt: skip

    def test_a_stranger_gets_the_language_of_their_app(self, desk: Desk) -> None:
        english = lines("Hello! This is the Sunrise Garden repair desk.", "What can I do for you?", choices(
            "🔧 Report a repair", "💬 Feedback or complaint", "📋 My tickets", "❓ Help", "🌐 中文 / English"))  # fmt: skip
        chinese = lines("您好！这里是阳光花园物业报修服务台。", "请问有什么可以帮您？", MENU)
        Chat(desk, "guest", language_hint="en-US").run([("hi", english)])
        Chat(desk, "访客", language_hint="zh-hans").run([("hi", chinese)])
        Chat(desk, "visiteur", language_hint="fr").run([("hi", chinese)])  # the estate's default

    def test_bad_input_is_answered_in_chinese(self, zhang: Chat) -> None:
        zhang.run([
            ("报修", WHERE),
            ("1", WHAT),
            ("👍👍", replies("这里只能识别文字。请用几句话回复，或点击下方选项。", WHAT)),
            ("/help", replies(HELP, "我们继续填写您的报修。", WHAT)),
            ("水龙头" + "滴" * 2500, replies("您的消息较长，已保留前2000字。", SUGGEST_NORMAL)),
            ("/frobnicate", replies("暂不支持指令 /frobnicate。发送 /help 查看我能为您做什么。",
                                    "我们继续填写您的报修。", SUGGEST_NORMAL)),
            ("/cancel", lines("已放弃本次报修，未提交任何内容。", MENU)),
            ("/cancel", lines("当前没有可以取消的内容。", MENU)),
            ("", replies("您好！请简单说说遇到了什么问题，或从菜单中选择。", lines("请问有什么可以帮您？", MENU))),
        ])  # fmt: skip


VALVE_CHECK = block("""
    请先自查：水槽下方的阀门或入户总阀是否完全打开？如果漏水，可先关闭阀门止水，等待维修师傅上门。如果停水，可以问问邻居家是否也停水。
      1. ✅ 我已自行解决
      2. 🔧 仍未修好，请派人上门""")
LEAK_READ_BACK = lines(
    """
    请核对您的报修信息：
    地点：1-1-1201
    问题描述：厨房水管漏水
    类型：给排水（漏水、水管、下水道）
    紧急程度：加急""",
    SUBMIT,
)
DISCARDED = lines("已放弃本次报修，未提交任何内容。", MENU)


class TestTypedAnswers:
    """On WeChat every answer is typed: each choice by its words as well as its number."""

    def test_part_of_a_label_and_the_words_people_use_pick_the_choice(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("厨房水管漏水", WHERE),
            ("1", SUGGEST_URGENT),
            ("加急", VALVE_CHECK),
            ("仍未修好", LEAK_READ_BACK),
            ("修改信息", """
                您想修改哪一项？
                  1. 地点
                  2. 问题描述
                  3. 类型
                  4. 紧急程度"""),
            ("紧急程度", SUGGEST_URGENT),
            ("加急", LEAK_READ_BACK),
            ("取消", DISCARDED),
        ])  # fmt: skip
        assert stored(desk) == []

    @pytest.mark.parametrize("typed", ["我已自行解决", "自己修好了", "好了"])
    def test_fixed_it_myself_in_words(self, zhang: Chat, desk: Desk, typed: str) -> None:
        zhang.run([("厨房水管漏水", WHERE), ("1", SUGGEST_URGENT), ("2", VALVE_CHECK)])
        zhang.run([(typed, f"太好了，已经恢复正常！已记录为 {NUMBER}（已自行解决），不会再派维修师傅上门。")])
        assert [t.status for t in stored(desk)] == [Status.CLOSED]

    @pytest.mark.parametrize("typed", ["算了", "不报了", "取消"])
    def test_letting_go_at_any_question_drops_the_report_and_is_never_taken_as_an_answer(
        self, zhang: Chat, desk: Desk, typed: str
    ) -> None:
        zhang.run([("厨房水管漏水", WHERE), (typed, DISCARDED)])
        zhang.run([("车库的灯坏了", SUGGEST_NORMAL), (typed, DISCARDED)])
        assert stored(desk) == []
