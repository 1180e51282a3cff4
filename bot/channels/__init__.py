"""The channels: one adapter module each, translating between its platform and the desk, and nothing more.

This module is their shared contract and what each declares to the rest of baoxiu: its name, what it can do
(core asks these capabilities, never a channel's name), and the directory file's keys that give a person's or a
group's address on it. It imports no platform library, so the command line can read the directory cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.conversation.messages import Capabilities
from core.domain.people import AddressField


@dataclass(frozen=True)
class Declaration:
    name: str
    capabilities: Capabilities
    fields: tuple[AddressField, ...] = ()  # directory keys naming addresses on this channel


TELEGRAM = Declaration(
    "telegram",
    Capabilities(buttons=True, photos=True, edits=True, groups=True, push=True, max_text=4096),
    (AddressField("telegram_id", "telegram", integer=True),
     AddressField("telegram_chat_id", "telegram", integer=True, of_groups=True)),
)  # fmt: skip
# The terminal: a person's console is known by the name they open it with, and what others' actions send them
# waits until they look (`baoxiu console` shows it at each turn).
CONSOLE = Declaration("console", Capabilities(push=False, max_text=100_000))
# Keys of the directory file for channels whose adapters are still to come: a file may name them already, and
# they are kept with the person, but nothing is delivered there until the adapter exists.
AWAITED = Declaration(
    "",
    Capabilities(),
    (AddressField("wechat_openid", "wechat"),  # a WeChat Official Account's follower
     AddressField("wechat_kf_userid", "wechat_kf"),  # a WeChat Customer Service external user
     AddressField("wechat_unionid", "wechat_union"),  # the same person across the Official Account and Service
     AddressField("wecom_userid", "wecom"),  # a WeCom member (staff)
     AddressField("wecom_chat_id", "wecom", of_groups=True),
     AddressField("wechat_chat_id", "wechat", of_groups=True)),
)  # fmt: skip
DECLARATIONS = (TELEGRAM, CONSOLE)
ADDRESS_FIELDS = tuple(f for d in (*DECLARATIONS, AWAITED) for f in d.fields)
