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
    message_ref: str = ""  # the channel's id of this message, for replying to it
    private_link: str = ""  # in a group: a link that opens the private chat and resumes this draft
    resumed_from: str = ""  # in a private chat: the group chat whose draft this person continues here


@dataclass(frozen=True)
class Choice:
    """An answer offered: a button on Telegram, a numbered line on WeChat and the console."""

    payload: str
    label: str
    keys: tuple[str, ...] = ()  # further words that pick it when typed
    url: str = ""  # a link to open instead of an answer to send


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    recipient: str | None = None  # None: the chat the message came from
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
