"""The intake dialogue in Chinese, as transcripts: 张三 (1-1-1201) talks to the desk in his language."""

from __future__ import annotations

import pytest

from core.desk import Desk
from core.domain.model import Status
from tests.chat import Chat, assert_says, stored

TODAY = "SG-20261127"


@pytest.fixture
def zhang(desk: Desk) -> Chat:
    return Chat(desk, "张三 Zhang San")


class TestRepair:
    def test_a_leak_reported_from_the_menu(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("你好", """
                张三，您好！这里是阳光花园 Sunrise Garden物业报修服务台。
                请问有什么可以帮您？
                1. 🔧 我要报修
                2. 💬 意见或投诉
                3. 📋 我的工单"""),
            ("报修", """
                问题在哪里？请点击您的房屋，或输入具体地点。
                1. 1-1-1201
                2. 其他地点"""),
            ("1", "遇到了什么问题？"),
            ("厨房水管漏水", """
                情况有多紧急？建议选择：加急。
                1. ✓ 加急：请当天处理"""),
            ("加急", """
                请先自查
                1. ✅
                2. 🔧"""),
            ("2", """
                请核对您的报修信息：
                地点：1-1-1201
                问题描述：厨房水管漏水
                类型：给排水
                紧急程度：加急
                1. ✅ 提交"""),
            ("确认", f"✅ 报修已提交，工单号：{TODAY}-0001"),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.location.room, ticket.category, ticket.urgency) == ("1-1-1201", "plumbing", "urgent")

    def test_people_trapped_in_a_lift_is_an_emergency_in_two_messages(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("3号楼电梯坏了有人被困", """
                地点：3号楼电梯 Building 3 lifts
                类型：电梯
                紧急程度：紧急
                因您提到“被困”，已保留为紧急。"""),
            ("1", f"工单号：{TODAY}-0001\n紧急：我们将在15分钟内响应。\n拨打119"),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert (ticket.category, ticket.urgency, ticket.location.common_area) == (
            "lift",
            "emergency",
            "3号楼电梯 Building 3 lifts",
        )

    @pytest.mark.parametrize(
        "message", ["家里停电了", "没水了", "燃气泄漏有味道", "厨房着火了", "楼道里在冒烟", "水漫到楼下了"]
    )
    def test_seed_emergencies_in_chinese(self, zhang: Chat, message: str) -> None:
        answer = zhang.says(message)
        if "问题在哪里" in answer:
            answer = zhang.says("1")
        assert "建议选择：紧急" in answer or "已保留为紧急" in answer

    def test_fixed_by_the_self_check(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("1-1-1201 跳闸了", "情况有多紧急？"),
            ("3", "请先自查：打开家中的配电箱"),
            ("修好了", f"太好了，已经恢复正常！已记录为 {TODAY}-0001（已自行解决），不会再派维修师傅上门。"),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.CLOSED

    def test_unknown_places_in_chinese_then_taken_as_written(self, zhang: Chat) -> None:
        zhang.run([
            ("报修", "问题在哪里"),
            ("9号楼", "抱歉，没能识别这个地点。\n问题在哪里"),
            ("9-1-101", "在阳光花园 Sunrise Garden没有找到 9-1-101。"),
            ("小区东门口", "将按您填写的地点“小区东门口”转交，工作人员会进行核实。\n遇到了什么问题？"),
        ])  # fmt: skip

    def test_a_room_without_its_unit(self, zhang: Chat) -> None:
        zhang.run(
            [
                ("报修", "问题在哪里"),
                ("1号楼1502", "请问是哪一户？\n1. 1-1-1502\n2. 1-2-1502"),
                ("1", "遇到了什么问题？"),
            ]
        )


class TestFeedback:
    def test_an_anonymous_complaint(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("我要投诉", "您要反馈哪方面的问题？\n1. 服务质量"),
            ("3", "请写下您的意见或建议"),
            ("楼道垃圾三天没人清理", "是否涉及具体的地点或物品？\n1. 跳过"),
            ("跳过", "是否向工作人员显示您的姓名？\n1. 显示姓名\n2. 匿名"),
            ("匿名", "请核对您的反馈内容：\n反馈类型：保洁卫生\n向工作人员显示姓名：否，匿名"),
            ("提交", f"编号 {TODAY}-0001\n您的姓名不会向工作人员显示。"),
        ])  # fmt: skip
        (ticket,) = stored(desk)
        assert ticket.anonymous and ticket.department == "环境部 Cleaning"

    def test_a_police_matter_is_pointed_to_110_and_recorded(self, zhang: Chat, desk: Desk) -> None:
        zhang.run([
            ("投诉", "您要反馈哪方面的问题？"),
            ("其他", "请写下您的意见或建议"),
            ("楼上邻居打架了", "感谢您的反映。此事不在物业的处理范围内：\n纠纷和违法犯罪问题请报警处理：拨打110。"),
        ])  # fmt: skip
        assert stored(desk)[0].status is Status.CLOSED


class TestLanguage:
    def test_switching_language_in_the_middle_asks_the_same_question_in_english(self, zhang: Chat) -> None:
        zhang.run([
            ("报修", "问题在哪里"),
            ("/lang", "请选择语言 / Choose your language\n1. 中文\n2. English"),
            ("English", "I'll talk to you in English from now on.\nWhere is the problem?"),
            ("1", "What is wrong?"),
        ])  # fmt: skip

    def test_the_choice_of_language_is_remembered(self, desk: Desk, zhang: Chat) -> None:
        zhang.run([("/lang", "English"), ("2", "I'll talk to you in English from now on.")])
        again = Chat(desk, "张三 Zhang San")
        assert_says(again.says("/start"), "Hello 张三! This is the 阳光花园 Sunrise Garden repair desk.")

    def test_a_stranger_gets_the_language_of_their_app(self, desk: Desk) -> None:
        assert_says(Chat(desk, "guest", language_hint="en-US").says("hi"), "Hello! This is the")
        assert_says(Chat(desk, "访客", language_hint="zh-hans").says("hi"), "您好！这里是")
        assert_says(Chat(desk, "visiteur", language_hint="fr").says("hi"), "您好！这里是")  # the estate's default

    def test_bad_input_is_answered_in_chinese(self, zhang: Chat) -> None:
        zhang.run([
            ("报修", "问题在哪里"),
            ("1", "遇到了什么问题？"),
            ("👍👍", "这里只能识别文字。请用几句话回复，或点击下方选项。\n遇到了什么问题？"),
            ("/help", "我们继续填写您的报修。\n遇到了什么问题？"),
            ("水龙头" + "滴" * 2500, "您的消息较长，已保留前2000字。"),
        ])  # fmt: skip
