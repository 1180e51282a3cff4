"""The desk: where the answer to every message is decided, in one transaction per message.

A turn: take the person's turn (in order, across processes) and read their conversation; let the conversation's
tables decide what to say and what to do (core.conversation); have the services do it, under lock, and tell
everyone it concerns (core.services, core.notices); store the conversation and queue every message in the outbox.
Work that comes from no conversation (the command line, timers) runs through `act`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core.conversation.context import Context, DeskSettings, OpenReport, Speaker
from core.conversation.engine import step
from core.conversation.messages import Capabilities, ChatKind, Inbound, Reply
from core.conversation.resident import RESIDENT
from core.conversation.staff import STAFF
from core.conversation.state import State
from core.domain.directory import Estate, Resident, Staff
from core.domain.errors import NotFound
from core.domain.model import Ticket
from core.domain.people import Address, PersonRef
from core.i18n import normalize_locale
from core.ports import Claim, OutboxMessage, TicketQuery, UnitOfWork
from core.services.commands import execute, who
from core.services.tickets import find_ticket
from core.services.work import Work

ESTATE_RECHECK = timedelta(seconds=1)
T = TypeVar("T")

# How a channel turns one reply into what its sender delivers: (recipient, payload) pairs.
Render = Callable[[Inbound, Reply], list[tuple[str, dict[str, Any]]]]


class Look:
    """The conversation's read-only view of tickets (core.conversation.context.Lookup): nothing is locked."""

    def __init__(self, uow: UnitOfWork, estate: Estate) -> None:
        self.uow, self.estate = uow, estate
        self._open_reports: list[OpenReport] | None = None

    def ticket(self, number: str) -> Ticket | None:
        try:
            return find_ticket(self.uow, number)
        except NotFound:
            return None

    def reported_by(self, speaker: Speaker) -> list[Ticket]:
        query = TicketQuery(estate_code=self.estate.code, reporter_resident_id=speaker.resident_id,
                            reporter_address=speaker.address, joined=True, open_only=True)  # fmt: skip
        return self.uow.tickets.list(query)

    def joined(self, ticket: Ticket, speaker: Speaker) -> bool:
        if ticket.id is None:
            return False
        return any(s.is_(speaker.resident_id, speaker.address) for s in self.uow.tickets.subscribers(ticket.id))

    def latest_number(self, speaker: Speaker) -> str | None:
        return self.uow.tickets.latest_number(self.estate.code, speaker.resident_id, speaker.address)

    def jobs(self, staff: Staff) -> list[Ticket]:
        return self.uow.tickets.list(TicketQuery(estate_code=self.estate.code, assignee_id=staff.id, open_only=True))

    def queue(self) -> list[Ticket]:
        return self.uow.tickets.list(TicketQuery(estate_code=self.estate.code, open_only=True))

    def open_reports(self) -> list[OpenReport]:
        if self._open_reports is None:
            self._open_reports = [OpenReport(*row) for row in self.uow.tickets.open_area_reports(self.estate.code)]
        return self._open_reports


def speaker_of(estate: Estate, inbound: Inbound) -> Speaker:
    """Who wrote: a person of the directory by the address they wrote from, or a stranger."""
    person = estate.person_at(inbound.address)
    if isinstance(person, Staff):
        return Speaker(inbound.address, person.name, staff=person)
    if isinstance(person, Resident):
        return Speaker(inbound.address, person.name, resident=person)
    return Speaker(inbound.address, inbound.sender_name or inbound.sender)


def shown(replies: list[Reply]) -> list[Any] | None:
    """What a typed number picks from now on: the last list this chat was shown (None: nothing new shown here)."""
    here = [reply for reply in replies if reply.recipient is None]
    if not here:
        return None
    offered = [reply for reply in here if any(c.button is not None for c in reply.choices)]
    return [c.dump() for c in offered[-1].choices if c.button is not None] if offered else []


def answer_language(inbound: Inbound, default: str, speaker: Speaker | None = None, chosen: str | None = None) -> str:
    """The language a message is answered in: what its sender chose with /lang (`chosen`), else their locale in the
    directory, else their chat app's language, else the desk's `default`. Without the speaker (the database could
    not be read), only the last two."""
    person = (speaker.staff or speaker.resident) if speaker is not None else None
    return chosen or (person.locale if person else None) or normalize_locale(inbound.language_hint) or default


class Desk:
    """Where messages are answered; the channel adapters only translate to and from it."""

    def __init__(self, uow: UnitOfWork, settings: DeskSettings) -> None:
        self.uow = uow
        self.settings = settings
        self._estate: tuple[int, Estate] | None = None
        self._estate_checked: datetime | None = None
        # Told, after each commit, what was queued for delivery (the outbox sender listens).
        self.queued_listeners: list[Callable[[list[OutboxMessage]], None]] = []
        # The outbox sender those listeners hand messages to, and for how long it claims them (its id, its lease):
        # what this desk queues is claimed by it from the start, so that no other sender takes it meanwhile.
        self.sender: tuple[str, timedelta] | None = None

    def queue(self, uow: UnitOfWork, messages: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
        """Into the outbox, in the caller's transaction; what was not queued before comes back."""
        held = Claim(self.sender[0], now + self.sender[1]) if self.sender is not None else None
        return uow.outbox.add_all(messages, now, held)

    def estate(self, uow: UnitOfWork, now: datetime) -> Estate:
        """The directory, read again when a load or a registration has changed it (looked at once a second)."""
        if self._estate is not None and self._estate_checked and abs(now - self._estate_checked) < ESTATE_RECHECK:
            return self._estate[1]
        version = uow.directory.version(self.settings.estate_code)
        if version is None:
            raise NotFound(f'estate "{self.settings.estate_code}" is not loaded')
        if self._estate is None or self._estate[0] != version:
            estate = uow.directory.get(self.settings.estate_code)
            assert estate is not None
            self._estate = (version, estate)
        self._estate_checked = now
        return self._estate[1]

    def handle(self, inbound: Inbound, now: datetime, render: Render | None = None) -> list[Reply]:
        """Answer one message. With `render`, the answers go to the outbox in the same transaction, and a message
        with a native id that was handled before is not handled again."""
        with self.uow as uow:
            estate = self.estate(uow, now)
            speaker = speaker_of(estate, inbound)
            claim = inbound.native_id if render is not None and inbound.native_id else None
            opening = uow.conversations.open(inbound.channel, inbound.chat, inbound.sender, who(speaker), now, claim)
            if opening is None:
                return []
            locale = answer_language(inbound, self.settings.default_locale, speaker, opening.locale)
            state = opening.state
            if inbound.resumed_from:  # the draft begun in that group goes on here
                state = uow.conversations.get(inbound.channel, inbound.resumed_from, inbound.sender)
                uow.conversations.delete(inbound.channel, inbound.resumed_from, inbound.sender)
            conversation = STAFF if speaker.staff is not None else RESIDENT
            capabilities = self.settings.channels.get(inbound.channel, Capabilities())
            if capabilities.push and inbound.chat_kind is ChatKind.PRIVATE and inbound.payload is None:
                state = self._pushed_list_on_screen(uow, inbound, state, now)
            context = Context(
                estate, speaker, self.settings, locale, Look(uow, estate), inbound.chat_kind, capabilities
            )
            outcome = step(conversation, state, inbound, now, context)
            work = Work(uow, estate, self.settings, now, speaker, locale)
            for command in outcome.commands:
                execute(work, speaker, command)
            replies = outcome.notes + work.answers + outcome.question
            if conversation.private_in_groups and inbound.chat_kind is ChatKind.GROUP:
                replies = [Reply(r.text, r.choices, recipient=r.recipient or inbound.sender) for r in replies]
            screen = shown(replies)
            if screen is not None:
                outcome.state["shown"] = screen
            uow.conversations.put(inbound.channel, inbound.chat, inbound.sender, outcome.state, now)
            outgoing = list(work.outgoing)
            if render is not None:
                base = f"{inbound.channel}:{inbound.native_id or now.isoformat()}"
                deliveries = [(inbound.channel, *d) for reply in replies for d in render(inbound, reply)]
                outgoing = [OutboxMessage(f"{base}:{n}", *delivery) for n, delivery in enumerate(deliveries)] + outgoing
            queued = self.queue(uow, outgoing, now)
            uow.commit()
        self._tell_queued(queued)
        return replies

    def _pushed_list_on_screen(
        self, uow: UnitOfWork, inbound: Inbound, state: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any] | None:
        """A list pushed to this person (an acceptance question, a job to take) after their conversation last spoke
        is the last list they saw: a typed number or word answers it, and a report they were writing is set aside
        until it is answered. Without a conversation yet, pushes of the idle limit before count."""
        since = state.get("updated_at") if state else None
        after = datetime.fromisoformat(since) if since else now - self.settings.idle_limit
        pushed = [Reply.load(payload) for payload in uow.outbox.notices_since(inbound.channel, inbound.sender, after)]
        with_choices = [reply for reply in pushed if any(c.button is not None for c in reply.choices)]
        screen = shown(with_choices[-1:])
        return {**(state or {}), "shown": screen} if screen else state

    def language(self, inbound: Inbound, now: datetime) -> str:
        """The language the sender of this message is answered in, read in a transaction of its own: for what is said
        about a message that handle() did not answer (an apology)."""
        with self.uow as uow:
            speaker = speaker_of(self.estate(uow, now), inbound)
            chosen = uow.people.locale(who(speaker))
        return answer_language(inbound, self.settings.default_locale, speaker, chosen)

    def act(self, now: datetime, job: Callable[[Work], T]) -> T:
        """Work that comes from no conversation (the command line, a timer), in one transaction, and told."""
        with self.uow as uow:
            work = Work(uow, self.estate(uow, now), self.settings, now)
            result = job(work)
            work.tell()
            queued = self.queue(uow, work.outgoing, now)
            uow.commit()
        self._tell_queued(queued)
        return result

    def _tell_queued(self, queued: list[OutboxMessage]) -> None:
        if queued:
            for listener in self.queued_listeners:
                listener(queued)

    def take_pushes(self, address: Address, chat: str, now: datetime) -> list[Reply]:
        """Messages waiting for a person on a channel that does not push (it shows them at the person's next look):
        handed over once, and the last list among them is what a typed number picks from then on."""
        with self.uow as uow:
            waiting = uow.outbox.due(now, channels=(address.channel,), recipient=address.id)
            uow.outbox.mark_sent([message.key for message in waiting], now)
            replies = [Reply.load(message.payload) for message in waiting]
            screen = shown(replies)
            if screen:
                state = State.load(uow.conversations.get(address.channel, chat, address.id)).dump()
                state["shown"] = screen
                uow.conversations.put(address.channel, chat, address.id, state, now)
            uow.commit()
        return replies

    def link(self, address: Address, person: PersonRef) -> None:
        """This address is theirs (a channel the person opened as someone of the directory)."""
        with self.uow as uow:
            uow.directory.link(self.settings.estate_code, address, person)
            uow.commit()
        self._estate_checked = None  # read again at the next message

    def forget(self, channel: str, chat: str, user: str) -> None:
        """Drop a conversation's state, so the next message starts afresh."""
        with self.uow as uow:
            uow.conversations.delete(channel, chat, user)
            uow.commit()
