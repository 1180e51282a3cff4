"""Triage as shipped and as configured: what a resident's words say about the trade, the urgency and safety."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, parse_config
from bot.i18n import translator
from core.desk import Desk
from core.domain.model import Urgency
from core.domain.triage import TriageRules
from tests import triage_example
from tests.chat import Chat, stored
from tests.conftest import REPO, desk_on

BAOXIU = Path(sys.executable).parent / "baoxiu"
RULES = TriageRules()
ZH = translator("zh_CN")
EN = translator("en")


def configured(triage: dict[str, Any]) -> TriageRules:
    """The rules a config file with this [triage] section gives."""
    return parse_config({"triage": triage}, environ={}).triage


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# --- category --------------------------------------------------------------------------------------


class TestCategory:
    @pytest.mark.parametrize(
        ("text", "category"),
        [
            ("厨房水管漏水", "plumbing"),
            ("马桶堵了", "plumbing"),
            ("客厅灯不亮", "electrical"),
            ("卧室插座没电", "electrical"),
            ("空调不制冷", "hvac"),
            ("暖气不热", "hvac"),
            ("3号楼电梯坏了", "lift"),
            ("墙面裂缝", "civil"),
            ("窗户关不上", "civil"),
            ("灭火器过期了", "fire_safety"),
            ("smell of gas", "fire_safety"),
            ("toilet is blocked", "plumbing"),
            ("socket sparks", "electrical"),
            ("the elevator makes a noise", "lift"),
            ("the air conditioner drips", "hvac"),
            ("crack in the bathroom wall", "civil"),
            ("KITCHEN PIPE", "plumbing"),
            ("nothing here", None),
            ("你好", None),
        ],
    )
    def test_the_trade_is_read_from_chinese_and_english_phrases(self, text: str, category: str | None) -> None:
        assert RULES.category(text) == category

    def test_a_tie_goes_to_the_category_listed_first(self) -> None:
        # "电梯门坏了" names the lift (电梯) and a door (门) once each; lift comes before civil in the table.
        assert RULES.category("电梯") == "lift"
        assert RULES.category("门坏了") == "civil"
        assert list(RULES.category_keywords).index("lift") < list(RULES.category_keywords).index("civil")

        assert RULES.category("电梯门坏了") == "lift"

    def test_more_words_for_one_trade_outweigh_the_first_listed(self) -> None:
        # one lift word against two civil words (门, 锁)
        assert RULES.category("电梯间的门锁坏了") == "civil"


# --- urgency -------------------------------------------------------------------------------------


# The emergencies the process document names: water or power cut, lift failure or people trapped,
# water leaking into a home, gas, fire or smoke.
SEED_EMERGENCIES = [
    pytest.param("停水了", id="zh-water-cut"),
    pytest.param("家里没水了", id="zh-no-water"),
    pytest.param("家里停电了", id="zh-power-cut"),
    pytest.param("3号楼电梯坏了", id="zh-lift-failure"),
    pytest.param("电梯故障", id="zh-lift-fault"),
    pytest.param("有人被困在电梯里", id="zh-trapped"),
    pytest.param("楼上漏水渗到我家", id="zh-leak-into-home"),
    pytest.param("水漫进屋里了", id="zh-water-into-home"),
    pytest.param("燃气泄漏", id="zh-gas"),
    pytest.param("厨房着火了", id="zh-fire"),
    pytest.param("配电箱冒烟", id="zh-smoke"),
    pytest.param("the water is off", id="en-water-cut"),
    pytest.param("no water since this morning", id="en-no-water"),
    pytest.param("power cut in the whole flat", id="en-power-cut"),
    pytest.param("the lift is broken", id="en-lift-failure"),
    pytest.param("elevator stopped between floors", id="en-lift-stopped"),
    pytest.param("someone is trapped", id="en-trapped"),
    pytest.param("water is leaking into my home", id="en-leak-into-home"),
    pytest.param("smell of gas", id="en-gas"),
    pytest.param("fire in the bin room", id="en-fire"),
    pytest.param("smoke from the meter box", id="en-smoke"),
]


class TestUrgency:
    @pytest.mark.parametrize("text", SEED_EMERGENCIES)
    def test_the_seed_emergencies_are_emergencies_in_both_languages(self, text: str) -> None:
        assert RULES.urgency(text) is Urgency.EMERGENCY

    @pytest.mark.parametrize(
        "text",
        ["厨房水管漏水", "马桶堵了", "跳闸了", "门打不开", "the tap is leaking", "the sink is blocked",
         "no hot water", "the breaker tripped"],
    )  # fmt: skip
    def test_urgent_words_are_urgent(self, text: str) -> None:
        assert RULES.urgency(text) is Urgency.URGENT

    @pytest.mark.parametrize(
        "text", ["客厅灯不亮", "墙面裂缝", "空调不制冷", "the paint is peeling", "a squeaky door", "", "🙂"]
    )
    def test_everything_else_is_normal(self, text: str) -> None:
        assert RULES.urgency(text) is Urgency.NORMAL

    @pytest.mark.parametrize(
        "text", ["Las Vegas trip", "gaslight", "the fireplace tiles are loose", "my firewall", "smokey bacon"]
    )
    def test_latin_keywords_match_whole_words_only(self, text: str) -> None:
        assert RULES.urgency(text) is Urgency.NORMAL
        assert RULES.safety_word(text) is None

    @pytest.mark.parametrize("text", ["GAS!", "Gas leak.", "there is a fire", "(smoke)"])
    def test_latin_keywords_ignore_case_and_punctuation(self, text: str) -> None:
        assert RULES.urgency(text) is Urgency.EMERGENCY

    @pytest.mark.parametrize("text", ["今天早上开始停水了吗", "我家好像停电了啊", "闻到一股煤气味"])
    def test_chinese_keywords_match_anywhere_in_a_sentence(self, text: str) -> None:
        assert RULES.urgency(text) is Urgency.EMERGENCY

    def test_an_emergency_word_wins_over_an_urgent_one(self) -> None:
        assert RULES.urgency("水管漏水，已经漏到楼下了") is Urgency.EMERGENCY


# --- safety words --------------------------------------------------------------------------------


class TestSafetyWord:
    @pytest.mark.parametrize(
        ("text", "word"),
        [
            ("smell of gas in the kitchen", "smell of gas"),
            ("fire in the bin room", "fire"),
            ("smoke from the meter box", "smoke"),
            ("someone is trapped in the lift", "trapped"),
            ("the socket sparks", "sparks"),
            ("燃气味很重", "燃气味"),
            ("厨房着火了", "着火"),
            ("配电箱冒烟", "冒烟"),
            ("有人被困在电梯里", "被困"),
            ("插座有火花", "火花"),
        ],
    )
    def test_a_safety_word_is_named(self, text: str, word: str) -> None:
        assert RULES.safety_word(text) == word

    @pytest.mark.parametrize("text", ["厨房水管漏水", "停水了", "the tap is leaking", "the lift is broken", ""])
    def test_no_safety_word_is_none(self, text: str) -> None:
        assert RULES.safety_word(text) is None


# --- self-check tips -----------------------------------------------------------------------------


class TestSelfCheck:
    @pytest.mark.parametrize("category", ["electrical", "plumbing", "hvac"])
    def test_shipped_tips_exist_in_both_languages(self, category: str) -> None:
        chinese, english = RULES.self_check(category, ZH), RULES.self_check(category, EN)

        assert chinese and english
        assert chinese != english
        assert has_chinese(chinese)
        assert not has_chinese(english)

    def test_the_electrical_tip_is_about_the_breaker(self) -> None:
        assert "breaker" in (RULES.self_check("electrical", EN) or "")
        assert "空气开关" in (RULES.self_check("electrical", ZH) or "")

    @pytest.mark.parametrize("category", ["lift", "civil", "fire_safety", "other", "no_such_category"])
    def test_no_tip_where_a_resident_cannot_check_anything(self, category: str) -> None:
        assert RULES.self_check(category, ZH) is None
        assert RULES.self_check(category, EN) is None


# --- out of scope --------------------------------------------------------------------------------


class TestOutOfScope:
    @pytest.mark.parametrize(
        ("text", "matter"),
        [
            ("我要报警，邻居打架", "police"),
            ("和楼下邻居有纠纷", "police"),
            ("a dispute with my neighbour", "police"),
            ("自来水公司什么时候来水", "municipal_water"),
            ("水费太贵了", "municipal_water"),
            ("the water company cut us off", "municipal_water"),
            ("小区外面马路上的红绿灯坏了", "public_roads"),
            ("the traffic light on the public road is broken", "public_roads"),
        ],
    )
    def test_matters_for_others_are_recognised(self, text: str, matter: str) -> None:
        found = RULES.out_of_scope_for(text)

        assert found is not None
        assert found.name == matter

    @pytest.mark.parametrize("text", ["厨房水管漏水", "the guard was rude", "楼上噪音太大"])
    def test_the_company_s_own_matters_are_not_out_of_scope(self, text: str) -> None:
        assert RULES.out_of_scope_for(text) is None

    @pytest.mark.parametrize(
        ("matter", "number"), [("police", "110"), ("municipal_water", "12345"), ("public_roads", "12345")]
    )
    def test_each_pointer_reads_in_both_languages(self, matter: str, number: str) -> None:
        (entry,) = [m for m in RULES.out_of_scope if m.name == matter]
        chinese, english = RULES.pointer(entry, ZH), RULES.pointer(entry, EN)

        assert number in chinese and number in english
        assert has_chinese(chinese)
        assert not has_chinese(english)


# --- [triage] in the config file -----------------------------------------------------------------


class TestConfiguredRules:
    def test_the_example_config_shows_the_shipped_rules_and_uncommenting_them_changes_nothing(self) -> None:
        example = (REPO / "config.example.toml").read_text(encoding="utf-8")
        shown = example[example.index("[triage]\n") :]
        assert shown == triage_example.block(), "run: .venv/bin/python -m tests.triage_example"
        uncommented = "\n".join(line[2:] if line.startswith("# ") and ("=" in line or line.startswith("# [")) else line
                                 for line in shown.splitlines())  # fmt: skip
        rules = parse_config(tomllib.loads(uncommented), environ={}).triage
        shipped = TriageRules()
        for key in ("emergency_keywords", "urgent_keywords", "safety_keywords", "fault_keywords", "calm_phrases",
                    "category_keywords", "feedback_keywords", "emergency_pairs", "learned_threshold"):  # fmt: skip
            assert getattr(rules, key) == getattr(shipped, key), key
        for locale in ("zh_CN", "en"):
            t = translator(locale)
            for category in ("plumbing", "electrical", "hvac", "civil"):
                assert rules.self_check(category, t) == shipped.self_check(category, t), (locale, category)
            for text in ("水费太贵了", "the traffic light outside is broken", "邻居打架"):
                ours, theirs = rules.out_of_scope_for(text), shipped.out_of_scope_for(text)
                assert ours is not None and theirs is not None, text
                assert rules.pointer(ours, t) == shipped.pointer(theirs, t), (locale, text)

    def test_without_a_triage_section_the_shipped_rules_apply(self) -> None:
        from dataclasses import replace

        from bot.config import learned_model

        shipped = replace(TriageRules(), learned=learned_model())  # with the shipped learned model
        assert parse_config({}, environ={}).triage == shipped
        assert configured({}) == shipped and set(shipped.learned) == {"zh_CN", "en"}

    def test_emergency_keywords_replace_the_shipped_list(self) -> None:
        rules = configured({"emergency_keywords": ["热水器", "water heater"]})

        assert rules.urgency("热水器漏电") is Urgency.EMERGENCY
        assert rules.urgency("the water heater is broken") is Urgency.EMERGENCY
        assert rules.urgency("停水了") is Urgency.NORMAL  # no longer listed
        assert rules.urgency("厨房水管漏水") is Urgency.URGENT  # urgent_keywords keep their defaults

    def test_keywords_for_one_category_leave_the_others_at_their_defaults(self) -> None:
        rules = configured({"category_keywords": {"lift": ["扶梯", "escalator"]}})

        assert rules.category_keywords["lift"] == ("扶梯", "escalator")
        assert rules.category("商场扶梯不动了") == "lift"
        assert rules.category("the escalator stopped") == "lift"
        assert rules.category("厨房水管漏水") == "plumbing"
        assert rules.category_keywords["civil"] == RULES.category_keywords["civil"]

    def test_a_self_check_tip_is_shown_in_each_person_s_language(self) -> None:
        tip = {"zh_CN": "请先检查门锁是否反锁。", "en": "Is the door locked from inside?"}
        rules = configured({"self_check": {"civil": tip}})

        assert rules.self_check("civil", ZH) == "请先检查门锁是否反锁。"
        assert rules.self_check("civil", EN) == "Is the door locked from inside?"
        assert rules.self_check("plumbing", EN) == RULES.self_check("plumbing", EN)

    def test_an_empty_self_check_switches_that_tip_off(self) -> None:
        rules = configured({"self_check": {"electrical": {}}})

        assert rules.self_check("electrical", ZH) is None
        assert rules.self_check("electrical", EN) is None
        assert rules.self_check("hvac", EN) == RULES.self_check("hvac", EN)

    def test_out_of_scope_matters_replace_the_shipped_ones(self) -> None:
        rules = configured({
            "out_of_scope": {
                "noise": {
                    "keywords": ["广场舞", "square dancing"],
                    "zh_CN": "广场舞噪音请联系街道办。",
                    "en": "Square-dancing noise is for the sub-district office.",
                }
            }
        })  # fmt: skip

        matter = rules.out_of_scope_for("楼下广场舞太吵了")
        assert matter is not None and matter.name == "noise"
        assert rules.pointer(matter, ZH) == "广场舞噪音请联系街道办。"
        assert rules.pointer(matter, EN) == "Square-dancing noise is for the sub-district office."
        assert rules.out_of_scope_for("the square dancing is loud") == matter
        assert rules.out_of_scope_for("我要报警，邻居打架") is None  # the shipped matters are gone
        assert [m.name for m in rules.out_of_scope] == ["noise"]

    @pytest.mark.parametrize(
        ("triage", "fragments"),
        [
            pytest.param(
                {"emergency_keyword": ["gas"]},
                ("triage.emergency_keyword", '(did you mean "emergency_keywords"?)'),
                id="unknown-key",
            ),
            pytest.param(
                {"category_keywords": {"plumbin": ["漏水"]}},
                ("triage.category_keywords.plumbin", "unknown category", "plumbing"),
                id="unknown-category",
            ),
            pytest.param(
                {"self_check": {"lifts": {"en": "Press the alarm button."}}},
                ("triage.self_check.lifts", "unknown category"),
                id="unknown-self-check-category",
            ),
            pytest.param(
                {"feedback_keywords": {"plumbing": ["漏水"]}},
                ("triage.feedback_keywords.plumbing", "unknown category", "service_quality"),
                id="repair-category-as-feedback",
            ),
            pytest.param(
                {"emergency_keywords": "gas"},
                ("triage.emergency_keywords", "must be a list of non-empty strings"),
                id="keywords-not-a-list",
            ),
            pytest.param(
                {"category_keywords": {"lift": ["电梯", 3]}},
                ("triage.category_keywords.lift", "must be a list of non-empty strings"),
                id="keywords-not-strings",
            ),
            pytest.param(
                {"urgent_keywords": ["漏水", "  "]},
                ("triage.urgent_keywords", "must be a list of non-empty strings"),
                id="blank-keyword",
            ),
            pytest.param(
                {"self_check": {"civil": {"fr": "Vérifiez la serrure."}}},
                ("triage.self_check.civil.fr", "zh_CN or en"),
                id="self-check-unknown-locale",
            ),
            pytest.param(
                {"self_check": {"civil": "check the lock"}},
                ("triage.self_check.civil", "per language"),
                id="self-check-not-a-table",
            ),
            pytest.param(
                {"out_of_scope": {"noise": {"zh_CN": "请联系街道办。", "en": "Ask the sub-district office."}}},
                ("triage.out_of_scope.noise", "needs keywords"),
                id="out-of-scope-without-keywords",
            ),
            pytest.param(
                {"out_of_scope": {"noise": {"keywords": ["广场舞"]}}},
                ("triage.out_of_scope.noise", "per language"),
                id="out-of-scope-without-a-pointer",
            ),
        ],
    )
    def test_each_mistake_is_a_config_error_that_names_the_key(
        self, triage: dict[str, Any], fragments: tuple[str, ...]
    ) -> None:
        with pytest.raises(ConfigError) as raised:
            parse_config({"triage": triage}, environ={})

        message = str(raised.value)
        assert "\n" not in message
        for fragment in fragments:
            assert fragment in message

    def test_a_misspelt_key_in_a_config_file_is_one_line_and_exit_status_2(self, tmp_path: Path) -> None:
        (tmp_path / "baoxiu.toml").write_text('[triage]\nemergency_keyword = ["热水器"]\n', encoding="utf-8")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BAOXIU_")} | {"PYTHONUTF8": "1"}

        done = subprocess.run(
            [str(BAOXIU), "--config", "baoxiu.toml", "tickets", "list"],
            cwd=tmp_path, env=environ, capture_output=True, text=True, encoding="utf-8", timeout=120,
        )  # fmt: skip

        assert done.returncode == 2, (done.stdout, done.stderr)
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith("baoxiu: ")
        assert "triage.emergency_keyword" in line
        assert '(did you mean "emergency_keywords"?)' in line
        assert not (tmp_path / "baoxiu.db").exists()


# --- the configured rules reach the dialogue -----------------------------------------------------

TRIAGE_CONFIG: dict[str, Any] = {
    "emergency_keywords": ["热水器", "water heater"],
    "self_check": {"civil": {"zh_CN": "请先检查门锁是否被反锁。", "en": "Is the door locked from the inside?"}},
    "out_of_scope": {
        "noise": {
            "keywords": ["广场舞", "square dancing"],
            "zh_CN": "广场舞噪音请联系街道办。",
            "en": "Square-dancing noise is for the sub-district office.",
        }
    },
}


@pytest.fixture
def configured_desk(desk: Desk) -> Desk:
    return desk_on(desk.uow, triage=TRIAGE_CONFIG)


def stored_urgencies(desk: Desk) -> list[str]:
    return [ticket.urgency.value for ticket in stored(desk)]


class TestConfiguredDialogue:
    def test_a_configured_emergency_keyword_is_proposed_as_an_emergency(self, configured_desk: Desk) -> None:
        Chat(configured_desk, "Emily Brown").run([
            ("the water heater is broken in 3-1-2302", """
                How urgent is it? I suggest: Emergency.
                  1. ✓ Emergency: unsafe, or water/power/lift out
                  2. Urgent: today, please
                  3. Normal: within a few days"""),
            ("1", """
                Please check your report:
                Place: 3-1-2302
                Problem: the water heater is broken in 3-1-2302
                Type: Plumbing (water, pipes, drains)
                Urgency: Emergency
                  1. ✅ Submit
                  2. ✏️ Change something
                  3. ✖️ Cancel"""),
            ("submit", """
                ✅ Your report is in. Ticket number: SG-20261127-0001
                Emergency: we will respond within 15 minutes.
                If anyone is in danger, leave the area and call 119 (fire) or 110 (police) now."""),
        ])  # fmt: skip
        assert stored_urgencies(configured_desk) == ["emergency"]

    def test_with_the_shipped_rules_the_same_words_are_not_an_emergency(self, desk: Desk) -> None:
        Chat(desk, "Emily Brown").run([
            ("the water heater is broken in 3-1-2302", """
                How urgent is it? I suggest: Normal.
                  1. Emergency: unsafe, or water/power/lift out
                  2. Urgent: today, please
                  3. ✓ Normal: within a few days"""),
        ])  # fmt: skip

    def test_a_configured_self_check_is_offered_in_the_resident_s_language(self, configured_desk: Desk) -> None:
        Chat(configured_desk, "张三 Zhang San").run([
            ("1-1-1201 的门锁坏了", """
                情况有多紧急？建议选择：加急。
                  1. 紧急：有安全隐患，或停水、停电、电梯停运
                  2. ✓ 加急：请当天处理
                  3. 一般：几天内处理即可"""),
            ("一般", """
                请先检查门锁是否被反锁。
                  1. ✅ 我已自行解决
                  2. 🔧 仍未修好，请派人上门"""),
        ])  # fmt: skip
        Chat(configured_desk, "Emily Brown").run([
            ("the door lock is broken in 3-1-2302", """
                How urgent is it? I suggest: Normal.
                  1. Emergency: unsafe, or water/power/lift out
                  2. Urgent: today, please
                  3. ✓ Normal: within a few days"""),
            ("normal", """
                Is the door locked from the inside?
                  1. ✅ Fixed it myself
                  2. 🔧 Still broken: send someone"""),
        ])  # fmt: skip

    def test_a_configured_out_of_scope_matter_gets_its_pointer(self, configured_desk: Desk) -> None:
        Chat(configured_desk, "Emily Brown").run([
            ("I want to complain about the square dancing every night", """
                Thank you for telling us. This is outside what the property company can handle:
                Square-dancing noise is for the sub-district office.
                I've recorded your message as SG-20261127-0001."""),
        ])  # fmt: skip


# --- reading the sentence, not only its words ---------------------------------------------------------------


class TestContext:
    @pytest.mark.parametrize(
        "text",
        [
            "燃气费账单不对",
            "the gas bill is wrong",
            "明天停水吗？",
            "is there a water cut tomorrow?",
            "没有漏气，只是灶打不着火",
            "no gas smell, the hob just won't light",
            "刚才停电，现在已经来电了",
            "power was out for a bit but it's back now",
            "不是着火，是邻居在烧烤",
            "上个月被楼上淹了 保险怎么理赔",
            "电梯困人了应该打什么电话？先问问 以防万一",
            "someone keeps smoking cigarettes in the stairwell",
            "楼道有烟味 是有人在抽烟",
            "the power cut yesterday reset my clocks",
        ],
    )
    def test_bills_questions_denials_and_what_is_over_raise_nothing(self, text: str) -> None:
        assert RULES.urgency(text) is not Urgency.EMERGENCY
        assert RULES.safety_word(text) is None

    @pytest.mark.parametrize("text", ["the fire door won't close", "防火门关不上", "灭火器过期了"])
    def test_a_fire_safety_fault_is_filed_as_fire_safety_but_is_no_emergency(self, text: str) -> None:
        assert RULES.category(text) == "fire_safety"
        assert RULES.urgency(text) is not Urgency.EMERGENCY

    @pytest.mark.parametrize(
        "text",
        [
            "楼上的水从我家天花板漏下来了",
            "water is coming through the bathroom ceiling from upstairs",
            "卫生间顶上在渗水 楼上没人",
            "电梯卡在8楼下不来了 里面有老人",
            "the lift is stuck between 7 and 8 with my mum inside",
            "家里有股臭鸡蛋味",
            "socket made a bang and there's a burning smell",
            "GAS",
            "救命！电梯！",
        ],
    )
    def test_an_emergency_said_in_other_words_is_still_one(self, text: str) -> None:
        assert RULES.urgency(text) is Urgency.EMERGENCY

    def test_water_through_a_ceiling_is_a_leak_into_a_home(self) -> None:
        assert RULES.category("楼上的水从我家天花板漏下来了") == "plumbing"
        assert RULES.category("water is coming through the ceiling from upstairs") == "plumbing"

    def test_a_denial_takes_back_only_the_word_it_denies(self) -> None:
        assert RULES.urgency("没人被困 但电梯停在3楼不动了") is Urgency.EMERGENCY
        assert RULES.safety_word("没人被困 但电梯停在3楼不动了") is None
        assert RULES.urgency("not sure where it comes from, but the whole flat smells of gas") is Urgency.EMERGENCY

    def test_a_trouble_over_is_taken_back_only_by_what_comes_after_it(self) -> None:
        assert RULES.urgency("修好了没两天 电梯又停在6楼不动了") is Urgency.EMERGENCY

    def test_pairs_and_calm_phrases_are_configured_like_the_rest(self) -> None:
        rules = configured(
            {
                "emergency_pairs": {"lift": {}, "boiler": {"things": ["锅炉"], "states": ["漏"], "unless": ["发票"]}},
                "calm_phrases": ["smoke machine"],
            }
        )
        assert "lift" not in rules.emergency_pairs
        assert rules.urgency("锅炉在漏") is Urgency.EMERGENCY
        assert rules.urgency("锅炉漏的发票") is not Urgency.EMERGENCY
        assert rules.urgency("the smoke machine at the party") is not Urgency.EMERGENCY

    @pytest.mark.parametrize(
        ("pairs", "message"),
        [
            ({"lift": ["电梯"]}, "triage.emergency_pairs.lift: needs things and states"),
            ({"lift": {"things": ["电梯"]}}, "triage.emergency_pairs.lift: needs things and states"),
            ({"lift": {"things": ["电梯"], "states": "卡"}}, "triage.emergency_pairs.lift.states: must be a list"),
        ],
    )
    def test_a_wrong_pair_is_named(self, pairs: dict[str, Any], message: str) -> None:
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            configured({"emergency_pairs": pairs})
