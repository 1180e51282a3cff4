"""Who hears about a ticket's progress, and what they are told; group chats get no personal details."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.i18n import N_, TranslatorFactory
from core.lifecycle import Action
from core.model import HistoryEvent, Subscriber, Ticket

# Channels that can send a message nobody asked for at that moment (the console cannot).
PUSH_CHANNELS = frozenset({"telegram", "wechat"})

NOTICES: dict[str, str] = {
    Action.ASSIGN: N_("🔧 {number}: a technician has been assigned."),
    Action.REASSIGN: N_("🔧 {number}: a technician has been assigned."),
    Action.ON_THE_WAY: N_("🚶 {number}: the technician is on the way."),
    Action.START: N_("🛠️ {number}: the repair has started."),
    Action.HOLD: N_("⏸️ {number}: the repair is on hold (waiting for parts or access)."),
    Action.RESOLVE: N_("✅ {number}: the repair is done."),
    Action.CANCEL: N_("✖️ {number} was cancelled."),
}


@dataclass(frozen=True)
class Recipient:
    channel: str
    chat: str
    reply_to: str = ""  # in a group: the message the report came from
    ref: str = ""  # "channel:user" of a person, for their language; "" for a group


def recipients(ticket: Ticket, subscribers: list[Subscriber]) -> list[Recipient]:
    """The reporter and everyone who joined, privately; and each group a report came from."""
    found: dict[tuple[str, str], Recipient] = {}
    people = [(ticket.reporter_ref, ticket.origin_chat, ticket.origin_message)]
    people += [(s.ref, s.chat, s.message_ref) for s in subscribers]
    for ref, group, message in people:
        channel, _, user = ref.partition(":")
        if channel not in PUSH_CHANNELS or not user:
            continue
        found.setdefault((channel, user), Recipient(channel, user, ref=ref))
        if group:
            found.setdefault((channel, group), Recipient(channel, group, reply_to=message))
    return list(found.values())


def progress_notices(
    ticket: Ticket,
    event: HistoryEvent,
    subscribers: list[Subscriber],
    translators: TranslatorFactory,
    language_of: Callable[[Recipient], str],
) -> list[tuple[str, str, dict[str, Any]]]:
    """(channel, recipient, payload) for each person and group to tell; nothing for quiet steps."""
    template = NOTICES.get(event.action)
    if template is None:
        return []
    notices = []
    for recipient in recipients(ticket, subscribers):
        text = translators(language_of(recipient))(template).format(number=ticket.number)
        payload: dict[str, Any] = {"text": text, "reply_to": recipient.reply_to}
        notices.append((recipient.channel, recipient.chat, payload))
    return notices
