"""A test channel: talk to the real desk and read the answers as a transcript, as the console shows them."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.channels.console import render
from core.conversation.messages import ChatKind, Inbound, Reply
from core.desk import Desk
from core.domain.model import Attachment, Ticket
from core.domain.people import Address
from core.ports import TicketQuery
from tests.conftest import NOW


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
            person = next((p for p in (*estate.staff, *estate.residents) if p.name == sender), None)
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

    def run(self, transcript: list[tuple[str, str]]) -> None:
        """Each expected answer's lines must appear, in order, in what the bot said."""
        for says, expected in transcript:
            answer = self.says(says)
            assert_says(answer, expected, says)


def stored(desk: Desk) -> list[Ticket]:
    """Every ticket the desk stored, with its history, oldest first."""
    with desk.uow as uow:
        found = [uow.tickets.get(t.id) for t in uow.tickets.list(TicketQuery()) if t.id is not None]
    return [t for t in found if t is not None]


def assert_says(answer: str, expected: str, said: str = "") -> None:
    position = 0
    for line in (line.strip() for line in expected.strip().splitlines()):
        if not line:
            continue
        found = answer.find(line, position)
        assert found >= 0, f"after {said!r}, expected {line!r} in:\n{answer}"
        position = found + len(line)
