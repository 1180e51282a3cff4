"""Who may do what: one table of roles and what each grants, read by permissions, dispatch and the desk alike."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol, TypeVar

from core.domain.model import Ticket
from core.i18n import N_


class Grant(enum.StrEnum):
    WORK_JOBS = "work_jobs"  # dispatched jobs of their trades; claims from the grab pool
    STEP_FOR_OTHERS = "step_for_others"  # a job's steps on the assignee's behalf
    APPROVE = "approve"  # a change of plan or a cost above the threshold
    DISPATCH = "dispatch"  # /queue, /assign, /reassign, /new
    REGISTER = "register"  # confirm that a stranger lives where they say
    SEE_ALL = "see_all"  # any ticket, not only their own jobs
    ANSWER_FEEDBACK = "answer_feedback"  # reply to any feedback, not only their department's
    HEAR_ESCALATIONS = "hear_escalations"  # jobs nobody can take, repeated chases, repeated reworks
    REVEAL = "reveal"  # the name of a resident who gave feedback anonymously, recorded in the ticket's history


G = Grant
SUPERVISING = frozenset({G.STEP_FOR_OTHERS, G.APPROVE, G.DISPATCH, G.REGISTER, G.SEE_ALL, G.ANSWER_FEEDBACK,
                         G.HEAR_ESCALATIONS})  # fmt: skip
ROLES: dict[str, frozenset[Grant]] = {
    "technician": frozenset({G.WORK_JOBS}),
    "supervisor": SUPERVISING,
    "manager": SUPERVISING | {G.REVEAL},
    "customer_service": frozenset({G.DISPATCH, G.REGISTER, G.SEE_ALL, G.ANSWER_FEEDBACK}),
}


class Holder(Protocol):
    """Anyone with roles: a staff member of the directory."""

    @property
    def id(self) -> int | None: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def trades(self) -> tuple[str, ...]: ...
    @property
    def departments(self) -> tuple[str, ...]: ...


H = TypeVar("H", bound=Holder)


def grants(staff: Holder) -> frozenset[Grant]:
    return frozenset(grant for role in staff.roles for grant in ROLES.get(role, ()))


def may(staff: Holder, grant: Grant) -> bool:
    return grant in grants(staff)


def holders(people: Iterable[H], grant: Grant) -> tuple[H, ...]:
    return tuple(person for person in people if may(person, grant))


# Steps on a job: its assignee takes them, and someone who may step for others on the assignee's behalf.
JOB_STEPS = frozenset({"accept", "decline", "way", "arrive", "start", "hold", "resume", "plan", "done", "quote"})
# What each other verb needs, and what someone without it is told.
NEEDS: dict[str, tuple[Grant, str]] = {
    "approve": (G.APPROVE, N_("Only a supervisor can approve or reject.")),
    "reject": (G.APPROVE, N_("Only a supervisor can approve or reject.")),
    "assign": (G.DISPATCH, N_("Only supervisors and customer service can do that.")),
    "reassign": (G.DISPATCH, N_("Only supervisors and customer service can do that.")),
    "queue": (G.DISPATCH, N_("Only supervisors and customer service can do that.")),
    "new": (G.DISPATCH, N_("Only supervisors and customer service can do that.")),
    "register": (G.REGISTER, N_("Only customer service or a supervisor can confirm a registration.")),
    "reveal": (G.REVEAL, N_("Only a manager can see who gave anonymous feedback.")),
}
VERBS = (*sorted(JOB_STEPS), "grab", "reply", "view", *sorted(NEEDS))


def refusal(staff: Holder, verb: str, ticket: Ticket | None = None) -> str | None:
    """None when the staff member may; otherwise what to tell them (a text to translate)."""
    granted = grants(staff)
    if verb in JOB_STEPS:
        assert ticket is not None
        if (ticket.assignee_id is not None and ticket.assignee_id == staff.id) or G.STEP_FOR_OTHERS in granted:
            return None
        return N_("Only the technician it is assigned to, or a supervisor, can do that.")
    if verb == "grab":
        assert ticket is not None
        if G.WORK_JOBS in granted and ticket.category in staff.trades:
            return None
        return N_("Only a technician of that trade can take this job.")
    if verb == "reply":
        assert ticket is not None
        if G.ANSWER_FEEDBACK in granted or (ticket.department and ticket.department in staff.departments):
            return None
        return N_("Only the department handling this feedback can reply to it.")
    if verb == "view":
        assert ticket is not None
        mine = ticket.assignee_id == staff.id or (ticket.department and ticket.department in staff.departments)
        if G.SEE_ALL in granted or mine:
            return None
        return N_("You can only see tickets assigned to you.")
    if verb in NEEDS:
        grant, refused = NEEDS[verb]
        return None if grant in granted else refused
    raise ValueError(f"unknown verb {verb!r}")
