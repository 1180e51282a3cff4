"""Who hears about a ticket's progress, and what they are told; group chats get no personal details."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.i18n import N_, Translator, TranslatorFactory
from core.lifecycle import Action
from core.model import HistoryEvent, Subscriber, Ticket, TicketKind

# Channels that can send a message nobody asked for at that moment (the console shows them at its next turn).
PUSH_CHANNELS = frozenset({"telegram", "wechat", "console"})

# What the reporter and those who joined are told, privately: the technician's first name, the ETA.
PRIVATE: dict[str, str] = {
    Action.ACCEPT: N_("🔧 {number}: {name} will do your repair."),
    Action.CLAIM: N_("🔧 {number}: {name} will do your repair."),
    Action.ON_THE_WAY: N_("🚶 {number}: {name} is on the way, there in about {eta} minutes."),
    Action.ARRIVE: N_("📍 {number}: {name} has arrived."),
    Action.HOLD: N_("⏸️ {number}: the repair is on hold ({reason}). The deadline waits meanwhile."),
    Action.RESUME: N_("▶️ {number}: the repair goes on."),
    Action.RESOLVE: N_("✅ {number}: {name} says the repair is done. Is it fixed?"),
    Action.CANCEL: N_("✖️ {number} was cancelled."),
}
# What a group chat the report came from is told: no names.
GROUP: dict[str, str] = {
    Action.ACCEPT: N_("🔧 {number}: a technician has been assigned."),
    Action.CLAIM: N_("🔧 {number}: a technician has been assigned."),
    Action.ON_THE_WAY: N_("🚶 {number}: the technician is on the way."),
    Action.RESOLVE: N_("✅ {number}: the repair is done."),
    Action.CANCEL: N_("✖️ {number} was cancelled."),
}
FEEDBACK: dict[str, str] = {
    Action.REPLY: N_("💬 {number}: {department} replies:\n{text}"),
    Action.RESOLVE: N_("💬 {number}: {department} replies:\n{text}\n\nDoes this settle it?"),
    Action.CANCEL: N_("✖️ {number} was cancelled."),
}
HOLD_REASONS = {"parts": N_("waiting for parts"), "access": N_("waiting for access")}


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


def hold_reason(reason: str, t: Translator) -> str:
    return t(HOLD_REASONS[reason]) if reason in HOLD_REASONS else reason


def acceptance_choices(ticket: Ticket, t: Translator) -> list[list[str]]:
    if ticket.kind is TicketKind.FEEDBACK:
        labels = (t("✅ Yes, settled"), t("❌ No, not settled"))
    else:
        labels = (t("✅ Fixed"), t("❌ Not fixed"))
    return [[f"t:fixed:{ticket.number}", labels[0], ""], [f"t:notfixed:{ticket.number}", labels[1], ""]]


def progress_notices(
    ticket: Ticket,
    event: HistoryEvent,
    subscribers: list[Subscriber],
    translators: TranslatorFactory,
    language_of: Callable[[Recipient], str],
) -> list[tuple[str, str, dict[str, Any]]]:
    """(channel, recipient, payload) for each person and group to tell; nothing for quiet steps."""
    details = event.details
    notices = []
    for recipient in recipients(ticket, subscribers):
        group = not recipient.ref
        if ticket.kind is TicketKind.FEEDBACK:
            template = None if group else FEEDBACK.get(event.action)
        else:
            template = (GROUP if group else PRIVATE).get(event.action)
        if template is None:
            continue
        t = translators(language_of(recipient))
        text = t(template).format(
            number=ticket.number,
            name=ticket.assignee_name.split(" ")[0],
            eta=details.get("eta_minutes", "?"),
            reason=hold_reason(str(details.get("reason", "")), t),
            department=ticket.department or t("Customer service"),
            text=details.get("reply", ""),
        )
        payload: dict[str, Any] = {"text": text, "reply_to": recipient.reply_to}
        if event.action == Action.RESOLVE and recipient.ref == ticket.reporter_ref:
            payload["choices"] = acceptance_choices(ticket, t)
        notices.append((recipient.channel, recipient.chat, payload))
    return notices
