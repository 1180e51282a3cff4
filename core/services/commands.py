"""Carrying out what a turn of the conversation asked for: each command to its service, the ticket locked."""

from __future__ import annotations

from core.conversation import commands as c
from core.conversation.context import Speaker
from core.domain.errors import NotFound
from core.domain.model import Actor, Source, Ticket
from core.domain.people import Address, PersonRef
from core.i18n import N_
from core.services import chats, dispatching, jobs, residents
from core.services.tickets import find_ticket, open_ticket, taken_at_the_desk
from core.services.work import Work


def execute(work: Work, speaker: Speaker, command: c.Command) -> None:
    """One command, and what it caused is told (core.notices)."""
    if isinstance(command, c.SetLanguage):
        work.uow.people.set_locale(who(speaker), command.locale, work.now)
        work.locale = command.locale
        return
    if isinstance(command, c.SubmitTicket):
        submit(work, speaker, command)
    else:
        ticket = _locked(work, command.number)
        if ticket is not None:
            _on_ticket(work, speaker, command, ticket)
    work.tell()


def who(speaker: Speaker) -> PersonRef | Address:
    """Whose settings: a person of the directory, else the stranger's address."""
    if speaker.staff is not None:
        return speaker.staff.ref
    return speaker.resident.ref if speaker.resident is not None else speaker.address


def submit(work: Work, speaker: Speaker, command: c.SubmitTicket) -> Ticket:
    draft, actor = command.draft, Actor("resident", speaker.name, speaker.resident_id)
    if speaker.staff is not None:  # /new: staff write it down for a resident
        draft = taken_at_the_desk(work.estate, draft, Source.FRONT_DESK, taken_by=speaker.staff.name,
                                  caller=draft.reporter_contact)  # fmt: skip
        actor = Actor("staff", speaker.staff.name, speaker.staff.id)
    return open_ticket(work, draft, actor, command.outcome, command.pointer)


def _locked(work: Work, number: str) -> Ticket | None:
    try:
        return find_ticket(work.uow, number, for_update=True)
    except NotFound:
        work.say(N_("There is no ticket {number}."), number=number)
        return None


def _on_ticket(work: Work, speaker: Speaker, command: c.Command, ticket: Ticket) -> None:
    staff = speaker.staff
    if isinstance(command, c.Withdraw):
        residents.withdraw(work, speaker, ticket)
    elif isinstance(command, c.Chase):
        residents.chase(work, speaker, ticket)
    elif isinstance(command, c.Join):
        origin = Address(speaker.address.channel, command.origin_chat) if command.origin_chat else None
        residents.join(work, speaker, ticket, origin, command.origin_message)
    elif isinstance(command, c.ConfirmFix):
        residents.verdict(work, speaker, ticket, fixed=True)
    elif isinstance(command, c.RejectFix):
        residents.verdict(work, speaker, ticket, fixed=False, reason=command.reason)
    elif isinstance(command, c.Rate):
        residents.rate(work, speaker, ticket, command.rating, command.comment)
    elif isinstance(command, c.AddDetail):
        residents.add_detail(work, speaker, ticket, command.text, command.attachments)
    elif isinstance(command, c.EndChat):
        chats.end(work, speaker, ticket)
    elif isinstance(command, c.AnswerQuote):
        residents.answer_quote(work, speaker, ticket, command.agree, command.quote)
    elif staff is None:
        raise ValueError(f"{type(command).__name__} is for staff")
    elif isinstance(command, c.TakeStep):
        jobs.take_step(work, staff, ticket, command.verb, command.argument)
    elif isinstance(command, c.Decline):
        dispatching.decline(work, staff, ticket, command.reason)
    elif isinstance(command, c.ChangePlan):
        jobs.change_plan(work, staff, ticket, command.text)
    elif isinstance(command, c.Finish):
        jobs.finish(work, staff, ticket, command.note, command.materials, command.photo)
    elif isinstance(command, c.Grab):
        dispatching.grab(work, staff, ticket)
    elif isinstance(command, c.Decide):
        jobs.decide(work, staff, ticket, command.approve)
    elif isinstance(command, c.SendReply):
        jobs.send_reply(work, staff, ticket, command.text, command.resolve)
    elif isinstance(command, c.Assign):
        chosen = work.estate.staff_member(command.staff_id)
        if chosen is not None:
            dispatching.assign(work, staff, ticket, chosen, command.reassign)
    elif isinstance(command, c.ConfirmRegistration):
        residents.confirm_registration(work, staff, ticket, command.resident_id)
    elif isinstance(command, c.Reveal):
        jobs.reveal(work, staff, ticket)
    elif isinstance(command, c.AskQuote):
        jobs.quote(work, staff, ticket, command.amount, command.text)
    elif isinstance(command, c.TakeChat):
        chats.take(work, staff, ticket)
    elif isinstance(command, c.ChatMessage):
        chats.say(work, staff, ticket, command.text)
