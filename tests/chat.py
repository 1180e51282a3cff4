"""A test channel: talk to the real desk and read the answers as a transcript, as the console shows them.

A transcript pairs what a person does with the bot's whole answer, exactly as the console renders it: the text,
then the choices as "  1. label" lines, several replies joined by a blank line. What a person does is a message
(a str), a tap on a button (`Press("label")`), or a look at what others' actions pushed to them (`INBOX`):

    li.run([
        (INBOX, '''
            🔧 New job for you
            ...
              1. ✅ Accept
              2. ↩️ Decline'''),
        (Press("Accept"), "..."),
    ])

An expected answer is written as an indented block opening with a newline: it is dedented and the blank lines at
its ends are dropped, so the choices keep their two spaces. Answers made of parts a test names once (a menu, a
question asked again) are put together with `lines`, `replies` and `choices`. `play` runs a transcript of several
people, one row each: (who, what they do, the whole answer).
"""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.console import render
from core.conversation.messages import ChatKind, Inbound, Reply
from core.desk import Desk
from core.domain.directory import Resident, Staff
from core.domain.model import Attachment, Ticket
from core.domain.people import Address
from core.ports import TicketQuery
from tests.conftest import NOW


@dataclass(frozen=True)
class Press:
    """A tap on the button whose label contains `label`, among the choices last shown to the person."""

    label: str


class Inbox:
    """A look at what was pushed to the person since they last looked."""

    def __repr__(self) -> str:
        return "INBOX"


INBOX = Inbox()
Act = str | Press | Inbox


class Clock:
    """The time several people's chats share, so that what one causes is there when another looks."""

    def __init__(self) -> None:
        self.now = NOW


class Chat:
    """One person in one chat; `says` returns what the bot answered, rendered as on the console.

    On the console a person of the directory is known by their name, as `baoxiu console --as NAME` links it."""

    def __init__(
        self,
        desk: Desk,
        sender: str,
        channel: str = "console",
        chat: str | None = None,
        language_hint: str | None = None,
        chat_kind: ChatKind = ChatKind.PRIVATE,
        clock: Clock | None = None,
    ) -> None:
        self.desk, self.sender, self.channel = desk, sender, channel
        self.chat_kind = chat_kind
        self.language_hint = language_hint
        self.chat = chat or f"{channel}:{sender}"
        self.clock = clock or Clock()
        self.last: list[Reply] = []
        self.count = 0
        if channel == "console":
            with desk.uow as uow:
                estate = desk.estate(uow, self.now)
            people: tuple[Staff | Resident, ...] = (*estate.staff, *estate.residents)
            person = next((p for p in people if p.name == sender), None)
            if person is not None:
                desk.link(Address(channel, sender), person.ref)

    @property
    def now(self) -> datetime:
        return self.clock.now

    @now.setter
    def now(self, value: datetime) -> None:
        self.clock.now = value

    def says(
        self,
        text: str = "",
        *,
        payload: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        language_hint: str | None = None,
        replying_to: str = "",
    ) -> str:
        self.count += 1
        self.now += timedelta(seconds=20)
        inbound = Inbound(
            channel=self.channel,
            chat=self.chat,
            sender=self.sender,
            sender_name=self.sender,
            text=text,
            chat_kind=self.chat_kind,
            attachments=attachments,
            payload=payload,
            native_id=str(self.count),
            language_hint=language_hint or self.language_hint,
            replying_to=replying_to,
        )
        self.last = self.desk.handle(inbound, self.now)
        return "\n\n".join(render(reply) for reply in self.last)

    def presses(self, label_fragment: str) -> str:
        """Press the button whose label contains the fragment, as on Telegram."""
        from core.conversation.buttons import encode

        offered = [choice for reply in self.last for choice in reply.choices]
        choice = next((c for c in offered if label_fragment in c.label and c.button is not None), None)
        assert choice is not None and choice.button is not None, (
            f"no button with {label_fragment!r} among {[c.label for c in offered]}"
        )
        return self.says(payload=encode(choice.button))

    def inbox(self) -> str:
        """What was pushed to this person since they last looked (the console shows it at its next turn)."""
        self.last = self.desk.take_pushes(Address(self.channel, self.sender), self.chat, self.now)
        return "\n\n".join(render(reply) for reply in self.last)

    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def do(self, action: Act) -> str:
        """Say something, press a button or look at the inbox; the bot's whole answer."""
        if isinstance(action, Press):
            return self.presses(action.label)
        if isinstance(action, Inbox):
            return self.inbox()
        return self.says(action)

    def run(self, transcript: Sequence[tuple[Act, str]]) -> None:
        """Each answer must be the expected one, whole: the same text and the same choices."""
        __tracebackhide__ = True
        for action, expected in transcript:
            assert_answer(self.do(action), expected, f"{self.sender}: {shown(action)}")


def stored(desk: Desk) -> list[Ticket]:
    """Every ticket the desk stored, with its history, oldest first."""
    with desk.uow as uow:
        found = [uow.tickets.get(t.id) for t in uow.tickets.list(TicketQuery()) if t.id is not None]
    return [t for t in found if t is not None]


def play(transcript: Sequence[tuple[Chat, Act, str]]) -> None:
    """A transcript of several people, in the order they act: (who, what they do, the bot's whole answer)."""
    __tracebackhide__ = True
    for person, action, expected in transcript:
        assert_answer(person.do(action), expected, f"{person.sender}: {shown(action)}")


def shown(action: Act) -> str:
    said = repr(action)
    return said if len(said) <= 80 else said[:77] + "…"


def block(expected: str) -> str:
    """An expected answer as written in a test. A block that opens with a newline is dedented, without the blank
    lines at its ends; anything else (one line, or what `lines` and `replies` put together) is taken as it is."""
    return textwrap.dedent(expected).strip("\n") if expected.startswith("\n") else expected


def lines(*parts: str) -> str:
    """Parts of one reply, one under the other: `lines("What can I do for you?", MENU)`."""
    return "\n".join(block(part) for part in parts)


def replies(*parts: str) -> str:
    """Several replies in one answer, as the console shows them: separated by a blank line."""
    return "\n\n".join(block(part) for part in parts)


def choices(*labels: str) -> str:
    """The choices of a reply, as the console numbers them."""
    return "\n".join(f"  {number}. {label}" for number, label in enumerate(labels, start=1))


def assert_answer(answer: str, expected: str, after: str = "") -> None:
    """The bot's whole answer is the expected one; on failure both are shown, and their difference line by line."""
    __tracebackhide__ = True
    wanted = block(expected)
    if answer == wanted:
        return
    diff = "\n".join(
        difflib.unified_diff(wanted.splitlines(), answer.splitlines(), "expected", "answered", lineterm="", n=0)
    )
    if wanted.split() == answer.split():  # the same words: show the spaces and line breaks that differ
        diff += f"\n----- as Python strings -----\nexpected {wanted!r}\nanswered {answer!r}"
    raise AssertionError(
        f"after {after or 'that'}, the bot's answer is not the expected one.\n"
        f"----- expected -----\n{wanted}\n----- answered -----\n{answer}\n----- difference -----\n{diff}"
    )


def assert_says(answer: str, expected: str, said: str = "") -> None:
    """Only for one part of a long answer, where a test says why: each expected line appears, in order."""
    position = 0
    for line in (line.strip() for line in expected.strip().splitlines()):
        if not line:
            continue
        found = answer.find(line, position)
        assert found >= 0, f"after {said!r}, expected {line!r} in:\n{answer}"
        position = found + len(line)
