"""How a ticket is shown to the people in it: the resident's view, the technician's job card, the lists.

Shared by the conversation (what a person asks to see) and the notices (what a person is told).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from core.conversation.buttons import OnTicket
from core.conversation.messages import Choice, Reply
from core.conversation.vocabulary import URGENCY_MARKS, category_label, hold_reason
from core.domain.dispatch import DispatchPolicy
from core.domain.lifecycle import STATUS_WORDS, Action, allowed_actions
from core.domain.model import HistoryEvent, Source, Status, Ticket, TicketKind, amount_of
from core.domain.people import first_name, in_language
from core.i18n import N_, Translator

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
# The steps of a job, as buttons, in the order they are offered; and the lifecycle action each one takes.
CHAT_OVER = N_("This conversation has ended; your message was not sent.")
STEPS: dict[str, tuple[Action, str]] = {
    "accept": (Action.ACCEPT, N_("✅ Accept")),
    "decline": (Action.DECLINE, N_("↩️ Decline")),
    "way": (Action.ON_THE_WAY, N_("🚶 On my way")),
    "arrive": (Action.ARRIVE, N_("📍 Arrived")),
    "start": (Action.START, N_("🛠️ Start")),
    "done": (Action.RESOLVE, N_("✅ Done")),
    "hold": (Action.HOLD, N_("⏸️ On hold")),
    "resume": (Action.RESUME, N_("▶️ Resume")),
    "plan": (Action.REQUEST_APPROVAL, N_("📝 Change of plan")),
    "quote": (Action.QUOTE, N_("💰 Quote a charge")),
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


def local(moment: datetime, zone: tzinfo, with_year: bool = False) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M" if with_year else "%m-%d %H:%M")


def money(amount: Decimal | float) -> str:
    """¥ and the amount to the cent; a float from an older figure is rounded to the cent first."""
    return f"¥{amount_of(amount)}"


def work_done(ticket: Ticket, t: Translator) -> str:
    """What the technician did, for the resident asked whether it is fixed: the note and the materials (not what
    they cost the company: nothing here is charged to the resident)."""
    lines = [t("Work done: {note}").format(note=ticket.resolution)] if ticket.resolution else []
    if ticket.materials:
        items = "、".join if t.locale.startswith("zh") else ", ".join
        used = items(f"{m.name} ×{m.quantity:g}" for m in ticket.materials)
        lines.append(t("Materials: {materials}").format(materials=used))
    if ticket.charge:
        lines.append(t("You pay: {amount} (the charge you agreed to)").format(amount=money(ticket.charge)))
    return "\n".join(lines)


def place_label(ticket: Ticket, t: Translator) -> str:
    """Where it is, for this reader: a shared place of the directory in their language; a room, or a place typed
    as written, exactly as it is."""
    where = ticket.location
    return in_language(where.common_area, t.locale) if where.common_area else where.label()


def duration_text(span: timedelta, t: Translator) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return t.plural("{n} minute", "{n} minutes", minutes).format(n=minutes)
    hours = minutes // 60
    if minutes % 60 == 0:
        return t.plural("{n} hour", "{n} hours", hours).format(n=hours)
    return t("{h} h {m} min").format(h=hours, m=minutes % 60)


# --- residents -----------------------------------------------------------------------------------------------


ANONYMOUS_RESIDENT = N_("anonymous resident")


def reporter_for_staff(ticket: Ticket, t: Translator) -> str:
    """Who reported it, as staff may see it: never the name of a resident who asked to stay anonymous."""
    return t(ANONYMOUS_RESIDENT) if ticket.anonymous else reporter_label(ticket, t)


def anonymous_actor(ticket: Ticket, event: HistoryEvent) -> bool:
    """The anonymous reporter's own steps (reported, chased, rated): shown to staff without name or id."""
    return ticket.anonymous and event.actor.kind == "resident"


def actor_for_staff(ticket: Ticket, event: HistoryEvent, t: Translator) -> str:
    """Who did something to the ticket, as staff may see it: the anonymous reporter stays anonymous."""
    if event.actor.kind == "system":
        return t("dispatch")  # the only actor that is not a person (core.domain.model.SYSTEM)
    if anonymous_actor(ticket, event):
        return t(ANONYMOUS_RESIDENT)
    return in_language(event.actor.name, t.locale)


def reporter_label(ticket: Ticket, t: Translator) -> str:
    """Who reported it: a resident or a caller by name; else, in the reader's language, how it came in."""
    if ticket.reporter:
        return in_language(ticket.reporter, t.locale)
    if ticket.source is Source.PATROL:
        return t("found on patrol")
    if ticket.source is Source.PREVENTIVE:
        return t("planned maintenance")
    if ticket.taken_by:
        return t("Walk-in via {name}").format(name=in_language(ticket.taken_by, t.locale))
    return t("the front desk")


# A ticket's history as staff read it: each step in words, in their language.
ACTION_WORDS: dict[str, str] = {
    Action.CREATE: N_("reported"),
    Action.ASSIGN: N_("assigned"),
    Action.OFFER: N_("offered to everyone on duty"),
    Action.POOL: N_("put in the grab pool"),
    Action.CLAIM: N_("took it"),
    Action.REASSIGN: N_("reassigned"),
    Action.DECLINE: N_("declined"),
    Action.ACCEPT: N_("accepted"),
    Action.ON_THE_WAY: N_("on the way"),
    Action.ARRIVE: N_("arrived"),
    Action.START: N_("started"),
    Action.HOLD: N_("put on hold"),
    Action.RESUME: N_("resumed"),
    Action.REQUEST_APPROVAL: N_("asked for approval"),
    Action.APPROVE: N_("approved"),
    Action.REJECT: N_("rejected"),
    Action.RESOLVE: N_("done"),
    Action.CONFIRM_FIX: N_("confirmed fixed"),
    Action.REWORK: N_("sent back for rework"),
    Action.CLOSE: N_("closed"),
    Action.SELF_RESOLVE: N_("fixed it themselves"),
    Action.CLOSE_OUT_OF_SCOPE: N_("closed: not ours to handle"),
    Action.CANCEL: N_("cancelled"),
    Action.RATE: N_("rated"),
    Action.CHASE: N_("chased"),
    Action.JOIN: N_("joined"),
    Action.REPLY: N_("replied"),
    Action.NOTE: N_("noted"),
    Action.QUOTE: N_("quoted a charge"),
    Action.AGREE_QUOTE: N_("agreed to the charge"),
    Action.DECLINE_QUOTE: N_("declined the charge"),
    Action.WITHDRAW_QUOTE: N_("took the charge back"),
}


def history_line(ticket: Ticket, event: HistoryEvent, t: Translator, zone: tzinfo) -> str:
    """One event of the ticket's history, for staff."""
    who = actor_for_staff(ticket, event, t)
    word = ACTION_WORDS.get(event.action)
    what = t(word) if word else event.action
    details = event.details
    if event.action in (Action.ASSIGN, Action.REASSIGN) and details.get("assignee"):
        told = N_("assigned to {name}") if event.action == Action.ASSIGN else N_("reassigned to {name}")
        what = t(told).format(name=in_language(str(details["assignee"]), t.locale))
    elif event.action == Action.HOLD and details.get("reason"):
        what = t("put on hold: {reason}").format(reason=hold_reason(str(details["reason"]), t))
    elif event.action == Action.DECLINE and details.get("reason"):
        what = t("declined: {reason}").format(reason=details["reason"])
    elif event.action == Action.QUOTE:
        what = t("quoted {amount} for: {text}").format(amount=money(amount_of(details.get("amount"))),
                                                        text=details.get("text", ""))  # fmt: skip
    elif event.action == Action.ON_THE_WAY and details.get("eta_minutes"):
        what = t("on the way, about {eta} minutes").format(eta=details["eta_minutes"])
    if event.action == Action.NOTE and "added" in details:
        added = [str(details["added"])] if details["added"] else []
        added += [t("📷 Photos: {count}").format(count=details["photos"])] if details.get("photos") else []
        what = t("added: {text}").format(text=" · ".join(added))
    if event.action == Action.NOTE and event.details.get("revealed_to"):
        what = t("looked up who gave this anonymous feedback")
    if event.action == Action.NOTE and event.details.get("unreachable"):
        names = (t(ANONYMOUS_RESIDENT) if name == ANONYMOUS_RESIDENT else str(name) for name in details["unreachable"])
        what = t("could not reach {names}").format(names=", ".join(names))
    return t("{when} {who}: {what}").format(when=local(event.at, zone), who=who, what=what)


def status_for_resident(ticket: Ticket, t: Translator) -> str:
    if ticket.kind is TicketKind.FEEDBACK and ticket.status in FEEDBACK_STATUS:
        return t(FEEDBACK_STATUS[ticket.status])
    return t(STATUS_FOR_RESIDENTS[ticket.status])


def resident_list(tickets: list[Ticket], t: Translator) -> Reply:
    if not tickets:
        return Reply(t("You have no open tickets."))
    lines = [t("Your open tickets:")]
    lines += [f"• {x.number} · {category_label(x.category, t)} · {status_for_resident(x, t)}" for x in tickets]
    return Reply("\n".join(lines), tuple(Choice(OnTicket("status", x.number), x.number) for x in tickets[:10]))


def resident_view(ticket: Ticket, t: Translator, zone: tzinfo, may_withdraw: bool = False) -> Reply:
    lines = [
        f"{ticket.number} · {category_label(ticket.category, t)}",
        t("Status: {status}").format(status=status_for_resident(ticket, t)),
        t("Place: {place}").format(place=place_label(ticket, t) or "-"),
        t("Problem: {problem}").format(problem=ticket.description),
        t("Reported: {when}").format(when=local(ticket.created_at, zone, with_year=True)),
    ]
    if ticket.assignee_name:
        lines.append(t("Technician: {name}").format(name=first_name(ticket.assignee_name, t.locale)))
    if ticket.is_open and ticket.response_due and ticket.status is Status.NEW:
        lines.append(t("We will respond by {when}.").format(when=local(ticket.response_due, zone, with_year=True)))
    choices = []
    if ticket.is_active:
        choices.append(Choice(OnTicket("chase", ticket.number), t("⏰ Chase")))
    if may_withdraw:
        choices.append(Choice(OnTicket("withdraw", ticket.number), t("✖️ Withdraw")))
    return Reply("\n".join(lines), tuple(choices))


def acceptance_choices(ticket: Ticket, t: Translator) -> tuple[Choice, ...]:
    if ticket.kind is TicketKind.FEEDBACK:
        labels = (t("✅ Yes, settled"), t("❌ No, not settled"))
    else:
        labels = (t("✅ Fixed"), t("❌ Not fixed"))
    return (Choice(OnTicket("fixed", ticket.number), labels[0]), Choice(OnTicket("notfixed", ticket.number), labels[1]))


def stars(ticket: Ticket) -> tuple[Choice, ...]:
    """Typing 5 means five stars: the list is in order."""
    return tuple(Choice(OnTicket("rate", ticket.number, str(n)), "⭐" * n) for n in range(1, 6))


# --- staff ---------------------------------------------------------------------------------------------------


def summary(ticket: Ticket, t: Translator, personal: bool) -> str:
    """The job as a technician needs it; the reporter's contact only when `personal`."""
    lines = [
        " · ".join((ticket.number, t(URGENCY_MARKS[ticket.urgency]), category_label(ticket.category, t))),
        t("Place: {place}").format(place=place_label(ticket, t) or "-"),
        t("Problem: {problem}").format(problem=ticket.description),
    ]
    photos = sum(1 for a in ticket.attachments if a.kind == "photo")
    if photos:
        lines.append(t("📷 Photos: {count}").format(count=photos))
    if ticket.reporters > 1:
        lines.append(t.plural("👥 Reported by {count} resident", "👥 Reported by {count} residents",
                              ticket.reporters).format(count=ticket.reporters))  # fmt: skip
    if personal and ticket.kind is TicketKind.REPAIR:
        contact = " ".join(dict.fromkeys(p for p in (reporter_label(ticket, t), ticket.reporter_contact) if p))
        if not ticket.verified:  # who they say they are, not yet confirmed by customer service
            contact = t("{contact} (not in the directory yet)").format(contact=contact or "-")
        lines.append(t("Resident: {contact}").format(contact=contact or "-"))
    return "\n".join(lines)


def tools(ticket: Ticket, t: Translator, policy: DispatchPolicy) -> str:
    configured = policy.tools.get(ticket.category)
    items = configured if configured is not None else tuple(t(item) for item in TOOLS.get(ticket.category, ()))
    return "、".join(items) if t.locale.startswith("zh") else ", ".join(items)


def job_card(ticket: Ticket, t: Translator, heading: str, be_there_by: datetime, policy: DispatchPolicy,
             zone: tzinfo) -> str:  # fmt: skip
    lines = [heading, summary(ticket, t, personal=True), t("Be there by: {when}").format(when=local(be_there_by, zone))]
    bring = tools(ticket, t, policy)
    if bring:
        lines.append(t("Bring: {tools}").format(tools=bring))
    return "\n".join(lines)


def next_steps(ticket: Ticket, t: Translator) -> tuple[Choice, ...]:
    """The steps the job can take next, as buttons; on the way and arrived only once."""
    possible = set(allowed_actions(ticket))
    verbs = [verb for verb, (action, _) in STEPS.items() if action in possible]
    if ticket.kind is TicketKind.FEEDBACK:
        return ()
    if "on_the_way" in ticket.milestones:
        verbs = [v for v in verbs if v != "way"]
    if "arrived" in ticket.milestones:
        verbs = [v for v in verbs if v != "arrive"]
    if ticket.pending_approval is not None:
        verbs = [v for v in verbs if v not in ("plan", "done", "quote")]
    if ticket.location.room is None or (ticket.reporter_resident_id is None and ticket.reporter_address is None):
        verbs = [v for v in verbs if v != "quote"]  # nobody to put a charge to in chat
    return tuple(Choice(OnTicket(v, ticket.number), t(STEPS[v][1])) for v in verbs)


def approval_text(ticket: Ticket, t: Translator, policy: DispatchPolicy) -> str:
    """What an approver is asked, with the job it is about."""
    return "\n".join((approval_request(ticket, t, policy), summary(ticket, t, personal=False)))


def approval_request(ticket: Ticket, t: Translator, policy: DispatchPolicy) -> str:
    """Who asks to approve what: the new plan, or the cost and the work done."""
    pending = ticket.pending_approval or {}
    if pending.get("request") == "cost":
        head = t("💰 {number}: {name} asks to approve a cost of {cost} (over {limit}).").format(
            number=ticket.number,
            name=in_language(str(pending.get("by", "")), t.locale),
            cost=money(amount_of(pending.get("cost", 0))),
            limit=money(policy.cost_approval_threshold),
        )
        body = t("Work done: {note}").format(note=pending.get("note", ""))
    else:
        head = t("📝 {number}: {name} asks to change the plan.").format(
            number=ticket.number, name=in_language(str(pending.get("by", "")), t.locale)
        )
        body = str(pending.get("text", ""))
    return "\n".join((head, body))


def approval_choices(ticket: Ticket, t: Translator) -> tuple[Choice, ...]:
    return (Choice(OnTicket("approve", ticket.number), t("👍 Approve")),
            Choice(OnTicket("reject", ticket.number), t("👎 Reject")))  # fmt: skip


def line(ticket: Ticket, t: Translator) -> str:
    who = f" · {in_language(ticket.assignee_name, t.locale)}" if ticket.assignee_name else ""
    return (
        f"{ticket.number} · {category_label(ticket.category, t)} · "
        f"{place_label(ticket, t) or '-'} · {t(STATUS_WORDS[ticket.status])}{who}"
    )


def feedback_card(ticket: Ticket, t: Translator, zone: tzinfo) -> str:
    who = reporter_for_staff(ticket, t)
    lines = [
        t("💬 Feedback for {department}").format(department=in_language(ticket.department, t.locale)),
        f"{ticket.number} · {category_label(ticket.category, t)} · {who}",
        ticket.description,
    ]
    if ticket.response_due:  # what the resident was promised
        lines.append(t("Reply by: {when}").format(when=local(ticket.response_due, zone)))
    return "\n".join(lines)


def overdue(ticket: Ticket, now: datetime) -> bool:
    """Not answered by the time promised (not assigned yet; feedback not yet replied to), or not fixed by its
    deadline; the clock waits while a job is on hold."""
    if ticket.status is Status.RESOLVED:
        return False
    unanswered = ticket.status is Status.NEW or (
        ticket.kind is TicketKind.FEEDBACK and "replied" not in ticket.milestones
    )
    if unanswered and ticket.response_due is not None and ticket.response_due < now:
        return True
    return ticket.resolve_due is not None and ticket.resolve_due < now and ticket.status is not Status.ON_HOLD
