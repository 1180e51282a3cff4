"""What a turn of the conversation asks the services to do: each is carried out, under lock, after the step."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.domain.model import Attachment, Material
from core.domain.tickets import TicketDraft


@dataclass(frozen=True)
class SubmitTicket:
    draft: TicketDraft
    outcome: str = "open"  # open | self_resolved | out_of_scope
    pointer: str = ""  # out_of_scope: where the matter belongs instead


@dataclass(frozen=True)
class Withdraw:
    number: str


@dataclass(frozen=True)
class Chase:
    number: str


@dataclass(frozen=True)
class Join:
    number: str
    origin_chat: str = ""  # the group it was joined from, whose message gets the progress replies
    origin_message: str = ""


@dataclass(frozen=True)
class ConfirmFix:
    number: str


@dataclass(frozen=True)
class RejectFix:
    number: str
    reason: str


@dataclass(frozen=True)
class AddDetail:
    """A detail or photos a resident adds to a report already made: kept, and the assignee told."""

    number: str
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class AskQuote:
    """A technician's quote for work the property fee does not cover: put to the resident before the work."""

    number: str
    amount: Decimal
    text: str


@dataclass(frozen=True)
class AnswerQuote:
    number: str
    agree: bool
    quote: int = 0  # which quote of the ticket (1, 2, ...) the answer is for; 0: the one waiting


@dataclass(frozen=True)
class TakeChat:
    """Customer service answers a resident who asked for a person."""

    number: str


@dataclass(frozen=True)
class ChatMessage:
    """What customer service writes in a conversation they answer: sent to the resident."""

    number: str
    text: str


@dataclass(frozen=True)
class EndChat:
    """The conversation is over: customer service hands the resident back to the assistant, or the resident goes."""

    number: str


@dataclass(frozen=True)
class Rate:
    number: str
    rating: int
    comment: str = ""


@dataclass(frozen=True)
class SetLanguage:
    locale: str


@dataclass(frozen=True)
class TakeStep:
    """accept, way (argument: minutes), arrive, start, hold (argument: parts | access), resume."""

    number: str
    verb: str
    argument: str = ""


@dataclass(frozen=True)
class Decline:
    number: str
    reason: str


@dataclass(frozen=True)
class ChangePlan:
    number: str
    text: str


@dataclass(frozen=True)
class Finish:
    number: str
    note: str
    materials: tuple[Material, ...] = ()
    photo: Attachment | None = None


@dataclass(frozen=True)
class Grab:
    number: str


@dataclass(frozen=True)
class Decide:
    number: str
    approve: bool


@dataclass(frozen=True)
class SendReply:
    number: str
    text: str
    resolve: bool


@dataclass(frozen=True)
class Assign:
    number: str
    staff_id: int
    reassign: bool


@dataclass(frozen=True)
class ConfirmRegistration:
    number: str
    resident_id: int | None  # the resident of the room they are; None: a new resident of that room


@dataclass(frozen=True)
class Reveal:
    """A manager asks who gave an anonymous feedback: answered, and recorded in the ticket's history."""

    number: str


Command = (
    SubmitTicket | Withdraw | Chase | Join | ConfirmFix | RejectFix | Rate | SetLanguage | TakeStep | Decline
    | ChangePlan | Finish | Grab | Decide | SendReply | Assign | ConfirmRegistration | Reveal | AddDetail | TakeChat
    | ChatMessage | EndChat | AskQuote | AnswerQuote
)  # fmt: skip
