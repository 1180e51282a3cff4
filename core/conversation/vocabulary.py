"""The words of the conversation: labels of categories and urgencies, and what people type for each choice."""

from __future__ import annotations

import re
import unicodedata

from core.conversation.buttons import Button, OnTicket, Pick
from core.domain.model import FEEDBACK_CATEGORIES, REPAIR_CATEGORIES, Urgency
from core.i18n import N_, Translator

CATEGORY_LABELS = {
    "plumbing": N_("Plumbing (water, pipes, drains)"),
    "electrical": N_("Electrical (power, lights, sockets)"),
    "civil": N_("Building (walls, doors, windows)"),
    "hvac": N_("Heating and air conditioning"),
    "lift": N_("Lift"),
    "fire_safety": N_("Fire safety"),
    "other": N_("Something else"),
    "service_quality": N_("Service quality"),
    "facilities": N_("Facilities"),
    "hygiene": N_("Cleaning and hygiene"),
    "security": N_("Security"),
    "community": N_("Community life"),
    "talk": N_("Talk to a person"),
}
URGENCY_LABELS = {
    Urgency.EMERGENCY: N_("Emergency: unsafe, or water/power/lift out"),
    Urgency.URGENT: N_("Urgent: today, please"),
    Urgency.NORMAL: N_("Normal: within a few days"),
}
URGENCY_WORDS = {Urgency.EMERGENCY: N_("Emergency"), Urgency.URGENT: N_("Urgent"), Urgency.NORMAL: N_("Normal")}
URGENCY_MARKS = {Urgency.EMERGENCY: N_("🚨 EMERGENCY"), Urgency.URGENT: N_("⚠️ Urgent"), Urgency.NORMAL: N_("Normal")}
HOLD_REASONS = {"parts": N_("waiting for parts"), "access": N_("waiting for access")}
DECLINE_REASONS = {"busy": N_("Busy with another job"), "trade": N_("Not my trade"), "off": N_("Off duty")}


def category_label(category: str, t: Translator) -> str:
    """A category's name in the reader's language; a category this baoxiu does not know reads as "something else"."""
    return t(CATEGORY_LABELS.get(category, CATEGORY_LABELS["other"]))


def hold_reason(reason: str, t: Translator) -> str:
    return t(HOLD_REASONS[reason]) if reason in HOLD_REASONS else reason


# Typed words that pick a choice in either language, whatever language the person reads.
KEYS: dict[Pick, tuple[str, ...]] = {
    Pick("menu", "repair"): ("repair", "report", "报修", "维修", "修"),
    Pick("menu", "feedback"): ("feedback", "complaint", "complain", "suggestion", "投诉", "建议", "反馈"),
    Pick("menu", "tickets"): ("my tickets", "tickets", "status", "我的工单", "工单", "进度"),
    Pick("menu", "help"): ("help", "帮助", "?", "？"),
    Pick("menu", "lang"): ("language", "lang", "语言"),
    Pick("yes"): ("yes", "y", "ok", "confirm", "submit", "send", "是", "是的", "对", "确认", "提交", "好", "发送"),
    Pick("change"): ("change", "edit", "change something", "修改", "改", "修改信息", "更改"),
    Pick("cancel"): ("cancel", "discard", "取消", "放弃", "算了", "不报了", "never mind", "forget it"),
    Pick("fixed"): (
        "fixed",
        "solved",
        "fixed it",
        "fixed it myself",
        "it works",
        "works now",
        "好了",
        "解决了",
        "修好了",
        "已修好",
        "自己修好了",
        "我已自行解决",
        "自行解决",
        "没问题了",
    ),
    Pick("broken"): (
        "still broken",
        "broken",
        "not fixed",
        "no",
        "send someone",
        "还是坏",
        "没好",
        "不行",
        "没修好",
        "仍未修好",
        "还没好",
        "坏的",
        "派人",
        "请派人上门",
    ),
    Pick("skip"): ("skip", "none", "no", "跳过", "没有", "无", "0"),
    Pick("named"): ("with my name", "named", "实名"),
    Pick("anonymous"): ("anonymous", "anonymously", "匿名"),
    Pick("place", "other"): (
        "other",
        "elsewhere",
        "somewhere else",
        "other place",
        "another place",
        "not my home",
        "其他",
        "别处",
        "其他地点",
        "其他地方",
        "别的地方",
        "不在家里",
    ),
    Pick("place", "as_written"): (
        "as written",
        "use it",
        "use it as written",
        "use this",
        "use that",
        "as typed",
        "use this address",
        "就用",
        "就这样",
        "按我写的",
        "照写",
        "就用这个",
        "就用这个地址",
        "用这个",
        "就这个",
        "就写这个",
    ),
    Pick("lang", "zh_CN"): ("中文", "chinese", "zh", "汉语"),
    Pick("lang", "en"): ("english", "en", "英文", "英语"),
    Pick("keep"): ("keep", "keep it", "keep it an emergency", "保持", "保持紧急", "有危险"),
    Pick("lower"): ("lower", "lower it", "no danger", "not an emergency", "没有危险", "没危险", "降低", "不紧急"),
    Pick("urgency", "emergency"): ("emergency", "紧急"),
    Pick("urgency", "urgent"): ("urgent", "加急"),
    Pick("urgency", "normal"): ("normal", "一般"),
}
CATEGORY_WORDS_ZH = {
    "plumbing": ("水", "水电", "管道"), "electrical": ("电", "电路"), "civil": ("土建", "墙面"),
    "hvac": ("空调", "暖气"), "lift": ("电梯",), "fire_safety": ("消防",), "other": ("其他",),
    "service_quality": ("服务",), "facilities": ("设施",), "hygiene": ("卫生", "保洁"), "security": ("安保", "安全"),
    "community": ("社区", "邻里"),
}  # fmt: skip
for _category in (*REPAIR_CATEGORIES, *FEEDBACK_CATEGORIES):
    KEYS[Pick("category", _category)] = (_category, _category.replace("_", " "), *CATEGORY_WORDS_ZH[_category])


# Typed words for the steps on a ticket (pushes to staff, and the resident's verdict), by verb.
VERB_KEYS: dict[str, tuple[str, ...]] = {
    "fixed": ("fixed", "yes", "settled", "solved", "已修好", "修好了", "好了", "解决了", "已解决", "是"),
    "notfixed": (
        "not fixed",
        "no",
        "not settled",
        "still broken",
        "没修好",
        "没好",
        "还是坏",
        "没解决",
        "未解决",
        "否",
    ),
    "accept": ("accept", "ok", "接单", "接", "好"),
    "decline": ("decline", "退单", "不接"),
    "way": ("on my way", "going", "出发", "我已出发", "在路上"),
    "arrive": ("arrived", "here", "到了", "已到场", "到场"),
    "start": ("start", "开始", "开始维修"),
    "done": ("done", "finished", "完工", "完成", "修好了"),
    "hold": ("hold", "on hold", "pause", "暂停"),
    "resume": ("resume", "continue", "继续"),
    "plan": ("change of plan", "plan", "变更方案", "改方案"),
    "grab": ("take it", "i'll take it", "mine", "我来", "抢单", "接单"),
    "approve": ("approve", "yes", "同意", "批准"),
    "reject": ("reject", "no", "不同意", "驳回"),
    "reply": ("reply", "回复"),
    "talk": ("answer", "take it", "接入", "接待"),
    "quote:yes": ("agree", "yes", "ok", "accept", "同意", "可以", "好的", "行"),
    "quote:no": ("decline", "no", "refuse", "不同意", "不要", "拒绝", "不行", "太贵"),
    "register": ("confirm", "yes", "确认", "确认登记", "是", "对"),  # only when one is offered: a new resident
}
# Typed alone, anywhere: a person instead of the assistant, and back.
AGENT_WORDS = (
    "转人工", "人工", "人工客服", "人工服务", "找人工", "真人", "找客服", "联系客服", "客服", "agent", "human",
    "a human", "talk to a person", "talk to someone", "real person", "operator", "customer service",
)  # fmt: skip
BACK_WORDS = ("结束人工", "结束对话", "返回机器人", "回到机器人", "back to the bot", "back to the assistant",
              "end chat")  # fmt: skip
END_CHAT_WORDS = ("结束对话", "结束会话", "end chat", "end the chat")  # customer service hands the resident back
# Whole messages that mean "leave it" in the middle of a dialogue: they drop what is being written.
LET_GO = ("cancel", "never mind", "nevermind", "forget it", "stop", "取消", "算了", "不报了", "不用了", "放弃")


def keys_for(button: Button | None) -> tuple[str, ...]:
    """The words that pick this button, in either language."""
    if isinstance(button, OnTicket):
        answer = button.argument.partition(":")[0]  # "yes:2": the answer, to the second quote
        return VERB_KEYS.get(f"{button.verb}:{answer}", VERB_KEYS.get(button.verb, ()))
    return KEYS.get(button, ()) if isinstance(button, Pick) else ()


def segments(label: str) -> tuple[str, ...]:
    """The parts of a label a person may type alone: "仍未修好" for "🔧 仍未修好，请派人上门", "still broken" for
    "🔧 Still broken: send someone"."""
    clauses = [fold(p) for p in re.split(r"[:：;；()（）]", bare(label))]
    parts = [fold(p) for clause in clauses for p in re.split(r"[，,/]", clause)]
    return tuple(dict.fromkeys(part for part in (*clauses, *parts) if part))


FEEDBACK_STARTERS = ("投诉", "建议", "表扬", "反馈", "complain", "complaint", "suggestion", "suggest", "feedback")
FILLER = ("我要", "我想", "想", "要", "一下", "一个", "i want to", "i'd like to", "i would like to", "make a", "give",
          "leave", "some", "a", "an", "please")  # fmt: skip


def fold(text: str) -> str:
    """What a typed answer is compared by: no case, no surrounding space or final full stop."""
    return text.strip().casefold().rstrip(".。!！").strip()


def bare(label: str) -> str:
    """A button's label without its emoji or tick: what a person types for it ("done" for "✅ Done")."""
    return fold(re.sub(r"^[\W_]+", "", label))


def meaningful(text: str) -> bool:
    """False for empty, emoji-only or punctuation-only text."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def says_more_than(text: str, intentions: tuple[str, ...]) -> bool:
    """False for "我要投诉" or "I want to complain": an intention, not yet the content."""
    rest = text.casefold()
    for word in sorted((*intentions, *FILLER), key=len, reverse=True):
        rest = re.sub(rf"(?<![a-z]){re.escape(word)}(?![a-z])" if word.isascii() else re.escape(word), " ", rest)
    return sum(1 for ch in rest if unicodedata.category(ch)[0] in "LN") >= 4
