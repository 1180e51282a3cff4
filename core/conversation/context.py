"""What a step of the conversation may read besides its state and the message: plain data and a read-only view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from typing import Protocol

from core.conversation.messages import Capabilities, ChatKind
from core.domain.deadlines import SlaPolicy
from core.domain.directory import Estate, Resident, Staff
from core.domain.dispatch import DispatchPolicy
from core.domain.model import Ticket
from core.domain.people import Address
from core.domain.triage import TriageRules
from core.i18n import TranslatorFactory


@dataclass(frozen=True)
class DeskSettings:
    """How the desk behaves, from the config: what every turn, service and notice reads."""

    estate_code: str
    rules: TriageRules
    sla: SlaPolicy
    translators: TranslatorFactory
    default_locale: str
    zone: tzinfo
    dispatch: DispatchPolicy = field(default_factory=DispatchPolicy)
    # The channels this deployment serves, as their adapters declare them: where a push can go.
    channels: Mapping[str, Capabilities] = field(default_factory=dict)
    idle_limit: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class Speaker:
    """Who is talking: a resident or staff member of the directory, or a stranger known only by their address."""

    address: Address
    name: str
    resident: Resident | None = None
    staff: Staff | None = None

    @property
    def known(self) -> bool:
        return self.resident is not None

    @property
    def resident_id(self) -> int | None:
        return self.resident.id if self.resident is not None else None

    @property
    def rooms(self) -> tuple[str, ...]:
        return self.resident.rooms if self.resident is not None else ()

    @property
    def phone(self) -> str:
        return self.resident.phone if self.resident is not None else ""


@dataclass(frozen=True)
class OpenReport:
    """An open ticket about a shared place, which a new report of the same fault can join."""

    number: str
    common_area: str
    category: str
    reporters: int


class Lookup(Protocol):
    """Tickets as they are now, read without locking them: what a step shows and checks before it asks for a
    change. The services check again, under lock, when they make it."""

    def ticket(self, number: str) -> Ticket | None: ...

    def reported_by(self, speaker: Speaker) -> list[Ticket]:
        """Their open tickets, and those they joined, oldest first."""

    def joined(self, ticket: Ticket, speaker: Speaker) -> bool:
        """Whether they joined this ticket instead of reporting the same fault again."""

    def latest_number(self, speaker: Speaker) -> str | None:
        """Their most recent ticket, open or not."""

    def jobs(self, staff: Staff) -> list[Ticket]:
        """Open tickets assigned to them, oldest first."""

    def queue(self) -> list[Ticket]:
        """The estate's open tickets, oldest first."""

    def open_reports(self) -> list[OpenReport]: ...


@dataclass(frozen=True)
class Context:
    """Everything step() may read besides the state and the message."""

    estate: Estate
    speaker: Speaker
    settings: DeskSettings
    locale: str
    look: Lookup
    chat_kind: ChatKind = ChatKind.PRIVATE
    capabilities: Capabilities = field(default_factory=Capabilities)

    @property
    def in_group(self) -> bool:
        return self.chat_kind is ChatKind.GROUP

    @property
    def rules(self) -> TriageRules:
        return self.settings.rules
