"""Who goes, as a table of cases; and who may do what, as a table of roles and actions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.bootstrap import read_estate as parse_directory
from core.domain.directory import Estate, Staff
from core.domain.dispatch import Workload, decide
from core.domain.lifecycle import Action, apply
from core.domain.model import Actor, Location, Source, Ticket, TicketKind, Urgency
from core.domain.roles import VERBS, refusal
from core.domain.tickets import TicketDraft, open_ticket
from tests.conftest import NOW

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAP = 3


def estate() -> Estate:
    return parse_directory({
        "estate": {"name": "Test Garden", "code": "TG"},
        "departments": [{"name": "Cleaning", "handles": ["hygiene"]}],
        "staff": [
            {"name": "Ann Day", "roles": ["technician"], "trades": ["plumbing"], "shifts": ["mon-fri 08:00-18:00"]},
            {"name": "Bo Day", "roles": ["technician"], "trades": ["plumbing", "civil"], "shifts": ["mon-fri 08:00-18:00"]},
            {"name": "Cy Night", "roles": ["technician"], "trades": ["plumbing"], "shifts": ["mon-sun 20:00-08:00"]},
            {"name": "Di Lift", "roles": ["technician"], "trades": ["lift"], "shifts": ["sat,sun 09:00-17:00"]},
            {"name": "Ed Sup", "roles": ["supervisor"], "shifts": ["mon-fri 08:00-18:00"]},
            {"name": "Fay Clean", "roles": ["customer_service"], "departments": ["Cleaning"]},
            {"name": "Gus Gone", "roles": ["technician"], "trades": ["plumbing"], "shifts": ["daily 00:00-24:00"]},
        ],
        "staff_groups": [{"name": "Duty group", "trades": ["plumbing", "civil"], "telegram_chat_id": -100}],
    })  # fmt: skip


def with_ids(found: Estate) -> Estate:
    """As loaded: ids from the database, and Gus left out of the file since (deactivated, never deleted)."""
    staff = (replace(s, id=i, active=s.name != "Gus Gone") for i, s in enumerate(found.staff, start=1))
    return replace(found, staff=tuple(staff))


ESTATE = with_ids(estate())
ID = {s.name: s.id for s in ESTATE.staff}


def ticket(
    category: str = "plumbing", urgency: Urgency = Urgency.NORMAL, kind: TicketKind = TicketKind.REPAIR
) -> Ticket:
    draft = TicketDraft(kind=kind, source=Source.RESIDENT_CHAT, location=Location(room="1-1-101"), category=category,
                        description="leak", urgency=urgency, reporter="R", department="Cleaning")  # fmt: skip
    return open_ticket(draft, "TG", "TG-1", Actor("resident", "R"), NOW)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """27 November 2026 is a Friday."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


AN_HOUR_AGO = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
YESTERDAY = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)

CASES = [
    # (what, ticket, local time, workloads, kind, who, reason)
    ("the least busy on shift goes", ticket(), local(27, 10), {ID["Ann Day"]: Workload(2)},
     "assign", ["Bo Day"], "chosen: on shift, plumbing, no open tickets"),
    ("equal load: the one longest without a job", ticket(), local(27, 10),
     {ID["Ann Day"]: Workload(1, AN_HOUR_AGO), ID["Bo Day"]: Workload(1, YESTERDAY)},
     "assign", ["Bo Day"], "chosen: on shift, plumbing, 1 open ticket"),
    ("never given a job goes before anyone", ticket(), local(27, 10), {ID["Ann Day"]: Workload(0, AN_HOUR_AGO)},
     "assign", ["Bo Day"], "chosen: on shift, plumbing, no open tickets"),
    ("the trade decides", ticket("civil"), local(27, 10), {}, "assign", ["Bo Day"], "chosen: on shift, civil"),
    ("evening: the night shift", ticket(), local(27, 22), {}, "assign", ["Cy Night"], "plumbing"),
    ("after midnight: still the night shift that began the day before", ticket(), local(28, 3), {},
     "assign", ["Cy Night"], "plumbing"),
    ("at the cap: the next one", ticket(), local(27, 10), {ID["Bo Day"]: Workload(CAP)},
     "assign", ["Ann Day"], "plumbing"),
    ("everyone at the cap: the grab pool", ticket(), local(27, 10),
     {ID["Ann Day"]: Workload(CAP), ID["Bo Day"]: Workload(CAP + 1)},
     "pool", [], "everyone on shift for plumbing has 3 open tickets: to the grab pool"),
    ("nobody on shift: the grab pool", ticket("civil"), local(27, 19), {},
     "pool", [], "nobody on shift for civil: to the grab pool"),
    ("no group for the trade: the supervisor assigns", ticket("lift"), local(27, 10), {},
     "nobody", ["Ed Sup"], "nobody on shift for lift, and no staff group takes lift"),
    ("no trade at all: the supervisor assigns", ticket("other"), local(27, 10), {},
     "nobody", ["Ed Sup"], 'no trade handles "other"'),
    ("an inactive technician is never chosen", ticket(), local(27, 19), {}, "pool", [], "nobody on shift"),
    ("an emergency goes to everyone on duty and the supervisor", ticket(urgency=Urgency.EMERGENCY), local(27, 10),
     {}, "offer", ["Ann Day", "Bo Day", "Ed Sup"], "emergency: offered to 2 on duty for plumbing"),
    ("feedback goes to its department", ticket("hygiene", kind=TicketKind.FEEDBACK), local(27, 10), {},
     "department", ["Fay Clean"], "to Cleaning"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "job", "when", "loads", "kind", "who", "reason"), CASES, ids=[c[0] for c in CASES])
def test_dispatch_chooses(
    what: str, job: Ticket, when: datetime, loads: dict[int, Workload], kind: str, who: list[str], reason: str
) -> None:
    decision = decide(ESTATE, job, when, loads, CAP)
    assert (decision.kind, [s.name for s in decision.staff]) == (kind, who)
    assert reason in decision.reason


def test_an_emergency_assigned_then_declined_is_offered_to_the_others_on_duty_not_back_to_who_declined() -> None:
    job = ticket(urgency=Urgency.EMERGENCY)
    supervisor = Actor("staff", "Ed Sup")
    apply(job, Action.ASSIGN, supervisor, NOW, assignee="Bo Day", assignee_id=ID["Bo Day"])  # /assign
    apply(job, Action.DECLINE, Actor("staff", "Bo Day"), NOW, reason="busy", assignee_id=ID["Bo Day"])
    decision = decide(ESTATE, job, local(27, 10), {}, CAP)
    assert (decision.kind, [s.name for s in decision.staff]) == ("offer", ["Ann Day", "Ed Sup"])
    assert "emergency: offered to 1 on duty for plumbing" in decision.reason
    apply(job, Action.ASSIGN, supervisor, NOW, assignee="Ann Day", assignee_id=ID["Ann Day"])
    apply(job, Action.DECLINE, Actor("staff", "Ann Day"), NOW, reason="off", assignee_id=ID["Ann Day"])
    decision = decide(ESTATE, job, local(27, 10), {}, CAP)  # all on duty passed it on: the trade's group
    assert (decision.kind, [s.name for s in decision.staff]) == ("offer", ["Ed Sup"])
    assert [g.name for g in decision.groups] == ["Duty group"]


def test_a_technician_who_declined_is_not_asked_again_until_rework() -> None:
    job = ticket()
    system = Actor("system", "dispatch")
    apply(job, Action.ASSIGN, system, NOW, assignee="Bo Day", assignee_id=ID["Bo Day"])
    apply(job, Action.DECLINE, Actor("staff", "Bo Day"), NOW, reason="busy", assignee_id=ID["Bo Day"])
    assert [s.name for s in decide(ESTATE, job, local(27, 10), {}, CAP).staff] == ["Ann Day"]
    apply(job, Action.ASSIGN, system, NOW, assignee="Ann Day", assignee_id=ID["Ann Day"])
    apply(job, Action.DECLINE, Actor("staff", "Ann Day"), NOW, reason="off", assignee_id=ID["Ann Day"])
    decision = decide(ESTATE, job, local(27, 10), {}, CAP)
    assert (decision.kind, decision.reason) == ("pool", "everyone on shift for plumbing declined: to the grab pool")


# --- permissions -------------------------------------------------------------------------------------------

ROLES: dict[str, Staff] = {
    "assignee": Staff("Ann Day", ("technician",), trades=("plumbing",), id=1),
    "other technician": Staff("Bo Day", ("technician",), trades=("plumbing",), id=2),
    "other trade": Staff("Di Lift", ("technician",), trades=("lift",), id=4),
    "supervisor": Staff("Ed Sup", ("supervisor",), id=5),
    "customer service": Staff("Fay Clean", ("customer_service",), departments=("Cleaning",), id=6),
    "manager": Staff("Hu Boss", ("manager",), id=8),
}
A, T, L, S, C, M = "assignee", "other technician", "other trade", "supervisor", "customer service", "manager"
ALL = {A, T, L, S, C, M}
EXPECTED = {
    **{
        step: {A, S, M}
        for step in ("accept", "decline", "way", "arrive", "start", "hold", "resume", "plan", "done", "quote")
    },
    "grab": {A, T},
    "approve": {S, M},
    "reject": {S, M},
    "reply": {S, C, M},
    "assign": {S, C, M},
    "reassign": {S, C, M},
    "queue": {S, C, M},
    "new": {S, C, M},
    "view": {A, S, C, M},
    "register": {S, C, M},
    "reveal": {M},  # who gave anonymous feedback: managers only, and the look is recorded
}
MATRIX = [(role, verb, role in EXPECTED[verb]) for verb in VERBS for role in ROLES]


@pytest.mark.parametrize(("role", "verb", "allowed"), MATRIX, ids=[f"{r}-{v}" for r, v, _ in MATRIX])
def test_permission_matrix(role: str, verb: str, allowed: bool) -> None:
    job = ticket()
    job.assignee_id, job.assignee_name = 1, "Ann Day"
    answer = refusal(ROLES[role], verb, job)
    assert (answer is None) is allowed
    if not allowed:
        assert answer and answer.endswith(".")  # a sentence the person is shown


def test_every_verb_has_a_row() -> None:
    assert set(EXPECTED) == set(VERBS) and set(ROLES) == ALL


def test_feedback_department_staff_may_reply_to_their_own_departments_feedback() -> None:
    job = ticket("hygiene", kind=TicketKind.FEEDBACK)
    cleaner = Staff("Jo Clean", ("technician",), departments=("Cleaning",), id=9)
    guard = Staff("Ke Guard", ("technician",), departments=("Security",), id=10)
    assert refusal(cleaner, "reply", job) is None and refusal(cleaner, "view", job) is None
    assert refusal(guard, "reply", job) is not None
