"""The staff's side of the desk, as tables: one tap per step of a job, the questions that need words, and the
dispatch desk's commands. Read STAFF at the bottom first.

Every answer is checked again when it arrives: the job may have been reassigned, or finished by someone else,
since the question was asked; the services check once more, under lock, when they make the change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from core.conversation import resident
from core.conversation.buttons import OnTicket, Pick
from core.conversation.commands import (
    AskQuote,
    Assign,
    ChangePlan,
    ChatMessage,
    ConfirmRegistration,
    Decide,
    Decline,
    EndChat,
    Finish,
    Grab,
    Reveal,
    SendReply,
    TakeChat,
    TakeStep,
)
from core.conversation.engine import END, SAME, WAIT, Conversation, Flow, Step, Turn, with_a_person
from core.conversation.messages import Choice
from core.conversation.views import (
    CHAT_OVER,
    STEPS,
    approval_choices,
    approval_request,
    history_line,
    line,
    local,
    money,
    next_steps,
    overdue,
    reporter_for_staff,
    summary,
)
from core.conversation.vocabulary import (
    DECLINE_REASONS,
    END_CHAT_WORDS,
    HOLD_REASONS,
    bare,
    category_label,
    fold,
    keys_for,
)
from core.domain.directory import Staff
from core.domain.dispatch import TRADES
from core.domain.lifecycle import STATUS_WORDS, allowed_actions
from core.domain.model import Attachment, Material, Status, Ticket, TicketKind, amount_of
from core.domain.people import first_name, in_language
from core.domain.roles import Grant, may, refusal
from core.i18n import N_

ETAS = (15, 30, 60)
MAX_ETA_MINUTES = 24 * 60
SKIP_WORDS = ("skip", "none", "no", "跳过", "没有", "无", "0")


def parse_materials(text: str) -> list[Material]:
    """`valve 2 35; tape 5`: a name, then a quantity and a unit price, or just a cost."""
    found = []
    for item in re.split(r"[;；,，\n]+", text):
        words = item.replace("×", " ").split()
        numbers: list[Decimal] = []
        while words and re.fullmatch(r"[x×]?\d+(?:\.\d+)?[元]?", words[-1], re.IGNORECASE):
            numbers.insert(0, Decimal(words.pop().lstrip("xX×").rstrip("元")))
        if not words:
            continue
        name = " ".join(words)
        if len(numbers) >= 2:
            found.append(Material(name, numbers[-2], cost=amount_of(numbers[-2] * numbers[-1])))
        else:
            found.append(Material(name, Decimal(1), cost=amount_of(numbers[0] if numbers else 0)))
    return found


def find_staff(staff: tuple[Staff, ...], who: str) -> Staff | None:
    """A staff member by full name, a part of it, or a piece of it; None when unknown or ambiguous."""
    wanted = who.strip().casefold()
    active = [s for s in staff if s.active]
    for match in (
        lambda s: s.name.casefold() == wanted,
        lambda s: wanted in (part.casefold() for part in s.name.split(" ")),
        lambda s: s.name.casefold().startswith(wanted),
        lambda s: wanted in s.name.casefold(),
    ):
        found = [s for s in active if match(s)]
        if len(found) == 1:
            return found[0]
    return None


def me(turn: Turn) -> Staff:
    staff = turn.context.speaker.staff
    assert staff is not None, "the staff conversation is for staff"
    return staff


# --- checks every answer makes again -----------------------------------------------------------------------------


def the_ticket(turn: Turn, number: str) -> Ticket | None:
    ticket = turn.context.look.ticket(number)
    if ticket is None:
        turn.say(turn.t("There is no ticket {number}.").format(number=number))
    return ticket


def allowed(turn: Turn, verb: str, ticket: Ticket | None = None) -> bool:
    reason = refusal(me(turn), verb, ticket)
    if reason is not None:
        turn.say(turn.t(reason))
    return reason is None


def still(turn: Turn, ticket: Ticket, condition: bool) -> bool:
    if not condition:
        turn.say(
            turn.t("{number} is {status} now; nothing to do there.").format(
                number=ticket.number, status=turn.t(STATUS_WORDS[ticket.status])
            )
        )
    return condition


def can_take(turn: Turn, ticket: Ticket, verb: str) -> bool:
    """Whether the job can take this step now; when not, the person is told why."""
    if STEPS[verb][0] in allowed_actions(ticket):
        return True
    if not waiting_for_supervisor(turn, ticket) and not waiting_for_resident(turn, ticket):
        still(turn, ticket, False)
    return False


def may_still(turn: Turn, verb: str) -> Ticket | None:
    """The ticket a question is about, when its answer may still be acted on by this person: checked on arrival."""
    ticket = the_ticket(turn, turn.state.ticket)
    if ticket is None or not allowed(turn, verb, ticket):
        return None
    if verb == "reply":
        ok = ticket.is_active
    else:
        ok = STEPS[verb][0] in allowed_actions(ticket) and (verb == "decline" or ticket.pending_approval is None)
    return ticket if still(turn, ticket, ok) else None


def waiting_for_supervisor(turn: Turn, ticket: Ticket) -> bool:
    if ticket.pending_approval is not None:
        turn.say(turn.t("{number} is already waiting for a supervisor's decision.").format(number=ticket.number))
    return ticket.pending_approval is not None


# --- the questions that need words: why declined, the new plan, what was done, the reply ----------------------


def ask_decline_reason(turn: Turn) -> None:
    number = turn.state.ticket
    choices = [Choice(OnTicket("decline", number, key), turn.t(label)) for key, label in DECLINE_REASONS.items()]
    turn.ask(turn.t("Why can't you take {number}? Tap a reason or write one.").format(number=number), choices)


def answer_decline_reason(turn: Turn) -> str:
    if may_still(turn, "decline") is not None:
        turn.emit(Decline(turn.state.ticket, turn.text))
    return "given"


def ask_eta(turn: Turn) -> None:
    number, t = turn.state.ticket, turn.t
    choices = [Choice(OnTicket("way", number, str(m)), t("{n} min").format(n=m)) for m in ETAS]
    turn.ask(t("When will you be there?"), choices)


def answer_eta(turn: Turn) -> str:
    """A tap, or any number of minutes typed ("45")."""
    typed = re.fullmatch(r"(\d{1,4})\s*(分钟|分|mins?|minutes?)?", turn.text.strip().casefold())
    if typed is None or not 1 <= int(typed[1]) <= MAX_ETA_MINUTES:
        turn.say(turn.t("Please tap one, or type the minutes, e.g. 45."))
        return "unclear"
    if may_still(turn, "way") is not None:
        turn.emit(TakeStep(turn.state.ticket, "way", str(int(typed[1]))))
    return "given"


def ask_hold_reason(turn: Turn) -> None:
    number, t = turn.state.ticket, turn.t
    choices = [Choice(OnTicket("hold", number, key), t(label)) for key, label in HOLD_REASONS.items()]
    turn.ask(t("What are you waiting for? Tap one or write it."), choices)


def answer_hold_reason(turn: Turn) -> str:
    """A tap, or the reason in the technician's words ("the owner is away until Friday")."""
    if may_still(turn, "hold") is not None:
        turn.emit(TakeStep(turn.state.ticket, "hold", turn.text.strip()))
    return "given"


def ask_plan(turn: Turn) -> None:
    turn.ask(
        turn.t("What should be done instead, and why? Add the cost if it changes, e.g. “replace the whole pipe, ¥800”.")
    )


def answer_plan(turn: Turn) -> str:
    if may_still(turn, "plan") is not None:
        turn.emit(ChangePlan(turn.state.ticket, turn.text))
    return "given"


def ask_done_note(turn: Turn) -> None:
    turn.ask(turn.t("What did you do? One message, please."))


def answer_done_note(turn: Turn) -> str:
    if may_still(turn, "done") is None:
        return "refused"
    turn.state.job.note = turn.text
    return "noted"


def ask_materials(turn: Turn) -> None:
    turn.ask(
        turn.t(
            "Materials used? One per line or separated by “;”: name, quantity, unit price (e.g. “valve 1 35”). "
            "Or tap “None”."
        ),
        [turn.choice(Pick("skip"), turn.t("None"))],
    )


def answer_materials(turn: Turn) -> str:
    if may_still(turn, "done") is None:
        return "refused"
    skip = turn.chosen == Pick("skip") or fold(turn.text) in SKIP_WORDS
    materials = [] if skip else parse_materials(turn.text)
    if not skip and not materials:
        turn.ask(turn.t("I couldn't read that. Write e.g. “valve 1 35”, or “none”."))
        return "unreadable"
    turn.state.job.materials = [m.dump() for m in materials]
    if turn.context.capabilities.photos:
        return "listed"
    finish(turn, None)
    return "finished"


def ask_photo(turn: Turn) -> None:
    turn.ask(
        turn.t("Send a photo of the finished work, or tap “No photo”."), [turn.choice(Pick("skip"), turn.t("No photo"))]
    )


def answer_photo(turn: Turn) -> str:
    if may_still(turn, "done") is None:
        return "refused"
    photo = next((a for a in turn.inbound.attachments if a.kind == "photo"), None)
    if photo is None and turn.chosen != Pick("skip") and fold(turn.text) not in SKIP_WORDS:
        turn.ask(turn.t("Please send a photo, or tap “No photo”."), [turn.choice(Pick("skip"), turn.t("No photo"))])
        return "no_photo"
    finish(turn, photo)
    return "finished"


def finish(turn: Turn, photo: Attachment | None) -> None:
    job = turn.state.job
    turn.emit(Finish(turn.state.ticket, job.note, tuple(Material.load(m) for m in job.materials), photo))


def ask_reply(turn: Turn) -> None:
    turn.ask(turn.t("Write your reply to the resident in one message."))


def answer_reply(turn: Turn) -> str:
    if may_still(turn, "reply") is None:
        return "refused"
    turn.state.job.text = turn.text
    return "written"


def ask_send(turn: Turn) -> None:
    t = turn.t
    turn.ask(
        t("Your reply:") + "\n" + turn.state.job.text,
        [turn.choice(Pick("send", "resolve"), t("✅ Send and mark answered")),
         turn.choice(Pick("send", "keep"), t("💬 Send, keep it open"))],
    )  # fmt: skip


def answer_send(turn: Turn) -> str:
    chosen = turn.chosen
    if not (isinstance(chosen, Pick) and chosen.what == "send"):
        turn.say(turn.t("Please use the buttons above."))
        return "unclear"
    if may_still(turn, "reply") is not None:
        turn.emit(SendReply(turn.state.ticket, turn.state.job.text, resolve=chosen.value == "resolve"))
    return "sent"


LATE = N_("That answer came more than 30 minutes after my question, so I set it aside. Please tap the step again.")
DECLINE = Flow("decline", {"reason": Step(ask_decline_reason, answer_decline_reason, {"given": END})}, lapsed=LATE)
WAY = Flow("way", {"eta": Step(ask_eta, answer_eta, {"given": END, "unclear": SAME}, takes_numbers=True)},
           lapsed=LATE)  # fmt: skip
HOLD = Flow("hold", {"reason": Step(ask_hold_reason, answer_hold_reason, {"given": END})}, lapsed=LATE)
PLAN = Flow("plan", {"text": Step(ask_plan, answer_plan, {"given": END})}, lapsed=LATE)
DONE = Flow(
    "done",
    #  step         question          answer              what the answer came to → where it goes
    steps={
        "note":      Step(ask_done_note,   answer_done_note,  {"noted": "materials", "refused": END}),
        "materials": Step(ask_materials,   answer_materials,  {"listed": "photo", "finished": END,
                                                               "unreadable": WAIT, "refused": END}),
        "photo":     Step(ask_photo,       answer_photo,      {"finished": END, "no_photo": WAIT, "refused": END}),
    },
    lapsed=LATE,
)  # fmt: skip
# --- a charge to the resident: quoted before the work, agreed or declined in chat ---------------------------------


def waiting_for_resident(turn: Turn, ticket: Ticket) -> bool:
    waiting = ticket.quote_waiting
    if waiting is not None:
        turn.say(turn.t("{number} waits for the resident's answer to your quote of {amount}; I'll tell you.").format(
            number=ticket.number, amount=money(waiting.amount)))  # fmt: skip
    return waiting is not None


def ask_quote(turn: Turn) -> None:
    turn.ask(turn.t(
        "What will the resident pay, and for what? The amount first, e.g. “120 replace the mixer tap”. Only for work "
        "in the home that the property fee does not cover: the resident agrees before you start. (0 takes back a "
        "quote still waiting.)"
    ))  # fmt: skip


def answer_quote(turn: Turn) -> str:
    if may_still(turn, "quote") is None:
        return "refused"
    found = parse_quote(turn.text)
    if found is None:
        turn.say(turn.t("Please start with the amount in yuan, then what it is for, e.g. “120 replace the mixer tap”."))
        return "unclear"
    turn.emit(AskQuote(turn.state.ticket, *found))
    return "given"


TAKE_BACK = ("0", "withdraw", "take it back", "no charge", "撤回", "撤回报价", "不收费", "取消报价")
_AMOUNT = r"(\d{1,3}(?:,\d{3})+|\d{1,7})(?:\.(\d+))?"


def parse_quote(text: str) -> tuple[Decimal, str] | None:
    """“120 replace the tap”, “¥1,200.50 换龙头”, “换2个龙头 120元”: the amount first, or the one marked as money;
    to the cent; and what it is for. ("0" or 撤回 takes a quote back: (0, "").)"""
    if fold(text) in TAKE_BACK:
        return Decimal(0), ""
    money_marks = r"\s*(?:元|块|yuan|rmb|cny)(?![a-z])"
    match = (re.match(rf"\s*[¥￥]?\s*{_AMOUNT}(?![\d.,])", text)
             or re.search(rf"[¥￥]\s*{_AMOUNT}|{_AMOUNT}{money_marks}", text, re.IGNORECASE))  # fmt: skip
    if match is None:
        return None
    whole, cents = next((g for g in match.groups()[0::2] if g), None), next((g for g in match.groups()[1::2] if g), "")
    if whole is None or len(cents) > 2:
        return None
    what = (text[: match.start()] + " " + text[match.end() :]).strip(" ,;:，。：；-")
    amount = Decimal(f"{whole.replace(',', '')}.{cents or '0'}").quantize(Decimal("0.01"))
    if amount <= 0 or not what:
        return None
    return amount, what


# --- a resident who asked for a person: customer service answers through the bot ------------------------------


def take_chat(turn: Turn, ticket: Ticket) -> None:
    """One resident at a time: what an agent types goes to the one they answer, never to the wrong one."""
    staff, t = me(turn), turn.t
    current = my_chat(turn)
    if current is not None and current.number != ticket.number:
        turn.say(t("You are answering {name} ({number}): send /end first, then take the next one.").format(
            name=reporter_for_staff(current, t), number=current.number))  # fmt: skip
        return
    if ticket.assignee_id is not None and ticket.assignee_id != staff.id:
        turn.say(turn.t("{name} is already answering them.").format(name=in_language(ticket.assignee_name,
                                                                                      turn.t.locale)))  # fmt: skip
        return
    if ticket.assignee_id != staff.id:
        turn.emit(TakeChat(ticket.number))
    turn.state.ticket = ticket.number
    turn.enter("talk", "message")


def my_chat(turn: Turn) -> Ticket | None:
    """The conversation with a resident this staff member is answering, if any."""
    if turn.state.flow == "talk":
        ticket = turn.context.look.ticket(turn.state.ticket)
    else:
        ticket = next((t for t in turn.context.look.jobs(me(turn)) if t.is_chat), None)
    return ticket if ticket is not None and ticket.is_active and ticket.assignee_id == me(turn).id else None


def ask_chat_message(turn: Turn) -> None:
    """Nothing is asked: what they write goes to the resident (the conversation's first message said so)."""


def answer_chat_message(turn: Turn) -> str:
    chat = my_chat(turn)
    if chat is None:
        turn.state.leave()
        turn.say(turn.t(CHAT_OVER))
        return "over"
    turn.emit(ChatMessage(chat.number, turn.text))
    return "said"


def end_chat(turn: Turn, rest: str) -> None:
    """/end: the resident goes back to the assistant."""
    chat = my_chat(turn)
    if chat is None:
        turn.say(turn.t("You are not talking with a resident now."))
        return
    turn.emit(EndChat(chat.number))
    turn.state.leave()


TALK = with_a_person("message", ask_chat_message, answer_chat_message)
QUOTE = Flow("quote", {"amount": Step(ask_quote, answer_quote, {"given": END, "unclear": SAME, "refused": END})},
             lapsed=LATE)  # fmt: skip
REPLY = Flow(
    "reply",
    steps={
        "text": Step(ask_reply, answer_reply, {"written": "send", "refused": END}),
        "send": Step(ask_send, answer_send, {"sent": END, "unclear": SAME}),
    },
    lapsed=LATE,
)


# --- buttons on tickets: one tap per step ------------------------------------------------------------------------


def on_ticket(turn: Turn, button: OnTicket) -> None:
    t, verb = turn.t, button.verb
    ticket = the_ticket(turn, button.number)
    if ticket is None:
        return
    number = ticket.number
    feedback = ticket.kind is TicketKind.FEEDBACK
    if (verb == "reply" and not feedback) or (verb in STEPS and feedback):  # a button no message of ours carries
        turn.say(t("That button belongs to an earlier message."))
    elif verb == "view":
        view(turn, ticket)
    elif verb == "grab":
        if allowed(turn, "grab", ticket):
            if ticket.status is not Status.NEW:
                taken = ticket.assignee_name or t("someone else")
                turn.say(t("Too late: {number} was already taken by {name}.").format(
                    number=number, name=in_language(taken, t.locale)))  # fmt: skip
            else:
                turn.emit(Grab(number))
    elif verb in ("approve", "reject"):
        if allowed(turn, verb, ticket):
            if ticket.pending_approval is None or not ticket.is_active:
                turn.say(t("{number} has nothing waiting for approval.").format(number=number))
            else:
                turn.emit(Decide(number, approve=verb == "approve"))
    elif verb == "reply":
        if allowed(turn, "reply", ticket) and still(turn, ticket, ticket.is_active):
            turn.state.ticket = number
            turn.enter("reply", "text")
    elif verb == "talk":
        if allowed(turn, "reply", ticket) and still(turn, ticket, ticket.is_active):
            take_chat(turn, ticket)
    elif verb == "register":
        if allowed(turn, "register"):
            register(turn, ticket, button.argument)
    elif verb in STEPS:
        if allowed(turn, verb, ticket) and can_take(turn, ticket, verb):
            job_step(turn, ticket, verb, button.argument)
    else:
        turn.say(t("That button belongs to an earlier message."))


def job_step(turn: Turn, ticket: Ticket, verb: str, argument: str) -> None:
    t, number = turn.t, ticket.number
    if verb == "decline":
        if argument in DECLINE_REASONS:
            turn.emit(Decline(number, t(DECLINE_REASONS[argument])))
        else:
            turn.state.ticket = number
            turn.enter("decline", "reason")
    elif verb == "way" and not argument.isdecimal():
        turn.state.ticket = number
        turn.enter("way", "eta")
    elif verb == "hold" and not argument:
        turn.state.ticket = number
        turn.enter("hold", "reason")
    elif verb == "plan":
        if not waiting_for_supervisor(turn, ticket):
            turn.state.ticket = number
            turn.enter("plan", "text")
    elif verb == "done":
        if not waiting_for_supervisor(turn, ticket):
            turn.state.ticket = number
            turn.enter("done", "note")
    elif verb == "quote":
        turn.state.ticket = number
        turn.enter("quote", "amount")
    else:
        turn.emit(TakeStep(number, verb, argument))


def register(turn: Turn, ticket: Ticket, who: str) -> None:
    """Customer service vouches for a stranger: they are a resident of the room (by id), or a new one ("new")."""
    t = turn.t
    room = ticket.location.room
    if ticket.verified or room is None or ticket.reporter_address is None:
        turn.say(t("{number}: nothing to confirm.").format(number=ticket.number))
    elif who == "new":
        turn.emit(ConfirmRegistration(ticket.number, None))
    elif who.isdecimal() and any(r.id == int(who) for r in turn.context.estate.residents_of(room)):
        turn.emit(ConfirmRegistration(ticket.number, int(who)))
    else:
        turn.say(t("That button belongs to an earlier message."))


# --- what staff ask to see ---------------------------------------------------------------------------------------


def view(turn: Turn, ticket: Ticket) -> None:
    t, staff, zone = turn.t, me(turn), turn.context.settings.zone
    if not allowed(turn, "view", ticket):
        return
    lines = [summary(ticket, t, personal=True), t("Status: {status}").format(status=t(STATUS_WORDS[ticket.status]))]
    if ticket.assignee_name:
        lines.append(t("Assigned to: {name}").format(name=in_language(ticket.assignee_name, t.locale)))
    if ticket.resolve_due and ticket.is_open:
        lines.append(t("Due: {when}").format(when=local(ticket.resolve_due, zone)))
    if ticket.rework_count:
        lines.append(t("Reworks: {count}").format(count=ticket.rework_count))
    lines.append(t("History:"))
    lines += ["  " + history_line(ticket, e, t, zone) for e in ticket.history[-8:]]
    choices: tuple[Choice, ...] = ()
    if ticket.pending_approval is not None and may(staff, Grant.APPROVE):
        lines.append(approval_request(ticket, t, turn.context.settings.dispatch))
        choices = approval_choices(ticket, t)
    elif ticket.is_chat and refusal(staff, "reply", ticket) is None and ticket.is_active:
        choices = (Choice(OnTicket("talk", ticket.number), t("💬 Answer")),)
    elif ticket.kind is TicketKind.FEEDBACK and refusal(staff, "reply", ticket) is None and ticket.is_open:
        choices = (Choice(OnTicket("reply", ticket.number), t("✍️ Reply")),)
    elif ticket.assignee_id == staff.id or may(staff, Grant.STEP_FOR_OTHERS):
        choices = next_steps(ticket, t)
    turn.say("\n".join(lines), choices)


def my_jobs(turn: Turn, greet: bool = False) -> None:
    t, staff = turn.t, me(turn)
    mine = [x for x in turn.context.look.jobs(staff) if x.status is not Status.RESOLVED]
    head = t("Hello {name}!").format(name=first_name(staff.name, t.locale)) + " " if greet else ""
    if not mine:
        turn.say(head + t("You have no open jobs. /help shows what I can do."))
        return
    lines = [head + t("Your open jobs:")] + ["• " + line(x, t) for x in mine]
    turn.say("\n".join(lines), [Choice(OnTicket("view", x.number), x.number) for x in mine[:10]])


def queue(turn: Turn) -> None:
    t, now = turn.t, turn.now
    tickets = turn.context.look.queue()
    sections = [
        (t("Unassigned"), [x for x in tickets if x.status is Status.NEW]),
        (t("Overdue"), [x for x in tickets if overdue(x, now)]),
        (t("On hold"), [x for x in tickets if x.status is Status.ON_HOLD]),
        (t("Waiting for approval"), [x for x in tickets if x.pending_approval is not None]),
    ]
    lines = [t("📋 Queue")]
    shown: list[Ticket] = []
    for title, found in sections:
        lines.append(f"\n{title} ({len(found)})")
        for ticket in found[:10]:
            lines.append("• " + line(ticket, t))
            if ticket not in shown:
                shown.append(ticket)
    turn.say("\n".join(lines), [Choice(OnTicket("view", x.number), x.number) for x in shown[:10]])


# --- commands ------------------------------------------------------------------------------------------------------


def help_text(turn: Turn) -> str:
    t, staff = turn.t, me(turn)
    lines = [
        t("Hello {name}! Your jobs come here; each step is one tap.").format(name=first_name(staff.name, t.locale)),
        t("• /jobs: your open jobs · /status NUMBER: one ticket"),
    ]
    if may(staff, Grant.DISPATCH):
        lines.append(t("• /queue: unassigned, overdue, on hold and waiting for approval"))
        lines.append(t("• /assign NUMBER NAME · /reassign NUMBER NAME · /new: a report on a resident's behalf"))
    if may(staff, Grant.REVEAL):
        lines.append(t("• /reveal NUMBER: who gave an anonymous feedback (kept in its history)"))
    lines.append(t("• /lang: 中文 / English"))
    return "\n".join(lines)


def show_help(turn: Turn, rest: str) -> None:
    turn.say(help_text(turn))
    my_jobs(turn)


def show_jobs(turn: Turn, rest: str) -> None:
    my_jobs(turn)


def cancel(turn: Turn, rest: str) -> None:
    flow, number = turn.state.flow, turn.state.ticket
    turn.state.drop()
    if flow == "repair":
        turn.say(turn.t("Report discarded; nothing was sent."))
    elif flow:  # the arrival time, a reason, a note...: the step is not taken, and the job's steps are shown again
        turn.say(turn.t("Left as it was; nothing was changed."))
        ticket = turn.context.look.ticket(number) if number else None
        if ticket is not None:
            view(turn, ticket)
    else:
        turn.say(turn.t("Nothing is waiting for an answer now."))


def show_queue(turn: Turn, rest: str) -> None:
    if allowed(turn, "queue"):
        queue(turn)


def assigning(reassign: bool) -> Callable[[Turn, str], None]:
    def command(turn: Turn, rest: str) -> None:
        t, verb = turn.t, "reassign" if reassign else "assign"
        if not allowed(turn, verb):
            return
        args = rest.split()
        if len(args) < 2:
            turn.say(t("Please write it as: /{command} NUMBER NAME").format(command=verb))
            return
        ticket = the_ticket(turn, args[0])
        if ticket is None:
            return
        who = " ".join(args[1:])
        estate = turn.context.estate
        chosen = find_staff(estate.staff, who)
        if chosen is None or chosen.id is None:
            names = ", ".join(
                in_language(s.name, t.locale) for s in estate.staff if s.active and may(s, Grant.WORK_JOBS)
            )
            turn.say(t("I don't know “{who}”. Technicians: {names}").format(who=who, names=names))
        elif not still(turn, ticket, ticket.is_active):
            return
        elif reassign and ticket.status is Status.NEW:
            turn.say(t("{number} has nobody yet; use /assign.").format(number=ticket.number))
        elif ticket.assignee_id == chosen.id:
            turn.say(
                t("{number} is already with {name}.").format(
                    number=ticket.number, name=in_language(chosen.name, t.locale)
                )
            )
        elif misfits(turn, ticket, chosen):
            turn.state.ticket, turn.state.assignee = ticket.number, chosen.id
            turn.enter("assign", "confirm")
        else:
            turn.emit(Assign(ticket.number, chosen.id, reassign=ticket.status is not Status.NEW))

    return command


def misfits(turn: Turn, ticket: Ticket, chosen: Staff) -> list[str]:
    """Why the one chosen by hand may be the wrong person for the job (texts to translate and fill)."""
    t, local = turn.t, turn.now.astimezone(turn.context.settings.zone)
    found = []
    if not chosen.on_shift(local):
        found.append(t("{name} is not on shift now.").format(name=first_name(chosen.name, t.locale)))
    if ticket.kind is TicketKind.REPAIR and ticket.category in TRADES and ticket.category not in chosen.trades:
        found.append(t("{name} does not do {trade}.").format(name=first_name(chosen.name, t.locale),
                                                           trade=category_label(ticket.category, t)))  # fmt: skip
    return found


def ask_assign_anyway(turn: Turn) -> None:
    t = turn.t
    ticket, chosen = the_ticket(turn, turn.state.ticket), turn.context.estate.staff_member(turn.state.assignee)
    why = misfits(turn, ticket, chosen) if ticket is not None and chosen is not None else []
    name = in_language(chosen.name, t.locale) if chosen else "?"
    question = t("Give {number} to {name} anyway?").format(number=turn.state.ticket, name=name)
    turn.ask("\n".join((*why, question)), [turn.choice(Pick("yes"), t("✅ Yes, assign")),
                                          turn.choice(Pick("cancel"), t("✖️ No"))])  # fmt: skip


def answer_assign_anyway(turn: Turn) -> str:
    if turn.chosen == Pick("cancel"):
        turn.say(turn.t("{number} was not assigned.").format(number=turn.state.ticket))
        return "answered"
    if turn.chosen != Pick("yes"):
        turn.say(turn.t(resident.PICK_ONE))
        return "unclear"
    ticket, chosen = the_ticket(turn, turn.state.ticket), turn.context.estate.staff_member(turn.state.assignee)
    if ticket is not None and chosen is not None and chosen.id is not None and allowed(turn, "assign"):
        turn.emit(Assign(ticket.number, chosen.id, reassign=ticket.status is not Status.NEW))
    return "answered"


def new_report(turn: Turn, rest: str) -> None:
    """A report taken by phone or at the desk: the report dialogue, on the resident's behalf."""
    if allowed(turn, "new"):
        turn.state.on_behalf = True
        resident.start_repair(turn, rest)


def show_status(turn: Turn, rest: str) -> None:
    if not rest:
        mine = turn.context.look.jobs(me(turn))
        today = turn.now.astimezone(turn.context.settings.zone)
        number = mine[-1].number if mine else f"{turn.context.estate.code.upper()}-{today:%Y%m%d}-0001"
        example = f"/status {number}"
        turn.say(turn.t("Please add the ticket number, for example: {example}").format(example=example))
        return
    ticket = the_ticket(turn, rest.split()[0])
    if ticket is not None:
        view(turn, ticket)


def reveal(turn: Turn, rest: str) -> None:
    """/reveal NUMBER: a manager's deliberate look at who gave an anonymous feedback."""
    if not allowed(turn, "reveal"):
        return
    if not rest:
        turn.say(turn.t("Please write it as: /{command} NUMBER").format(command="reveal"))
        return
    ticket = the_ticket(turn, rest.split()[0])
    if ticket is not None:
        turn.emit(Reveal(ticket.number))


def ask_language(turn: Turn, rest: str) -> None:
    turn.ask("请选择语言 / Choose your language", [turn.choice(Pick("lang", "zh_CN"), "中文"),
                                                   turn.choice(Pick("lang", "en"), "English")])  # fmt: skip


def unknown_command(turn: Turn, command: str) -> None:
    turn.say(turn.t("I don't know the command {command}. Send /help to see what I can do.").format(command=command))


def idle(turn: Turn) -> None:
    """Nothing was asked: say what is theirs to do; while they answer a resident, it is for the resident."""
    chat = my_chat(turn) if turn.inbound.payload is None and turn.chosen is None else None
    if chat is not None:
        turn.state.ticket = chat.number
        turn.enter("talk", "message")
        turn.go(TALK.steps["message"].then[answer_chat_message(turn)])
        return
    step = typed_step(turn) if turn.inbound.payload is None and turn.chosen is None else None
    if step is not None:
        on_ticket(turn, step)
        return
    if turn.inbound.payload is not None:
        turn.say(turn.t("That button belongs to an earlier message."))
    my_jobs(turn, greet=True)


def typed_step(turn: Turn) -> OnTicket | None:
    """A step typed by its name (“开始维修”, "start") when no list is on screen: for their one job in hand."""
    mine = [job for job in turn.context.look.jobs(me(turn)) if job.is_active and not job.is_chat]
    if len(mine) != 1:
        return None
    typed = fold(turn.text)
    for verb, (_, label) in STEPS.items():
        button = OnTicket(verb, mine[0].number)
        if typed in (fold(turn.t(label)), bare(turn.t(label)), *(fold(k) for k in keys_for(button))):
            return button
    return None


ASSIGN = Flow("assign", {"confirm": Step(ask_assign_anyway, answer_assign_anyway,
                                         {"answered": END, "unclear": SAME})}, lapsed=LATE)  # fmt: skip


STAFF = Conversation(
    flows={flow.name: flow for flow in (DECLINE, WAY, HOLD, ASSIGN, PLAN, DONE, REPLY, TALK, QUOTE, resident.REPAIR)},
    commands={
        "start": show_help, "help": show_help, "menu": show_help, "jobs": show_jobs, "mytickets": show_jobs,
        "tickets": show_jobs, "queue": show_queue, "assign": assigning(reassign=False),
        "reassign": assigning(reassign=True), "new": new_report, "status": show_status, "cancel": cancel,
        "lang": ask_language, "language": ask_language, "reveal": reveal, "end": end_chat,
    },
    on_ticket=on_ticket,
    idle=idle,
    offer=my_jobs,
    before=None,
    unknown_command=unknown_command,
    resume=resident.resume,
    continue_privately=None,
    stale=N_("That button belongs to an earlier message."),
    unreadable=N_("Please answer in a few words."),
    private_in_groups=True,  # a job's details are for the person, not the group
    worded={fold(word): "end" for word in END_CHAT_WORDS},
)  # fmt: skip
