"""Triage rules: category and urgency from what a resident wrote, self-check tips, out-of-scope pointers."""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from core.domain.directory import closest
from core.domain.model import FEEDBACK_CATEGORIES, REPAIR_CATEGORIES, Urgency
from core.i18n import LOCALES, N_, Translator

T = TypeVar("T")

DEFAULT_CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "lift": ("电梯", "困人", "被困", "关人", "lift", "elevator"),
    "fire_safety": ("消防", "灭火器", "烟感", "烟雾报警", "喷淋", "着火", "起火", "冒烟", "燃气", "煤气", "天然气",
                    "漏气", "fire", "smoke", "gas", "extinguisher", "sprinkler", "smoke alarm", "fire alarm",
                    "fire door", "防火门", "消防门", "fire exit"),
    "plumbing": ("漏水", "水管", "滴水", "堵", "马桶", "下水", "水龙头", "渗水", "爆管", "没水", "停水", "水压",
                 "地漏", "淹", "水漫", "进水", "水管爆", "漏下来", "渗下来", "滴下来", "往下滴", "leak", "pipe",
                 "tap", "faucet", "toilet", "drain", "clog", "blocked", "no water", "water", "flood", "sink"),
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

# Water or power cut, lift failure or people trapped, water into a home, gas, fire or smoke: said in one phrase.
DEFAULT_EMERGENCY_KEYWORDS: tuple[str, ...] = (
    "停水", "断水", "没水", "不出水", "都不出", "停电", "断电", "停点", "全黑", "困人", "被困", "关人", "爆管",
    "水管爆", "管子爆", "水管裂", "水管断", "爆裂", "破裂", "爆了", "水漫", "淹", "漏到楼下", "漏进", "渗到", "进水",
    "倒灌", "反水", "返水", "返上来", "反上来", "往上翻", "往上冒", "冒黑水", "翻水", "往下渗", "往下滴", "往下流",
    "往下漏", "漏到", "没有水", "停了水", "水停了", "不来水", "没来水", "一滴水都没", "电停了", "电断了", "停了电",
    "困梯", "电闸跳", "关电梯", "被关", "推不上去", "往楼下渗", "滴进", "进了我家", "冷水都没有", "都没有水",
    "water outage", "taps have been dry", "nothing comes out", "tap water just stopped", "tap water stopped",
    "power failure", "all power gone", "no lights anywhere", "seeping in", "from the flat above", "from next door",
    "from top", "celing", "莫得水", "没得水", "水一点都没有", "往楼下漏", "灌进", "进污水", "下雨一样", "着伙",
    "no water", "no running water", "water cut", "water is off", "water's off", "nothing coming out", "power cut",
    "power outage", "power out", "no power", "blackout", "no electricity", "trapped", "stuck in the lift",
    "stuck in the elevator", "flood", "flooded", "flooding", "burst", "pipe split", "split pipe", "has split",
    "into my home", "into the flat", "through the ceiling", "from the ceiling", "from upstairs", "taps are dry",
    "taps dry", "nothing from the taps", "water has stopped", "water stopped", "water's gone", "lost power",
    "power's gone", "power is gone", "power has gone", "mains tripped", "main breaker", "backed up", "backing up",
    "inches of water", "cm of water", "standing water", "leaking into", "leaking through", "seeping through",
    "water damage", "撬门", "撬锁", "在撬", "砸门", "breaking into", "break into", "trying to break in",
    "forcing the door", "forcing my door", "叫不醒", "昏迷", "晕倒", "昏倒", "不省人事", "unconscious", "passed out",
    "fainted", "not breathing", "nothing come out", "not a drop", "only a few drops", "every switch",
)  # fmt: skip


@dataclass(frozen=True)
class Pair:
    """An emergency said in two parts: a thing (the lift, the ceiling) and what is wrong with it (stuck, dripping),
    anywhere in the message. A part of the second kind does not count in a sentence that also names one of
    `unless` (the lift's button, an old stain)."""

    things: tuple[str, ...]
    states: tuple[str, ...]
    unless: tuple[str, ...] = ()


DEFAULT_EMERGENCY_PAIRS: dict[str, Pair] = {
    "lift": Pair(
        ("电梯", "轿厢", "号梯", "电体", "店梯", "货梯", "客梯", "lift", "lifts", "elevator", "elevators", "lif"),
        ("停", "卡", "不动", "不走", "困", "关在", "门打不开", "门不开", "开不了", "打不开", "掉", "坏", "故障",
         "没反应", "下不来", "上不来", "里面有人", "有人在里面", "不开", "里面有", "走不出去", "出不去", "往上走",
         "往上升", "冲到", "没关就", "locked inside", "bounces", "stopped dead", "stopped working", "went dark",
         "小孩", "孩子", "老人", "女儿", "儿子", "stuck", "stopped", "stop", "not moving", "won't move",
         "doesn't move", "isn't moving", "dead", "broke", "broken", "jammed", "dropped", "in it", "shut in",
         "trapped", "out of service", "out of order", "not working", "doesn't work", "won't open", "not opening",
         "fell", "不开门", "在里面", "出不来", "关着", "关到人", "有人", "不运行", "晃", "停运", "坠", "夹人", "夹住",
         "急停", "冲顶", "蹲底", "halted", "shook", "jerked", "stalled", "won't budge", "not budging", "stranded",
         "people inside", "someone inside", "is down", "are down", "been down", "lift down", "cannot open",
         "can't open", "ppl", "people", "me in it", "with me", "help"),
        ("按钮", "按键", "灯", "显示", "屏", "异响", "响声", "声音", "慢", "维保", "保养", "广告", "镜子", "空调",
         "监控", "味", "脏", "停错", "乱按", "刷卡", "消磁", "补办", "cockroach", "rat", "门禁", "button", "display",
         "screen", "noise", "noisy", "squeak", "slow", "maintenance", "mirror", "advert", "camera", "smell", "dirty",
         "intercom", "电话", "对讲", "bulb", "flicker", "flickering", "last week", "sign", "fan", "cctv", "aircon",
         "air con", "缝", "gap", "太快", "too fast", "too quickly"),
    ),
    "water_into_home": Pair(
        ("天花板", "吊顶", "屋顶", "顶上", "顶棚", "房顶", "室顶", "厅顶", "间顶", "家顶", "灯罩", "灯那里", "楼上",
         "ceiling", "upstairs", "upstair", "from above", "light fitting", "wall", "walls", "墙里", "墙面", "墙上"),
        ("漏", "渗", "滴", "流", "淌", "湿", "water", "leak", "leaking", "dripping", "drip", "pouring", "wet",
         "coming through", "coming down", "seeping", "seep", "soaked", "soaking", "running down", "gushing",
         "raining", "coming in", "bursting", "spilling", "jetting", "pooling", "squelching", "trickling",
         "full of water", "drops are falling", "blowing", "往下掉", "下雨"),
        ("水渍", "水迹", "水印", "印子", "空调", "外机", "窗台", "痕迹", "干了", "干的", "旧", "霉", "stain",
         "stains", "stained", "dry", "dried", "old", "mould", "mold", "damp patch", "aircon", "air con", "mark",
         "marks", "外墙", "outside wall", "external wall", "outer wall"),
    ),
    "flood": Pair(
        ("水", "污水", "粪水", "water", "sewage"),
        ("满地", "一地", "到处", "全是", "止不住", "关不住", "停不下", "喷", "哗哗", "往外冒", "冒水", "灌", "流进",
         "流到", "进屋", "进我家", "接不住", "一层水", "everywhere", "pouring", "spraying", "gushing", "all over",
         "won't stop", "can't stop", "cannot stop", "deep", "coming in", "coming up", "into my", "under the door",
         "spreading", "overflow", "overflowed", "overflowing", "filling up", "flowing", "coming out", "on the floor",
         "ankle", "into the corridor", "under their", "into flats", "漫", "溢", "泡", "积水", "满屋", "全是水",
         "好多水", "很多水", "大量", "冒出来", "打穿", "关不掉", "都是", "soaked", "inches", "puddle", "backed up",
         "backing up", "bursting"),
        ("停车场", "车库", "路面", "马路", "草坪", "楼顶", "下水口", "坑", "垃圾", "水箱", "马桶", "出水", "parking",
         "car park", "road", "lawn", "garden", "pavement", "outside", "gutter"),
    ),
    "plant_room_water": Pair(
        ("配电房", "配电室", "水泵房", "泵房", "电房", "机房", "强电井", "pump room", "switch room", "riser",
         "electrical room", "plant room", "meter room"),
        ("水", "进水", "漏", "淹", "water", "flood", "flooding", "leak", "leaking", "dripping"),
        ("嗡嗡", "响", "噪音", "noise", "noisy", "humming", "hum"),
    ),
    "no_water": Pair(
        ("water", "waters", "tap", "taps", "水龙头", "自来水"),
        ("gone", "zero", "not coming", "停了", "没有", "been cut", "cut off", "cut to", "trickle", "nothing from",
         "dry", "不出", "没了"),
        ("hot", "热水", "pressure", "水压", "bill", "meter", "stain", "leak", "dripping", "drip"),
    ),
    "no_power": Pair(
        ("家", "屋", "全", "整", "楼", "栋", "小区", "写字楼", "商铺", "店", "办公室", "户", "单元", "房", "电闸",
         "总闸", "空开", "flat", "apartment", "house", "home", "unit", "whole", "everything", "entire", "building",
         "block", "my place"),
        ("没电", "没有电", "电没了", "莫得电", "电都没有", "power off", "power停", "跳闸", "黑了", "黑的", "都黑",
         "全黑", "一片黑", "漆黑", "no power", "outage", "lights went out", "lights out", "everything went off",
         "everything is off", "tripped", "no lights", "wont hold", "won't hold", "died", "pitch black", "no current",
         "current gone", "current is gone", "current is off", "no electric", "power went", "power is out",
         "power's out", "power out", "went dead", "gone dead", "dark", "without power", "have electric",
         "electric's gone", "electricity's gone", "electric gone", "electricity gone", "keeps tripping",
         "won't go back up", "flipping straight back", "went out", "are dark", "wont reset", "won't reset", "failure",
         "in the dark",
         "推不上", "黑乎乎", "黑漆漆", "stopped working", "went off", "is cut", "not there", "totally off",
         "everything stop", "is gone", "off", "units", "blk"),
        ("插座", "开关", "一个灯", "其他房间", "别的房间", "楼道灯", "路灯", "灯坏", "熏", "楼道", "走廊", "烟感",
         "corridor", "stairwell", "other rooms", "电池", "手机", "门禁", "电动车", "电瓶", "充电", "socket", "outlet",
         "bulb", "battery", "phone", "charger", "e-bike", "balcony light", "one light", "everything else", "其他都正常",
         "别的都正常", "bill", "账单", "电费"),
    ),
    "wiring": Pair(
        ("配电箱", "电箱", "电表箱", "插座", "开关", "电线", "铜线", "外皮", "插头", "线路", "socket", "outlet",
         "switch", "plug", "wire", "wires", "wiring", "cable", "fuse box", "breaker box", "panel", "meter box"),
        ("发烫", "烫手", "很烫", "发热", "烧", "焦", "黑了", "打火", "啪", "砰", "噼啪", "着起来", "火还没灭", "火光",
         "flash and a bang", "a bang", "smoky", "stinks of gas", "gassy", "hot", "melting", "melted", "burnt",
         "burning", "scorched", "charred", "bang", "popped", "crackling", "live", "exposed", "bare copper",
         "uncapped", "裸着", "掉下来", "bare", "copper showing", "hanging", "裸露", "外露", "露", "断了", "破了",
         "烂", "掉在地上"),
    ),
    "falling": Pair(
        ("外墙", "瓷砖", "墙砖", "栏杆", "护栏", "窗户", "窗扇", "窗框", "玻璃", "雨棚", "外机", "空调架", "围墙",
         "天花板", "吊顶", "石膏", "水泥块", "混凝土", "广告牌", "招牌", "保温层", "阳台", "facade", "tile", "tiles",
         "railing", "railings", "balustrade", "window", "windows", "pane", "glass", "canopy", "awning", "plaster",
         "concrete", "signboard", "sign board", "frame", "cladding", "wall"),
        ("往下掉", "掉下来", "要掉", "快掉", "会掉", "随时", "要倒", "一碰就晃", "往外歪", "在甩", "空中甩", "要碎",
         "falling", "will fall", "might fall", "about to fall", "going to fall", "hanging by", "half hanging",
         "coming off", "collapsing", "leaning out", "leaning outward", "keeps dropping", "keep dropping",
         "dropping big", "blew out", "blown out", "bulging out"),
        ("把手", "锁", "纱窗", "窗帘", "百叶", "贴膜", "油漆", "墙皮", "消火栓", "消防栓", "烟感", "衣柜", "handle",
         "lock", "screen", "curtain", "blind", "blinds", "film", "paint", "sticker", "wallpaper", "car window",
         "smoke detector", "smoke alarm", "wardrobe", "cover", "spalling", "small pieces", "leaves"),
    ),
    "hurt": Pair(
        ("摔", "跌", "倒在", "砸到", "砸伤", "夹到", "fell", "fallen", "slipped", "tripped over", "hit by",
         "came down on", "lying"),
        ("起不来", "叫不醒", "流血", "不动了", "昏", "受伤", "骨折", "can't get up", "cannot get up", "can not get up",
         "bleeding", "unconscious", "not moving", "hurt", "injured", "broken leg", "broken arm"),
        ("nobody hurt", "no one hurt", "没人受伤", "没砸到人", "not hurt", "差点"),
    ),
    "locked_in": Pair(
        ("孩子", "小孩", "宝宝", "婴儿", "儿子", "女儿", "老人", "我妈", "我爸", "老太太", "老爷子", "kid", "kids",
         "child", "baby", "toddler", "son", "daughter", "year old", "grandma", "grandpa", "granny", "elderly"),
        ("反锁", "锁在", "锁里面", "关在里面", "困在", "locked in", "locked himself", "locked herself",
         "locked inside", "locked behind", "locked out on", "stuck on the balcony", "stuck in the bathroom",
         "stuck in the toilet", "stuck in the car", "can't get out", "cannot get out", "trapped"),
        ("电梯", "lift", "elevator"),
    ),
    "carbon_monoxide": Pair(
        ("一氧化碳", "co报警", "显示co", "co alarm", "co detector", "says co", "carbon monoxide"),
        ("响", "叫", "报警", "头晕", "头疼", "跑", "going off", "screaming", "non-stop", "nonstop", "keeps", "ringing",
         "sounding", "dizzy", "headache", "sick", "went off"),
        ("电池", "测试", "过期", "一次", "battery", "test", "expired", "replace", "once every", "once a"),
    ),
    "gas": Pair(
        ("燃气", "煤气", "煤汽", "天然气", "液化气", "gas", "lpg", "propane"),
        ("味", "漏", "泄", "闻", "报警", "警报", "破", "冒气", "呲", "嘶嘶", "撞", "喷气", "打穿", "往外喷", "smell",
         "smells", "smelling", "smelled", "smelt", "whiff", "odour", "odor", "leak", "leaking", "hiss", "hissing"),
    ),
}  # fmt: skip
DEFAULT_URGENT_KEYWORDS: tuple[str, ...] = (
    "漏水", "渗水", "滴水", "堵", "跳闸", "不热", "没有热水", "空调坏", "暖气不热", "锁坏", "门打不开", "马桶",
    "leak", "leaking", "blocked", "clogged", "tripped", "no hot water", "no heating", "broken lock", "can't open",
    "cannot open", "toilet",
)  # fmt: skip
# Phrases that hold an emergency word but name no emergency: fire-safety equipment that is faulty, bills, appliances
# that will not light. They are blanked out before the emergency and safety words are looked for.
DEFAULT_CALM_PHRASES: tuple[str, ...] = (
    "防火门", "消防门", "灭火器", "烟感", "烟雾报警", "消防栓", "消防通道", "消防楼梯", "燃气费", "煤气费",
    "天然气费", "燃气公司", "没电梯", "没有电梯", "鞭炮", "烟花", "fireworks", "隐患", "hazard", "漏电保护", "灯泡",
    "灯管", "睡着", "头顶冒烟", "气得", "没有水带", "水带", "液化气瓶换", "扎爆", "爆胎", "车胎", "cooking smoke",
    "fire sale", "scorch mark", "fire assembly", "assembly point", "notice board", "noticeboard", "burning with",
    "饮水机", "桶装水", "火灾报警器", "报警器测试", "气炸", "群都炸", "要炸了", "打爆", "爆满", "喷头", "打不着火",
    "点不着火", "不着火", "打不着", "点不着", "烧烤", "fire door", "fire exit", "fire escape", "fire extinguisher",
    "fire hose", "fire hydrant", "fire drill", "fire alarm test", "smoke alarm", "smoke detector", "gas bill",
    "gas station", "gas fee", "gas company", "gas card", "cigarette smoke", "bbq smoke", "barbecue smoke",
    "burning incense", "烧香", "烧纸", "burning up", "flood of", "smoking hot", "midnight oil", "shocked by",
    "shocked at", "burnt toast", "flooded with", "burning question", "dumpster fire", "fire alarm", "fire panel",
    "heat detector", "fire blanket", "sprinkler", "break glass", "stove flame", "hob flame", "pilot flame",
    "flame is yellow", "火苗很小", "火很小", "消防报警", "喷淋", "闻着没味", "没有味", "没味", "no smell",
    "doesn't smell", "no water coming in", "no water getting in", "no water came in", "燃气报警器过期", "报警器过期",
    "加装一个燃气报警器", "装个燃气报警器", "装燃气报警器", "flood barrier", "flood gate", "floodgate", "挡水板",
    "this place is fire", "so fire", "absolute fire", "lowkey fire",
)  # fmt: skip
# Words that keep a report at emergency whatever the resident picks: gas, fire and smoke, people trapped, shocks.
DEFAULT_SAFETY_KEYWORDS: tuple[str, ...] = (
    "燃气泄漏", "煤气泄漏", "天然气泄漏", "煤气味", "燃气味", "天然气味", "液化气", "漏气", "臭鸡蛋", "着火", "起火",
    "失火", "火灾", "烧起来", "冒烟", "浓烟", "全是烟", "都是烟", "有烟", "烟特别", "呛", "炸了", "爆炸", "有火苗",
    "冒火苗", "窜火苗", "火苗往", "着了", "明火", "火很大", "火挺大", "烧焦", "焦味", "糊味", "焦糊", "烧黑", "烧着",
    "被困", "困人", "关人", "火花", "火星", "噼里啪啦", "触电", "被电", "电到", "手麻", "漏电", "裸露", "gas leak",
    "leaking gas", "smell of gas", "smells of gas", "smell gas", "smelling gas", "gas smell", "rotten egg",
    "rotten eggs", "sulphur", "sulfur", "fire", "on fire", "flames", "flame", "burning", "burnt", "smoke", "smoking",
    "smoked", "melting", "melted", "scorched", "trapped", "sparks", "sparking", "spark", "electric shock", "shock",
    "shocked", "zapped", "jolt", "tingling", "tingle", "live wire", "live wires", "exposed wire", "exposed wires",
    "exposed wiring", "bare wires", "smouldering", "smoldering", "charred", "ablaze", "blaze", "caught fire",
    "烧着了", "着了火", "火烧", "烧糊", "烟雾", "黑烟", "白烟", "冒火", "起烟", "烟很大", "焦臭", "带电", "电了一下",
    "麻的", "气泄露", "气泄漏", "燃气泄露", "煤气泄露", "麻手", "电手", "插座打火", "开关打火", "电线打火", "打火花",
    "stranded", "scorching", "burning smell", "smell of burning", "alight", "sparked", "噼啪", "flaming",
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
        "utility_bills",
        (
            "燃气费",
            "煤气费",
            "天然气费",
            "电费",
            "燃气账单",
            "电费账单",
            "gas bill",
            "electricity bill",
            "power bill",
            "gas top-up",
            "electricity top-up",
        ),
        {
            "": N_(
                "Gas and electricity bills and top-ups are the gas and power companies': call the number on your bill "
                "or card."
            )
        },
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


def features(text: str) -> set[str]:
    """What a learned model reads in a message: Chinese characters and pairs of them, English words and pairs."""
    folded = _fold(text)
    han = re.sub(rf"[^{_HAN}]", "", folded)
    words = re.findall(r"[a-z]+", folded)
    return {*han, *(han[i : i + 2] for i in range(len(han) - 1)), *words,
            *(f"{a} {b}" for a, b in itertools.pairwise(words))}  # fmt: skip


@dataclass(frozen=True)
class LearnedOdds:
    """How much each feature of a message speaks for an emergency (log odds, naive Bayes), learned from labelled
    residents' reports (tests/triage_train.py). It may only raise a report the rules left below emergency."""

    prior: float
    weights: dict[str, float]

    def score(self, text: str) -> float:
        return self.prior + sum(self.weights.get(feature, 0.0) for feature in features(text))


@dataclass(frozen=True)
class TriageRules:
    category_keywords: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_KEYWORDS))
    feedback_keywords: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_FEEDBACK_KEYWORDS))
    emergency_keywords: tuple[str, ...] = DEFAULT_EMERGENCY_KEYWORDS
    emergency_pairs: dict[str, Pair] = field(default_factory=lambda: dict(DEFAULT_EMERGENCY_PAIRS))
    urgent_keywords: tuple[str, ...] = DEFAULT_URGENT_KEYWORDS
    safety_keywords: tuple[str, ...] = DEFAULT_SAFETY_KEYWORDS
    calm_phrases: tuple[str, ...] = DEFAULT_CALM_PHRASES
    fault_keywords: tuple[str, ...] = DEFAULT_FAULT_KEYWORDS
    self_checks: dict[str, dict[str, str]] = field(
        default_factory=lambda: {category: {"": tip} for category, tip in DEFAULT_SELF_CHECKS.items()}
    )
    out_of_scope: tuple[OutOfScope, ...] = DEFAULT_OUT_OF_SCOPE
    # Per language ("zh_CN", "en"): a second opinion that may raise a report to emergency when its log odds are
    # above the threshold; none here, the shipped model comes from the config (bot/triage_model.json).
    learned: dict[str, LearnedOdds] = field(default_factory=dict)
    learned_threshold: float = 7.0
    # What was worked out for a text: one message is read several times in a turn (the intake asks the urgency,
    # the safety word, whether the self-check applies), and reading it takes about a millisecond.
    _read: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def category(self, text: str) -> str | None:
        """The repair category the text names most, or None when it names none."""
        return _best(self.category_keywords, text)

    def feedback_category(self, text: str) -> str | None:
        return _best(self.feedback_keywords, text)

    def _remembered(self, what: str, text: str, work: Callable[[str], T]) -> T:
        key = (what, text)
        if key in self._read:
            with contextlib.suppress(KeyError):  # another thread may have just cleared it
                return self._read[key]  # type: ignore[no-any-return]
        found = work(text)
        if len(self._read) >= 4096:
            self._read.clear()
        self._read[key] = found
        return found

    def urgency(self, text: str) -> Urgency:
        return self._remembered("urgency", text, self._urgency)

    def _urgency(self, text: str) -> Urgency:
        if _ALARM.fullmatch(_fold(text).strip()):
            return Urgency.EMERGENCY
        reading = _Reading(text, self.calm_phrases)
        raised = not reading.known_works and (
            reading.found(self.emergency_keywords) or any(reading.pair(pair) for pair in self.emergency_pairs.values())
        )
        if raised or reading.found(self.safety_keywords):
            return Urgency.EMERGENCY
        if reading.live and not reading.known_works and self.learned_raises(text):
            return Urgency.EMERGENCY
        if reading.found(self.urgent_keywords):
            return Urgency.URGENT
        return Urgency.NORMAL

    def learned_raises(self, text: str) -> bool:
        model = self.learned.get("zh_CN" if re.search(rf"[{_HAN}]", text) else "en")
        return model is not None and self.learned_threshold > 0 and model.score(text) > self.learned_threshold

    def says_broken(self, text: str) -> bool:
        return bool(_found(self.fault_keywords, text))

    def safety_word(self, text: str) -> str | None:
        """The first safety word in the text: it keeps the report at emergency."""
        found = self._remembered("safety", text, lambda t: _Reading(t, self.calm_phrases).found(self.safety_keywords))
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


# How a sentence can take back the words in it. These are the languages' grammar, not an estate's policy, so they
# are not configured. A clause ends at punctuation, at a space between Chinese words, or at a turn ("but", "现在").
_HAN = "\u4e00-\u9fff"
_CLAUSE_BREAK = re.compile(
    rf"[,.;:!?，。；：！？、…~～\n()（）]+|\s+-\s+|(?<=[{_HAN}])\s+|\s+(?=[{_HAN}])"
    r"|(?<![a-z])(?:but|however|though|although|turns? out|turned out|and now)(?![a-z])|但是|不过|可是|现在|结果"
)
# Said just before a word, these deny it: "没有漏气", "not a fire", "no smoke".
_NEGATION = re.compile(
    rf"(?:(?<!有)没有|(?<!有)没|(?<!是)不是|并非|并不|无|未|不再|(?<!是)不|别)[{_HAN}]{{0,3}}$"
    r"|(?<![a-z])(?:no|not|nobody|no one|noone|none|isnt|wasnt|arent|werent|dont|doesnt|didnt|never|without|"
    r"nothing|no longer)(?:\s+\S+){0,2}\s*$"
)
# A clause that says the trouble is over takes back what came before it: "停电了，现在已经来电了".
_RESOLVED = re.compile(
    r"已经?(?:来电|来水|恢复|修好|好了|止住|不漏|解决|没事|能用|可以用)|来电了|来水了|恢复了|修好了|止住了|没事了|(?<!不)能用了"
    r"|(?<!不)可以用了|不过能用|关火了|是我把|不用来|不需要来|虚惊|火灭了|灭火了|扑灭|干了|不滴了|原来是|其实是|又好了|^\s*好了"
    r"|关好了|(?<!疏)散了|又动了|现在正常|现在是好的|现在好的|现在没事|没湿|不湿|没有湿"
    r"|(?<![a-z])(?:(?<!not )back on|back now|"
    r"(?:power|water|electricity|lights?|current|it) (?:came|come|has come) back|"
    r"is back|are back|"
    r"restored|(?<!isnt )(?<!not )(?<!been )fixed|fine now|ok now|okay now|"
    r"working now|working fine|no problem|all good now|(?:was|is|its|it was) actually|put (?:the fire |it )out|"
    r"(?:everything|it|all) works|"
    r"flipped it back|reset it|gone now|its gone|for nothing|stopped the leak|"
    r"(?:leak|leaking|water|dripping|smoke|smell) (?:has |have |had )?stopped|"
    r"working again|works again|stopped leaking|no longer|sorted|resolved|no need|false alarm|continued|"
    r"working normal|normal after|back to normal|drained|nothing is wet|nothing wet|not wet|isnt wet)(?![a-z])"
)
# A clause about a bill or a fee, a cut that is planned or announced, the past, what might happen, or someone's
# cigarette raises nothing now.
_NOT_NOW = re.compile(
    r"费|账单|缴|充值|余额|价格|收费|开户|理赔|保险|明天|后天|下周|下个月|周[一二三四五六日天末]|星期|礼拜|几点|(?<!没)(?<!没有)(?<!没看到)(?<!没收到)(?<!不)通知|公告|计划"
    r"|预计|检修|安排|上个月|上次|上周|去年|以前|之前|(?<!从)昨天|前天|那次|那事|那个|听说|新闻|别的小区|会不会|如果|假如|要是|的话|万一|要不要|想问|咨询|赔|要断电|要停|前几天|谁负责|哪里买|在哪买|怕|昨晚|视频|装个|装在哪|推荐|期间|申请|抽过烟|储水|什么电话|打什么|哪里办|去哪|安检"
    r"|抽烟|吸烟|烟头|香烟|二手烟|谢谢|感谢|担心|投诉|之后"
    r"|(?<![a-z])(?:bills?|fees?|charges?|charged|invoice|payment|pay|paid|top[- ]?up|balance|price|tariff|"
    r"insurance|claim|"
    r"tomorrow|next week|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|scheduled|planned|"
    r"(?<!no )(?<!without )(?<!any )notice|announcement|what time|inspection|last month|last time|last year|heard|"
    r"what if|in case|if|"
    r"who do i call|what number|will the|will there|is there going|smokes|smoker|smokers|cigarettes?|cigs?|vape|"
    r"last week|last weekend|remember|thank you for|thanks for|pass my thanks|"
    r"want to complain|who pays|(?<!since )yesterday|last night|the other day|"
    r"last months|last years|other estate|another estate|across the road|news|downtown|"
    r"been repaired|was repaired|fixed the|repaired the|tmr|tmrw|tmw|worried about|"
    r"should i be worried|is it safe|on (?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)|"
    r"in (?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december|20\d\d)|"
    r"(?:can|may) i smoke|people smoke|someone smoking|neighbou?rs? smoking)(?![a-z])"
)
# A message that is nothing but an alarm ("GAS", "救命", "lift!!! help") is an emergency whatever else is known.
_ALARM = re.compile(r"(?:(?:gas|fire|smoke|help|sos|lift|elevator|煤气|燃气|救命|着火|失火|电梯)[\W_]*)+")
# Said anywhere, these make the whole message a question asked in advance: "以防万一", "just in case".
_ASKING_AHEAD = re.compile(
    r"以防万一|先问问|虚惊一场|误报|(?<![a-z])(?:just in case|asking for the future|for future reference|"
    r"false alarm)(?![a-z])"
)
# Said anywhere, these make the cut or the stop a known one (planned, under maintenance): no emergency is raised by
# it, though a safety word still is.
_KNOWN_WORKS = re.compile(
    r"明天|后天|下周|维保|保养|检修|计划|公告|(?<!没)(?<!没有)(?<!没看到)(?<!没收到)(?<!不)通知|不急|不着急"
    r"|年检|(?<![a-z])(?:tomorrow|tmr|tmrw|next week|maintenance|scheduled|planned|not urgent|no rush|no hurry|"
    r"there will be|we were told|rewiring)(?![a-z])"
)
# Said anywhere, these make the smoke in the message someone's doing: a cigarette, a barbecue, paper offerings.
_MADE_SMOKE = re.compile(
    r"抽烟|吸烟|香烟|烧烤|烧纸|鞭炮|放炮|烟花|炒菜|炒辣椒|点香|上香|香火|烧树叶|烧落叶|烟囱|工厂|"
    r"(?<![a-z])(?:smokes|smoker|smokers|smoking cigarettes|food stalls?|hawker|chimney|factory|burning leaves|"
    r"hungry ghost|cigarettes?|cigs?|vape|vaping|kretek|bbq|barbecue|bonfire|incense|joss|fireworks|"
    r"(?:people|ppl|someone|somebody|neighbou?rs?|uncle|auntie|guys|guard|they|he|she)\s+(?:\w+\s+)?smok\w*|"
    r"smoking\s+neighbou?rs|smoking (?:on|in) the (?:balcony|stairwell|corridor))(?![a-z])"
)
_SMOKE_WORDS = (
    "烟味",
    "有烟",
    "烟很大",
    "烟特别",
    "冒烟",
    "浓烟",
    "烟雾",
    "呛",
    "smoke",
    "smoky",
    "smoking",
    "smell of smoke",
    "焦味",
    "香火味",
    "burning",
    "burning smell",
    "smoke from",
)


class _Reading:
    """A message read clause by clause: which clauses still speak of a trouble now, with calm phrases blanked."""

    def __init__(self, text: str, calm: tuple[str, ...]) -> None:
        folded = _fold(text)
        # "没看到任何停水通知": a notice denied is no planned cut
        folded = re.sub(
            r"(?:没|未)[^\s,.!?，。！？]{0,8}通知|通知(?:都|也)?没有?|(?<![a-z])(?:no|without|any)[^,.!?]{0,10}notice",
            lambda m: " " * len(m.group()),
            folded,
        )
        if _MADE_SMOKE.search(folded):
            calm = (*calm, *_SMOKE_WORDS)
        for phrase in calm:
            folded = _pattern(phrase).sub(lambda m: " " * len(m.group()), folded)
        clauses = [clause for clause in _CLAUSE_BREAK.split(folded) if clause and clause.strip()]
        if _ASKING_AHEAD.search(folded):
            clauses = []
        self.known_works = bool(_KNOWN_WORKS.search(folded))
        self.live = [
            clause
            for n, clause in enumerate(clauses)
            if not _NOT_NOW.search(clause) and not any(_RESOLVED.search(later) for later in clauses[n + 1 :])
        ]

    def found(self, keywords: tuple[str, ...], unless: tuple[str, ...] = ()) -> list[str]:
        """The keywords said, and not denied, in clauses that speak of now (and name none of `unless`)."""
        found: list[str] = []
        for clause in self.live:
            if unless and any(_pattern(word).search(clause) for word in unless):
                continue
            for keyword in keywords:
                if keyword not in found and any(
                    not _NEGATION.search(clause[: match.start()]) and not _RESOLVED.search(clause[match.end() :])
                    for match in _pattern(keyword).finditer(clause)
                ):
                    found.append(keyword)
        return found

    def pair(self, pair: Pair) -> bool:
        return bool(self.found(pair.things)) and bool(self.found(pair.states, pair.unless))


def _fold(text: str) -> str:
    """Case and apostrophes do not matter: "WONT", "won't" and "won’t" are one word."""
    return text.casefold().replace("'", "").replace("’", "")


@functools.lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern[str]:
    """Latin words match whole words ("gas" is not in "Vegas"); Chinese matches anywhere."""
    escaped = re.escape(_fold(keyword))
    if keyword.isascii():
        return re.compile(rf"(?<![a-z]){escaped}(?![a-z])")
    return re.compile(escaped)


def _found(keywords: tuple[str, ...], text: str) -> list[str]:
    folded = _fold(text)
    return [keyword for keyword in keywords if _pattern(keyword).search(folded)]


def _best(table: dict[str, tuple[str, ...]], text: str) -> str | None:
    scores = {category: len(_found(words, text)) for category, words in table.items()}
    best = max(scores.values(), default=0)
    if best == 0:
        return None
    return next(category for category, score in scores.items() if score == best)  # table order breaks ties


def rules_from_config(raw: dict[str, Any], learned: dict[str, LearnedOdds] | None = None) -> TriageRules:
    """`[triage]` from the config file; each key given replaces the shipped default for that key. `learned` is the
    shipped model, which `learned_threshold` tunes (0 turns it off)."""
    known = ("category_keywords", "feedback_keywords", "emergency_keywords", "emergency_pairs", "urgent_keywords",
             "safety_keywords", "calm_phrases", "fault_keywords", "self_check", "out_of_scope",
             "learned_threshold")  # fmt: skip
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

    pairs = dict(defaults.emergency_pairs)
    raw_pairs = raw.get("emergency_pairs", {})
    if not isinstance(raw_pairs, dict):
        raise ValueError("triage.emergency_pairs: must be a table of named pairs { things = […], states = […] }")
    for name, entry in raw_pairs.items():
        where = f"triage.emergency_pairs.{name}"
        if entry == {}:  # an empty table switches a shipped pair off
            pairs.pop(name, None)
            continue
        parts = set(entry) if isinstance(entry, dict) else set()
        if not {"things", "states"} <= parts or parts - {"things", "states", "unless"}:
            raise ValueError(f"{where}: needs things and states (and may have unless), each a list of words")
        unless = words(f"{where}.unless", entry["unless"]) if "unless" in entry else ()
        pairs[name] = Pair(words(f"{where}.things", entry["things"]), words(f"{where}.states", entry["states"]), unless)

    lists: dict[str, Any] = {
        key: words(f"triage.{key}", raw[key])
        for key in ("emergency_keywords", "urgent_keywords", "safety_keywords", "calm_phrases", "fault_keywords")
        if key in raw
    }
    threshold = raw.get("learned_threshold", defaults.learned_threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold < 0:
        raise ValueError("triage.learned_threshold: must be a number, 0 or more (0 turns the learned model off)")
    return replace(
        defaults,
        learned=dict(learned or {}),
        learned_threshold=float(threshold),
        category_keywords=table("category_keywords", REPAIR_CATEGORIES, defaults.category_keywords),
        feedback_keywords=table("feedback_keywords", FEEDBACK_CATEGORIES, defaults.feedback_keywords),
        emergency_pairs=pairs,
        self_checks=self_checks,
        out_of_scope=out_of_scope,
        **lists,
    )
