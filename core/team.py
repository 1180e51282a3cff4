"""The staff side of one transaction: dispatching, pushing jobs to staff, and telling people what happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from core.dialogue import CATEGORY_LABELS
from core.directory import Estate, Staff, StaffGroup
from core.dispatch import Decision, decide, supervisors
from core.i18n import N_, Translator, TranslatorFactory
from core.lifecycle import Action, apply
from core.messages import Choice
from core.model import Actor, HistoryEvent, Ticket, TicketKind, Urgency
from core.notify import PUSH_CHANNELS, Recipient, progress_notices
from core.ports import UnitOfWork

SYSTEM = Actor("system", "dispatch")

URGENCY_MARKS = {
    Urgency.EMERGENCY: N_("🚨 EMERGENCY"),
    Urgency.URGENT: N_("⚠️ Urgent"),
    Urgency.NORMAL: N_("Normal"),
}
# What to bring, per trade; [dispatch.tools] in the config replaces a trade's list.
TOOLS: dict[str, tuple[str, ...]] = {
    "plumbing": (N_("pipe wrench"), N_("sealing tape"), N_("spare valves and washers"), N_("drain auger")),
    "electrical": (N_("voltage tester"), N_("insulated screwdrivers"), N_("spare breakers and fuses")),
    "civil": (N_("drill"), N_("sealant"), N_("spare hinges and locks")),
    "hvac": (N_("pressure gauges"), N_("spare filters")),
    "lift": (N_("lift service key"), N_("lift fault log")),
    "fire_safety": (N_("detector tester"), N_("spare detector heads")),
}


def _default_arrival() -> dict[Urgency, timedelta]:
    return {
        Urgency.EMERGENCY: timedelta(minutes=30),
        Urgency.URGENT: timedelta(hours=2),
        Urgency.NORMAL: timedelta(hours=24),
    }


@dataclass(frozen=True)
class DispatchPolicy:
    """Config `[dispatch]`: who may get more work, how long a push waits, what needs approval."""

    max_open_per_technician: int = 5
    unanswered: timedelta = timedelta(minutes=10)
    cost_approval_threshold: float = 500.0
    arrival: dict[Urgency, timedelta] = field(default_factory=_default_arrival)
    tools: dict[str, tuple[str, ...]] = field(default_factory=dict)


# (idempotency key, channel, recipient, payload): a message to someone other than the sender.
Notice = tuple[str, str, str, dict[str, Any]]


def first_name(name: str) -> str:
    return name.split(" ")[0]


class Team:
    """Works inside the caller's unit of work; what it would send collects in `notices`."""

    def __init__(
        self,
        uow: UnitOfWork,
        estate: Estate,
        now: datetime,
        translators: TranslatorFactory,
        default_locale: str,
        zone: tzinfo,
        policy: DispatchPolicy,
    ) -> None:
        self.uow, self.estate, self.now = uow, estate, now
        self.translators, self.default_locale, self.zone, self.policy = translators, default_locale, zone, policy
        self.notices: list[Notice] = []
        # Per staff name, for this transaction: one person is often pushed several times in it.
        self._addresses: dict[str, list[tuple[str, str]]] = {}
        self._languages: dict[str, Translator] = {}

    # --- people and where they are reached --------------------------------------------------------------

    def staff_by_id(self, staff_id: int | None) -> Staff | None:
        return next((s for s in self.estate.staff if s.id == staff_id), None) if staff_id is not None else None

    def addresses(self, staff: Staff) -> list[tuple[str, str]]:
        if staff.name not in self._addresses:
            found = [("telegram", str(staff.telegram_id))] if staff.telegram_id is not None else []
            if staff.id is not None:
                found += [c for c in self.uow.contacts.of(staff.id) if c[0] in PUSH_CHANNELS and c not in found]
            self._addresses[staff.name] = found
        return self._addresses[staff.name]

    def t_for(self, staff: Staff) -> Translator:
        """The language they chose on any channel, else the directory's, else the estate's."""
        if staff.name not in self._languages:
            chosen = (self.uow.settings.locale(channel, user) for channel, user in self.addresses(staff))
            locale = next((c for c in chosen if c), None) or staff.locale or self.default_locale
            self._languages[staff.name] = self.translators(locale)
        return self._languages[staff.name]

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%m-%d %H:%M")

    def _queue(self, ticket: Ticket, channel: str, chat: str, text: str, choices: list[Choice], **extra: Any) -> None:
        key = f"{ticket.number}:{len(ticket.history)}:{channel}:{chat}:{len(self.notices)}"
        rows = [[c.payload, c.label, c.url] for c in choices]
        self.notices.append((key, channel, chat, {"text": text, "choices": rows, **extra}))

    def push(
        self,
        staff: Staff,
        ticket: Ticket,
        write: Callable[[Translator], str],
        choices: Callable[[Translator], list[Choice]] | None = None,
    ) -> None:
        """A message to one staff member, in their language, on every channel they are reached on."""
        t = self.t_for(staff)
        for channel, user in self.addresses(staff):
            self._queue(ticket, channel, user, write(t), choices(t) if choices else [])

    def tell_group(
        self,
        group: StaffGroup,
        ticket: Ticket,
        write: Callable[[Translator], str],
        choices: Callable[[Translator], list[Choice]] | None = None,
    ) -> None:
        if group.telegram_chat_id is not None:
            t = self.translators(self.default_locale)
            self._queue(ticket, "telegram", str(group.telegram_chat_id), write(t), choices(t) if choices else [])

    def tell_supervisors(self, ticket: Ticket, write: Callable[[Translator], str]) -> None:
        for supervisor in supervisors(self.estate):
            self.push(supervisor, ticket, write)

    # --- residents ----------------------------------------------------------------------------------------

    def announce(self, ticket: Ticket, event: HistoryEvent) -> None:
        """Tell the reporter, those who joined and the group it came from about a step that matters to them."""
        assert ticket.id is not None

        def language_of(recipient: Recipient) -> str:
            if not recipient.ref:
                return self.default_locale
            channel, _, user = recipient.ref.partition(":")
            resident = next((r for r in self.estate.residents if r.id == ticket.reporter_resident_id), None)
            own = resident.locale if resident and recipient.ref == ticket.reporter_ref else None
            return self.uow.settings.locale(channel, user) or own or self.default_locale

        for channel, chat, payload in progress_notices(
            ticket, event, self.uow.tickets.subscribers(ticket.id), self.translators, language_of
        ):
            key = f"{ticket.number}:{len(ticket.history)}:{channel}:{chat}"
            self.notices.append((key, channel, chat, payload))

    # --- dispatch -----------------------------------------------------------------------------------------

    def dispatch(self, ticket: Ticket) -> Decision:
        """Send a new (or declined) ticket on its way: to a technician, to everyone on duty, or to the pool."""
        local = self.now.astimezone(self.zone)
        loads = self.uow.tickets.workloads(self.estate.code)
        decision = decide(self.estate, ticket, local, loads, self.policy.max_open_per_technician)
        if decision.kind == "assign":
            chosen = decision.staff[0]
            apply(
                ticket,
                Action.ASSIGN,
                SYSTEM,
                self.now,
                assignee=chosen.name,
                assignee_id=chosen.id,
                reason=decision.reason,
            )
            self.uow.tickets.save(ticket)
            self.push_assignment(ticket, chosen)
        elif decision.kind == "department":
            apply(ticket, Action.ASSIGN, SYSTEM, self.now, assignee=ticket.department, reason=decision.reason)
            self.uow.tickets.save(ticket)
            for handler in decision.staff:
                self.push_feedback(ticket, handler)
        elif decision.kind == "offer":
            apply(
                ticket,
                Action.OFFER,
                SYSTEM,
                self.now,
                reason=decision.reason,
                to=[s.name for s in decision.staff],
                groups=[g.name for g in decision.groups],
            )
            self.uow.tickets.save(ticket)
            for staff in decision.staff:
                self.push_offer(ticket, staff, grab="technician" in staff.roles)
            for group in decision.groups:
                self.push_pool(ticket, group)
        elif decision.kind == "pool":
            apply(
                ticket, Action.POOL, SYSTEM, self.now, reason=decision.reason, groups=[g.name for g in decision.groups]
            )
            self.uow.tickets.save(ticket)
            # The group grabs it; supervisors see it under /queue rather than in a push per ticket.
            for group in decision.groups:
                self.push_pool(ticket, group)
        else:
            apply(ticket, Action.NOTE, SYSTEM, self.now, dispatch=decision.reason)
            self.uow.tickets.save(ticket)
            self.tell_supervisors(ticket, lambda t: self.unassigned_note(ticket, t))
        return decision

    def unassigned_note(self, ticket: Ticket, t: Translator) -> str:
        note = t("📋 {number} found nobody to send: please assign it. /assign {number} NAME")
        return note.format(number=ticket.number) + "\n" + self.summary(ticket, t, personal=False)

    # --- what staff are shown -----------------------------------------------------------------------------

    def summary(self, ticket: Ticket, t: Translator, personal: bool) -> str:
        """The job as a technician needs it; the reporter's contact only when `personal`."""
        lines = [
            " · ".join((ticket.number, t(URGENCY_MARKS[ticket.urgency]), t(CATEGORY_LABELS[ticket.category]))),
            t("Place: {place}").format(place=ticket.location.label() or "-"),
            t("Problem: {problem}").format(problem=ticket.description),
        ]
        photos = sum(1 for a in ticket.attachments if a.kind == "photo")
        if photos:
            lines.append(t("📷 Photos: {count}").format(count=photos))
        if ticket.reporters > 1:
            lines.append(t("👥 Reported by {count} residents").format(count=ticket.reporters))
        if personal and ticket.kind is TicketKind.REPAIR:
            contact = " ".join(part for part in (ticket.reporter, ticket.reporter_contact) if part)
            lines.append(t("Resident: {contact}").format(contact=contact or "-"))
        return "\n".join(lines)

    def arrival_by(self, ticket: Ticket) -> datetime:
        return self.now + self.policy.arrival[ticket.urgency]

    def tools(self, ticket: Ticket, t: Translator) -> str:
        configured = self.policy.tools.get(ticket.category)
        items = configured if configured is not None else tuple(t(item) for item in TOOLS.get(ticket.category, ()))
        return "、".join(items) if t.locale.startswith("zh") else ", ".join(items)

    def job_text(self, ticket: Ticket, t: Translator, heading: str) -> str:
        lines = [
            heading,
            self.summary(ticket, t, personal=True),
            t("Be there by: {when}").format(when=self.local(self.arrival_by(ticket))),
        ]
        tools = self.tools(ticket, t)
        if tools:
            lines.append(t("Bring: {tools}").format(tools=tools))
        return "\n".join(lines)

    def push_assignment(
        self, ticket: Ticket, staff: Staff, heading: Callable[[Translator], str] = lambda t: t(N_("🔧 New job for you"))
    ) -> None:
        self.push(
            staff,
            ticket,
            lambda t: self.job_text(ticket, t, heading(t)),
            lambda t: [
                Choice(f"s:accept:{ticket.number}", t("✅ Accept")),
                Choice(f"s:decline:{ticket.number}", t("↩️ Decline")),
            ],
        )

    def push_offer(self, ticket: Ticket, staff: Staff, grab: bool) -> None:
        heading = N_("🚨 Emergency: the first to take it goes")
        self.push(
            staff,
            ticket,
            lambda t: (
                self.job_text(ticket, t, t(heading))
                if grab
                else t(heading) + "\n" + self.summary(ticket, t, personal=True)
            ),
            (lambda t: [Choice(f"s:grab:{ticket.number}", t("🙋 I'll take it"))]) if grab else None,
        )

    def push_pool(self, ticket: Ticket, group: StaffGroup) -> None:
        self.tell_group(
            group,
            ticket,
            lambda t: t("🙋 Up for grabs: first to claim it gets it") + "\n" + self.summary(ticket, t, personal=False),
            lambda t: [Choice(f"s:grab:{ticket.number}", t("🙋 I'll take it"))],
        )

    def push_feedback(self, ticket: Ticket, staff: Staff) -> None:
        def text(t: Translator) -> str:
            who = t("anonymous") if ticket.anonymous else ticket.reporter
            lines = [
                t("💬 Feedback for {department}").format(department=ticket.department),
                f"{ticket.number} · {t(CATEGORY_LABELS.get(ticket.category, 'other'))} · {who}",
                ticket.description,
            ]
            if ticket.resolve_due:
                lines.append(t("Reply by: {when}").format(when=self.local(ticket.resolve_due)))
            return "\n".join(lines)

        self.push(staff, ticket, text, lambda t: [Choice(f"s:reply:{ticket.number}", t("✍️ Reply"))])
