"""The resident desk: one inbound message through the dialogue and its commands, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from core.dialogue import (
    CATEGORY_LABELS,
    URGENCY_WORDS,
    Command,
    Context,
    Person,
    SetLocale,
    ShowMyTickets,
    ShowTicket,
    SubmitTicket,
    WithdrawTicket,
    step,
)
from core.directory import Estate
from core.errors import NotFound
from core.i18n import N_, Translator, TranslatorFactory, normalize_locale
from core.lifecycle import Action, apply
from core.messages import Choice, Inbound, Reply
from core.model import Actor, Status, Ticket, TicketKind, Urgency
from core.ports import TicketQuery, UnitOfWork
from core.services import create_ticket, find_ticket
from core.sla import SlaPolicy
from core.triage import TriageRules

CHASE_INTERVAL = timedelta(hours=1)

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


class Desk:
    """Where residents' messages are answered; the channel adapters only translate to and from it."""

    def __init__(self, uow: UnitOfWork, settings: DeskSettings) -> None:
        self.uow = uow
        self.settings = settings

    def handle(self, inbound: Inbound, now: datetime) -> list[Reply]:
        with self.uow as uow:
            estate = uow.directory.get(self.settings.estate_code)
            if estate is None:
                raise NotFound(f'estate "{self.settings.estate_code}" is not loaded')
            person = identify(estate, inbound)
            locale = (
                uow.settings.locale(inbound.channel, inbound.sender)
                or self.directory_locale(estate, person)
                or normalize_locale(inbound.language_hint)
                or self.settings.default_locale
            )
            context = Context(estate, person, self.settings.rules, locale, self.settings.translators)
            before = uow.dialogues.get(inbound.channel, inbound.chat, inbound.sender)
            state, replies, commands = step(before, inbound, now, context)
            run = CommandRun(uow, self.settings, estate, person, locale, inbound, now)
            answers = [(command.slot, run.execute(command)) for command in commands]
            for slot, answer in reversed(answers):  # each answer goes where its command was asked
                replies[slot:slot] = answer
            with_choices = [reply for reply in replies if reply.choices]
            if with_choices:  # a typed number always means the last list the person was shown
                state["choices"] = [[c.payload, c.label, list(c.keys)] for c in with_choices[-1].choices]
            uow.dialogues.put(inbound.channel, inbound.chat, inbound.sender, state, now)
            uow.commit()
        return replies

    def forget(self, channel: str, chat: str, user: str) -> None:
        """Drop a conversation's state, so the next message starts afresh."""
        with self.uow as uow:
            uow.dialogues.delete(channel, chat, user)
            uow.commit()

    @staticmethod
    def directory_locale(estate: Estate, person: Person) -> str | None:
        resident = next((r for r in estate.residents if r.id == person.resident_id), None)
        return resident.locale if resident else None


def identify(estate: Estate, inbound: Inbound) -> Person:
    """The resident behind a chat identity, or an unknown person who may still report."""
    ref = f"{inbound.channel}:{inbound.sender}"
    for resident in estate.residents:
        matches = {
            "telegram": resident.telegram_id is not None and str(resident.telegram_id) == inbound.sender,
            "wechat": resident.wechat_openid == inbound.sender,
            "console": inbound.sender in (resident.name, *resident.name.split(" ")),
        }.get(inbound.channel, False)
        if matches:
            return Person(resident.name, ref, resident.id, resident.rooms, resident.phone)
    return Person(inbound.sender_name or inbound.sender, ref)


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
    ) -> None:
        self.uow, self.settings, self.estate, self.person = uow, settings, estate, person
        self.inbound, self.now = inbound, now
        self.t = settings.translators(locale)
        self.actor = Actor("resident", person.name, person.resident_id)

    def execute(self, command: Command) -> list[Reply]:
        if isinstance(command, SetLocale):
            self.uow.settings.set_locale(self.inbound.channel, self.inbound.sender, command.locale, self.now)
            self.t = self.settings.translators(command.locale)
            return []
        if isinstance(command, SubmitTicket):
            return [self.submit(command)]
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
        ticket = create_ticket(
            self.uow, draft, self.estate.code, self.actor, self.now, self.settings.zone, self.settings.sla
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

    def mine(self) -> list[Ticket]:
        query = TicketQuery(
            estate_code=self.estate.code,
            reporter_resident_id=self.person.resident_id,
            reporter_ref=self.person.ref,
            open_only=True,
        )
        return self.uow.tickets.list(query)

    def own_ticket(self, reference: str) -> Ticket:
        ticket = find_ticket(self.uow, reference)
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
            return Reply(t("{number} is {status}; there is nothing to chase.").format(
                number=ticket.number, status=self.status_words(ticket)))  # fmt: skip
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
        return Reply(t("We've reminded the team about {number}. Thank you for your patience.").format(
            number=ticket.number))  # fmt: skip
