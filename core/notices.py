"""Who hears what about a ticket: the one place that turns its events into messages to people and groups.

Services change tickets through the lifecycle and hand the events to `told()`; nothing else decides that a
person is told something. Each notice goes to the conversation the change was made from (HERE), to a person
(who is reached at the address they used last), to a stranger's address, or to a group chat, in the
recipient's language. Residents are never told of their own steps (the conversation answered them already);
staff are answered here, because only the change knows how it went (who got the job, what comes next).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.conversation.buttons import OnTicket
from core.conversation.context import DeskSettings, Speaker
from core.conversation.messages import Choice, Reply
from core.conversation.views import (
    acceptance_choices,
    approval_choices,
    approval_text,
    duration_text,
    feedback_card,
    job_card,
    money,
    next_steps,
    reporter_label,
    status_for_resident,
    summary,
    work_done,
)
from core.conversation.vocabulary import URGENCY_WORDS, hold_reason
from core.domain.directory import Estate, Resident, Staff, StaffGroup
from core.domain.dispatch import department_staff, supervisors
from core.domain.lifecycle import Action
from core.domain.model import Actor, HistoryEvent, Subscriber, Ticket, TicketKind, Urgency, amount_of
from core.domain.people import Address, first_name, in_language
from core.domain.roles import Grant, holders, may
from core.i18n import N_, Translator


@dataclass(frozen=True)
class Here:
    """The conversation a change was made from: its answers are rendered like the turn's own replies."""


HERE = Here()


@dataclass(frozen=True)
class ToGroup:
    address: Address
    reply_to: str = ""  # the message in that group the news is about


Recipient = Here | Staff | Resident | Address | ToGroup  # an Address: a stranger, reached only where they wrote


@dataclass(frozen=True)
class Notice:
    to: Recipient
    reply: Reply


class Audience(Protocol):
    """What notices read besides the ticket and its events (the services provide it, inside their transaction)."""

    estate: Estate
    settings: DeskSettings
    now: datetime
    speaker: Speaker | None  # who made the change, when it was made from a conversation
    actor: Actor | None  # as the history names them

    def translator(self, to: Recipient) -> Translator: ...

    def subscribers(self, ticket: Ticket) -> list[Subscriber]: ...

    def first_unverified(self, ticket: Ticket) -> bool:
        """This stranger has no earlier report still waiting for customer service to confirm them."""


# What the reporter and those who joined are told, privately: the technician's first name, the ETA.
PRIVATE: dict[str, str] = {
    Action.ACCEPT: N_("🔧 {number}: {name} will do your repair."),
    Action.CLAIM: N_("🔧 {number}: {name} will do your repair."),
    Action.ON_THE_WAY: N_("🚶 {number}: {name} is on the way, there in about {eta} minutes."),
    Action.ARRIVE: N_("📍 {number}: {name} has arrived."),
    Action.HOLD: N_("⏸️ {number}: the repair is on hold ({reason}). The deadline waits meanwhile."),
    Action.RESUME: N_("▶️ {number}: the repair goes on."),
    Action.RESOLVE: N_("✅ {number}: {name} says the repair is done."),
    Action.CANCEL: N_("✖️ {number} was cancelled."),
}
COMING_BACK = N_("🔁 {number}: {name} will come back to put it right.")
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
# What the staff member who took a step is answered, before the job's next steps.
STEP_DONE: dict[str, str] = {
    Action.ON_THE_WAY: N_("{number}: the resident expects you in about {eta} minutes."),
    Action.ARRIVE: N_("{number}: arrival noted; the resident has been told."),
    Action.START: N_("{number}: started."),
    Action.HOLD: N_("{number}: on hold; the deadline waits until you resume."),
    Action.RESUME: N_("{number}: resumed."),
}
NEW_JOB = N_("🔧 New job for you")
REWORK = N_("🔁 Rework on {number} ({count}): the resident says “{reason}”")
TAKEN = N_("✋ {number} was taken by {name}.")
JOINED = N_("You have joined {number}; {count} residents reported this fault. We'll tell you when it is fixed.")
# A fault our staff found (a patrol): the resident who joins is the first to report it.
JOINED_FIRST = N_("You have joined {number}, which our staff found; we'll tell you when it is fixed.")


def joined(ticket: Ticket) -> str:
    """What a resident who joined the ticket is told (a text to translate)."""
    return JOINED if ticket.reporters > 1 else JOINED_FIRST


class _Telling:
    """The notices of one ticket's events, collected in order."""

    def __init__(self, ticket: Ticket, events: Sequence[HistoryEvent], audience: Audience) -> None:
        self.ticket, self.events, self.audience = ticket, list(events), audience
        self.notices: list[Notice] = []

    def tell(self, to: Recipient, write: Callable[[Translator], str],
             choices: Callable[[Translator], Sequence[Choice]] = lambda t: ()) -> None:  # fmt: skip
        t = self.audience.translator(to)
        self.notices.append(Notice(to, Reply(write(t), tuple(choices(t)))))

    def answer(self, event: HistoryEvent, write: Callable[[Translator], str],
               choices: Callable[[Translator], Sequence[Choice]] = lambda t: ()) -> None:  # fmt: skip
        """To the conversation the change was made from, when the person there made it."""
        if self.audience.actor is not None and event.actor == self.audience.actor and self.audience.speaker:
            self.tell(HERE, write, choices)

    def after(self, event: HistoryEvent) -> list[HistoryEvent]:
        return self.events[self.events.index(event) + 1 :]

    # --- who ----------------------------------------------------------------------------------------------------

    def staff(self, staff_id: object) -> Staff | None:
        return self.audience.estate.staff_member(staff_id if isinstance(staff_id, int) else None)

    def reporter(self) -> Resident | Address | None:
        """The resident who reported; when they can no longer be reached as such (the directory file gave the
        address they registered from to someone else), whoever writes from that address now."""
        ticket, estate = self.ticket, self.audience.estate
        resident = estate.resident(ticket.reporter_resident_id)
        address = ticket.reporter_address
        if address is None or (resident is not None and resident.addresses):
            return resident
        owner = estate.person_at(address)
        return owner if isinstance(owner, Resident) else address

    def followers(self) -> list[tuple[Resident | Address, Address | None, str]]:
        """(person, the group they reported from, its message): the reporter, then everyone who joined."""
        ticket, estate = self.ticket, self.audience.estate
        found: list[tuple[Resident | Address, Address | None, str]] = []
        reporter = self.reporter()
        if reporter is not None:
            found.append((reporter, ticket.origin, ticket.origin_message))
        for s in self.audience.subscribers(ticket):
            person = estate.resident(s.resident_id) or s.address
            if person is not None:
                found.append((person, s.origin, s.origin_message))
        return found

    def is_actor(self, person: Resident | Address, event: HistoryEvent) -> bool:
        if isinstance(person, Resident):
            return event.actor.kind == "resident" and event.actor.id == person.id
        speaker = self.audience.speaker
        return event.actor == self.audience.actor and speaker is not None and speaker.address == person

    # --- residents --------------------------------------------------------------------------------------------

    def progress(self, event: HistoryEvent) -> None:
        """The reporter and those who joined, privately; and each group the report came from, without names."""
        feedback = self.ticket.kind is TicketKind.FEEDBACK
        private = (FEEDBACK if feedback else PRIVATE).get(event.action)
        if event.action in (Action.ACCEPT, Action.CLAIM) and self.ticket.rework_count and not feedback:
            private = COMING_BACK  # the same technician, again: not "will do your repair" a second time
        public = None if feedback else GROUP.get(event.action)
        told: set[Resident | Address | ToGroup] = set()
        for person, group, message in self.followers():
            if private is not None and person not in told and not self.is_actor(person, event):
                told.add(person)
                asks = event.action == Action.RESOLVE and person == self.reporter()  # is it fixed?
                self.tell(person, self.with_work_done(self.news(private, event)) if asks else self.news(private, event),
                          self.verdict if asks else lambda t: ())  # fmt: skip
            if public is not None and group is not None and ToGroup(group, message) not in told:
                told.add(ToGroup(group, message))
                self.tell(ToGroup(group, message), self.news(public, event))

    def news(self, template: str, event: HistoryEvent) -> Callable[[Translator], str]:
        ticket, details = self.ticket, event.details

        def write(t: Translator) -> str:
            return t(template).format(
                number=ticket.number,
                name=first_name(ticket.assignee_name, t.locale),
                eta=details.get("eta_minutes", "?"),
                reason=hold_reason(str(details.get("reason", "")), t),
                department=in_language(ticket.department, t.locale) or t("Customer service"),
                text=details.get("reply", ""),
            )

        return write

    def with_work_done(self, write: Callable[[Translator], str]) -> Callable[[Translator], str]:
        """For the reporter, asked to accept a repair: what was done, then the question (an answered feedback asks
        its own). Those who joined are told it is done, and not asked."""
        ticket = self.ticket
        if ticket.kind is not TicketKind.REPAIR:
            return write

        def written(t: Translator) -> str:
            return "\n".join(part for part in (write(t), work_done(ticket, t), t(N_("Is it fixed?"))) if part)

        return written

    def verdict(self, t: Translator) -> tuple[Choice, ...]:
        return acceptance_choices(self.ticket, t)

    def opened(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        later = {e.action for e in self.after(event)}
        if Action.SELF_RESOLVE in later or Action.CLOSE_OUT_OF_SCOPE in later:
            return  # answered by that step
        if event.actor.kind in ("staff", "operator"):
            opened = N_("✅ {number} is open for {name}: {status}.")
            self.answer(event, lambda t: t(opened).format(number=ticket.number, name=reporter_label(ticket, t),
                                                          status=status_for_resident(ticket, t)))  # fmt: skip
            reporter = self.audience.estate.resident(ticket.reporter_resident_id)
            if reporter is not None:
                self.tell(reporter, lambda t: self.recorded_for_them(t))
        else:
            self.answer(event, self.confirmation)
        if (not ticket.verified and ticket.location.room and ticket.kind is TicketKind.REPAIR
                and ticket.reporter_address is not None and self.audience.first_unverified(ticket)):  # fmt: skip
            self.ask_to_register()

    def confirmation(self, t: Translator) -> str:
        ticket, sla = self.ticket, self.audience.settings.sla
        respond = duration_text(sla.windows[ticket.urgency].respond, t)
        if ticket.kind is TicketKind.FEEDBACK:
            lines = [
                t("Thank you. Your feedback is recorded as {number}.").format(number=ticket.number),
                t("{department} will reply to you here within {duration}.").format(
                    department=in_language(ticket.department, t.locale) or t("Customer service"), duration=respond
                ),
            ]
            if ticket.anonymous:
                lines.append(t("Your name is hidden from staff."))
            return "\n".join(lines)
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
        return "\n".join(lines)

    def recorded_for_them(self, t: Translator) -> str:
        ticket, sla = self.ticket, self.audience.settings.sla
        respond = duration_text(sla.windows[ticket.urgency].respond, t)
        return "\n".join((
            t("🧾 {number}: your report was written down for you by our staff: {problem}").format(
                number=ticket.number, problem=ticket.description),
            t("{urgency}: we will respond within {duration}.").format(
                urgency=t(URGENCY_WORDS[ticket.urgency]), duration=respond),
        ))  # fmt: skip

    def ask_to_register(self) -> None:
        """Customer service confirms that a stranger lives in the room they gave: one of its residents, or new."""
        ticket, estate = self.ticket, self.audience.estate
        room = ticket.location.room
        assert room is not None

        def choices(t: Translator) -> list[Choice]:
            found = [
                Choice(
                    OnTicket("register", ticket.number, str(r.id)),
                    t("✅ It is {name}").format(name=in_language(r.name, t.locale)),
                )
                for r in estate.residents_of(room)
            ]
            label = t("✅ A new resident of {room}").format(room=room) if found else t("✅ Confirm their registration")
            return [*found, Choice(OnTicket("register", ticket.number, "new"), label)]

        for staff in holders(estate.staff, Grant.REGISTER):
            if staff.active:
                self.tell(
                    staff,
                    lambda t: t(
                        "{number}: a report from {name}, who is not in the directory and says they live in {room}."
                    ).format(number=ticket.number, name=ticket.reporter, room=room),
                    choices,
                )

    # --- staff --------------------------------------------------------------------------------------------------

    def job(self, to: Staff, heading: Callable[[Translator], str]) -> None:
        ticket, settings, now = self.ticket, self.audience.settings, self.audience.now
        be_there_by = now + settings.dispatch.arrival[ticket.urgency]
        self.tell(
            to,
            lambda t: job_card(ticket, t, heading(t), be_there_by, settings.dispatch, settings.zone),
            lambda t: (Choice(OnTicket("accept", ticket.number), t("✅ Accept")),
                       Choice(OnTicket("decline", ticket.number), t("↩️ Decline"))),
        )  # fmt: skip

    def feedback_job(self, to: Staff) -> None:
        ticket, zone = self.ticket, self.audience.settings.zone
        self.tell(
            to,
            lambda t: feedback_card(ticket, t, zone),
            lambda t: (Choice(OnTicket("reply", self.ticket.number), t("✍️ Reply")),),
        )

    def assigned(self, event: HistoryEvent) -> None:
        ticket, estate = self.ticket, self.audience.estate
        assignee = self.staff(ticket.assignee_id)
        if ticket.kind is TicketKind.FEEDBACK and assignee is None:  # to the department
            for handler in department_staff(estate, ticket.department):
                self.feedback_job(handler)
        elif assignee is not None and ticket.kind is TicketKind.FEEDBACK and not may(assignee, Grant.WORK_JOBS):
            self.feedback_job(assignee)
        elif assignee is not None:
            self.job(assignee, lambda t: t(NEW_JOB))
        before = self.staff(event.details.get("previous_id"))
        if before is not None:
            self.tell(before, lambda t: t("{number} was reassigned to {name}.").format(
                number=ticket.number, name=in_language(ticket.assignee_name, t.locale)))  # fmt: skip
        self.answer(event, lambda t: t("{number} is assigned to {name}; they have been asked to accept.").format(
            number=ticket.number, name=in_language(ticket.assignee_name, t.locale)))  # fmt: skip

    def offered(self, event: HistoryEvent) -> None:
        ticket, estate = self.ticket, self.audience.estate
        heading = N_("🚨 Emergency: the first to take it goes")
        settings, now = self.audience.settings, self.audience.now
        be_there_by = now + settings.dispatch.arrival[ticket.urgency]
        names = set(event.details.get("to", []))
        for staff in estate.staff:
            if staff.name not in names:
                continue
            if may(staff, Grant.WORK_JOBS):
                self.tell(
                    staff,
                    lambda t: job_card(ticket, t, t(heading), be_there_by, settings.dispatch, settings.zone),
                    lambda t: (Choice(OnTicket("grab", ticket.number), t("🙋 I'll take it")),),
                )
            else:
                self.tell(staff, lambda t: t(heading) + "\n" + summary(ticket, t, personal=True))
        self.to_pool(event)

    def to_pool(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        for group in self.groups(event.details.get("groups", [])):
            for address in self.deliverable(group):
                self.tell(
                    ToGroup(address),
                    lambda t: (
                        t("🙋 Up for grabs: first to claim it gets it") + "\n" + summary(ticket, t, personal=False)
                    ),
                    lambda t: (Choice(OnTicket("grab", ticket.number), t("🙋 I'll take it")),),
                )

    def groups(self, names: list[str]) -> list[StaffGroup]:
        return [g for g in self.audience.estate.staff_groups if g.name in names]

    def deliverable(self, group: StaffGroup) -> list[Address]:
        return [a for a in group.addresses if a.channel in self.audience.settings.channels]

    def nobody(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        for supervisor in supervisors(self.audience.estate):
            self.tell(supervisor, lambda t: t(
                "📋 {number} found nobody to send: please assign it. /assign {number} NAME"
            ).format(number=ticket.number) + "\n" + summary(ticket, t, personal=False))  # fmt: skip

    def declined(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        then = next((e.action for e in self.after(event) if e.action in (Action.ASSIGN, Action.POOL)), None)
        if event.actor.kind == "system":  # rolled over: nobody answered the push in time
            before = self.staff(event.details.get("assignee_id"))
            went: dict[str | None, str] = {
                Action.ASSIGN: N_("⏰ {number} went to someone else: it was not accepted in time."),
                Action.POOL: N_("⏰ {number} was not accepted in time; it is in the grab pool."),
                None: N_("⏰ {number} was not accepted in time; a supervisor will assign it."),
            }
            late = went[then]
            if before is not None:
                self.tell(before, lambda t: t(late).format(number=ticket.number))
            return

        def where(t: Translator) -> str:
            if then == Action.ASSIGN:
                return t("it went to {name}.").format(name=in_language(ticket.assignee_name, t.locale))
            if then == Action.POOL:
                return t("it is in the grab pool.")
            return t("a supervisor will assign it.")

        self.answer(event, lambda t: t("{number} declined; {where}").format(number=ticket.number, where=where(t)))

    def claimed(self, event: HistoryEvent) -> None:
        ticket, estate = self.ticket, self.audience.estate
        self.answer(event, self.yours, lambda t: next_steps(ticket, t))
        offers = [e for e in ticket.history if e.action in (Action.OFFER, Action.POOL)]
        offered = {name for e in offers for name in e.details.get("to", [])}
        for other in estate.staff:
            if other.name in offered and other.id != ticket.assignee_id:
                self.tell(
                    other,
                    lambda t: t(TAKEN).format(number=ticket.number, name=in_language(ticket.assignee_name, t.locale)),
                )
        for group in self.groups([g for e in offers for g in e.details.get("groups", [])]):
            for address in self.deliverable(group):
                self.tell(
                    ToGroup(address),
                    lambda t: t(TAKEN).format(number=ticket.number, name=in_language(ticket.assignee_name, t.locale)),
                )
        self.progress(event)

    def yours(self, t: Translator) -> str:
        ticket = self.ticket
        return t("You have {number}.").format(number=ticket.number) + "\n" + summary(ticket, t, personal=True)

    def stepped(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        if event.action == Action.ACCEPT:
            self.answer(event, self.yours, lambda t: next_steps(ticket, t))
        else:
            said = STEP_DONE[event.action]
            self.answer(
                event,
                lambda t: t(said).format(number=ticket.number, eta=event.details.get("eta_minutes", "")),
                lambda t: next_steps(ticket, t),
            )
        self.progress(event)

    def approval_asked(self, event: HistoryEvent) -> None:
        ticket, settings = self.ticket, self.audience.settings
        for approver in holders(self.audience.estate.staff, Grant.APPROVE):
            if approver.active:
                self.tell(
                    approver,
                    lambda t: approval_text(ticket, t, settings.dispatch),
                    lambda t: approval_choices(ticket, t),
                )
        if event.details.get("request") == "cost":
            self.answer(event, lambda t: t(
                "{number}: the cost {cost} needs a supervisor's approval; it will be marked done when approved."
            ).format(number=ticket.number, cost=money(amount_of(event.details.get("cost", 0)))))  # fmt: skip
        else:
            self.answer(event, lambda t: t(
                "{number}: your change of plan went to the supervisor. I'll tell you the answer."
            ).format(number=ticket.number))  # fmt: skip

    def decided(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        approve = event.action == Action.APPROVE
        asked = next((e for e in reversed(ticket.history) if e.action == Action.REQUEST_APPROVAL), None)
        requester = self.staff(asked.details.get("by_id")) if asked is not None else None
        decider = event.actor.name
        if requester is not None:
            said = (N_("{number}: {name} approved your request.") if approve
                    else N_("{number}: {name} rejected your request; please talk to them."))  # fmt: skip
            self.tell(requester, lambda t: t(said).format(number=ticket.number, name=in_language(decider, t.locale)),
                      lambda t: next_steps(ticket, t))  # fmt: skip
        self.answer(event, lambda t: (t("{number}: approved.") if approve else t("{number}: rejected.")).format(
            number=ticket.number))  # fmt: skip

    def resolved(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        if ticket.kind is TicketKind.FEEDBACK:
            self.answer(event, lambda t: t(
                "Sent. {number} is answered; the resident is asked whether it settles the matter."
            ).format(number=ticket.number))  # fmt: skip
        else:
            self.answer(event, lambda t: t("{number} is done. The resident is asked to confirm the repair.").format(
                number=ticket.number))  # fmt: skip
        self.progress(event)

    def replied(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        self.answer(event, lambda t: t("Sent to the resident. {number} stays open.").format(number=ticket.number))
        self.progress(event)

    def reworked(self, event: HistoryEvent) -> None:
        ticket, estate = self.ticket, self.audience.estate
        reason = str(event.details.get("reason", ""))

        def head(t: Translator) -> str:
            return t(REWORK).format(number=ticket.number, count=ticket.rework_count, reason=reason)

        assignee = self.staff(ticket.assignee_id)
        if assignee is not None:
            self.job(assignee, head)
        elif ticket.kind is TicketKind.FEEDBACK:
            for handler in department_staff(estate, ticket.department):
                self.feedback_job(handler)
        if ticket.rework_count >= 2 or assignee is None:
            for supervisor in supervisors(estate):
                self.tell(supervisor, lambda t: head(t) + "\n" + summary(ticket, t, personal=False))

    def chased(self, event: HistoryEvent) -> None:
        ticket, estate = self.ticket, self.audience.estate
        chases = sum(1 for e in ticket.history if e.action == Action.CHASE)
        assignee = self.staff(ticket.assignee_id)
        if assignee is not None:
            self.tell(assignee, lambda t: t("⏰ {number}: the resident is asking when you will come.").format(
                number=ticket.number) + "\n" + summary(ticket, t, personal=True))  # fmt: skip
        if assignee is None or chases >= 2:
            for supervisor in supervisors(estate):
                self.tell(supervisor, lambda t: t.plural(
                    "⏰ {number} has been chased {count} time by the resident.",
                    "⏰ {number} has been chased {count} times by the resident.", chases,
                ).format(number=ticket.number, count=chases) + "\n" + summary(ticket, t, personal=False))  # fmt: skip

    def cancelled(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        assignee = self.staff(ticket.assignee_id)
        if assignee is not None and not (event.actor.kind == "staff" and event.actor.id == assignee.id):
            self.tell(assignee, lambda t: t("✖️ {number} was cancelled.").format(number=ticket.number))
        self.progress(event)

    def joined(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        self.answer(event, lambda t: t(joined(ticket)).format(number=ticket.number, count=ticket.reporters))

    def noted(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        if "dispatch" in event.details:
            self.nobody(event)
        if "added" in event.details:
            self.added(event)
        if "revealed_to" in event.details:
            contact = f" {ticket.reporter_contact}" if ticket.reporter_contact else ""
            self.answer(event, lambda t: t(
                "{number} was given by {name}{contact}. That you looked is kept in the ticket's history."
            ).format(number=ticket.number, name=reporter_label(ticket, t), contact=contact))  # fmt: skip
        room = event.details.get("registration_confirmed")
        if room:
            self.answer(event, lambda t: t(
                "Confirmed: {name} lives in {room}. Their reports are verified from now on."
            ).format(name=ticket.reporter, room=room))  # fmt: skip
            reporter = ticket.reporter_address or self.reporter()  # the account that was confirmed
            if reporter is not None:
                self.tell(reporter, lambda t: t(
                    "Customer service confirmed that you live in {room}. Thank you!"
                ).format(room=room))  # fmt: skip

    def added(self, event: HistoryEvent) -> None:
        """A resident's detail or photos for a report already made: the assignee is told what was added."""
        ticket, text, photos = self.ticket, str(event.details.get("added", "")), int(event.details.get("photos", 0))
        assignee = self.staff(ticket.assignee_id)

        def what(t: Translator) -> str:
            lines = [t("📎 {number}: the resident adds:").format(number=ticket.number)]
            lines += [text] if text else []
            lines += [t("📷 Photos: {count}").format(count=photos)] if photos else []
            return "\n".join(lines)

        handlers = department_staff(self.audience.estate, ticket.department) if ticket.department else ()
        if assignee is not None:
            self.tell(assignee, what)
            told = N_("Added to {number}; {name} is told.")
        elif ticket.kind is TicketKind.FEEDBACK and handlers:  # feedback waits with its department
            for handler in handlers:
                self.tell(handler, what)
            told = N_("Added to {number}; {department} is told.")
        else:
            told = N_("Added to {number}; staff will see it with the report.")
        self.answer(event, lambda t: t(told).format(number=ticket.number,
                                                    name=first_name(ticket.assignee_name, t.locale),
                                                    department=in_language(ticket.department, t.locale)))  # fmt: skip

    def quoted(self, event: HistoryEvent) -> None:
        """A charge is put to the reporter, who answers with a tap or a word; the technician waits for it."""
        ticket, quote = self.ticket, self.ticket.quotes[-1]
        reporter = self.reporter()
        self.answer(event, lambda t: t("💰 Your quote of {amount} is sent to the resident. I'll tell you their answer; "
                                       "start once they agree.").format(amount=money(quote.amount)),
                    lambda t: next_steps(ticket, t))  # what can be done meanwhile  # fmt: skip
        if reporter is None:
            return

        def ask(t: Translator) -> str:
            return t(
                "💰 {number}: {name} quotes {amount} for: {text}\nThis work in your home is not covered by the "
                "property fee, so it is charged to you. Do you agree? Nothing is done until you answer."
            ).format(number=ticket.number, name=first_name(quote.by, t.locale), amount=money(quote.amount),
                     text=quote.text)  # fmt: skip

        which = len(ticket.quotes)  # the buttons answer this quote, not one that replaces it later

        def answers(t: Translator) -> tuple[Choice, ...]:
            agree = t("✅ Agree, pay {amount}").format(amount=money(quote.amount))
            return (Choice(OnTicket("quote", ticket.number, f"yes:{which}"), agree),
                    Choice(OnTicket("quote", ticket.number, f"no:{which}"), t("✖️ Decline")))  # fmt: skip

        self.tell(reporter, ask, answers)

    def quote_withdrawn(self, event: HistoryEvent) -> None:
        ticket, quote = self.ticket, self.ticket.quotes[-1]
        self.answer(event, lambda t: t("{number}: your quote of {amount} is taken back.").format(
            number=ticket.number, amount=money(quote.amount)), lambda t: next_steps(ticket, t))  # fmt: skip
        reporter = self.reporter()
        if reporter is not None:
            taken_back = N_("💰 {number}: the charge of {amount} is taken back; nothing is charged.")
            self.tell(reporter, lambda t: t(taken_back).format(number=ticket.number, amount=money(quote.amount)))

    def quote_answered(self, event: HistoryEvent) -> None:
        ticket, quote = self.ticket, self.ticket.quotes[-1]
        agreed = event.action == Action.AGREE_QUOTE
        assignee = self.staff(ticket.assignee_id)
        if agreed:
            said = N_("Thank you. {amount} is agreed for {number}; {name} will go ahead.")
            heard = N_("✅ {number}: {resident} agreed to pay {amount} for: {text}. You can start.")
        else:
            said = N_("Noted: you declined. {name} will do only what the property fee covers; nothing is charged.")
            heard = N_("✖️ {number}: {resident} declined the charge of {amount}. Do only what the property fee covers, "
                       "or finish the job with a note.")  # fmt: skip
        self.answer(event, lambda t: t(said).format(amount=money(quote.amount), number=ticket.number,
                                                    name=first_name(ticket.assignee_name, t.locale)))  # fmt: skip
        if assignee is not None:
            self.tell(assignee, lambda t: t(heard).format(number=ticket.number, resident=reporter_label(ticket, t),
                                                         amount=money(quote.amount), text=quote.text),
                      lambda t: next_steps(ticket, t))  # fmt: skip

    def self_resolved(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        self.answer(event, lambda t: t(
            "Glad it works again! I've noted it as {number}, solved by yourself; nobody will be sent."
        ).format(number=ticket.number))  # fmt: skip

    def out_of_scope(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        pointer = str(event.details.get("pointer", ""))
        self.answer(event, lambda t: "\n".join((
            t("Thank you for telling us. This is outside what the property company can handle:"), pointer,
            t("I've recorded your message as {number}.").format(number=ticket.number))))  # fmt: skip


TOLD: dict[str, Callable[[_Telling, HistoryEvent], None]] = {
    Action.CREATE: _Telling.opened,
    Action.SELF_RESOLVE: _Telling.self_resolved,
    Action.CLOSE_OUT_OF_SCOPE: _Telling.out_of_scope,
    Action.ASSIGN: _Telling.assigned,
    Action.REASSIGN: _Telling.assigned,
    Action.OFFER: _Telling.offered,
    Action.POOL: _Telling.to_pool,
    Action.DECLINE: _Telling.declined,
    Action.CLAIM: _Telling.claimed,
    Action.ACCEPT: _Telling.stepped,
    Action.ON_THE_WAY: _Telling.stepped,
    Action.ARRIVE: _Telling.stepped,
    Action.START: _Telling.stepped,
    Action.HOLD: _Telling.stepped,
    Action.RESUME: _Telling.stepped,
    Action.REQUEST_APPROVAL: _Telling.approval_asked,
    Action.APPROVE: _Telling.decided,
    Action.REJECT: _Telling.decided,
    Action.RESOLVE: _Telling.resolved,
    Action.REPLY: _Telling.replied,
    Action.REWORK: _Telling.reworked,
    Action.CHASE: _Telling.chased,
    Action.CANCEL: _Telling.cancelled,
    Action.JOIN: _Telling.joined,
    Action.NOTE: _Telling.noted,
    Action.QUOTE: _Telling.quoted,
    Action.AGREE_QUOTE: _Telling.quote_answered,
    Action.DECLINE_QUOTE: _Telling.quote_answered,
    Action.WITHDRAW_QUOTE: _Telling.quote_withdrawn,
    # Told by the conversation that took them, to the person who did: the verdict and the rating.
    Action.CONFIRM_FIX: lambda telling, event: None,
    Action.CLOSE: lambda telling, event: None,
    Action.RATE: lambda telling, event: None,
}


class _Chat(_Telling):
    """A resident's conversation with customer service (core.services.chats): what each side writes reaches the
    other, and the resident always knows who is answering."""

    def chat_opened(self, event: HistoryEvent) -> None:
        ticket, sla = self.ticket, self.audience.settings.sla
        respond = sla.windows[ticket.urgency].respond
        self.answer(event, lambda t: t(
            "🙋 I've asked customer service to answer you ({number}). They will write here, usually within "
            "{duration}; meanwhile, tell them what you need. Send /bot to go back to the assistant."
        ).format(number=ticket.number, duration=duration_text(respond, t)))  # fmt: skip

    def chat_assigned(self, event: HistoryEvent) -> None:
        for handler in department_staff(self.audience.estate, self.ticket.department):
            self.tell(handler, self.request, lambda t: (Choice(OnTicket("talk", self.ticket.number), t("💬 Answer")),))

    def request(self, t: Translator) -> str:
        ticket = self.ticket
        lines = [t("🙋 {number}: {name} asks to talk to a person.").format(number=ticket.number,
                                                                          name=reporter_label(ticket, t))]  # fmt: skip
        lines += self.said(t)
        return "\n".join(lines)

    def said(self, t: Translator) -> list[str]:
        """What the resident wrote before anyone answered: the request's words and every message since."""
        name = reporter_label(self.ticket, t)
        words = [self.ticket.description] if self.ticket.description else []
        words += [str(e.details["added"]) for e in self.ticket.history if e.details.get("added")]
        return [f"{name}: {text}" for text in words]

    def chat_claimed(self, event: HistoryEvent) -> None:
        ticket, agent = self.ticket, self.staff(self.ticket.assignee_id)
        self.answer(event, lambda t: "\n".join([t(
            "💬 You are answering {name} ({number}). What you write goes to them; /end hands them back to the "
            "assistant."
        ).format(name=reporter_label(ticket, t), number=ticket.number), *self.said(t)]))  # fmt: skip
        for other in department_staff(self.audience.estate, ticket.department):
            if agent is None or other.id != agent.id:
                self.tell(other, lambda t: t("{number}: {name} is answering.").format(
                    number=ticket.number, name=in_language(ticket.assignee_name, t.locale)))  # fmt: skip
        for person in self.residents():
            self.tell(person, lambda t: t("👩‍💼 {name} of customer service is answering you now.").format(
                name=first_name(ticket.assignee_name, t.locale)))  # fmt: skip

    def chat_replied(self, event: HistoryEvent) -> None:
        ticket, text = self.ticket, str(event.details.get("reply", ""))
        for person in self.residents():
            self.tell(person, lambda t: f"💬 {first_name(ticket.assignee_name, t.locale)}: {text}")

    def chat_noted(self, event: HistoryEvent) -> None:
        if "added" not in event.details:
            super().noted(event)
            return
        ticket, agent = self.ticket, self.staff(self.ticket.assignee_id)
        text, photos = str(event.details.get("added", "")), int(event.details.get("photos", 0))
        if agent is not None:
            self.tell(agent, lambda t: "\n".join(
                ([f"💬 {reporter_label(ticket, t)}: {text}"] if text else [])
                + ([t("📷 Photos: {count}").format(count=photos)] if photos else [])
            ))  # fmt: skip

    def chat_resolved(self, event: HistoryEvent) -> None:
        ticket = self.ticket
        self.answer(event, lambda t: t("{number} is over; {name} is back with the assistant.").format(
            number=ticket.number, name=reporter_label(ticket, t)))  # fmt: skip
        for person in self.residents():
            self.tell(person, lambda t: t(
                "{name} has handed you back to the assistant. Thank you for talking to us! Write anything, and I'll "
                "help."
            ).format(name=first_name(ticket.assignee_name, t.locale)))  # fmt: skip

    def chat_cancelled(self, event: HistoryEvent) -> None:
        ticket, agent = self.ticket, self.staff(self.ticket.assignee_id)
        self.answer(event, lambda t: t("You are back with the assistant. What can I do for you?"))
        if agent is not None:
            self.tell(agent, lambda t: t("{number}: {name} went back to the assistant.").format(
                number=ticket.number, name=reporter_label(ticket, t)))  # fmt: skip

    def residents(self) -> list[Resident | Address]:
        return [person for person, _, _ in self.followers()]


CHAT_TOLD: dict[str, Callable[[_Chat, HistoryEvent], None]] = {
    Action.CREATE: _Chat.chat_opened,
    Action.ASSIGN: _Chat.chat_assigned,
    Action.CLAIM: _Chat.chat_claimed,
    Action.REPLY: _Chat.chat_replied,
    Action.NOTE: _Chat.chat_noted,
    Action.RESOLVE: _Chat.chat_resolved,
    Action.CANCEL: _Chat.chat_cancelled,
}


def told(ticket: Ticket, events: Sequence[HistoryEvent], audience: Audience) -> list[Notice]:
    """Everyone who hears of these events of one ticket (in the order they happened), and what they are told."""
    telling = _Chat(ticket, events, audience) if ticket.is_chat else _Telling(ticket, events, audience)
    for event in events:
        chat = CHAT_TOLD.get(event.action) if isinstance(telling, _Chat) else None
        if chat is not None and isinstance(telling, _Chat):
            chat(telling, event)
        else:
            TOLD[event.action](telling, event)
    return telling.notices
