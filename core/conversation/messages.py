"""Channel-neutral messages: what a person sent, what baoxiu answers, and what a channel can do."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from core.conversation.buttons import Button, Outdated, decode, encode
from core.domain.model import Attachment
from core.domain.people import Address


class ChatKind(enum.StrEnum):
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True)
class Capabilities:
    """What a channel can do, as its adapter declares it; core asks this, never the channel's name."""

    buttons: bool = False  # choices as buttons to press (else a numbered list answered by typing)
    photos: bool = False  # people can send photos the desk keeps
    edits: bool = False  # a sent message can be changed afterwards
    groups: bool = False  # the desk takes part in group chats
    push: bool = True  # a message nobody asked for is delivered at once (else shown at the person's next look)
    max_text: int = 4096  # characters in one message


@dataclass(frozen=True)
class Inbound:
    """One message from a person, as any channel adapter hands it over."""

    channel: str
    chat: str
    sender: str
    text: str = ""
    chat_kind: ChatKind = ChatKind.PRIVATE
    sender_name: str = ""
    attachments: tuple[Attachment, ...] = ()
    payload: str | None = None  # what a pressed button carried (see core.conversation.buttons)
    native_id: str = ""  # the channel's own id, for dedupe
    language_hint: str | None = None  # the app's language, where the channel tells it
    message_ref: str = ""  # the channel's id of this message, for replying to it
    private_link: str = ""  # in a group: a link that opens the private chat and resumes this draft
    resumed_from: str = ""  # in a private chat: the group chat whose draft this person continues here
    replying_to: str = ""  # the text of the bot's message this one answers (a reply, where the channel has them)

    @property
    def address(self) -> Address:
        """Who wrote: the sender on this channel (the private chat with them on most channels)."""
        return Address(self.channel, self.sender)

    @property
    def button(self) -> Button | Outdated | None:
        return decode(self.payload) if self.payload is not None else None


@dataclass(frozen=True)
class Choice:
    """An answer offered: a button where there are buttons, a numbered line where there are none."""

    button: Button | None
    label: str
    keys: tuple[str, ...] = ()  # further words that pick it when typed
    url: str = ""  # a link to open instead of an answer to send

    def dump(self) -> dict[str, Any]:
        """The one stored shape of a choice: in a conversation's state and in an outbox message alike."""
        data: dict[str, Any] = {"label": self.label}
        if self.button is not None:
            data["button"] = encode(self.button)
        if self.keys:
            data["keys"] = list(self.keys)
        if self.url:
            data["url"] = self.url
        return data

    @classmethod
    def load(cls, data: dict[str, Any]) -> Choice:
        raw = data.get("button")
        button = decode(raw) if isinstance(raw, str) else None
        return cls(
            None if isinstance(button, Outdated) else button,
            str(data.get("label", "")),
            tuple(str(k) for k in data.get("keys", ())),
            str(data.get("url", "")),
        )


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    recipient: str | None = None  # a chat on the same channel; None: the chat the message came from

    def dump(self) -> dict[str, Any]:
        return {"text": self.text, "choices": [c.dump() for c in self.choices]}

    @classmethod
    def load(cls, data: dict[str, Any]) -> Reply:
        return cls(str(data.get("text", "")), tuple(Choice.load(c) for c in data.get("choices", ())))
