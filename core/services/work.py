"""One transaction's work on tickets: every change goes through the lifecycle here, and is told by core.notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.conversation.context import DeskSettings, Speaker
from core.conversation.messages import Reply
from core.conversation.views import ANONYMOUS_RESIDENT
from core.domain.directory import Estate, Resident, Staff
from core.domain.lifecycle import Action, apply
from core.domain.model import SYSTEM, Actor, HistoryEvent, Subscriber, Ticket
from core.domain.people import Address, in_language
from core.i18n import Translator
from core.notices import Here, Recipient, ToGroup, told
from core.ports import NOTICE, OutboxMessage, UnitOfWork


def actor_of(speaker: Speaker) -> Actor:
    if speaker.staff is not None:
        return Actor("staff", speaker.staff.name, speaker.staff.id)
    return Actor("resident", speaker.name, speaker.resident_id)


class Work:
    """Changes to tickets inside the caller's unit of work, and what they cause to be said.

    `answers` go to the conversation the work was asked for from (`speaker`); `outgoing` is everything else,
    for the outbox, in the same transaction."""

    def __init__(self, uow: UnitOfWork, estate: Estate, settings: DeskSettings, now: datetime,
                 speaker: Speaker | None = None, locale: str | None = None) -> None:  # fmt: skip
        self.uow, self.estate, self.settings, self.now = uow, estate, settings, now
        self.speaker = speaker
        self.actor = actor_of(speaker) if speaker is not None else None
        self.locale = locale or settings.default_locale
        self.answers: list[Reply] = []
        self.outgoing: list[OutboxMessage] = []
        self._changed: dict[str, tuple[Ticket, list[HistoryEvent]]] = {}
        self._languages: dict[object, Translator] = {}
        self._followers: dict[int, list[Subscriber]] = {}

    @property
    def t(self) -> Translator:
        return self.settings.translators(self.locale)

    # --- changing tickets -----------------------------------------------------------------------------------------

    def change(self, ticket: Ticket, action: Action, actor: Actor | None = None, **details: Any) -> HistoryEvent:
        """One step of the ticket's lifecycle, stored, and remembered to be told."""
        event = apply(ticket, action, actor or self.actor or SYSTEM, self.now, self.settings.sla, **details)
        self.uow.tickets.save(ticket)
        self._remember(ticket, event)
        return event

    def opened(self, ticket: Ticket) -> None:
        """A ticket just added: its first event is told with the rest."""
        self._remember(ticket, ticket.history[0])

    def _remember(self, ticket: Ticket, event: HistoryEvent) -> None:
        entry = self._changed.setdefault(ticket.number, (ticket, []))
        entry[1].append(event)

    def say(self, text: str, **values: Any) -> None:
        """A word to the person the work is for, when the change went otherwise than their conversation thought.
        A `name` is a directory name: shown in the reader's language."""
        if isinstance(values.get("name"), str):
            values["name"] = in_language(values["name"], self.locale)
        self.answers.append(Reply(self.t(text).format(**values)))

    # --- telling ---------------------------------------------------------------------------------------------------

    def tell(self) -> None:
        """Everyone who should hear of the changes made so far is told, once; who could not be reached is noted."""
        changed, self._changed = self._changed, {}
        for ticket, events in changed.values():
            unreachable: list[str] = []
            for n, notice in enumerate(told(ticket, events, self)):
                key = f"{ticket.number}:{len(ticket.history)}:{n}"
                if not self._route(key, ticket, notice.to, notice.reply):
                    name = _name(ticket, notice.to)
                    if name not in unreachable:
                        unreachable.append(name)
            if unreachable:
                apply(ticket, Action.NOTE, SYSTEM, self.now, unreachable=unreachable)
                self.uow.tickets.save(ticket)

    def _route(self, key: str, ticket: Ticket, to: Recipient, reply: Reply) -> bool:
        if isinstance(to, Here):
            self.answers.append(reply)
            return True
        payload: dict[str, Any] = reply.dump()
        if isinstance(to, ToGroup):
            if to.address.channel not in self.settings.channels:
                return True  # a group on a channel this deployment does not serve: nobody to tell there
            payload["reply_to"] = to.reply_to
            self.outgoing.append(OutboxMessage(f"{NOTICE}{key}", to.address.channel, to.address.id, payload))
            return True
        addresses = self.delivery_order(to)
        if not addresses:
            return False
        first, *rest = addresses
        payload.update(ticket=ticket.number, person=_name(ticket, to), fallback=[[a.channel, a.id] for a in rest])
        if not isinstance(to, Address):
            payload["who"] = [to.ref.kind, to.ref.id]
        self.outgoing.append(OutboxMessage(f"{NOTICE}{key}", first.channel, first.id, payload))
        return True

    def delivery_order(self, to: Staff | Resident | Address) -> list[Address]:
        """Where a person is reached, best first: the channel staff pinned, then the address used last, then the
        rest in the directory's order; channels that only show pushes at the person's next look come after those
        that deliver them, or a push would wait there unseen. Only channels this deployment serves."""
        channels = self.settings.channels
        if isinstance(to, Address):
            return [to] if to.channel in channels else []
        candidates = [a for a in to.addresses if a.channel in channels]
        if len(candidates) < 2:
            return candidates
        used = self.uow.people.last_used(candidates)
        prefer = to.prefer if isinstance(to, Staff) else None
        order = {a: i for i, a in enumerate(candidates)}

        def rank(address: Address) -> tuple[bool, bool, float, int]:
            seen = used.get(address)
            return (address.channel != prefer if prefer else False, not channels[address.channel].push,
                    -seen.timestamp() if seen else float("inf"), order[address])  # fmt: skip

        return sorted(candidates, key=rank)

    # --- what notices read (core.notices.Audience) ---------------------------------------------------------------

    def translator(self, to: Recipient) -> Translator:
        if isinstance(to, Here):
            return self.t
        if isinstance(to, ToGroup):
            return self.settings.translators(self.settings.default_locale)
        key: object = to if isinstance(to, Address) else (type(to).__name__, to.id)
        if key not in self._languages:
            if isinstance(to, Address):
                chosen = self.uow.people.locale(to)
            else:
                chosen = self.uow.people.locale(to.ref) or to.locale
            self._languages[key] = self.settings.translators(chosen or self.settings.default_locale)
        return self._languages[key]

    def subscribers(self, ticket: Ticket) -> list[Subscriber]:
        assert ticket.id is not None
        if ticket.id not in self._followers:
            self._followers[ticket.id] = self.uow.tickets.subscribers(ticket.id)
        return self._followers[ticket.id]

    def first_unverified(self, ticket: Ticket) -> bool:
        assert ticket.reporter_address is not None
        waiting = self.uow.tickets.unverified_open(self.estate.code, ticket.reporter_address)
        return not any(number != ticket.number for number in waiting)

    def forget_followers(self, ticket: Ticket) -> None:
        """Someone joined: read them again when the ticket is next told."""
        self._followers.pop(ticket.id or 0, None)


def _name(ticket: Ticket, to: Recipient) -> str:
    """Who a notice was for, as the history may name them: an anonymous reporter is not named there."""
    if isinstance(to, ToGroup):
        return f"{to.address.channel} {to.address.id}"
    resident_id = to.id if isinstance(to, Resident) else None
    if ticket.anonymous and ticket.reported_by(resident_id, to if isinstance(to, Address) else None):
        return ANONYMOUS_RESIDENT
    if isinstance(to, Address):
        return f"{to.channel} {to.id}"
    return getattr(to, "name", "")
