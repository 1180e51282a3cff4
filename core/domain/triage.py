"""Triage rules: category and urgency from what a resident wrote, self-check tips, out-of-scope pointers."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from typing import Any

from core.domain.directory import closest
from core.domain.model import FEEDBACK_CATEGORIES, REPAIR_CATEGORIES, Urgency
from core.i18n import LOCALES, N_, Translator

DEFAULT_CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "lift": ("电梯", "困人", "被困", "关人", "lift", "elevator"),
    "fire_safety": ("消防", "灭火器", "烟感", "烟雾报警", "喷淋", "着火", "起火", "冒烟", "燃气", "煤气", "天然气",
                    "漏气", "fire", "smoke", "gas",
                    "extinguisher", "sprinkler", "smoke alarm", "fire alarm", "fire door"),
    "plumbing": ("漏水", "水管", "滴水", "堵", "马桶", "下水", "水龙头", "渗水", "爆管", "没水", "停水", "水压",
                 "地漏", "淹", "水漫", "进水", "水管爆", "leak", "pipe", "tap", "faucet", "toilet", "drain", "clog",
                 "blocked", "no water", "water", "flood", "sink"),
    "electrical": ("停电", "没电", "跳闸", "插座", "开关", "灯", "电线", "漏电", "短路", "电表", "火花", "power",
                   "electric", "outlet", "socket", "switch", "light", "breaker", "tripped", "fuse", "sparks",
                   "sparking", "wiring", "lamp"),
    "hvac": ("空调", "暖气", "供暖", "通风", "新风", "地暖", "air conditioning", "air conditioner", "aircon", "a/c",
             "heating", "radiator", "ventilation", "hvac", "heater"),
    "civil": ("墙", "裂缝", "门", "窗", "瓷砖", "地板", "天花板", "屋顶", "脱落", "锁", "楼梯", "栏杆", "围栏", "栅栏",
              "大门", "护栏", "wall", "crack", "door", "window", "tile", "floor", "ceiling", "roof", "lock", "stairs",
              "railing", "fence", "gate"),
}  # fmt: skip

DEFAULT_FEEDBACK_KEYWORDS: dict[str, tuple[str, ...]] = {
    "service_quality": ("态度", "服务", "客服", "不理", "rude", "service", "staff", "attitude"),
    "hygiene": ("垃圾", "卫生", "脏", "臭", "清洁", "保洁", "rubbish", "garbage", "trash", "dirty", "smell", "clean"),
    "security": ("保安", "门禁", "小偷", "被盗", "陌生人", "监控", "security", "guard", "theft", "stolen", "stranger",
                 "cctv", "access card"),
    "facilities": ("设施", "健身", "路灯", "绿化", "停车", "facility", "facilities", "gym", "parking", "garden"),
    "community": ("邻居", "噪音", "吵", "扰民", "活动", "宠物", "狗", "neighbour", "neighbor", "noise", "noisy", "loud",
                  "event", "pet", "dog"),
}  # fmt: skip

# Words that say something is broken without saying what: enough to start a repair report.
DEFAULT_FAULT_KEYWORDS: tuple[str, ...] = (
    "坏", "故障", "不能用", "不好用", "失灵", "损坏", "报修", "维修", "broken", "not working", "doesn't work",
    "does not work", "out of order", "damaged", "faulty", "needs fixing", "needs repair",
)  # fmt: skip

# Water or power cut, lift failure or people trapped, water into a home, gas, fire or smoke.
DEFAULT_EMERGENCY_KEYWORDS: tuple[str, ...] = (
    "停水", "停电", "没水", "没电", "全屋没电", "电梯坏", "电梯故障", "电梯停", "电梯不动", "电梯卡", "困人", "被困",
    "关人", "燃气", "煤气", "天然气", "漏气", "着火", "起火", "失火", "火灾", "冒烟", "电火花", "爆管", "水漫",
    "淹", "漏到楼下", "漏进", "渗到", "进水", "水管爆", "爆了", "危险", "触电",
    "no water", "water cut", "water is off", "power cut", "power outage", "no power", "blackout", "no electricity",
    "trapped", "stuck in the lift", "stuck in the elevator", "lift broken", "lift is broken", "lift not working",
    "lift stopped", "lift out of order", "elevator broken", "elevator is broken", "elevator not working",
    "elevator stopped", "elevator out of order", "gas", "fire", "smoke", "sparks", "sparking", "flood", "flooding",
    "burst pipe", "into my home", "into the flat", "through the ceiling", "dangerous", "unsafe", "electric shock",
)  # fmt: skip
DEFAULT_URGENT_KEYWORDS: tuple[str, ...] = (
    "漏水", "渗水", "滴水", "堵", "跳闸", "不热", "没有热水", "空调坏", "暖气不热", "锁坏", "门打不开", "马桶",
    "leak", "leaking", "blocked", "clogged", "tripped", "no hot water", "no heating", "broken lock",
    "can't open", "cannot open", "toilet",
)  # fmt: skip
# Words that keep a report at emergency whatever the resident picks.
DEFAULT_SAFETY_KEYWORDS: tuple[str, ...] = (
    "燃气", "煤气", "天然气", "漏气", "着火", "起火", "失火", "火灾", "冒烟", "烟雾", "被困", "困人", "关人",
    "火花", "触电", "gas", "fire", "smoke", "trapped", "sparks", "sparking", "electric shock",
)  # fmt: skip

DEFAULT_SELF_CHECKS: dict[str, str] = {
    "electrical": N_(
        "Quick check: open your home's distribution box. Is a breaker switch pointing down (tripped)? "
        "Push it back up once. If it trips again at once, leave it down and do not retry."
    ),
    "plumbing": N_(
        "Quick check: is the valve under the sink or the main water valve fully open? "
        "For a leak, closing the valve stops the water until the technician arrives. "
        "For no water, ask a neighbour whether they have water too."
    ),
    "hvac": N_(
        "Quick check: are the remote's batteries fresh and is it set to the right mode (cool/heat)? "
        "Is the air conditioner's own breaker switched on?"
    ),
}


@dataclass(frozen=True)
class OutOfScope:
    """A matter the company does not handle, and where to take it instead."""

    name: str
    keywords: tuple[str, ...]
    pointer: dict[str, str]  # locale -> text; a msgid under "" for the shipped defaults


DEFAULT_OUT_OF_SCOPE: tuple[OutOfScope, ...] = (
    OutOfScope(
        "municipal_water",
        ("自来水公司", "市政停水", "市政供水", "水费", "water company", "water bill", "municipal water"),
        {"": N_("The city water supply and water bills are handled by the water company: call the 12345 hotline.")},
    ),
    OutOfScope(
        "public_roads",
        ("市政道路", "马路", "公交", "红绿灯", "public road", "bus stop", "traffic light", "street outside"),
        {"": N_("Public roads and traffic outside the estate are the city's: report them on the 12345 hotline.")},
    ),
    OutOfScope(
        "police",
        ("打架", "报警", "诈骗", "家暴", "纠纷", "fight", "assault", "fraud", "domestic violence", "dispute"),
        {"": N_("Disputes and crimes are for the police: call 110. In danger, call 110 now.")},
    ),
)


@dataclass(frozen=True)
class TriageRules:
    category_keywords: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_KEYWORDS))
    feedback_keywords: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_FEEDBACK_KEYWORDS))
    emergency_keywords: tuple[str, ...] = DEFAULT_EMERGENCY_KEYWORDS
    urgent_keywords: tuple[str, ...] = DEFAULT_URGENT_KEYWORDS
    safety_keywords: tuple[str, ...] = DEFAULT_SAFETY_KEYWORDS
    fault_keywords: tuple[str, ...] = DEFAULT_FAULT_KEYWORDS
    self_checks: dict[str, dict[str, str]] = field(
        default_factory=lambda: {category: {"": tip} for category, tip in DEFAULT_SELF_CHECKS.items()}
    )
    out_of_scope: tuple[OutOfScope, ...] = DEFAULT_OUT_OF_SCOPE

    def category(self, text: str) -> str | None:
        """The repair category the text names most, or None when it names none."""
        return _best(self.category_keywords, text)

    def feedback_category(self, text: str) -> str | None:
        return _best(self.feedback_keywords, text)

    def urgency(self, text: str) -> Urgency:
        if _found(self.emergency_keywords, text) or _found(self.safety_keywords, text):
            return Urgency.EMERGENCY
        if _found(self.urgent_keywords, text):
            return Urgency.URGENT
        return Urgency.NORMAL

    def says_broken(self, text: str) -> bool:
        return bool(_found(self.fault_keywords, text))

    def safety_word(self, text: str) -> str | None:
        """The first safety word in the text: it keeps the report at emergency."""
        found = _found(self.safety_keywords, text)
        return found[0] if found else None

    def self_check(self, category: str, t: Translator) -> str | None:
        tips = self.self_checks.get(category)
        if not tips:
            return None
        return tips.get(t.locale) or (t(tips[""]) if "" in tips else next(iter(tips.values())))

    def out_of_scope_for(self, text: str) -> OutOfScope | None:
        return next((matter for matter in self.out_of_scope if _found(matter.keywords, text)), None)

    def pointer(self, matter: OutOfScope, t: Translator) -> str:
        return matter.pointer.get(t.locale) or (
            t(matter.pointer[""]) if "" in matter.pointer else next(iter(matter.pointer.values()))
        )


@functools.lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern[str]:
    """Latin words match whole words ("gas" is not in "Vegas"); Chinese matches anywhere."""
    escaped = re.escape(keyword.casefold())
    if keyword.isascii():
        return re.compile(rf"(?<![a-z]){escaped}(?![a-z])")
    return re.compile(escaped)


def _found(keywords: tuple[str, ...], text: str) -> list[str]:
    folded = text.casefold()
    return [keyword for keyword in keywords if _pattern(keyword).search(folded)]


def _best(table: dict[str, tuple[str, ...]], text: str) -> str | None:
    scores = {category: len(_found(words, text)) for category, words in table.items()}
    best = max(scores.values(), default=0)
    if best == 0:
        return None
    return next(category for category, score in scores.items() if score == best)  # table order breaks ties


def rules_from_config(raw: dict[str, Any]) -> TriageRules:
    """`[triage]` from the config file; each key given replaces the shipped default for that key."""
    known = ("category_keywords", "feedback_keywords", "emergency_keywords", "urgent_keywords", "safety_keywords",
             "fault_keywords", "self_check", "out_of_scope")  # fmt: skip
    defaults = TriageRules()
    for key in raw:
        if key not in known:
            raise ValueError(f"unknown key triage.{key}{closest(key, known)}")

    def words(where: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError(f"{where}: must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def table(key: str, allowed: tuple[str, ...], default: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise ValueError(f"triage.{key}: must be a table of category = [keywords]")
        merged = dict(default)
        for category, keywords in value.items():
            if category not in allowed:
                raise ValueError(f"triage.{key}.{category}: unknown category (known: {', '.join(allowed)})")
            merged[category] = words(f"triage.{key}.{category}", keywords)
        return merged

    def texts(where: str, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not value:
            raise ValueError(f'{where}: must be a table of texts per language, e.g. {{ zh_CN = "…", en = "…" }}')
        for locale, text in value.items():
            if locale not in LOCALES or not isinstance(text, str) or not text.strip():
                raise ValueError(f"{where}.{locale}: must be zh_CN or en with a non-empty text")
        return dict(value)

    self_checks = dict(defaults.self_checks)
    raw_checks = raw.get("self_check", {})
    if not isinstance(raw_checks, dict):
        raise ValueError("triage.self_check: must be a table of category = { zh_CN = …, en = … }")
    for category, value in raw_checks.items():
        if category not in REPAIR_CATEGORIES:
            raise ValueError(f"triage.self_check.{category}: unknown category (known: {', '.join(REPAIR_CATEGORIES)})")
        self_checks[category] = texts(f"triage.self_check.{category}", value) if value != {} else {}

    out_of_scope = defaults.out_of_scope
    if "out_of_scope" in raw:
        entries = raw["out_of_scope"]
        if not isinstance(entries, dict):
            raise ValueError("triage.out_of_scope: must be a table of named matters")
        parsed = []
        for name, entry in entries.items():
            where = f"triage.out_of_scope.{name}"
            if not isinstance(entry, dict) or "keywords" not in entry:
                raise ValueError(f"{where}: needs keywords and a pointer text per language")
            pointer = {k: v for k, v in entry.items() if k != "keywords"}
            parsed.append(OutOfScope(name, words(f"{where}.keywords", entry["keywords"]), texts(where, pointer)))
        out_of_scope = tuple(parsed)

    lists = {
        key: words(f"triage.{key}", raw[key])
        for key in ("emergency_keywords", "urgent_keywords", "safety_keywords", "fault_keywords")
        if key in raw
    }
    return replace(
        defaults,
        category_keywords=table("category_keywords", REPAIR_CATEGORIES, defaults.category_keywords),
        feedback_keywords=table("feedback_keywords", FEEDBACK_CATEGORIES, defaults.feedback_keywords),
        self_checks=self_checks,
        out_of_scope=out_of_scope,
        **lists,
    )
