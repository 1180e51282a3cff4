"""The intake dialogue as a pure function: step(state, inbound, now, context) -> (state, replies, commands).

State is plain JSON-able data that storage keeps per (channel, chat, user), so any process can take
the next message. The conversation graph is the STEPS table at the bottom of this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.directory import Estate
from core.i18n import LOCALES, N_, Translator, TranslatorFactory
from core.location import find_place
from core.messages import ChatKind, Choice, Inbound, Reply
from core.model import FEEDBACK_CATEGORIES, REPAIR_CATEGORIES, Attachment, Location, Source, TicketKind, Urgency
from core.tickets import TicketDraft
from core.triage import TriageRules

IDLE_LIMIT = timedelta(minutes=30)
MAX_TEXT = 2000
LOCATION_TRIES = 3

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
}
URGENCY_LABELS = {
    Urgency.EMERGENCY: N_("Emergency: unsafe, or water/power/lift out"),
    Urgency.URGENT: N_("Urgent: today, please"),
    Urgency.NORMAL: N_("Normal: within a few days"),
}
URGENCY_WORDS = {Urgency.EMERGENCY: N_("Emergency"), Urgency.URGENT: N_("Urgent"), Urgency.NORMAL: N_("Normal")}

# Typed words that pick a choice in either language, whatever language the person reads.
KEYS: dict[str, tuple[str, ...]] = {
    "menu:repair": ("repair", "report", "报修", "维修", "修"),
    "menu:feedback": ("feedback", "complaint", "complain", "suggestion", "投诉", "建议", "反馈"),
    "menu:tickets": ("my tickets", "tickets", "status", "我的工单", "工单", "进度"),
    "menu:help": ("help", "帮助", "?", "？"),
    "menu:lang": ("language", "lang", "语言"),
    "yes": ("yes", "y", "ok", "confirm", "submit", "是", "是的", "对", "确认", "提交", "好"),
    "change": ("change", "edit", "修改", "改"),
    "cancel": ("cancel", "discard", "取消", "放弃"),
    "fixed": ("fixed", "solved", "fixed it", "好了", "解决了", "修好了"),
    "broken": ("still broken", "broken", "no", "还是坏", "没好", "不行"),
    "skip": ("skip", "none", "no", "跳过", "没有", "无"),
    "named": ("with my name", "named", "实名"),
    "anonymous": ("anonymous", "anonymously", "匿名"),
    "loc:other": ("other", "elsewhere", "其他", "别处"),
    "lang:zh_CN": ("中文", "chinese", "zh", "汉语"),
    "lang:en": ("english", "en", "英文", "英语"),
    **{f"urg:{u.value}": (u.value, word) for u, word in
       ((Urgency.EMERGENCY, "紧急"), (Urgency.URGENT, "加急"), (Urgency.NORMAL, "一般"))},
    **{f"cat:{c}": (c, c.replace("_", " ")) for c in (*REPAIR_CATEGORIES, *FEEDBACK_CATEGORIES)},
}  # fmt: skip
CATEGORY_WORDS_ZH = {
    "plumbing": ("水", "水电", "管道"), "electrical": ("电", "电路"), "civil": ("土建", "墙面"),
    "hvac": ("空调", "暖气"), "lift": ("电梯",), "fire_safety": ("消防",), "other": ("其他",),
    "service_quality": ("服务",), "facilities": ("设施",), "hygiene": ("卫生", "保洁"), "security": ("安保", "安全"),
    "community": ("社区", "邻里"),
}  # fmt: skip
for _category, _words in CATEGORY_WORDS_ZH.items():
    KEYS[f"cat:{_category}"] = (*KEYS[f"cat:{_category}"], *_words)

COMMAND_WORDS = {
    "start": "start", "menu": "start", "help": "help", "cancel": "cancel", "lang": "lang", "language": "lang",
    "status": "status", "tickets": "tickets", "mytickets": "tickets", "withdraw": "withdraw", "chase": "chase",
    "report": "report", "feedback": "feedback",
}  # fmt: skip
FEEDBACK_STARTERS = ("投诉", "建议", "表扬", "反馈", "complain", "complaint", "suggestion", "suggest", "feedback")


# --- what the dialogue asks the rest of the system to do ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Command:
    slot: int = -1  # where among the turn's replies the command's own answer belongs


@dataclass(frozen=True)
class SubmitTicket(_Command):
    draft: TicketDraft
    outcome: str = "open"  # open | self_resolved | out_of_scope
    pointer: str = ""  # for out_of_scope: where the matter belongs


@dataclass(frozen=True)
class ShowMyTickets(_Command):
    pass


@dataclass(frozen=True)
class ShowTicket(_Command):
    reference: str


@dataclass(frozen=True)
class WithdrawTicket(_Command):
    reference: str


@dataclass(frozen=True)
class ChaseTicket(_Command):
    reference: str


@dataclass(frozen=True)
class SetLocale(_Command):
    locale: str


@dataclass(frozen=True)
class JoinTicket(_Command):
    reference: str
    chat: str = ""  # the group it was joined from, whose message gets the progress replies
    message_ref: str = ""


@dataclass(frozen=True)
class ConfirmFix(_Command):
    reference: str


@dataclass(frozen=True)
class RejectFix(_Command):
    reference: str
    reason: str


@dataclass(frozen=True)
class RateTicket(_Command):
    reference: str
    rating: int
    comment: str = ""


Command = (
    SubmitTicket | ShowMyTickets | ShowTicket | WithdrawTicket | ChaseTicket | SetLocale | JoinTicket
    | ConfirmFix | RejectFix | RateTicket
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    """Who is talking, as the directory knows them (or does not)."""

    name: str
    ref: str  # "channel:user"
    resident_id: int | None = None
    rooms: tuple[str, ...] = ()
    phone: str = ""
    registered: bool = False  # not in the directory, but customer service confirmed their room

    @property
    def known(self) -> bool:
        return self.resident_id is not None

    @property
    def verified(self) -> bool:
        return self.known or self.registered


@dataclass(frozen=True)
class OpenReport:
    """An open ticket about a shared place, which a new report of the same fault can join."""

    number: str
    common_area: str
    category: str
    reporters: int


@dataclass(frozen=True)
class Context:
    """Everything step() may read besides the state and the message; all plain data."""

    estate: Estate
    person: Person
    rules: TriageRules
    locale: str
    translators: TranslatorFactory
    chat_kind: ChatKind = ChatKind.PRIVATE
    open_reports: tuple[OpenReport, ...] = ()
    on_behalf: bool = False  # staff writing down a resident's report (/new): no self-check, no join

    @property
    def in_group(self) -> bool:
        return self.chat_kind is ChatKind.GROUP


# --- the state, as stored ----------------------------------------------------------------------------------


@dataclass
class Draft:
    room: str | None = None
    area: str | None = None
    place_text: str | None = None
    description: str = ""
    category: str | None = None
    urgency: str | None = None
    safety_word: str | None = None
    attachments: list[dict[str, str]] = field(default_factory=list)
    anonymous: bool | None = None
    place_asked: bool = False
    self_checked: bool = False
    join_asked: bool = False
    location_tries: int = 0
    origin_chat: str = ""  # the group message a report started from, for progress replies there
    origin_message: str = ""

    @property
    def has_location(self) -> bool:
        return bool(self.room or self.area or self.place_text)

    def location(self) -> Location:
        return Location(room=self.room, common_area=self.area, text=self.place_text)


@dataclass
class State:
    flow: str = ""  # "" | repair | feedback | after (a question about a finished ticket)
    step: str = ""
    draft: Draft = field(default_factory=Draft)
    choices: list[list[Any]] = field(default_factory=list)  # [payload, label, keys] last offered
    returning: bool = False  # answering a "change" from the repeat-back: go back there after
    candidates: list[str] = field(default_factory=list)
    ticket: str = ""  # flow "after": the ticket the question is about
    rating: int = 0
    updated_at: str = ""

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> State:
        if not data:
            return cls()
        try:
            return cls(
                flow=str(data.get("flow", "")),
                step=str(data.get("step", "")),
                draft=Draft(**data.get("draft", {})),
                choices=[list(c) for c in data.get("choices", [])],
                returning=bool(data.get("returning", False)),
                candidates=list(data.get("candidates", [])),
                ticket=str(data.get("ticket", "")),
                rating=int(data.get("rating", 0)),
                updated_at=str(data.get("updated_at", "")),
            )
        except TypeError:
            return cls()  # state written by an older baoxiu: start afresh rather than fail

    def dump(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "step": self.step,
            "draft": vars(self.draft),
            "choices": self.choices,
            "returning": self.returning,
            "candidates": self.candidates,
            "ticket": self.ticket,
            "rating": self.rating,
            "updated_at": self.updated_at,
        }


# --- one turn of the conversation ------------------------------------------------------------------------


def step(
    state: dict[str, Any] | None, inbound: Inbound, now: datetime, context: Context
) -> tuple[dict[str, Any], list[Reply], list[Command]]:
    turn = Turn(State.load(state), inbound, now, context)
    turn.run()
    turn.state.updated_at = now.isoformat()
    return turn.state.dump(), turn.replies, turn.commands


def _meaningful(text: str) -> bool:
    """False for empty, emoji-only or punctuation-only text."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


FILLER = ("我要", "我想", "想", "要", "一下", "一个", "i want to", "i'd like to", "i would like to", "make a", "give",
          "leave", "some", "a", "an", "please")  # fmt: skip


def _says_more_than(text: str, intentions: tuple[str, ...]) -> bool:
    """False for "我要投诉" or "I want to complain": an intention, not yet the content."""
    rest = text.casefold()
    for word in sorted((*intentions, *FILLER), key=len, reverse=True):
        rest = re.sub(rf"(?<![a-z]){re.escape(word)}(?![a-z])" if word.isascii() else re.escape(word), " ", rest)
    return sum(1 for ch in rest if unicodedata.category(ch)[0] in "LN") >= 4


def _fold(text: str) -> str:
    return text.strip().casefold().rstrip(".。!！").strip()


class Turn:
    def __init__(self, state: State, inbound: Inbound, now: datetime, context: Context) -> None:
        self.state, self.inbound, self.now, self.context = state, inbound, now, context
        self.t: Translator = context.translators(context.locale)
        self.replies: list[Reply] = []
        self.commands: list[Command] = []
        self.text = inbound.text.strip()

    # replies -------------------------------------------------------------------------------------------

    def say(self, text: str, choices: list[Choice] | None = None) -> None:
        self.replies.append(Reply(text, tuple(choices or ())))
        self.state.choices = [[c.payload, c.label, list(c.keys)] for c in choices or ()]

    def emit(self, command: Command) -> None:
        self.commands.append(replace(command, slot=len(self.replies)))

    def choice(self, payload: str, label: str) -> Choice:
        return Choice(payload, label, KEYS.get(payload, ()))

    def offered(self) -> list[Choice]:
        return [Choice(p, label, tuple(keys)) for p, label, keys in self.state.choices]

    def picked(self) -> Choice | None:
        """The offered choice the message picks: a button, its number, or one of its words."""
        offered = self.offered()
        if self.inbound.payload is not None:
            return next((c for c in offered if c.payload == self.inbound.payload), None)
        folded = _fold(self.text)
        if not folded:
            return None
        if folded.isdecimal() and 1 <= int(folded) <= len(offered):
            return offered[int(folded) - 1]
        for c in offered:
            if folded == _fold(c.label) or folded in (_fold(k) for k in c.keys):
                return c
        return None

    # the turn ------------------------------------------------------------------------------------------

    def run(self) -> None:
        state = self.state
        if state.flow == "after" and (self.text.startswith("/") or (self.inbound.payload or "").startswith("t:")):
            self.state = state = State(choices=state.choices)  # a question about a closed ticket simply lapses
        if state.flow and state.updated_at:
            idle = self.now - datetime.fromisoformat(state.updated_at)
            if idle > IDLE_LIMIT and state.flow == "after":
                self.state = State()
            elif idle > IDLE_LIMIT:
                self.replies.append(
                    Reply(self.t("Your unfinished report from earlier was dropped after 30 minutes without an answer."))
                )
                self.state = State()
        if len(self.text) > MAX_TEXT:
            self.text = self.text[:MAX_TEXT]
            self.replies.append(Reply(self.t("Your message was long; I kept the first 2,000 characters.")))
        self.keep_attachments()

        if self.inbound.resumed_from:
            self.resume_privately()
            return
        if self.text.startswith("/"):
            self.command()
            return
        chosen = self.picked()
        payload = self.inbound.payload if self.inbound.payload is not None else (chosen.payload if chosen else None)
        if payload is not None and self.global_payload(payload):
            return
        offered = self.offered()
        if chosen is None and offered and self.text.isdecimal() and len(self.text) <= 2:
            self.say_again(self.t("Please pick a number from 1 to {last}.").format(last=len(offered)))
            return
        if self.inbound.payload is not None and chosen is None:
            self.say_again(self.t("That button belongs to an earlier question."))
            return
        if not self.state.flow:
            self.idle()
            return
        handler = STEPS[self.state.step].answer
        if not _meaningful(self.text) and self.inbound.payload is None and not self.usable_attachment():
            self.say_again(self.t("I can only read words here. Please answer in a few words, or tap a choice."))
            return
        handler(self)

    def resume_privately(self) -> None:
        """Arrived through the "continue privately" link from a group: pick the draft up here."""
        if self.state.flow:
            self.replies.append(Reply(self.t("Let's continue your report here, in private.")))
            STEPS[self.state.step].ask(self)
        else:
            self.replies.append(Reply(self.t("That report is no longer open; let's start a new one.")))
            self.menu()

    def keep_attachments(self) -> None:
        if self.state.flow or self.inbound.attachments:
            for attachment in self.inbound.attachments:
                item = {"kind": attachment.kind, "ref": attachment.ref, "caption": attachment.caption}
                if item not in self.state.draft.attachments:
                    self.state.draft.attachments.append(item)

    def usable_attachment(self) -> bool:
        """A photo or voice note answers the symptom question; a pin answers the location one."""
        kinds = {a.kind for a in self.inbound.attachments}
        return (self.state.step == "symptom" and bool(kinds & {"photo", "voice"})) or (
            self.state.step == "location" and "location" in kinds
        )

    def say_again(self, note: str) -> None:
        """A short note, then the current question once more."""
        self.replies.append(Reply(note))
        if self.state.flow:
            STEPS[self.state.step].ask(self)
        else:
            self.menu()

    # commands and global buttons ------------------------------------------------------------------------

    def command(self) -> None:
        word, _, rest = self.text[1:].partition(" ")
        word = word.split("@")[0].casefold()  # /status@baoxiu_bot in Telegram groups
        name = COMMAND_WORDS.get(word)
        rest = rest.strip()
        in_flow = bool(self.state.flow)
        if name == "cancel":
            if in_flow:
                self.state = State()
                self.say(self.t("Report discarded; nothing was sent."), self.menu_choices())
            else:
                self.say(self.t("There is nothing to cancel."), self.menu_choices())
            return
        if name == "start":
            self.state = State()
            self.menu(greet=True)
            return
        if name in ("report", "feedback"):
            self.state = State()
            if name == "feedback":
                self.start_feedback(rest)
            else:
                self.start_repair(rest)
            return
        if name == "help":
            self.replies.append(Reply(self.help_text()))
        elif name == "lang":
            self.ask_language()
            return
        elif name == "tickets":
            self.emit(ShowMyTickets())
        elif name in ("status", "withdraw", "chase"):
            if not rest:
                example = {"status": "/status SG-20261127-0001", "withdraw": "/withdraw SG-20261127-0001",
                           "chase": "/chase SG-20261127-0001"}[name]  # fmt: skip
                self.replies.append(
                    Reply(self.t("Please add the ticket number, for example: {example}").format(example=example))
                )
            else:
                command = {"status": ShowTicket, "withdraw": WithdrawTicket, "chase": ChaseTicket}[name]
                self.emit(command(rest.split()[0]))
        else:
            self.replies.append(
                Reply(self.t("I don't know the command {command}. Send /help to see what I can do.").format(
                    command="/" + word))
            )  # fmt: skip
        self.resume_or_menu(in_flow)

    def resume_or_menu(self, in_flow: bool) -> None:
        if in_flow:
            self.replies.append(Reply(self.t("Let's continue your report.")))
            STEPS[self.state.step].ask(self)
        elif not self.commands:
            self.menu()

    def global_payload(self, payload: str) -> bool:
        """Buttons that work whatever step the conversation is at."""
        kind, _, value = payload.partition(":")
        in_flow = bool(self.state.flow)
        if kind == "lang" and value in LOCALES and payload in (c.payload for c in self.offered()):
            self.set_language(value)
            return True
        if kind == "t" and value:
            action, _, reference = value.partition(":")
            if action in ("fixed", "notfixed", "rate") and reference:
                self.acceptance(action, reference)
                return True
            command = {"status": ShowTicket, "withdraw": WithdrawTicket, "chase": ChaseTicket}.get(action)
            if command is None or not reference:
                return False
            self.emit(command(reference))
            if in_flow:
                self.resume_or_menu(in_flow)
            return True
        return False

    def acceptance(self, action: str, reference: str) -> None:
        """The buttons under "the repair is done" and under the rating question."""
        reference, _, stars = reference.partition(":")
        if action == "fixed":
            self.state = State()
            self.emit(ConfirmFix(reference))
        elif action == "rate" and stars.isdecimal() and 1 <= int(stars) <= 5:
            self.state = State()
            self.emit(RateTicket(reference, int(stars)))
        elif action == "notfixed":
            self.state = State(flow="after", ticket=reference)
            self.goto("rework_reason")

    def ask_rework_reason(self) -> None:
        self.say(self.t("Sorry to hear that. What is still wrong with {number}? One message, please.").format(
            number=self.state.ticket))  # fmt: skip

    def answer_rework_reason(self) -> None:
        reference = self.state.ticket
        self.state = State()
        self.emit(RejectFix(reference, self.text))

    def ask_rating_comment(self) -> None:
        self.say(self.t("Anything to add about {number}? Write it, or tap Skip.").format(number=self.state.ticket),
                 [self.choice("skip", self.t("Skip"))])  # fmt: skip

    def answer_rating_comment(self) -> None:
        chosen = self.picked()
        reference, rating = self.state.ticket, self.state.rating
        self.state = State()
        if chosen is not None and chosen.payload == "skip":
            self.replies.append(Reply(self.t("Thank you!")))
            return
        self.emit(RateTicket(reference, rating, self.text))

    def help_text(self) -> str:
        return self.t(
            "I take repair reports and feedback for {estate}.\n"
            '• Describe a fault in one message, e.g. "kitchen pipe leaking in 1-1-1201", and I\'ll ask for the rest.\n'
            "• /tickets: your open tickets · /status NUMBER: one ticket\n"
            "• /withdraw NUMBER: cancel a report nobody is working on yet · /chase NUMBER: ask us to hurry\n"
            "• /cancel: drop the report you're writing · /lang: 中文 / English · /start: the menu"
        ).format(estate=self.context.estate.name)

    # language -----------------------------------------------------------------------------------------

    def ask_language(self) -> None:
        choices = [self.choice("lang:zh_CN", "中文"), self.choice("lang:en", "English")]
        self.replies.append(Reply("请选择语言 / Choose your language", tuple(choices)))
        self.state.choices = [[c.payload, c.label, list(c.keys)] for c in choices]

    def set_language(self, locale: str) -> None:
        self.emit(SetLocale(locale))
        self.t = self.context.translators(locale)
        self.replies.append(Reply(self.t("I'll talk to you in English from now on.")))
        if self.state.flow:
            STEPS[self.state.step].ask(self)
        else:
            self.menu()

    # idle: the menu, or straight into a report --------------------------------------------------------

    def menu_choices(self) -> list[Choice]:
        return [
            self.choice("menu:repair", self.t("🔧 Report a repair")),
            self.choice("menu:feedback", self.t("💬 Feedback or complaint")),
            self.choice("menu:tickets", self.t("📋 My tickets")),
            self.choice("menu:help", self.t("❓ Help")),
            self.choice("menu:lang", "🌐 中文 / English"),
        ]

    def menu(self, greet: bool = False) -> None:
        if greet or not self.replies:
            estate = self.context.estate.name
            if self.context.person.known:
                first_name = self.context.person.name.split(" ")[0]
                hello = self.t("Hello {name}! This is the {estate} repair desk.").format(name=first_name, estate=estate)
            else:
                hello = self.t("Hello! This is the {estate} repair desk.").format(estate=estate)
            text = hello + "\n" + self.t("What can I do for you?")
        else:
            text = self.t("What can I do for you?")
        self.say(text, self.menu_choices())

    def idle(self) -> None:
        self.state.choices = self.state.choices or [[c.payload, c.label, list(c.keys)] for c in self.menu_choices()]
        chosen = self.picked()
        if chosen is None:
            # The menu's words work even when the menu is not on screen.
            chosen = next((c for c in self.menu_choices() if _fold(self.text) in (_fold(k) for k in c.keys)), None)
        payload = chosen.payload if chosen else ""
        if payload == "menu:repair":
            self.start_repair("")
        elif payload == "menu:feedback":
            self.start_feedback("")
        elif payload == "menu:tickets":
            self.emit(ShowMyTickets())
        elif payload == "menu:help":
            self.say(self.help_text(), self.menu_choices())
        elif payload == "menu:lang":
            self.ask_language()
        elif not _meaningful(self.text) and not self.inbound.attachments:
            self.replies.append(Reply(self.t("Hello! Tell me in a few words what is wrong, or pick from the menu.")))
            self.menu()
        elif self.looks_like_feedback():
            self.start_feedback(self.text)
        elif self.looks_like_fault():
            self.start_repair(self.text)
        else:
            self.menu(greet=True)

    def looks_like_fault(self) -> bool:
        rules = self.context.rules
        return bool(
            rules.category(self.text)
            or rules.safety_word(self.text)
            or rules.says_broken(self.text)
            or rules.urgency(self.text) != "normal"
        )

    def looks_like_feedback(self) -> bool:
        folded = self.text.casefold()
        starts = any(word in folded for word in FEEDBACK_STARTERS)
        return starts or self.context.rules.out_of_scope_for(self.text) is not None

    # repair ------------------------------------------------------------------------------------------

    def start_repair(self, text: str) -> None:
        attachments = self.state.draft.attachments
        self.state = State(flow="repair", draft=Draft(attachments=attachments))
        if self.context.in_group:
            self.state.draft.origin_chat = self.inbound.chat
            self.state.draft.origin_message = self.inbound.message_ref
        if text and _meaningful(text):
            self.absorb(text)
        self.next_repair_step()

    def absorb(self, text: str) -> None:
        """Take everything a free-form description already says: place, symptom, category, urgency."""
        draft, rules = self.state.draft, self.context.rules
        if not draft.has_location:
            place = find_place(self.context.estate, text, self.context.person.rooms, fuzzy=False)
            if place.room or place.common_area:
                draft.room, draft.area = place.room, place.common_area
            elif place.candidates:
                self.state.candidates = list(place.candidates)
        draft.description = text
        draft.category = draft.category or rules.category(text)
        draft.safety_word = rules.safety_word(text)
        if draft.safety_word:
            draft.urgency = Urgency.EMERGENCY.value

    def next_repair_step(self) -> None:
        draft = self.state.draft
        if self.state.returning:
            self.state.returning = False
            self.goto("confirm")
        elif not draft.has_location:
            self.goto("location_unit" if self.state.candidates else "location")
        elif not draft.description:
            self.goto("symptom")
        elif not draft.category:
            self.goto("category")
        elif not draft.join_asked and not self.context.on_behalf and self.same_open_report() is not None:
            self.goto("join")
        elif not draft.urgency:
            self.goto("urgency")
        elif (
            not draft.self_checked
            and draft.room is not None  # the tips are for a home: its breaker box, its valves
            and draft.urgency != Urgency.EMERGENCY
            and not self.context.on_behalf
            and self.context.rules.self_check(draft.category, self.t)
        ):
            self.goto("self_check")
        else:
            self.goto("confirm")

    def same_open_report(self) -> OpenReport | None:
        draft = self.state.draft
        if draft.area is None:
            return None
        return next(
            (r for r in self.context.open_reports if r.common_area == draft.area and r.category == draft.category),
            None,
        )

    def ask_join(self) -> None:
        report = self.same_open_report()
        if report is None:  # closed meanwhile: nothing to join, so on with a report of their own
            self.state.draft.join_asked = True
            self.next_repair_step()
            return
        self.say(
            self.t(
                "{number} is already open for this: {category} at {place}, reported by {count} resident(s). "
                "Join it to get its updates, instead of a new report?"
            ).format(
                number=report.number,
                category=self.t(CATEGORY_LABELS.get(report.category, "other")),
                place=report.common_area,
                count=report.reporters,
            ),
            [self.choice(f"join:{report.number}", self.t("👍 Join it")), self.choice("new", self.t("New report"))],
        )

    def answer_join(self) -> None:
        chosen = self.picked()
        if chosen is not None and chosen.payload.startswith("join:"):
            draft = self.state.draft
            self.emit(JoinTicket(chosen.payload.split(":", 1)[1], draft.origin_chat, draft.origin_message))
            self.state = State()
        elif chosen is not None and chosen.payload == "new":
            self.state.draft.join_asked = True
            self.next_repair_step()
        else:
            self.say_again(self.t("Please pick one of the choices, by its number or its name."))

    def private_choice(self) -> list[Choice]:
        if not self.inbound.private_link:
            return []
        return [Choice("private", self.t("🔒 Continue privately"), url=self.inbound.private_link)]

    def goto(self, name: str) -> None:
        self.state.step = name
        STEPS[name].ask(self)

    def ask_location(self) -> None:
        if self.context.in_group:
            # Room numbers stay out of the group: a home is for the private chat.
            self.say(
                self.t("Where is it? Reply with a shared place, such as 车库 (garage) or 3号楼电梯.")
                + "\n"
                + self.t("For a fault in your home, continue privately, so your room number stays out of the group."),
                self.private_choice(),
            )
            return
        rooms = self.context.person.rooms
        examples = self.t("For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).")
        if rooms:
            choices = [self.choice(f"room:{room}", room) for room in rooms]
            choices.append(self.choice("loc:other", self.t("Somewhere else")))
            self.say(self.t("Where is the problem? Tap your home, or type the place.") + "\n" + examples, choices)
        else:
            self.say(self.t("Where is the problem? Type the room or the place.") + "\n" + examples)

    def answer_location(self) -> None:
        draft = self.state.draft
        chosen = self.picked()
        if chosen is not None and chosen.payload.startswith("room:"):
            draft.room = chosen.payload.split(":", 1)[1]
            self.next_repair_step()
            return
        if chosen is not None and chosen.payload == "loc:other":
            self.say(self.t("Type the place: a room like 1-1-1201, or a shared place like 车库 (garage) or 3号楼电梯."))
            return
        pin = next((a for a in self.inbound.attachments if a.kind == "location"), None)
        if pin is not None and not _meaningful(self.text):
            draft.place_text = self.t("Location pin: {where}").format(where=pin.caption or pin.ref)
            self.replies.append(Reply(self.t("Thanks for the pin. Staff will match it to the place.")))
            self.next_repair_step()
            return
        place = find_place(self.context.estate, self.text, self.context.person.rooms)
        if place.room or place.common_area:
            draft.room, draft.area = place.room, place.common_area
            if not draft.description and self.context.rules.category(self.text):
                draft.description = self.text
                draft.category = draft.category or self.context.rules.category(self.text)
            self.next_repair_step()
            return
        if place.candidates:
            self.state.candidates = list(place.candidates)
            self.goto("location_unit")
            return
        draft.location_tries += 1
        if draft.location_tries >= LOCATION_TRIES:
            draft.place_text = self.text
            self.replies.append(
                Reply(self.t("I'll pass the place on as you wrote it: \"{place}\". Staff will check it.").format(
                    place=self.text))
            )  # fmt: skip
            self.next_repair_step()
            return
        if place.problem:
            note = self.t("I can't find {room} in {estate}.").format(
                room=place.problem, estate=self.context.estate.name
            )
        else:
            note = self.t("Sorry, I didn't recognise that place.")
        self.say_again(note)

    def ask_location_unit(self) -> None:
        if self.context.in_group:  # the candidates are room numbers: not for the group
            self.state.candidates = []
            self.goto("location")
            return
        self.say(
            self.t("Which unit is it?"),
            [self.choice(f"room:{room}", room) for room in self.state.candidates],
        )

    def answer_location_unit(self) -> None:
        chosen = self.picked()
        if chosen is not None and chosen.payload.startswith("room:"):
            self.state.draft.room = chosen.payload.split(":", 1)[1]
            self.state.candidates = []
            self.next_repair_step()
            return
        self.state.candidates = []
        self.state.step = "location"
        self.answer_location()

    def ask_symptom(self) -> None:
        self.say(self.t("What is wrong? Describe it in a few words; a photo helps too."))

    def answer_symptom(self) -> None:
        draft = self.state.draft
        if not _meaningful(self.text):
            self.say(self.t("Got the photo, thank you. Please also describe the problem in a few words."))
            return
        draft.description = self.text
        rules = self.context.rules
        if not self.state.returning or not draft.category:
            draft.category = rules.category(self.text) or draft.category
        draft.safety_word = rules.safety_word(self.text) or draft.safety_word
        if draft.safety_word:
            draft.urgency = Urgency.EMERGENCY.value
        self.next_repair_step()

    def ask_category(self) -> None:
        categories = REPAIR_CATEGORIES if self.state.flow == "repair" else FEEDBACK_CATEGORIES
        current = self.state.draft.category
        ordered = sorted(categories, key=lambda c: c != current)
        choices = [
            self.choice(f"cat:{c}", ("✓ " if c == current else "") + self.t(CATEGORY_LABELS[c])) for c in ordered
        ]
        if self.state.flow == "feedback":
            question = self.t("What is your feedback about?")
        elif current:
            question = self.t("Which kind of problem is it? I think: {category}.").format(
                category=self.t(CATEGORY_LABELS[current])
            )
        else:
            question = self.t("Which kind of problem is it?")
        self.say(question, choices)

    def answer_category(self) -> None:
        chosen = self.picked()
        category = chosen.payload.split(":", 1)[1] if chosen and chosen.payload.startswith("cat:") else None
        if category is None and self.state.flow == "repair":
            category = self.context.rules.category(self.text)
        if category is None and self.state.flow == "feedback":
            category = self.context.rules.feedback_category(self.text)
        if category is None:
            self.say_again(self.t("Please pick one of the choices, by its number or its name."))
            return
        self.state.draft.category = category
        if self.state.flow == "repair":
            self.next_repair_step()
        else:
            self.next_feedback_step()

    def ask_urgency(self) -> None:
        draft = self.state.draft
        proposed = Urgency(self.context.rules.urgency(draft.description, draft.category))
        if draft.category == "lift" and proposed is Urgency.NORMAL:
            proposed = Urgency.URGENT
        choices = [
            self.choice(f"urg:{u.value}", ("✓ " if u is proposed else "") + self.t(URGENCY_LABELS[u])) for u in Urgency
        ]
        self.say(
            self.t("How urgent is it? I suggest: {urgency}.").format(urgency=self.t(URGENCY_WORDS[proposed])),
            sorted(choices, key=lambda c: not c.label.startswith("✓")),
        )

    def answer_urgency(self) -> None:
        chosen = self.picked()
        if chosen is None or not chosen.payload.startswith("urg:"):
            self.say_again(self.t("Please pick one of the choices, by its number or its name."))
            return
        self.state.draft.urgency = chosen.payload.split(":", 1)[1]
        self.next_repair_step()

    def ask_self_check(self) -> None:
        tip = self.context.rules.self_check(self.state.draft.category or "", self.t) or ""
        self.say(
            tip,
            [
                self.choice("fixed", self.t("✅ Fixed it myself")),
                self.choice("broken", self.t("🔧 Still broken: send someone")),
            ],
        )

    def answer_self_check(self) -> None:
        chosen = self.picked()
        if chosen is None:
            self.say_again(self.t("Please pick one of the choices, by its number or its name."))
            return
        if chosen.payload == "fixed":
            self.submit(outcome="self_resolved")
            return
        self.state.draft.self_checked = True
        self.next_repair_step()

    def summary(self) -> str:
        draft, t = self.state.draft, self.t
        location = draft.room or draft.area or draft.place_text or "-"
        if self.context.in_group and draft.room:
            location = t("your home (not shown in the group)")
        if self.state.flow == "repair":
            lines = [
                t("Please check your report:"),
                t("Place: {place}").format(place=location),
                t("Problem: {problem}").format(problem=draft.description),
                t("Type: {category}").format(category=t(CATEGORY_LABELS[draft.category or "other"])),
                t("Urgency: {urgency}").format(urgency=t(URGENCY_WORDS[Urgency(draft.urgency or "normal")])),
            ]
            if draft.safety_word:
                lines.append(t('Kept at emergency because you mentioned "{word}".').format(word=draft.safety_word))
        else:
            lines = [
                t("Please check your feedback:"),
                t("About: {category}").format(category=t(CATEGORY_LABELS[draft.category or "other"])),
                t("Message: {text}").format(text=draft.description),
                t("Place or thing: {place}").format(place=location if draft.has_location else t("(none)")),
                t("Name shown to staff: {answer}").format(answer=t("no, anonymous") if draft.anonymous else t("yes")),
            ]
        if draft.attachments:
            lines.append(t("Attachments: {count}").format(count=len(draft.attachments)))
        return "\n".join(lines)

    def ask_confirm(self) -> None:
        self.say(
            self.summary(),
            [
                self.choice("yes", self.t("✅ Submit")),
                self.choice("change", self.t("✏️ Change something")),
                self.choice("cancel", self.t("✖️ Cancel")),
            ],
        )

    def answer_confirm(self) -> None:
        chosen = self.picked()
        payload = chosen.payload if chosen else ""
        if payload == "yes":
            self.submit()
        elif payload == "change":
            self.goto("change")
        elif payload == "cancel":
            self.state = State()
            self.say(self.t("Report discarded; nothing was sent."), self.menu_choices())
        elif self.state.flow == "repair" and _meaningful(self.text) and len(self.text) > 3:
            # More words about the fault: add them rather than ask again.
            self.state.draft.description = f"{self.state.draft.description}\n{self.text}".strip()
            self.replies.append(Reply(self.t("Added to the description.")))
            self.goto("confirm")
        else:
            self.say_again(self.t("Please pick one of the choices, by its number or its name."))

    def ask_change(self) -> None:
        if self.state.flow == "repair":
            fields = [("location", self.t("Place")), ("symptom", self.t("Problem")),
                      ("category", self.t("Type")), ("urgency", self.t("Urgency"))]  # fmt: skip
        else:
            fields = [("category", self.t("About")), ("fb_content", self.t("Message")),
                      ("fb_place", self.t("Place or thing")),
                      ("fb_anonymous", self.t("Name shown to staff"))]  # fmt: skip
        self.say(self.t("What would you like to change?"), [self.choice(f"field:{f}", label) for f, label in fields])

    def answer_change(self) -> None:
        chosen = self.picked()
        if chosen is None or not chosen.payload.startswith("field:"):
            self.say_again(self.t("Please pick one of the choices, by its number or its name."))
            return
        target = chosen.payload.split(":", 1)[1]
        draft = self.state.draft
        if target == "location":
            draft.room = draft.area = draft.place_text = None
            draft.location_tries = 0
        if target == "urgency" and draft.safety_word:
            self.replies.append(
                Reply(self.t('This stays an emergency because you mentioned "{word}".').format(word=draft.safety_word))
            )
            self.goto("confirm")
            return
        self.state.returning = True
        self.goto(target)

    def submit(self, outcome: str = "open", pointer: str = "") -> None:
        draft, person = self.state.draft, self.context.person
        kind = TicketKind.REPAIR if self.state.flow == "repair" else TicketKind.FEEDBACK
        category = draft.category or "other"
        department = self.context.estate.department_for(category) if kind is TicketKind.FEEDBACK else None
        ticket = TicketDraft(
            kind=kind,
            source=Source.RESIDENT_CHAT,
            location=draft.location(),
            category=category,
            description=draft.description,
            urgency=Urgency(draft.urgency or "normal"),
            reporter=person.name,
            reporter_resident_id=person.resident_id,
            reporter_contact=person.phone,
            reporter_ref=person.ref,
            anonymous=bool(draft.anonymous),
            verified=person.verified,
            department=department.name if department else "",
            attachments=tuple(Attachment(**a) for a in draft.attachments),
            origin_chat=draft.origin_chat,
            origin_message=draft.origin_message,
        )  # fmt: skip
        self.emit(SubmitTicket(ticket, outcome, pointer))
        self.state = State()

    # feedback ----------------------------------------------------------------------------------------

    def start_feedback(self, text: str) -> None:
        attachments = self.state.draft.attachments
        self.state = State(flow="feedback", draft=Draft(attachments=attachments))
        if self.context.in_group:
            # Feedback may name people or be anonymous: it is taken in private only.
            self.state.draft.description = text if _says_more_than(text, FEEDBACK_STARTERS) else ""
            self.goto("private_only")
            return
        if _says_more_than(text, FEEDBACK_STARTERS):
            self.state.draft.category = self.context.rules.feedback_category(text)
            if self.take_content(text):
                return
        self.next_feedback_step()

    def take_content(self, text: str) -> bool:
        """Keep the message; True when it was out of scope and has been answered already."""
        self.state.draft.description = text
        matter = self.context.rules.out_of_scope_for(text)
        if matter is None:
            return False
        self.state.draft.category = self.state.draft.category or "other"
        pointer = self.context.rules.pointer(matter, self.t)
        self.submit(outcome="out_of_scope", pointer=pointer)
        return True

    def next_feedback_step(self) -> None:
        draft = self.state.draft
        if self.state.returning:
            self.state.returning = False
            self.goto("confirm")
        elif not draft.category:
            self.goto("category")
        elif not draft.description:
            self.goto("fb_content")
        elif not draft.place_asked:
            self.goto("fb_place")
        elif draft.anonymous is None:
            self.goto("fb_anonymous")
        else:
            self.goto("confirm")

    def ask_private_only(self) -> None:
        draft = self.state.draft
        if not self.context.in_group:  # arrived through the private link: on with the feedback
            if draft.description and not draft.category:
                draft.category = self.context.rules.feedback_category(draft.description)
            self.next_feedback_step()
            return
        self.say(
            self.t("Feedback is taken in private. Please continue in a private chat with me."), self.private_choice()
        )

    def answer_private_only(self) -> None:
        self.ask_private_only()

    def ask_fb_content(self) -> None:
        self.say(self.t("Please write your feedback. Photos are welcome too."))

    def answer_fb_content(self) -> None:
        if not _meaningful(self.text):
            self.say(self.t("Thank you. Please also say in a few words what it is about."))
            return
        if not self.take_content(self.text):
            self.next_feedback_step()

    def ask_fb_place(self) -> None:
        self.say(
            self.t("Is it about a particular place or thing? Type it, or skip."),
            [self.choice("skip", self.t("Skip"))],
        )

    def answer_fb_place(self) -> None:
        draft = self.state.draft
        draft.place_asked = True
        chosen = self.picked()
        draft.room = draft.area = draft.place_text = None
        if chosen is None or chosen.payload != "skip":
            place = find_place(self.context.estate, self.text, self.context.person.rooms)
            draft.room, draft.area = place.room, place.common_area
            if not place.found:
                draft.place_text = self.text
        self.next_feedback_step()

    def ask_fb_anonymous(self) -> None:
        self.say(
            self.t("Should staff see your name? Anonymous feedback still gets its reply here."),
            [self.choice("named", self.t("With my name")), self.choice("anonymous", self.t("Anonymously"))],
        )

    def answer_fb_anonymous(self) -> None:
        chosen = self.picked()
        if chosen is None or chosen.payload not in ("named", "anonymous"):
            self.say_again(self.t("Please pick one of the choices, by its number or its name."))
            return
        self.state.draft.anonymous = chosen.payload == "anonymous"
        self.next_feedback_step()


@dataclass(frozen=True)
class Step:
    ask: Callable[[Turn], None]
    answer: Callable[[Turn], None]


# The conversation graph: each step asks its question and reads its answer; the next step is
# whatever the draft still lacks (Turn.next_repair_step / next_feedback_step).
STEPS: dict[str, Step] = {
    "location": Step(Turn.ask_location, Turn.answer_location),
    "location_unit": Step(Turn.ask_location_unit, Turn.answer_location_unit),
    "symptom": Step(Turn.ask_symptom, Turn.answer_symptom),
    "category": Step(Turn.ask_category, Turn.answer_category),
    "urgency": Step(Turn.ask_urgency, Turn.answer_urgency),
    "self_check": Step(Turn.ask_self_check, Turn.answer_self_check),
    "confirm": Step(Turn.ask_confirm, Turn.answer_confirm),
    "change": Step(Turn.ask_change, Turn.answer_change),
    "fb_content": Step(Turn.ask_fb_content, Turn.answer_fb_content),
    "fb_place": Step(Turn.ask_fb_place, Turn.answer_fb_place),
    "fb_anonymous": Step(Turn.ask_fb_anonymous, Turn.answer_fb_anonymous),
    "join": Step(Turn.ask_join, Turn.answer_join),
    "private_only": Step(Turn.ask_private_only, Turn.answer_private_only),
    "rework_reason": Step(Turn.ask_rework_reason, Turn.answer_rework_reason),
    "rating_comment": Step(Turn.ask_rating_comment, Turn.answer_rating_comment),
}
