"""A conversation's state, as stored per chat and person: plain JSON, so that any process can take the next message."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.conversation.messages import Choice
from core.domain.model import Location


@dataclass
class Draft:
    """A report being written: what the resident (or staff on their behalf) has said so far."""

    room: str | None = None
    area: str | None = None
    place_text: str | None = None
    description: str = ""
    category: str | None = None
    urgency: str | None = None
    safety_word: str | None = None
    attachments: list[dict[str, str]] = field(default_factory=list)
    anonymous: bool | None = None
    place_asked: bool = False
    self_checked: bool = False
    join_asked: bool = False
    unknown_place: str = ""  # the place last typed that the directory does not know, offered "as written"
    lowered_safety_word: str = ""  # a safety word whose emergency the resident lowered after the risk was named
    caller: str = ""  # /new for a place nobody lives: who reported it and how to reach them
    caller_asked: bool = False
    origin_chat: str = ""  # the group message a report started from, for progress replies there
    origin_message: str = ""

    @property
    def has_location(self) -> bool:
        return bool(self.room or self.area or self.place_text)

    def location(self) -> Location:
        return Location(room=self.room, common_area=self.area, text=self.place_text)


@dataclass
class Job:
    """What a staff member has answered so far about a step that takes several messages (done: note, materials)."""

    note: str = ""
    materials: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""


def _known(kind: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The fields this baoxiu knows: a draft half-written before an upgrade keeps what it can."""
    names = {f.name for f in fields(kind)}
    return {key: value for key, value in data.items() if key in names}


@dataclass
class State:
    flow: str = ""  # "" when nothing is asked; else a flow of the conversation's table
    step: str = ""  # the row of that flow whose question is open
    draft: Draft = field(default_factory=Draft)
    job: Job = field(default_factory=Job)
    ticket: str = ""  # the ticket a flow is about (a rework, a rating, a job's step)
    rating: int = 0
    returning: bool = False  # answering a "change" from the repeat-back: back there after
    candidates: list[str] = field(default_factory=list)  # rooms a place could be, when the unit was missing
    on_behalf: bool = False  # staff writing down a resident's report (/new)
    assignee: int = 0  # the staff member an /assign waits to be confirmed for
    # A report set aside to answer something else first (a push's question): taken up again when that is done.
    paused: dict[str, Any] = field(default_factory=dict)
    # The last list this chat was shown (by the conversation or by a push): what a typed number or word picks.
    shown: list[Choice] = field(default_factory=list)
    updated_at: str = ""

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> State:
        if not data:
            return cls()
        try:
            return cls(
                flow=str(data.get("flow", "")),
                step=str(data.get("step", "")),
                draft=Draft(**_known(Draft, data.get("draft", {}))),
                job=Job(**_known(Job, data.get("job", {}))),
                ticket=str(data.get("ticket", "")),
                rating=int(data.get("rating", 0)),
                returning=bool(data.get("returning", False)),
                candidates=[str(c) for c in data.get("candidates", [])],
                on_behalf=bool(data.get("on_behalf", False)),
                assignee=int(data.get("assignee", 0)),
                paused=dict(data.get("paused", {})),
                shown=[Choice.load(c) for c in data.get("shown", [])],
                updated_at=str(data.get("updated_at", "")),
            )
        except (TypeError, ValueError, AttributeError):
            return cls()  # state written by an older baoxiu: start afresh rather than fail

    def dump(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "step": self.step,
            "draft": asdict(self.draft),
            "job": asdict(self.job),
            "ticket": self.ticket,
            "rating": self.rating,
            "returning": self.returning,
            "candidates": self.candidates,
            "on_behalf": self.on_behalf,
            "assignee": self.assignee,
            "paused": self.paused,
            "shown": [c.dump() for c in self.shown],
            "updated_at": self.updated_at,
        }

    def leave(self) -> None:
        """The flow is over: nothing is asked any more (what the chat was shown stays, and a report set aside
        waits to be taken up again)."""
        fresh = State(shown=self.shown, paused=self.paused)
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(fresh, name))

    def drop(self) -> None:
        """Leave the flow and forget a report set aside too: the person said to drop it, or it is long stale."""
        self.leave()
        self.paused = {}
