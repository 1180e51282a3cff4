"""Who may do what to a ticket: one table, checked before anything changes."""

from __future__ import annotations

from core.directory import Staff
from core.i18n import N_
from core.model import Ticket

SUPERVISING = frozenset({"supervisor", "manager"})
DESK = frozenset({"supervisor", "manager", "customer_service"})

# Steps on a job: its assignee takes them, and a supervisor may take them on the assignee's behalf.
JOB_STEPS = frozenset({"accept", "decline", "way", "arrive", "start", "hold", "resume", "plan", "done"})
# Work of the dispatch desk: customer service and supervisors.
DESK_VERBS = frozenset({"assign", "reassign", "queue", "new", "view"})
VERBS = (*sorted(JOB_STEPS), "grab", "approve", "reject", "reply", *sorted(DESK_VERBS))


def refusal(staff: Staff, verb: str, ticket: Ticket | None = None) -> str | None:
    """None when the staff member may; otherwise what to tell them (a text to translate)."""
    roles = set(staff.roles)
    if verb in JOB_STEPS:
        assert ticket is not None
        if (ticket.assignee_id is not None and ticket.assignee_id == staff.id) or roles & SUPERVISING:
            return None
        return N_("Only the technician it is assigned to, or a supervisor, can do that.")
    if verb == "grab":
        assert ticket is not None
        if "technician" in roles and ticket.category in staff.trades:
            return None
        return N_("Only a technician of that trade can take this job.")
    if verb in ("approve", "reject"):
        return None if roles & SUPERVISING else N_("Only a supervisor can approve or reject.")
    if verb == "reply":
        assert ticket is not None
        if roles & DESK or (ticket.department and ticket.department in staff.departments):
            return None
        return N_("Only the department handling this feedback can reply to it.")
    if verb == "view":
        assert ticket is not None
        if roles & DESK or ticket.assignee_id == staff.id or ticket.department in staff.departments:
            return None
        return N_("You can only see tickets assigned to you.")
    if verb in DESK_VERBS:
        return None if roles & DESK else N_("Only supervisors and customer service can do that.")
    raise ValueError(f"unknown verb {verb!r}")
