"""Staff in chat: one tap per step of a job, and the dispatch desk's commands (/queue, /assign, /new)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from core.dialogue import CATEGORY_LABELS, _fold
from core.directory import Staff
from core.dispatch import is_supervisor, supervisors
from core.errors import NotFound
from core.i18n import LOCALES, N_, Translator
from core.lifecycle import STATUS_WORDS, Action, allowed_actions, apply
from core.messages import Choice, Inbound, Reply
from core.model import OPEN_STATUSES, Actor, Attachment, Material, Status, Ticket, TicketKind
from core.notify import HOLD_REASONS
from core.permissions import refusal
from core.ports import TicketQuery, UnitOfWork
from core.services import find_ticket
from core.sla import SlaPolicy
from core.team import Team, first_name

# Staff answer in one message; what they were asked for waits this long.
WAIT_LIMIT = timedelta(minutes=30)
ETAS = (15, 30, 60)
DECLINE_REASONS = {"busy": N_("Busy with another job"), "trade": N_("Not my trade"), "off": N_("Off duty")}
SKIP_WORDS = ("skip", "none", "no", "跳过", "没有", "无", "0")
COMMANDS = {
    "start": "help",
    "help": "help",
    "menu": "help",
    "jobs": "jobs",
    "mytickets": "jobs",
    "tickets": "jobs",
    "queue": "queue",
    "assign": "assign",
    "reassign": "reassign",
    "new": "new",
    "status": "view",
    "cancel": "cancel",
    "lang": "lang",
    "language": "lang",
}
# The verbs a button carries (s:VERB:NUMBER[:ARGUMENT]) and the lifecycle action each one takes.
STEP_ACTIONS = {
    "accept": Action.ACCEPT,
    "way": Action.ON_THE_WAY,
    "arrive": Action.ARRIVE,
    "start": Action.START,
    "hold": Action.HOLD,
    "resume": Action.RESUME,
    "done": Action.RESOLVE,
    "plan": Action.REQUEST_APPROVAL,
    "decline": Action.DECLINE,
}
STEP_LABELS = {
    "accept": N_("✅ Accept"),
    "decline": N_("↩️ Decline"),
    "way": N_("🚶 On my way"),
    "arrive": N_("📍 Arrived"),
    "start": N_("🛠️ Start"),
    "hold": N_("⏸️ On hold"),
    "resume": N_("▶️ Resume"),
    "plan": N_("📝 Change of plan"),
    "done": N_("✅ Done"),
}
MONEY = re.compile(r"(?:[¥￥]\s*(\d+(?:\.\d+)?))|(\d+(?:\.\d+)?)\s*(?:元|yuan|rmb|cny)", re.IGNORECASE)


def parse_materials(text: str) -> list[Material]:
    """`valve 2 35; tape 5`: a name, then a quantity and a unit price, or just a cost."""
    found = []
    for item in re.split(r"[;；,，\n]+", text):
        words = item.replace("×", " ").split()
        numbers: list[float] = []
        while words and re.fullmatch(r"[x×]?\d+(?:\.\d+)?[元]?", words[-1], re.IGNORECASE):
            numbers.insert(0, float(words.pop().lstrip("xX×").rstrip("元")))
        if not words:
            continue
        name = " ".join(words)
        if len(numbers) >= 2:
            found.append(Material(name, numbers[-2], cost=round(numbers[-2] * numbers[-1], 2)))
        else:
            found.append(Material(name, 1, cost=numbers[0] if numbers else 0.0))
    return found


def money(amount: float) -> str:
    return f"¥{amount:g}"


class StaffTurn:
    """One message from a staff member: answered here, with the ticket changes and pushes it causes."""

    def __init__(
        self,
        uow: UnitOfWork,
        team: Team,
        staff: Staff,
        inbound: Inbound,
        state: dict[str, Any],
        t: Translator,
        sla: SlaPolicy,
        can_send_photos: bool,
    ) -> None:
        self.uow, self.team, self.staff, self.inbound, self.sla = uow, team, staff, inbound, sla
        self.state, self.t, self.can_send_photos = state, t, can_send_photos
        self.now = team.now
        self.actor = Actor("staff", staff.name, staff.id)
        self.replies: list[Reply] = []
        self.locale: str | None = None  # set when the person picks a language
        self.start_report = False  # /new: the caller runs the report dialogue on the resident's behalf

    # --- reading the message ----------------------------------------------------------------------------

    def say(self, text: str, choices: list[Choice] | None = None) -> None:
        self.replies.append(Reply(text, tuple(choices or ())))

    def payload(self) -> str | None:
        """A button, or a typed number or label of the last list shown."""
        if self.inbound.payload is not None:
            return self.inbound.payload
        offered = self.state.get("choices", [])
        folded = _fold(self.inbound.text)
        if folded.isdecimal() and 1 <= int(folded) <= len(offered):
            return str(offered[int(folded) - 1][0])
        return next((str(c[0]) for c in offered if folded and folded in (_fold(str(c[1])), _words(str(c[1])))), None)

    def run(self) -> None:
        text = self.inbound.text.strip()
        waiting = self.state.get("awaiting")
        if waiting and self.now - _parse_time(waiting.get("since")) > WAIT_LIMIT:
            self.state.pop("awaiting", None)
            waiting = None
            if text and not text.startswith("/") and self.inbound.payload is None:
                self.say(
                    self.t(
                        "That answer came more than 30 minutes after my question, so I set it aside. "
                        "Please tap the step again."
                    )
                )
        if text.startswith("/"):
            self.state.pop("awaiting", None)
            self.command(text)
            return
        payload = self.payload()
        if payload is not None and payload.startswith(("s:", "lang:")):
            self.state.pop("awaiting", None)
            if waiting and payload == f"s:skip:{waiting['ticket']}":
                self.answer(waiting, "skip")
            else:
                self.press(payload, waiting or {})
            return
        if waiting:
            self.answer(waiting, text)
            return
        if self.inbound.payload is not None:
            self.say(self.t("That button belongs to an earlier message."))
        self.my_jobs(greet=True)

    # --- commands -----------------------------------------------------------------------------------------

    def command(self, text: str) -> None:
        word, _, rest = text[1:].partition(" ")
        name = COMMANDS.get(word.split("@")[0].casefold())
        args = rest.split()
        if name == "help":
            self.say(self.help_text())
            self.my_jobs()
        elif name == "jobs":
            self.my_jobs()
        elif name == "cancel":
            self.say(self.t("Nothing is waiting for an answer now."))
        elif name == "lang":
            self.say("请选择语言 / Choose your language", [Choice("lang:zh_CN", "中文"), Choice("lang:en", "English")])
        elif name == "queue":
            if self.allowed("queue"):
                self.queue()
        elif name in ("assign", "reassign"):
            if not self.allowed(name):
                return
            if len(args) < 2:
                self.say(self.t("Please write it as: /{command} NUMBER NAME").format(command=name))
                return
            self.assign(args[0], " ".join(args[1:]), must_be_assigned=name == "reassign")
        elif name == "new":
            if self.allowed("new"):
                self.start_report = True
        elif name == "view":
            if not args:
                self.say(
                    self.t("Please add the ticket number, for example: {example}").format(
                        example="/status SG-20261127-0001"
                    )
                )
                return
            self.view(args[0])
        else:
            self.say(
                self.t("I don't know the command {command}. Send /help to see what I can do.").format(
                    command="/" + word
                )
            )

    def help_text(self) -> str:
        t = self.t
        lines = [
            t("Hello {name}! Your jobs come here; each step is one tap.").format(name=first_name(self.staff.name)),
            t("• /jobs: your open jobs · /status NUMBER: one ticket"),
        ]
        if refusal(self.staff, "queue") is None:
            lines.append(t("• /queue: unassigned, overdue, on hold and waiting for approval"))
            lines.append(t("• /assign NUMBER NAME · /reassign NUMBER NAME · /new: a report on a resident's behalf"))
        lines.append(t("• /lang: 中文 / English"))
        return "\n".join(lines)

    def allowed(self, verb: str, ticket: Ticket | None = None) -> bool:
        reason = refusal(self.staff, verb, ticket)
        if reason is not None:
            self.say(self.t(reason))
        return reason is None

    def ticket(self, reference: str) -> Ticket | None:
        try:
            return find_ticket(self.uow, reference, for_update=True)
        except NotFound:
            self.say(self.t("There is no ticket {number}.").format(number=reference))
            return None

    # --- buttons --------------------------------------------------------------------------------------------

    def press(self, payload: str, waiting: dict[str, Any]) -> None:
        if payload.startswith("lang:"):
            locale = payload[5:]
            if locale in LOCALES:
                self.locale = locale
                self.t = self.team.translators(locale)
                self.say(self.t("I'll talk to you in English from now on."))
            return
        _, verb, rest = payload.split(":", 2) if payload.count(":") >= 2 else ("s", "", "")
        reference, _, argument = rest.partition(":")
        if not reference:
            self.say(self.t("That button belongs to an earlier message."))
            return
        ticket = self.ticket(reference)
        if ticket is None:
            return
        if verb == "view":
            self.view(reference)
        elif verb == "grab":
            self.grab(ticket)
        elif verb in ("approve", "reject"):
            self.decide(ticket, approve=verb == "approve")
        elif verb == "reply":
            if self.allowed("reply", ticket) and self.still(
                ticket, ticket.is_open and ticket.status is not Status.RESOLVED
            ):
                self.wait_for("reply", ticket, self.t("Write your reply to the resident in one message."))
        elif verb == "send":
            text = waiting.get("text", "") if waiting.get("what") == "reply_send" else ""
            self.send_reply(ticket, argument == "resolve", str(text))
        elif verb in STEP_ACTIONS:
            if self.allowed(verb, ticket):
                self.job_step(ticket, verb, argument)
        else:
            self.say(self.t("That button belongs to an earlier message."))

    def still(self, ticket: Ticket, condition: bool) -> bool:
        if not condition:
            self.say(
                self.t("{number} is {status} now; nothing to do there.").format(
                    number=ticket.number, status=self.t(STATUS_WORDS[ticket.status])
                )
            )
        return condition

    def job_step(self, ticket: Ticket, verb: str, argument: str) -> None:
        t = self.t
        action = STEP_ACTIONS[verb]
        if action not in allowed_actions(ticket):
            self.still(ticket, False)
            return
        if verb == "decline":
            if argument in DECLINE_REASONS:
                self.decline(ticket, t(DECLINE_REASONS[argument]))
            else:
                choices = [
                    Choice(f"s:decline:{ticket.number}:{key}", t(label)) for key, label in DECLINE_REASONS.items()
                ]
                self.wait_for(
                    "decline",
                    ticket,
                    t("Why can't you take {number}? Tap a reason or write one.").format(number=ticket.number),
                    choices,
                )
            return
        if verb == "way" and not argument.isdecimal():
            choices = [Choice(f"s:way:{ticket.number}:{m}", t("{n} min").format(n=m)) for m in ETAS]
            self.say(t("When will you be there?"), choices)
            return
        if verb == "hold" and argument not in HOLD_REASONS:
            choices = [Choice(f"s:hold:{ticket.number}:{key}", t(label)) for key, label in HOLD_REASONS.items()]
            self.say(t("What are you waiting for?"), choices)
            return
        if verb == "plan":
            if ticket.pending_approval is not None:
                self.say(t("{number} is already waiting for a supervisor's decision.").format(number=ticket.number))
                return
            self.wait_for(
                "plan",
                ticket,
                t(
                    "What should be done instead, and why? Add the cost if it changes, "
                    "e.g. “replace the whole pipe, ¥800”."
                ),
            )
            return
        if verb == "done":
            if ticket.pending_approval is not None:
                self.say(t("{number} is already waiting for a supervisor's decision.").format(number=ticket.number))
                return
            self.wait_for("done_note", ticket, t("What did you do? One message, please."))
            return
        details: dict[str, Any] = {}
        if verb == "way":
            details["eta_minutes"] = int(argument)
        if verb == "hold":
            details["reason"] = argument
        event = apply(ticket, action, self.actor, self.now, self.sla, **details)
        self.uow.tickets.save(ticket)
        self.team.announce(ticket, event)
        self.say(self.confirmation(ticket, verb, details), self.next_steps(ticket))

    def confirmation(self, ticket: Ticket, verb: str, details: dict[str, Any]) -> str:
        t = self.t
        if verb == "accept":
            return t("You have {number}.").format(number=ticket.number) + "\n" + self.team.summary(ticket, t, True)
        texts = {
            "way": t("{number}: the resident expects you in about {eta} minutes."),
            "arrive": t("{number}: arrival noted; the resident has been told."),
            "start": t("{number}: started."),
            "hold": t("{number}: on hold; the deadline waits until you resume."),
            "resume": t("{number}: resumed."),
        }
        return texts[verb].format(number=ticket.number, eta=details.get("eta_minutes", ""))

    def next_steps(self, ticket: Ticket, t: Translator | None = None) -> list[Choice]:
        """The steps the ticket can take next, as buttons (in `t`, for another person); on the way only once."""
        t = t or self.t
        possible = set(allowed_actions(ticket))
        verbs = [verb for verb, action in STEP_ACTIONS.items() if action in possible]
        if "on_the_way" in ticket.milestones and "way" in verbs:
            verbs.remove("way")
        if "arrived" in ticket.milestones and "arrive" in verbs:
            verbs.remove("arrive")
        if ticket.pending_approval is not None:
            verbs = [v for v in verbs if v not in ("plan", "done")]
        order = ("accept", "decline", "way", "arrive", "start", "done", "hold", "resume", "plan")
        return [Choice(f"s:{v}:{ticket.number}", t(STEP_LABELS[v])) for v in order if v in verbs]

    def wait_for(
        self, what: str, ticket: Ticket, question: str, choices: list[Choice] | None = None, **extra: Any
    ) -> None:
        self.state["awaiting"] = {"what": what, "ticket": ticket.number, "since": self.now.isoformat(), **extra}
        self.say(question, choices)

    # --- answers to questions -------------------------------------------------------------------------------

    def answer(self, waiting: dict[str, Any], text: str) -> None:
        t = self.t
        what = waiting["what"]
        photo = next((a for a in self.inbound.attachments if a.kind == "photo"), None)
        if not text and not (what == "done_photo" and photo):
            self.say(t("Please answer in a few words."))
            return
        ticket = self.ticket(waiting["ticket"])
        if ticket is None:
            self.state.pop("awaiting", None)
            return
        self.state.pop("awaiting", None)
        if what == "decline":
            if self.allowed("decline", ticket) and self.still(ticket, ticket.status is Status.ASSIGNED):
                self.decline(ticket, text)
        elif what == "plan":
            self.request_plan(ticket, text)
        elif what == "done_note":
            self.wait_for(
                "done_materials",
                ticket,
                t(
                    "Materials used? One per line or separated by “;”: name, quantity, unit price "
                    "(e.g. “valve 1 35”). Or tap “None”."
                ),
                [Choice(f"s:skip:{ticket.number}", t("None"))],
                note=text,
            )
        elif what == "done_materials":
            skip = _fold(text) in SKIP_WORDS
            materials = [] if skip else parse_materials(text)
            if not skip and not materials:
                self.wait_for(
                    "done_materials",
                    ticket,
                    t("I couldn't read that. Write e.g. “valve 1 35”, or “none”."),
                    note=waiting.get("note", ""),
                )
                return
            rows = [vars(m) for m in materials]
            if self.can_send_photos:
                self.ask_after_photo(ticket, t("Send a photo of the finished work, or tap “No photo”."), waiting, rows)
            else:
                self.finish(ticket, waiting.get("note", ""), materials, None)
        elif what == "done_photo":
            if photo is None and _fold(text) not in SKIP_WORDS:
                self.ask_after_photo(
                    ticket, t("Please send a photo, or tap “No photo”."), waiting, waiting.get("materials", [])
                )
                return
            materials = [Material(**m) for m in waiting.get("materials", [])]
            self.finish(ticket, waiting.get("note", ""), materials, photo)
        elif what == "reply":
            self.wait_for(
                "reply_send",
                ticket,
                t("Your reply:") + "\n" + text,
                [
                    Choice(f"s:send:{ticket.number}:resolve", t("✅ Send and mark answered")),
                    Choice(f"s:send:{ticket.number}:keep", t("💬 Send, keep it open")),
                ],
                text=text,
            )
        else:
            self.say(t("Please use the buttons above."))

    def ask_after_photo(self, ticket: Ticket, question: str, waiting: dict[str, Any], materials: list[Any]) -> None:
        skip = [Choice(f"s:skip:{ticket.number}", self.t("No photo"))]
        self.wait_for("done_photo", ticket, question, skip, note=waiting.get("note", ""), materials=materials)

    # --- the steps that need more than one tap --------------------------------------------------------------

    def decline(self, ticket: Ticket, reason: str) -> None:
        assignee_id = ticket.assignee_id
        apply(ticket, Action.DECLINE, self.actor, self.now, reason=reason, assignee_id=assignee_id)
        self.uow.tickets.save(ticket)
        decision = self.team.dispatch(ticket)
        where = {
            "assign": self.t("it went to {name}.").format(name=ticket.assignee_name),
            "pool": self.t("it is in the grab pool."),
        }.get(decision.kind, self.t("a supervisor will assign it."))
        self.say(self.t("{number} declined; {where}").format(number=ticket.number, where=where))

    def grab(self, ticket: Ticket) -> None:
        if not self.allowed("grab", ticket):
            return
        if ticket.status is not Status.NEW:
            taken = ticket.assignee_name or self.t("someone else")
            self.say(self.t("Too late: {number} was already taken by {name}.").format(number=ticket.number, name=taken))
            return
        event = apply(ticket, Action.CLAIM, self.actor, self.now, assignee=self.staff.name, assignee_id=self.staff.id)
        self.uow.tickets.save(ticket)
        self.team.announce(ticket, event)
        offered = {name for e in ticket.history if e.action == Action.OFFER.value for name in e.details.get("to", [])}
        groups = {g for e in ticket.history if e.action in ("offer", "pool") for g in e.details.get("groups", [])}
        for other in self.team.estate.staff:
            if other.name in offered and other.name != self.staff.name:
                self.team.push(
                    other,
                    ticket,
                    lambda t: t("✋ {number} was taken by {name}.").format(number=ticket.number, name=self.staff.name),
                )
        for group in self.team.estate.staff_groups:
            if group.name in groups:
                self.team.tell_group(
                    group,
                    ticket,
                    lambda t: t("✋ {number} was taken by {name}.").format(number=ticket.number, name=self.staff.name),
                )
        self.say(self.confirmation(ticket, "accept", {}), self.next_steps(ticket))

    def request_plan(self, ticket: Ticket, text: str) -> None:
        if not self.still(ticket, ticket.status in (Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD)):
            return
        match = MONEY.search(text)
        cost = float(next(g for g in match.groups() if g)) if match else 0.0
        self.ask_approval(ticket, "plan", text=text, cost=cost)
        self.say(
            self.t("{number}: your change of plan went to the supervisor. I'll tell you the answer.").format(
                number=ticket.number
            )
        )

    def ask_approval(self, ticket: Ticket, kind: str, **details: Any) -> None:
        apply(
            ticket,
            Action.REQUEST_APPROVAL,
            self.actor,
            self.now,
            request=kind,
            by=self.staff.name,
            by_id=self.staff.id,
            **details,
        )
        self.uow.tickets.save(ticket)
        choices: Callable[[Translator], list[Choice]] = lambda t: [  # noqa: E731
            Choice(f"s:approve:{ticket.number}", t("👍 Approve")),
            Choice(f"s:reject:{ticket.number}", t("👎 Reject")),
        ]
        for supervisor in supervisors(self.team.estate):
            self.team.push(supervisor, ticket, lambda t: self.approval_text(ticket, t), choices)

    def approval_text(self, ticket: Ticket, t: Translator) -> str:
        pending = ticket.pending_approval or {}
        if pending.get("request") == "cost":
            head = t("💰 {number}: {name} asks to approve a cost of {cost} (over {limit}).").format(
                number=ticket.number,
                name=pending.get("by", ""),
                cost=money(float(pending.get("cost", 0))),
                limit=money(self.team.policy.cost_approval_threshold),
            )
            body = t("Work done: {note}").format(note=pending.get("note", ""))
        else:
            head = t("📝 {number}: {name} asks to change the plan.").format(
                number=ticket.number, name=pending.get("by", "")
            )
            body = str(pending.get("text", ""))
        return "\n".join((head, body, self.team.summary(ticket, t, personal=False)))

    def finish(self, ticket: Ticket, note: str, materials: list[Material], photo: Attachment | None) -> None:
        t = self.t
        if not self.still(ticket, Action.RESOLVE in allowed_actions(ticket)):
            return
        cost = round(sum(m.cost for m in materials), 2)
        if photo is not None:
            ticket.attachments = (*ticket.attachments, Attachment("photo", photo.ref, "after"))
        if cost > self.team.policy.cost_approval_threshold:
            self.ask_approval(ticket, "cost", note=note, materials=materials, cost=cost)
            self.say(
                t(
                    "{number}: the cost {cost} needs a supervisor's approval; it will be marked done when approved."
                ).format(number=ticket.number, cost=money(cost))
            )
            return
        self.resolve(ticket, self.actor, note, materials, cost)
        self.say(t("{number} is done. The resident is asked to confirm the repair.").format(number=ticket.number))

    def resolve(self, ticket: Ticket, actor: Actor, note: str, materials: list[Material], cost: float) -> None:
        event = apply(ticket, Action.RESOLVE, actor, self.now, note=note, materials=materials, cost=cost)
        self.uow.tickets.save(ticket)
        self.team.announce(ticket, event)

    def decide(self, ticket: Ticket, approve: bool) -> None:
        t = self.t
        if not self.allowed("approve", ticket):
            return
        pending = ticket.pending_approval
        if pending is None or ticket.status not in (Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD):
            self.say(t("{number} has nothing waiting for approval.").format(number=ticket.number))
            return
        apply(ticket, Action.APPROVE if approve else Action.REJECT, self.actor, self.now, request=pending["request"])
        self.uow.tickets.save(ticket)
        requester = self.team.staff_by_id(pending.get("by_id"))
        if approve and pending["request"] == "cost":
            materials = [Material(**m) for m in pending.get("materials", [])]
            technician = Actor("staff", pending.get("by", ""), pending.get("by_id"))
            self.resolve(ticket, technician, pending.get("note", ""), materials, float(pending.get("cost", 0)))
        if requester is not None:

            def told(t: Translator) -> str:
                said = (
                    t("{number}: {name} approved your request.")
                    if approve
                    else t("{number}: {name} rejected your request; please talk to them.")
                )
                return said.format(number=ticket.number, name=self.staff.name)

            self.team.push(requester, ticket, told, lambda t: self.next_steps(ticket, t))
        self.say((t("{number}: approved.") if approve else t("{number}: rejected.")).format(number=ticket.number))

    def send_reply(self, ticket: Ticket, resolve: bool, text: str) -> None:
        t = self.t
        if not self.allowed("reply", ticket):
            return
        if not text:
            self.say(t("Tap “Reply” on the feedback again and write your reply."))
            return
        if not self.still(ticket, ticket.is_open and ticket.status is not Status.RESOLVED):
            return
        action = Action.RESOLVE if resolve and Action.RESOLVE in allowed_actions(ticket) else Action.REPLY
        event = apply(ticket, action, self.actor, self.now, reply=text)
        self.uow.tickets.save(ticket)
        self.team.announce(ticket, event)
        if action is Action.RESOLVE:
            self.say(
                t("Sent. {number} is answered; the resident is asked whether it settles the matter.").format(
                    number=ticket.number
                )
            )
        else:
            self.say(t("Sent to the resident. {number} stays open.").format(number=ticket.number))

    # --- the dispatch desk ------------------------------------------------------------------------------------

    def assign(self, reference: str, who: str, must_be_assigned: bool) -> None:
        t = self.t
        ticket = self.ticket(reference)
        if ticket is None:
            return
        chosen = find_staff(self.team.estate.staff, who)
        if chosen is None:
            names = ", ".join(s.name for s in self.team.estate.staff if s.active and "technician" in s.roles)
            self.say(t("I don't know “{who}”. Technicians: {names}").format(who=who, names=names))
            return
        if not self.still(ticket, ticket.status in OPEN_STATUSES - {Status.RESOLVED}):
            return
        if must_be_assigned and ticket.status is Status.NEW:
            self.say(t("{number} has nobody yet; use /assign.").format(number=ticket.number))
            return
        if ticket.assignee_id == chosen.id:
            self.say(t("{number} is already with {name}.").format(number=ticket.number, name=chosen.name))
            return
        before = self.team.staff_by_id(ticket.assignee_id)
        action = Action.ASSIGN if ticket.status is Status.NEW else Action.REASSIGN
        apply(
            ticket,
            action,
            self.actor,
            self.now,
            assignee=chosen.name,
            assignee_id=chosen.id,
            reason=f"by {self.staff.name}",
        )
        self.uow.tickets.save(ticket)
        if ticket.kind is TicketKind.FEEDBACK and "technician" not in chosen.roles:
            self.team.push_feedback(ticket, chosen)
        else:
            self.team.push_assignment(ticket, chosen)
        if before is not None:
            self.team.push(
                before,
                ticket,
                lambda t: t("{number} was reassigned to {name}.").format(number=ticket.number, name=chosen.name),
            )
        self.say(
            t("{number} is assigned to {name}; they have been asked to accept.").format(
                number=ticket.number, name=chosen.name
            )
        )

    def queue(self) -> None:
        t = self.t
        tickets = self.uow.tickets.list(TicketQuery(estate_code=self.team.estate.code, open_only=True))
        now = self.now

        def overdue(ticket: Ticket) -> bool:
            if ticket.status is Status.RESOLVED:
                return False
            late_answer = ticket.status is Status.NEW and ticket.response_due is not None and ticket.response_due < now
            return late_answer or (
                ticket.resolve_due is not None and ticket.resolve_due < now and ticket.status is not Status.ON_HOLD
            )

        sections = [
            (t("Unassigned"), [x for x in tickets if x.status is Status.NEW]),
            (t("Overdue"), [x for x in tickets if overdue(x)]),
            (t("On hold"), [x for x in tickets if x.status is Status.ON_HOLD]),
            (t("Waiting for approval"), [x for x in tickets if x.pending_approval is not None]),
        ]
        lines = [t("📋 Queue")]
        shown: list[Ticket] = []
        for title, found in sections:
            lines.append(f"\n{title} ({len(found)})")
            for ticket in found[:10]:
                lines.append("• " + self.line(ticket))
                if ticket not in shown:
                    shown.append(ticket)
        self.say("\n".join(lines), [Choice(f"s:view:{x.number}", x.number) for x in shown[:10]])

    def line(self, ticket: Ticket) -> str:
        t = self.t
        who = f" · {ticket.assignee_name}" if ticket.assignee_name else ""
        return (
            f"{ticket.number} · {t(CATEGORY_LABELS.get(ticket.category, 'other'))} · "
            f"{ticket.location.label() or '-'} · {t(STATUS_WORDS[ticket.status])}{who}"
        )

    def my_jobs(self, greet: bool = False) -> None:
        t = self.t
        if self.staff.id is None:
            return
        mine = self.uow.tickets.list(
            TicketQuery(estate_code=self.team.estate.code, assignee_id=self.staff.id, open_only=True)
        )
        mine = [x for x in mine if x.status is not Status.RESOLVED]
        head = t("Hello {name}!").format(name=first_name(self.staff.name)) + " " if greet else ""
        if not mine:
            self.say(head + t("You have no open jobs. /help shows what I can do."))
            return
        lines = [head + t("Your open jobs:")] + ["• " + self.line(x) for x in mine]
        self.say("\n".join(lines), [Choice(f"s:view:{x.number}", x.number) for x in mine[:10]])

    def view(self, reference: str) -> None:
        t = self.t
        ticket = self.ticket(reference)
        if ticket is None or not self.allowed("view", ticket):
            return
        lines = [
            self.team.summary(ticket, t, personal=True),
            t("Status: {status}").format(status=t(STATUS_WORDS[ticket.status])),
        ]
        if ticket.assignee_name:
            lines.append(t("Assigned to: {name}").format(name=ticket.assignee_name))
        if ticket.resolve_due and ticket.is_open:
            lines.append(t("Due: {when}").format(when=self.team.local(ticket.resolve_due)))
        if ticket.rework_count:
            lines.append(t("Reworks: {count}").format(count=ticket.rework_count))
        lines.append(t("History:"))
        lines += [f"  {self.team.local(e.at)} {e.actor.name}: {e.action}" for e in ticket.history[-8:]]
        choices: list[Choice] = []
        if ticket.pending_approval is not None and is_supervisor(self.staff):
            lines.append(self.approval_text(ticket, t).split("\n")[0])
            choices = [
                Choice(f"s:approve:{ticket.number}", t("👍 Approve")),
                Choice(f"s:reject:{ticket.number}", t("👎 Reject")),
            ]
        elif ticket.kind is TicketKind.FEEDBACK and refusal(self.staff, "reply", ticket) is None and ticket.is_open:
            choices = [Choice(f"s:reply:{ticket.number}", t("✍️ Reply"))]
        elif ticket.assignee_id == self.staff.id or is_supervisor(self.staff):
            choices = self.next_steps(ticket) if ticket.kind is TicketKind.REPAIR else []
        self.say("\n".join(lines), choices)


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


def _words(label: str) -> str:
    """A button's label without its emoji: what a person types for it ("done" for "✅ Done")."""
    return _fold(re.sub(r"^\W+", "", label))


def _parse_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
