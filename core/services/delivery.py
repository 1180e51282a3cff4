"""When a channel refuses a push for good: the person's next address, and when none is left, a line in the history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from core.domain.lifecycle import Action, apply
from core.domain.model import SYSTEM
from core.domain.people import PersonRef
from core.ports import OutboxMessage, UnitOfWork


def undeliverable(
    uow: UnitOfWork, message: OutboxMessage, now: datetime, served: Collection[str]
) -> OutboxMessage | None:
    """Inside the transaction that marks the message dead: queue it to the next address the person has (returned),
    or note on its ticket that nobody could reach them. The addresses known when the push was queued come first;
    then any on the served channels linked to the person since (an address opened a moment before, say)."""
    tried = [*message.payload.get("tried", []), [message.channel, message.recipient]]
    fallback = [list(a) for a in message.payload.get("fallback", [])]
    if "who" in message.payload:
        kind, person_id = message.payload["who"]
        known = {(str(c), str(a)) for c, a in (*tried, *fallback)}
        for address in uow.directory.addresses(PersonRef(str(kind), int(person_id))):
            if address.channel in served and (address.channel, address.id) not in known:
                fallback.append([address.channel, address.id])
    if fallback:
        (channel, recipient), rest = fallback[0], fallback[1:]
        payload = {**message.payload, "fallback": rest, "tried": tried}
        rerouted = OutboxMessage(f"{message.key}>{channel}", str(channel), str(recipient), payload)
        return next(iter(uow.outbox.add_all([rerouted], now)), None)
    number, person = message.payload.get("ticket"), message.payload.get("person")
    if number and person:
        ticket = uow.tickets.get_by_number(str(number), for_update=True)
        if ticket is not None:
            apply(ticket, Action.NOTE, SYSTEM, now, unreachable=[str(person)])
            uow.tickets.save(ticket)
    return None
