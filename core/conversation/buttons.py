"""What a choice carries, as one codec: built and read here only, versioned so that old buttons get a clear answer.

A choice is either an answer to the question on screen (`Pick`), or a step on a ticket that means the same
whenever it is pressed (`OnTicket`). A channel with buttons puts the encoded form in the button (kept short:
some allow 64 bytes); the others keep it with the numbered list they showed, so that a typed number or word
picks it.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "1"
_PICK, _TICKET = "p", "t"


@dataclass(frozen=True)
class Pick:
    """An answer to the question on screen: Pick("urgency", "urgent"), Pick("menu", "repair"), Pick("yes")."""

    what: str
    value: str = ""


@dataclass(frozen=True)
class OnTicket:
    """A step on one ticket: OnTicket("accept", "SG-20261127-0001"), OnTicket("rate", number, "5")."""

    verb: str
    number: str
    argument: str = ""


@dataclass(frozen=True)
class Outdated:
    """A button written by an older baoxiu, or not by baoxiu at all: it is answered, never acted on."""

    raw: str


Button = Pick | OnTicket


def encode(button: Button) -> str:
    if isinstance(button, Pick):
        return ":".join((VERSION + _PICK, button.what, button.value))
    return ":".join((VERSION + _TICKET, button.verb, button.number, button.argument))


def decode(raw: str) -> Button | Outdated:
    head, _, rest = raw.partition(":")
    if head == VERSION + _PICK:
        what, _, value = rest.partition(":")
        if what:
            return Pick(what, value)
    elif head == VERSION + _TICKET:
        verb, _, rest = rest.partition(":")
        number, _, argument = rest.partition(":")
        if verb and number:
            return OnTicket(verb, number, argument)
    return Outdated(raw)
