"""A test channel: talk to the real desk on a real database and read the answers as a transcript."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.channels.console import render
from core.desk import Desk
from core.messages import ChatKind, Inbound, Reply
from core.model import Attachment, Ticket
from core.ports import TicketQuery
from storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import NOW


class Clock:
    """The time several people's chats share, so that what one causes is there when another looks."""

    def __init__(self) -> None:
        self.now = NOW


class Chat:
    """One person in one chat; `says` returns what the bot answered, rendered as on the console."""

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
        sticker: bool = False,
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
            sticker=sticker,
        )
        self.last = self.desk.handle(inbound, self.now)
        return "\n\n".join(render(reply) for reply in self.last)

    def presses(self, label_fragment: str) -> str:
        """Press the button whose label contains the fragment, as on Telegram."""
        offered = [choice for reply in self.last for choice in reply.choices]
        choice = next((c for c in offered if label_fragment in c.label), None)
        assert choice is not None, f"no button with {label_fragment!r} among {[c.label for c in offered]}"
        return self.says(payload=choice.payload)

    def inbox(self) -> str:
        """What was pushed to this person since they last looked (the console shows it at its next turn)."""
        self.last = self.desk.take_pushes(self.channel, self.sender, self.chat, self.now)
        return "\n\n".join(render(reply) for reply in self.last)

    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def run(self, transcript: list[tuple[str, str]]) -> None:
        """Each expected answer's lines must appear, in order, in what the bot said."""
        for says, expected in transcript:
            answer = self.says(says)
            assert_says(answer, expected, says)


def stored(engine: Engine) -> list[Ticket]:
    """Every ticket in the database, with its history, oldest first."""
    with SqlAlchemyUnitOfWork(engine) as uow:
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
