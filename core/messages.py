"""Channel-neutral messages: what a person sent, and what baoxiu answers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from core.model import Attachment


class ChatKind(enum.StrEnum):
    PRIVATE = "private"
    GROUP = "group"


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
    payload: str | None = None  # the choice a button carried, when one was pressed
    native_id: str = ""  # the channel's own id, for dedupe
    language_hint: str | None = None  # e.g. Telegram's language_code
    sticker: bool = False


@dataclass(frozen=True)
class Choice:
    """An answer offered: a button on Telegram, a numbered line on WeChat and the console."""

    payload: str
    label: str
    keys: tuple[str, ...] = ()  # further words that pick it when typed


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    recipient: str | None = None  # None: the chat the message came from
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
