"""The conversation engine: a conversation is a table of flows, a flow a table of steps, and this runs one turn.

A step asks its question and reads the answer; the answer comes to an outcome ("found", "unclear", ...), and
the step's row says where each outcome leads: to a named step, to NEXT (the first step of the flow's order
that is still needed), SAME (ask again), WAIT (stay, having said what to do) or END (the flow is over). No
transition is made anywhere else, so each conversation reads as its tables in core.conversation.resident and
core.conversation.staff, as a state machine's table of states and handlers reads.

One turn is pure: step(state, inbound, now, context) -> Outcome. What the services must do is returned as
commands; what they then tell the person comes between the turn's notes and its open question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.conversation.buttons import Button, OnTicket, Outdated, Pick
from core.conversation.commands import Command, SetLanguage
from core.conversation.context import Context
from core.conversation.messages import Choice, Inbound, Reply
from core.conversation.state import State
from core.conversation.vocabulary import LET_GO, bare, fold, keys_for, meaningful, segments
from core.i18n import LOCALES, Translator

NEXT, SAME, WAIT, END = "→next", "→same", "→wait", "→end"
MAX_TEXT = 2000


@dataclass(frozen=True)
class Step:
    """One row of a flow: its question, how its answer is read, and where each outcome of the answer leads."""

    ask: Callable[[Turn], None]
    answer: Callable[[Turn], str]
    then: Mapping[str, str]
    takes_numbers: bool = False  # a typed number is an answer of its own (minutes), not only a list item


@dataclass(frozen=True)
class Flow:
    name: str
    steps: Mapping[str, Step]
    # NEXT goes to the first of these whose condition holds: what the draft still lacks.
    order: tuple[tuple[str, Callable[[Turn], bool]], ...] = ()
    # Said when an unanswered flow is dropped after the idle limit; None drops it without a word.
    lapsed: str | None = None
    # A command in the middle (/help, /status) is answered and the flow goes on; else the command ends it.
    survives_commands: bool = False
    # Dropped after the idle limit, as a question nobody answers is; a conversation with a person is not.
    lapses: bool = True


def with_a_person(step: str, ask: Callable[[Turn], None], answer: Callable[[Turn], str]) -> Flow:
    """A conversation with a person through the bot: one step that says each message on ("said") or finds the
    conversation over ("over"), and has already said what comes next either way; commands do not end it, and it
    does not lapse while the other side is slow to answer."""
    row = Step(ask, answer, {"said": WAIT, "over": WAIT}, takes_numbers=True)
    return Flow("talk", {step: row}, order=((step, lambda turn: True),), survives_commands=True, lapses=False)


@dataclass(frozen=True)
class Conversation:
    """One side of the desk: its flows, its commands, its buttons on tickets, and what it says when idle."""

    flows: Mapping[str, Flow]
    commands: Mapping[str, Callable[[Turn, str], None]]  # /word: handler(turn, the rest of the line)
    on_ticket: Callable[[Turn, OnTicket], None]
    idle: Callable[[Turn], None]  # a message when nothing is asked
    offer: Callable[[Turn], None]  # what to show when nothing is asked: the menu, the jobs
    before: Callable[[Turn], None] | None  # first, whatever the message is (keep what came attached)
    unknown_command: Callable[[Turn, str], None]
    resume: Callable[[Turn], None]  # after a command in a flow that survives it: the open question again
    # Arrived in a private chat to go on with what was begun in a group (the "continue privately" link).
    continue_privately: Callable[[Turn], None] | None
    stale: str  # a button of an earlier question
    unreadable: str  # text with no words in it, where words are asked for
    private_in_groups: bool  # everything said to someone in a group goes to their private chat instead
    # Whole messages that mean a command wherever they are typed ("转人工" is /agent): folded text -> command.
    worded: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    state: dict[str, Any]
    notes: list[Reply]  # said first
    commands: list[Command]  # then carried out; what they tell the person follows the notes
    question: list[Reply]  # and the open question comes last


class Turn:
    def __init__(self, conversation: Conversation, state: State, inbound: Inbound, now: datetime,
                 context: Context) -> None:  # fmt: skip
        self.conversation, self.state, self.inbound, self.now, self.context = conversation, state, inbound, now, context
        self.t: Translator = context.settings.translators(context.locale)
        self.notes: list[Reply] = []
        self.question: list[Reply] = []
        self.commands: list[Command] = []
        self.text = inbound.text.strip()
        self.chosen: Button | None = None

    # --- what the turn says and asks for -------------------------------------------------------------------

    def say(self, text: str, choices: list[Choice] | tuple[Choice, ...] = ()) -> None:
        self.notes.append(Reply(text, tuple(choices)))

    def ask(self, text: str, choices: list[Choice] | tuple[Choice, ...] = ()) -> None:
        self.question.append(Reply(text, tuple(choices)))

    def say_privately(self, replies: list[Reply]) -> None:
        """In a group, answers about one's own tickets go to the private chat, and the group hears only that."""
        if self.context.in_group:
            self.say(self.t("I've sent you the answer in a private chat."))
            self.notes += [Reply(r.text, r.choices, recipient=self.inbound.sender) for r in replies]
        else:
            self.notes += replies

    def emit(self, command: Command) -> None:
        self.commands.append(command)

    def choice(self, button: Button, label: str) -> Choice:
        return Choice(button, label, keys_for(button))

    # --- reading the message --------------------------------------------------------------------------------

    def pick(self) -> Button | Outdated | None:
        """The choice the message makes: a pressed button, or a number, label or word of the list last shown."""
        pressed = self.inbound.button
        if pressed is not None:
            return pressed
        folded = fold(self.text)
        if not folded:
            return None
        offered = [c for c in self.state.shown if c.button is not None]
        if folded.isdecimal() and 1 <= int(folded) <= len(offered):
            return offered[int(folded) - 1].button
        if folded.isdecimal():  # "30" for "30分钟" or "30 min", when no list item has that number
            counted = [c for c in offered if re.match(rf"{folded}(?!\d)", bare(c.label))]
            if len(counted) == 1:
                return counted[0].button
        for c in offered:
            if folded in (fold(c.label), bare(c.label)):
                return c.button
        # The words people use for a choice: taken when they name one choice of those shown, not two.
        worded = [c for c in offered if folded in (fold(k) for k in (*c.keys, *keys_for(c.button)))]
        if len(worded) == 1:
            return worded[0].button
        # A part of one label alone ("仍未修好"): taken when it names that choice and no other.
        named = [c for c in offered if folded in segments(c.label)]
        return named[0].button if len(named) == 1 else None

    def shown(self, button: Button) -> bool:
        return any(c.button == button for c in self.state.shown)

    # --- moving through the tables --------------------------------------------------------------------------

    @property
    def flow(self) -> Flow | None:
        return self.conversation.flows.get(self.state.flow)

    def enter(self, flow: str, target: str = NEXT) -> None:
        if self.flow is not None and flow != self.state.flow:
            self.set_aside()
        self.state.flow, self.state.step = flow, ""
        self.go(target)

    def set_aside(self) -> None:
        """Leave the open flow to answer something else first (a push's question); a report half-written is not
        lost: it is taken up again when that is done."""
        current = self.flow
        if current is not None and current.survives_commands and not self.state.paused:
            self.state.paused = {k: v for k, v in self.state.dump().items() if k not in ("shown", "paused")}
        self.state.leave()

    def take_up_paused(self) -> bool:
        """The report set aside, open again at its question; False when there is none."""
        paused = self.state.paused
        if not paused:
            return False
        resumed = State.load({**paused, "shown": []})
        for name in ("flow", "step", "draft", "ticket", "returning", "candidates", "on_behalf"):
            setattr(self.state, name, getattr(resumed, name))
        self.state.paused = {}
        return self.flow is not None

    def go(self, target: str) -> None:
        if target == WAIT:  # the answer said what comes next (it may have left the flow to do it)
            return
        flow = self.flow
        assert flow is not None, "go() is for a turn inside a flow"
        if target == END:
            self.state.leave()
            if self.take_up_paused():
                self.conversation.resume(self)
            return
        if target == WAIT:
            return
        if target == SAME:  # a question no longer needed (the ticket to join was closed meanwhile) is not asked
            needed = dict(flow.order).get(self.state.step)
            target = NEXT if needed is not None and not needed(self) else SAME
        if target == NEXT:
            if self.state.returning:
                self.state.returning = False
                target = "confirm"
            else:
                target = next(name for name, needed in flow.order if needed(self))
        if target != SAME:
            self.state.step = target
        flow.steps[self.state.step].ask(self)

    def ask_again(self, note: str) -> None:
        """A short note, then the open question once more (or what the conversation offers when idle)."""
        self.say(note)
        if self.flow is not None:
            self.go(SAME)
        else:
            self.conversation.offer(self)

    def set_language(self, locale: str) -> None:
        self.emit(SetLanguage(locale))
        self.t = self.context.settings.translators(locale)


def step(conversation: Conversation, state: dict[str, Any] | None, inbound: Inbound, now: datetime,
         context: Context) -> Outcome:  # fmt: skip
    turn = Turn(conversation, State.load(state), inbound, now, context)
    _run(turn)
    turn.state.updated_at = now.isoformat()
    return Outcome(turn.state.dump(), turn.notes, turn.commands, turn.question)


def _run(turn: Turn) -> None:
    conversation, state = turn.conversation, turn.state
    pressed = turn.inbound.payload is not None
    worded = conversation.worded.get(fold(turn.text)) if not pressed else None
    if worded is not None:
        turn.text = "/" + worded
    command = turn.text.startswith("/")
    _drop_if_lapsed(turn, answering=not command and not pressed)
    if len(turn.text) > MAX_TEXT:
        turn.text = turn.text[:MAX_TEXT]
        turn.say(turn.t("Your message was long; I kept the first 2,000 characters."))
    if conversation.before is not None:
        conversation.before(turn)
    if turn.inbound.resumed_from and conversation.continue_privately is not None:
        conversation.continue_privately(turn)
        return
    if command:
        word, _, rest = turn.text[1:].partition(" ")
        word = word.casefold()
        flow = turn.flow
        if flow is not None and not flow.survives_commands:
            state.leave()
        handler = conversation.commands.get(word)
        if handler is None:
            conversation.unknown_command(turn, "/" + word)
        else:
            handler(turn, rest.strip())
        _carry_on(turn, flow)
        return
    chosen = turn.pick()
    if isinstance(chosen, Outdated):
        turn.ask_again(turn.t("That button is from an older message and no longer works."))
        return
    if isinstance(chosen, OnTicket):
        flow = turn.flow
        if flow is not None and not flow.survives_commands:
            state.leave()
        conversation.on_ticket(turn, chosen)
        _carry_on(turn, flow)
        return
    if isinstance(chosen, Pick):
        if chosen.what == "lang" and chosen.value in LOCALES and turn.shown(chosen):
            turn.set_language(chosen.value)
            turn.say(turn.t("I'll talk to you in English from now on."))
            if turn.flow is not None:
                turn.go(SAME)
            else:
                conversation.offer(turn)
            return
        if pressed and not turn.shown(chosen):
            turn.ask_again(turn.t(conversation.stale))
            return
        turn.chosen = chosen
    elif turn.flow is not None and turn.flow.lapses and fold(turn.text) in LET_GO and "cancel" in conversation.commands:
        # (in a conversation with a person, which never lapses, every word is said to them)
        conversation.commands["cancel"](turn, "")  # "算了" drops the dialogue as /cancel does, never its answer
        return
    elif state.shown and turn.text.isdecimal() and len(turn.text) <= 2 and not _takes_numbers(turn):
        offered = sum(1 for c in state.shown if c.button is not None)
        turn.ask_again(turn.t("Please pick a number from 1 to {last}.").format(last=offered))
        return
    flow = turn.flow
    if flow is None and turn.chosen is None and turn.take_up_paused():
        flow = turn.flow  # the push's question was left unanswered: the message answers the report set aside
    if flow is None:
        conversation.idle(turn)
        return
    if turn.chosen is None and not meaningful(turn.text) and not _usable_attachment(turn):
        turn.ask_again(turn.t(conversation.unreadable))
        return
    row = flow.steps[state.step]
    outcome = row.answer(turn)
    turn.go(row.then[outcome])


def _carry_on(turn: Turn, flow: Flow | None) -> None:
    """After a command or a ticket's button in the middle of a flow that survives them, its open question again,
    so that a number typed next answers it; unless the command asked something of its own or went elsewhere."""
    if turn.question:
        return
    if (flow is not None and flow.survives_commands and turn.flow is flow) or (
        turn.flow is None and turn.take_up_paused()
    ):
        turn.conversation.resume(turn)


def _takes_numbers(turn: Turn) -> bool:
    flow = turn.flow
    return flow is not None and flow.steps[turn.state.step].takes_numbers


def _drop_if_lapsed(turn: Turn, answering: bool) -> None:
    """An open question, or a report set aside, left unanswered past the idle limit is dropped; some flows say so."""
    state = turn.state
    flow = turn.flow or turn.conversation.flows.get(str(state.paused.get("flow", "")))
    if flow is None or not state.updated_at or not flow.lapses:
        return
    if turn.now - datetime.fromisoformat(state.updated_at) <= turn.context.settings.idle_limit:
        return
    state.drop()
    if flow.lapsed is not None and (flow.survives_commands or answering):
        turn.say(turn.t(flow.lapsed))


def _usable_attachment(turn: Turn) -> bool:
    """A photo or voice note answers the symptom question; a pin answers the location one."""
    kinds = {a.kind for a in turn.inbound.attachments}
    step = turn.state.step
    return (
        (step == "symptom" and bool(kinds & {"photo", "voice"}))
        or (step == "detail" and "photo" in kinds)  # /add keeps photos; a voice note alone is asked for in words
        or (step == "location" and "location" in kinds)
        or (step == "photo" and "photo" in kinds)
        or (step == "talking" and "photo" in kinds)  # a photo for customer service
    )


def transitions(conversation: Conversation) -> list[tuple[str, str, str, str]]:
    """Every transition of a conversation as (flow, step, outcome, target): the tables, for readers and tests."""
    return [
        (flow.name, name, outcome, target)
        for flow in conversation.flows.values()
        for name, row in flow.steps.items()
        for outcome, target in row.then.items()
    ]
