"""The resident desk: one inbound message through the dialogue and its commands, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from core.dialogue import (
    CATEGORY_LABELS,
    URGENCY_WORDS,
    ChaseTicket,
    Command,
    ConfirmFix,
    Context,
    JoinTicket,
    OpenReport,
    Person,
    RateTicket,
    RejectFix,
    SetLocale,
    ShowMyTickets,
    ShowTicket,
    SubmitTicket,
    WithdrawTicket,
    step,
)
from core.directory import Estate, Staff
from core.dispatch import department_staff
from core.errors import NotFound
from core.i18n import N_, Translator, TranslatorFactory, normalize_locale
from core.lifecycle import Action, apply
from core.messages import ChatKind, Choice, Inbound, Reply
from core.model import Actor, HistoryEvent, Registration, Source, Status, Subscriber, Ticket, TicketKind, Urgency
from core.ports import OutboxMessage, TicketQuery, UnitOfWork
from core.services import act, create_ticket, find_ticket
from core.sla import SlaPolicy
from core.staff_desk import StaffTurn
from core.team import SYSTEM, DispatchPolicy, Notice, Team
from core.tickets import TicketDraft
from core.triage import TriageRules

CHASE_INTERVAL = timedelta(hours=1)
ESTATE_RECHECK = timedelta(seconds=1)
JOIN_STEPS = frozenset({"location", "location_unit", "symptom", "category", "join"})

STATUS_FOR_RESIDENTS = {
    Status.NEW: N_("received, waiting for a technician"),
    Status.ASSIGNED: N_("a technician has been assigned"),
    Status.ACCEPTED: N_("accepted by the technician"),
    Status.IN_PROGRESS: N_("being repaired"),
    Status.ON_HOLD: N_("on hold (waiting for parts or access)"),
    Status.RESOLVED: N_("repaired: waiting for your confirmation"),
    Status.CLOSED: N_("closed"),
    Status.CANCELLED: N_("cancelled"),
}
FEEDBACK_STATUS = {
    Status.NEW: N_("received"),
    Status.ASSIGNED: N_("with the department"),
    Status.RESOLVED: N_("answered"),
}


def duration_text(span: timedelta, t: Translator) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return t("{n} minutes").format(n=minutes) if minutes != 1 else t("1 minute")
    hours = minutes // 60
    if minutes % 60 == 0:
        return t("{n} hours").format(n=hours) if hours != 1 else t("1 hour")
    return t("{h} h {m} min").format(h=hours, m=minutes % 60)


@dataclass(frozen=True)
class DeskSettings:
    estate_code: str
    rules: TriageRules
    sla: SlaPolicy
    translators: TranslatorFactory
    default_locale: str
    zone: tzinfo
    dispatch: DispatchPolicy = field(default_factory=DispatchPolicy)


# How a channel turns one reply into what its sender delivers: (recipient, payload) pairs.
Render = Callable[[Inbound, Reply], list[tuple[str, dict[str, Any]]]]


class Desk:
    """Where residents' messages are answered; the channel adapters only translate to and from it."""

    def __init__(self, uow: UnitOfWork, settings: DeskSettings) -> None:
        self.uow = uow
        self.settings = settings
        self._estate: tuple[int, Estate] | None = None
        self._estate_checked: datetime | None = None
        # Told, after each commit, what was queued for delivery (the outbox sender listens).
        self.queued_listeners: list[Callable[[list[OutboxMessage]], None]] = []

    def estate(self, uow: UnitOfWork, now: datetime) -> Estate:
        """The directory, read again when a load has changed it (looked at once a second at most)."""
        if self._estate is not None and self._estate_checked and now - self._estate_checked < ESTATE_RECHECK:
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
        """Answer one message. With `render`, the answers go to the outbox in the same transaction,
        and a message with a native id that was handled before is not handled again."""
        with self.uow as uow:
            ref = f"{inbound.channel}:{inbound.sender}"
            claim = (inbound.native_id, now) if render is not None and inbound.native_id else None
            opening = uow.dialogues.opening(inbound.channel, inbound.chat, inbound.sender, ref, claim)
            if opening is None:
                return []
            estate = self.estate(uow, now)
            person = self.identify(estate, inbound, opening.registration)
            locale = (
                opening.locale
                or self.directory_locale(estate, person.resident_id)
                or normalize_locale(inbound.language_hint)
                or self.settings.default_locale
            )
            before = opening.state
            if inbound.resumed_from:
                before = uow.dialogues.get(inbound.channel, inbound.resumed_from, inbound.sender)
                uow.dialogues.delete(inbound.channel, inbound.resumed_from, inbound.sender)
            # Only a message that may start a repair report, or one still before its join question, can be
            # offered to join an open ticket; skipping the query otherwise matters on the message path.
            may_join = (
                not before
                or not before.get("flow")
                or (
                    before.get("flow") == "repair"
                    and before.get("step") in JOIN_STEPS
                    and not before.get("draft", {}).get("join_asked")
                )
            )
            open_reports = uow.tickets.open_area_reports(estate.code) if may_join else []
            context = Context(
                estate,
                person,
                self.settings.rules,
                locale,
                self.settings.translators,
                inbound.chat_kind,
                tuple(OpenReport(*row) for row in open_reports),
            )
            team = self.team(uow, estate, now)
            staff = self.staff_member(estate, inbound)
            on_behalf = staff is not None and (before or {}).get("flow") in ("repair", "feedback")
            run = CommandRun(uow, self.settings, estate, person, locale, inbound, now, team, on_behalf)
            if staff is not None and staff.id is not None and inbound.chat_kind is ChatKind.PRIVATE:
                uow.contacts.note(inbound.channel, inbound.sender, staff.id, now)
            if staff is not None and (inbound.payload or "").startswith("reg:"):
                # A staff button, not a turn of the resident dialogue: the conversation stays as it was.
                state, replies, commands = before or {}, [run.confirm_registration(staff, inbound.payload[4:])], []
            elif staff is not None and not on_behalf:
                staff_locale = opening.locale or staff.locale or locale
                turn = StaffTurn(
                    uow,
                    team,
                    staff,
                    inbound,
                    dict(before or {}),
                    self.settings.translators(staff_locale),
                    self.settings.sla,
                    can_send_photos=inbound.channel == "telegram",
                )
                turn.run()
                if turn.locale:
                    uow.settings.set_locale(inbound.channel, inbound.sender, turn.locale, now)
                state, replies, commands = turn.state, turn.replies, []
                if turn.start_report:  # /new: the report dialogue, on a resident's behalf
                    context = replace(context, on_behalf=True, locale=staff_locale)
                    state, replies, commands = step(None, replace(inbound, text="/report"), now, context)
                    run.on_behalf = True
                if inbound.chat_kind is ChatKind.GROUP:  # a job's details are for the person, not the group
                    replies = [replace(reply, recipient=inbound.sender) for reply in replies]
            else:
                if on_behalf:
                    context = replace(context, on_behalf=True)
                state, replies, commands = step(before, inbound, now, context)
            answers = [(command.slot, run.execute(command)) for command in commands]
            for slot, answer in reversed(answers):  # each answer goes where its command was asked
                replies[slot:slot] = answer
            if run.follow_up is not None:  # what the next message answers depends on how a command went
                state.update(run.follow_up)
            with_choices = [reply for reply in replies if any(not c.url for c in reply.choices)]
            if with_choices:  # a typed number always means the last list the person was shown
                state["choices"] = [[c.payload, c.label, list(c.keys)] for c in with_choices[-1].choices if not c.url]
            uow.dialogues.put(inbound.channel, inbound.chat, inbound.sender, state, now)
            outgoing = []
            if render is not None:
                base = f"{inbound.channel}:{inbound.native_id or now.isoformat()}"
                deliveries = [(inbound.channel, *d) for reply in replies for d in render(inbound, reply)]
                outgoing = [OutboxMessage(f"{base}:{n}", *delivery) for n, delivery in enumerate(deliveries)]
            queued = uow.outbox.add_all(outgoing + self._notices(team.notices), now)
            uow.commit()
        self._tell_queued(queued)
        return replies

    def _tell_queued(self, queued: list[OutboxMessage]) -> None:
        if queued:
            for listener in self.queued_listeners:
                listener(queued)

    def staff_action(
        self, reference: str, action: Action, actor: Actor, now: datetime, **details: Any
    ) -> tuple[Ticket, HistoryEvent]:
        """A step taken outside chat (an operator, a job), and the notices to those who follow the ticket."""
        with self.uow as uow:
            ticket, event = act(uow, reference, action, actor, now, self.settings.sla, **details)
            team = self.team(uow, self.estate(uow, now), now)
            team.announce(ticket, event)
            queued = uow.outbox.add_all(self._notices(team.notices), now)
            uow.commit()
        self._tell_queued(queued)
        return ticket, event

    def roll_over(self, now: datetime) -> list[str]:
        """Pushes left unanswered past [dispatch] unanswered go to the next candidate; the numbers moved."""
        moved = []
        with self.uow as uow:
            estate = self.estate(uow, now)
            team = self.team(uow, estate, now)
            limit = now - self.settings.dispatch.unanswered
            minutes = int(self.settings.dispatch.unanswered.total_seconds() // 60)
            waiting = uow.tickets.list(TicketQuery(estate_code=estate.code, status=Status.ASSIGNED))
            for listed in waiting:
                assigned_at = listed.milestones.get("assigned")
                if listed.kind is not TicketKind.REPAIR or listed.assignee_id is None or not assigned_at:
                    continue
                if assigned_at > limit:
                    continue
                ticket = find_ticket(uow, listed.number, for_update=True)
                if ticket.status is not Status.ASSIGNED:
                    continue
                before = team.staff_by_id(ticket.assignee_id)
                apply(
                    ticket,
                    Action.DECLINE,
                    SYSTEM,
                    now,
                    reason=f"no answer within {minutes} minutes",
                    assignee_id=ticket.assignee_id,
                )
                uow.tickets.save(ticket)
                if before is not None:
                    team.push(
                        before,
                        ticket,
                        lambda t, n=ticket.number: t(
                            "⏰ {number} went to someone else: it was not accepted in time."
                        ).format(number=n),
                    )
                team.dispatch(ticket)
                moved.append(ticket.number)
            queued = uow.outbox.add_all(self._notices(team.notices), now)
            uow.commit()
        self._tell_queued(queued)
        return moved

    def team(self, uow: UnitOfWork, estate: Estate, now: datetime) -> Team:
        s = self.settings
        return Team(uow, estate, now, s.translators, s.default_locale, s.zone, s.dispatch)

    @staticmethod
    def _notices(notices: list[Notice]) -> list[OutboxMessage]:
        return [
            OutboxMessage(f"notice:{key}", channel, recipient, payload) for key, channel, recipient, payload in notices
        ]

    def take_pushes(self, channel: str, user: str, chat: str, now: datetime) -> list[Reply]:
        """Messages waiting for a person on a channel that shows them when it can (the console): handed over
        once, and their last list of choices becomes what a typed number picks."""
        with self.uow as uow:
            waiting = uow.outbox.due(now, channels=(channel,), recipient=user)
            uow.outbox.mark_sent([message.key for message in waiting], now)
            replies = []
            for message in waiting:
                choices = tuple(Choice(p, label, url=url) for p, label, url in message.payload.get("choices", []))
                replies.append(Reply(str(message.payload.get("text", "")), choices))
            offered = [reply for reply in replies if reply.choices]
            if offered:
                state = uow.dialogues.get(channel, chat, user) or {}
                state["choices"] = [[c.payload, c.label, []] for c in offered[-1].choices]
                uow.dialogues.put(channel, chat, user, state, now)
            uow.commit()
        return replies

    def forget(self, channel: str, chat: str, user: str) -> None:
        """Drop a conversation's state, so the next message starts afresh."""
        with self.uow as uow:
            uow.dialogues.delete(channel, chat, user)
            uow.commit()

    @staticmethod
    def directory_locale(estate: Estate, resident_id: int | None) -> str | None:
        resident = next((r for r in estate.residents if r.id == resident_id), None) if resident_id else None
        return resident.locale if resident else None

    @staticmethod
    def identify(estate: Estate, inbound: Inbound, registration: Registration | None) -> Person:
        """The resident behind a chat identity, a person customer service registered, or a stranger."""
        ref = f"{inbound.channel}:{inbound.sender}"
        for resident in estate.residents:
            if _same_person(inbound, resident.telegram_id, resident.wechat_openid, resident.name):
                return Person(resident.name, ref, resident.id, resident.rooms, resident.phone)
        if registration is not None:
            return Person(registration.name, ref, rooms=(registration.room,), registered=True)
        return Person(inbound.sender_name or inbound.sender, ref)

    @staticmethod
    def staff_member(estate: Estate, inbound: Inbound) -> Staff | None:
        return next((s for s in estate.staff if _same_person(inbound, s.telegram_id, s.wechat_openid, s.name)), None)


def _same_person(inbound: Inbound, telegram_id: int | None, wechat_openid: str | None, name: str) -> bool:
    if inbound.channel == "telegram":
        return telegram_id is not None and str(telegram_id) == inbound.sender
    if inbound.channel == "wechat":
        return wechat_openid is not None and wechat_openid == inbound.sender
    if inbound.channel == "console":
        return inbound.sender in (name, *name.split(" "))
    return False


class CommandRun:
    """Carries out what one turn of the dialogue asked for, and says how it went."""

    def __init__(
        self,
        uow: UnitOfWork,
        settings: DeskSettings,
        estate: Estate,
        person: Person,
        locale: str,
        inbound: Inbound,
        now: datetime,
        team: Team,
        on_behalf: bool = False,
    ) -> None:
        self.uow, self.settings, self.estate, self.person = uow, settings, estate, person
        self.inbound, self.now, self.team, self.on_behalf = inbound, now, team, on_behalf
        self.t = settings.translators(locale)
        self.actor = Actor("resident", person.name, person.resident_id)
        # State for the next message, when it depends on how a command went (a rating asks for a comment).
        self.follow_up: dict[str, Any] | None = None

    def execute(self, command: Command) -> list[Reply]:
        if isinstance(command, SetLocale):
            self.uow.settings.set_locale(self.inbound.channel, self.inbound.sender, command.locale, self.now)
            self.t = self.settings.translators(command.locale)
            return []
        if isinstance(command, SubmitTicket):
            return [self.submit(command)]
        if isinstance(command, JoinTicket):
            return [self.join(command)]
        if isinstance(command, ConfirmFix | RejectFix | RateTicket):
            return [self.acceptance(command)]
        replies = self.about_own_tickets(command)
        if self.inbound.chat_kind is ChatKind.GROUP:
            # Places, problems and names stay out of the group: these answers go to the private chat.
            note = Reply(self.t("I've sent you the answer in a private chat."))
            return [note, *(replace(reply, recipient=self.inbound.sender) for reply in replies)]
        return replies

    def about_own_tickets(self, command: ShowMyTickets | ShowTicket | WithdrawTicket | ChaseTicket) -> list[Reply]:
        if isinstance(command, ShowMyTickets):
            return [self.my_tickets()]
        try:
            ticket = self.own_ticket(command.reference)
        except NotFound:
            return [
                Reply(
                    self.t("I can't find a ticket {number} of yours. Send /tickets to see them.").format(
                        number=command.reference
                    )
                )
            ]
        if isinstance(command, ShowTicket):
            return [self.show(ticket)]
        if isinstance(command, WithdrawTicket):
            return [self.withdraw(ticket)]
        return [self.chase(ticket)]

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.settings.zone).strftime("%Y-%m-%d %H:%M")

    def submit(self, command: SubmitTicket) -> Reply:
        t, draft = self.t, command.draft
        actor = self.actor
        if self.on_behalf:
            draft, actor = self.for_resident(draft), Actor("staff", self.person.name)
        ticket = create_ticket(
            self.uow, draft, self.estate.code, actor, self.now, self.settings.zone, self.settings.sla
        )
        if command.outcome == "self_resolved":
            apply(ticket, Action.SELF_RESOLVE, self.actor, self.now)
            self.uow.tickets.save(ticket)
            return Reply(
                t("Glad it works again! I've noted it as {number}, solved by yourself; nobody will be sent.").format(
                    number=ticket.number
                )
            )
        if command.outcome == "out_of_scope":
            apply(ticket, Action.CLOSE_OUT_OF_SCOPE, self.actor, self.now, pointer=command.pointer)
            self.uow.tickets.save(ticket)
            return Reply(
                t("Thank you for telling us. This is outside what the property company can handle:")
                + "\n"
                + command.pointer
                + "\n"
                + t("I've recorded your message as {number}.").format(number=ticket.number)
            )
        if not draft.verified and ticket.location.room and ticket.kind is TicketKind.REPAIR:
            self.ask_customer_service_to_register(ticket)
        self.team.dispatch(ticket)
        if self.on_behalf:
            return Reply(
                self.t("✅ {number} is open for {name}: {status}.").format(
                    number=ticket.number, name=ticket.reporter, status=self.status_words(ticket)
                )
            )
        respond = duration_text(self.settings.sla.windows[ticket.urgency].respond, t)
        if ticket.kind is TicketKind.FEEDBACK:
            lines = [
                t("Thank you. Your feedback is recorded as {number}.").format(number=ticket.number),
                t("{department} will reply to you here within {duration}.").format(
                    department=ticket.department or t("Customer service"), duration=respond
                ),
            ]
            if ticket.anonymous:
                lines.append(t("Your name is hidden from staff."))
        else:
            lines = [
                t("✅ Your report is in. Ticket number: {number}").format(number=ticket.number),
                t("{urgency}: we will respond within {duration}.").format(
                    urgency=t(URGENCY_WORDS[ticket.urgency]), duration=respond
                ),
            ]
            if ticket.urgency is Urgency.EMERGENCY:
                lines.append(t("If anyone is in danger, leave the area and call 119 (fire) or 110 (police) now."))
            if ticket.location.needs_review:
                lines.append(t("Staff will check the place you gave."))
        return Reply("\n".join(lines))

    def for_resident(self, draft: TicketDraft) -> TicketDraft:
        """A report staff take by phone or at the desk: the resident of the room reported it, if known."""
        room = draft.location.room
        resident = next((r for r in self.estate.residents if r.active and room and room in r.rooms), None)
        if resident is None:
            return replace(
                draft,
                source=Source.FRONT_DESK,
                reporter=self.t("Walk-in via {name}").format(name=self.person.name),
                reporter_ref="",
                verified=True,
            )
        ref = f"telegram:{resident.telegram_id}" if resident.telegram_id is not None else ""
        return replace(
            draft,
            source=Source.FRONT_DESK,
            reporter=resident.name,
            reporter_resident_id=resident.id,
            reporter_contact=resident.phone,
            reporter_ref=ref,
            verified=True,
        )

    def ask_customer_service_to_register(self, ticket: Ticket) -> None:
        """One button for customer service: this stranger does live in the room they gave (asked once while
        an earlier report of theirs still waits for the answer)."""
        waiting = self.uow.tickets.unverified_open(self.estate.code, ticket.reporter_ref)
        if any(number != ticket.number for number in waiting):
            return
        for staff in self.estate.staff:
            if "customer_service" not in staff.roles or not staff.active:
                continue
            self.team.push(
                staff,
                ticket,
                lambda t: t(
                    "{number}: a report from {name}, who is not in the directory and says they live in {room}."
                ).format(number=ticket.number, name=ticket.reporter, room=ticket.location.room),
                lambda t: [Choice(f"reg:{ticket.number}", t("✅ Confirm their registration"))],
            )

    def confirm_registration(self, staff: Staff, reference: str) -> Reply:
        """Customer service vouches that a stranger lives in the room they reported from."""
        t = self.settings.translators(staff.locale or self.settings.default_locale)
        if not {"customer_service", "supervisor", "manager"} & set(staff.roles):
            return Reply(t("Only customer service or a supervisor can confirm a registration."))
        try:
            ticket = find_ticket(self.uow, reference, for_update=True)
        except NotFound:
            return Reply(t("There is no ticket {number}.").format(number=reference))
        room = ticket.location.room
        if ticket.verified or room is None:
            return Reply(t("{number}: nothing to confirm.").format(number=ticket.number))
        registration = Registration(ticket.reporter_ref, ticket.reporter, room, staff.name)
        self.uow.registrations.confirm(registration, self.now)
        ticket.verified = True
        apply(ticket, Action.NOTE, Actor("staff", staff.name, staff.id), self.now, registration_confirmed=room)
        self.uow.tickets.save(ticket)
        return Reply(
            t("Confirmed: {name} lives in {room}. Their reports are verified from now on.").format(
                name=ticket.reporter, room=room
            )
        )

    def join(self, command: JoinTicket) -> Reply:
        t = self.t
        try:
            ticket = find_ticket(self.uow, command.reference, for_update=True)
        except NotFound:
            ticket = None
        if ticket is None or not ticket.is_open or ticket.status is Status.RESOLVED:
            return Reply(t("That report was closed meanwhile. Please report the fault again if it is still there."))
        assert ticket.id is not None
        subscriber = Subscriber(
            self.person.ref, self.person.name, command.chat, command.message_ref, self.person.resident_id
        )
        if self.uow.tickets.subscribe(ticket.id, subscriber, self.now):
            apply(ticket, Action.JOIN, self.actor, self.now)
            self.uow.tickets.save(ticket)
        count = 1 + len(self.uow.tickets.subscribers(ticket.id))
        return Reply(
            t(
                "You have joined {number}; {count} residents reported this fault. We'll tell you when it is fixed."
            ).format(number=ticket.number, count=count)
        )

    def mine(self) -> list[Ticket]:
        query = TicketQuery(
            estate_code=self.estate.code,
            reporter_resident_id=self.person.resident_id,
            reporter_ref=self.person.ref,
            open_only=True,
        )
        return self.uow.tickets.list(query)

    def own_ticket(self, reference: str) -> Ticket:
        ticket = find_ticket(self.uow, reference, for_update=True)
        own = (self.person.resident_id is not None and ticket.reporter_resident_id == self.person.resident_id) or (
            ticket.reporter_ref == self.person.ref
        )
        if not own:
            raise NotFound(reference)  # another resident's ticket is not even said to exist
        return ticket

    def status_words(self, ticket: Ticket) -> str:
        if ticket.kind is TicketKind.FEEDBACK and ticket.status in FEEDBACK_STATUS:
            return self.t(FEEDBACK_STATUS[ticket.status])
        return self.t(STATUS_FOR_RESIDENTS[ticket.status])

    def my_tickets(self) -> Reply:
        t = self.t
        tickets = self.mine()
        if not tickets:
            return Reply(t("You have no open tickets."), (Choice("menu:repair", t("🔧 Report a repair")),))
        lines = [t("Your open tickets:")]
        for ticket in tickets:
            lines.append(
                f"• {ticket.number} · {t(CATEGORY_LABELS.get(ticket.category, 'other'))} · {self.status_words(ticket)}"
            )
        choices = tuple(Choice(f"t:status:{ticket.number}", ticket.number) for ticket in tickets[:10])
        return Reply("\n".join(lines), choices)

    def show(self, ticket: Ticket) -> Reply:
        t = self.t
        lines = [
            f"{ticket.number} · {t(CATEGORY_LABELS.get(ticket.category, 'other'))}",
            t("Status: {status}").format(status=self.status_words(ticket)),
            t("Place: {place}").format(place=ticket.location.label() or "-"),
            t("Problem: {problem}").format(problem=ticket.description),
            t("Reported: {when}").format(when=self.local(ticket.created_at)),
        ]
        if ticket.assignee_name:
            lines.append(t("Technician: {name}").format(name=ticket.assignee_name.split(" ")[0]))
        if ticket.is_open and ticket.response_due and ticket.status is Status.NEW:
            lines.append(t("We will respond by {when}.").format(when=self.local(ticket.response_due)))
        choices = []
        if ticket.is_open and ticket.status is not Status.RESOLVED:
            choices.append(Choice(f"t:chase:{ticket.number}", t("⏰ Chase")))
        if ticket.status is Status.NEW:
            choices.append(Choice(f"t:withdraw:{ticket.number}", t("✖️ Withdraw")))
        return Reply("\n".join(lines), tuple(choices))

    def withdraw(self, ticket: Ticket) -> Reply:
        if ticket.status is not Status.NEW:
            return Reply(
                self.t(
                    "{number} is already {status}, so it can't be withdrawn here. Please call the front desk."
                ).format(number=ticket.number, status=self.status_words(ticket))
            )
        apply(ticket, Action.CANCEL, self.actor, self.now, reason="withdrawn by the resident")
        self.uow.tickets.save(ticket)
        return Reply(self.t("{number} is withdrawn. Nobody will be sent.").format(number=ticket.number))

    def chase(self, ticket: Ticket) -> Reply:
        t = self.t
        if not ticket.is_open or ticket.status is Status.RESOLVED:
            return Reply(
                t("{number} is {status}; there is nothing to chase.").format(
                    number=ticket.number, status=self.status_words(ticket)
                )
            )
        last = max((e.at for e in ticket.history if e.action == Action.CHASE.value), default=None)
        if last is not None and self.now - last < CHASE_INTERVAL:
            return Reply(
                t("You chased {number} at {when}. You can chase again after {next}.").format(
                    number=ticket.number,
                    when=self.local(last)[-5:],
                    next=self.local(last + CHASE_INTERVAL)[-5:],
                )
            )
        apply(ticket, Action.CHASE, self.actor, self.now)
        self.uow.tickets.save(ticket)
        chases = sum(1 for e in ticket.history if e.action == Action.CHASE.value)
        assignee = self.team.staff_by_id(ticket.assignee_id)
        if assignee is not None:
            self.team.push(
                assignee,
                ticket,
                lambda t: (
                    t("⏰ {number}: the resident is asking when you will come.").format(number=ticket.number)
                    + "\n"
                    + self.team.summary(ticket, t, personal=True)
                ),
            )
        if assignee is None or chases >= 2:
            self.team.tell_supervisors(
                ticket,
                lambda t: (
                    t("⏰ {number} has been chased {count} times by the resident.").format(
                        number=ticket.number, count=chases
                    )
                    + "\n"
                    + self.team.summary(ticket, t, personal=False)
                ),
            )
        return Reply(
            t("We've reminded the team about {number}. Thank you for your patience.").format(number=ticket.number)
        )

    def acceptance(self, command: ConfirmFix | RejectFix | RateTicket) -> Reply:
        """The resident's word on a finished repair (or an answered feedback), and their rating."""
        t = self.t
        try:
            ticket = self.own_ticket(command.reference)
        except NotFound:
            self.follow_up = {"flow": "", "step": ""}
            return Reply(
                t("I can't find a ticket {number} of yours. Send /tickets to see them.").format(
                    number=command.reference
                )
            )
        if isinstance(command, RateTicket):
            if ticket.status is not Status.CLOSED:
                self.follow_up = {"flow": "", "step": ""}
                return Reply(t("{number} can be rated once it is closed.").format(number=ticket.number))
            apply(ticket, Action.RATE, self.actor, self.now, rating=command.rating, comment=command.comment)
            self.uow.tickets.save(ticket)
            if command.comment:
                return Reply(t("Thank you! Your comment is passed on."))
            self.follow_up = {
                "flow": "after",
                "step": "rating_comment",
                "ticket": ticket.number,
                "rating": command.rating,
            }
            return Reply(
                t("Thank you for rating {number} {stars}. Anything to add? Write it, or tap Skip.").format(
                    number=ticket.number, stars="⭐" * command.rating
                ),
                (Choice("skip", t("Skip")),),
            )
        if ticket.status is not Status.RESOLVED:
            return Reply(
                t("{number} is {status}; there is nothing to confirm now.").format(
                    number=ticket.number, status=self.status_words(ticket)
                )
            )
        if isinstance(command, ConfirmFix):
            apply(ticket, Action.CONFIRM_FIX, self.actor, self.now)
            self.uow.tickets.save(ticket)
            stars = tuple(
                Choice(f"t:rate:{ticket.number}:{n}", "⭐" * n) for n in range(1, 6)
            )  # typing 5 means 5 stars
            return Reply(
                t("Glad to hear it! {number} is closed. How would you rate the service?").format(number=ticket.number),
                stars,
            )
        event = apply(ticket, Action.REWORK, self.actor, self.now, self.settings.sla, reason=command.reason)
        self.uow.tickets.save(ticket)
        self.send_back(ticket, command.reason)
        self.team.announce(ticket, event)
        return Reply(
            t("Sorry it isn't right yet. {number} goes back for rework; we'll tell you when it is done.").format(
                number=ticket.number
            )
        )

    def send_back(self, ticket: Ticket, reason: str) -> None:
        """Rework goes to the same technician, or department, and from the second rework the supervisor hears."""
        assignee = self.team.staff_by_id(ticket.assignee_id)
        heading = N_("🔁 Rework on {number} ({count}): the resident says “{reason}”")

        def head(t: Translator) -> str:
            return t(heading).format(number=ticket.number, count=ticket.rework_count, reason=reason)

        if assignee is not None:
            self.team.push_assignment(ticket, assignee, head)
        elif ticket.kind is TicketKind.FEEDBACK:
            for handler in department_staff(self.team.estate, ticket.department):
                self.team.push_feedback(ticket, handler)
        if ticket.rework_count >= 2 or assignee is None:
            self.team.tell_supervisors(ticket, lambda t: head(t) + "\n" + self.team.summary(ticket, t, personal=False))
