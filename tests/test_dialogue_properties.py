"""Whatever a person sends, the dialogue answers and never loses or doubles a confirmed ticket."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.bootstrap import settings as desk_settings
from bot.config import parse_config
from core.conversation.buttons import OnTicket, Pick, encode
from core.conversation.context import Context, OpenReport, Speaker
from core.conversation.engine import step
from core.conversation.messages import Inbound
from core.conversation.resident import RESIDENT
from core.desk import Desk
from core.domain.directory import Staff
from core.domain.model import Attachment, Ticket
from core.domain.people import Address
from tests.chat import stored
from tests.conftest import NOW, demo_estate
from tests.fakes import FakeDirectoryRepository

ESTATE = FakeDirectoryRepository._numbered(demo_estate())
SETTINGS = desk_settings(parse_config({}, environ={}), "SG")
WORDS = [
    "1", "2", "3", "4", "5", "6", "7", "8", "0", "99", "-1", "yes", "no", "submit", "change", "cancel", "skip",
    "报修", "投诉", "确认", "取消", "匿名", "跳过", "修好了", "还是坏", "English", "中文", "garage", "车库",
    "1-1-1201", "1号楼1201", "3-1-2302", "9-9-999", "kitchen pipe leaking in 1-1-1201", "3号楼电梯坏了有人被困",
    "smell of gas", "楼道垃圾没人清理", "邻居打架", "/start", "/help", "/cancel", "/lang", "/tickets",
    "/status", "/status SG-20261127-0001", "/chase SG-20261127-0001", "/withdraw SG-20261127-0001", "/report",
    "/report 水管漏水", "/feedback", "/nonsense", "", " ", "👍", "…", "x" * 2500, "\x00", "{name}", "%s",
]  # fmt: skip
PAYLOADS = [
    *(encode(Pick(*p)) for p in (("menu", "repair"), ("menu", "feedback"), ("menu", "tickets"), ("menu", "help"),
                                 ("menu", "lang"), ("lang", "en"), ("lang", "zh_CN"), ("lang", "fr"), ("yes",),
                                 ("change",), ("cancel",), ("fixed",), ("broken",), ("skip",), ("named",),
                                 ("anonymous",), ("urgency", "emergency"), ("urgency", "bogus"),
                                 ("category", "plumbing"), ("category", "nope"), ("room", "1-1-1201"),
                                 ("room", "9-9-9"), ("place", "other"), ("field", "urgency"), ("field", "nope"))),
    *(encode(OnTicket(*t)) for t in (("status", "SG-20261127-0001"), ("withdraw", "X"), ("rate", "SG-20261127-0001",
                                                                                         "9"), ("fixed", "X"))),
    "menu:repair", "t:status:SG-20261127-0001", "1t:", "1p", "garbage", "",
]  # fmt: skip

message: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    # Mostly first choices, so that many runs get as far as a confirmed ticket.
    text=st.one_of(st.just("1"), st.just("1"), st.just("2"), st.sampled_from(WORDS), st.text(max_size=40)),
    payload=st.one_of(st.none(), st.none(), st.none(), st.sampled_from(PAYLOADS)),
    photo=st.booleans(),
    minutes=st.sampled_from([0, 0, 0, 0, 0, 1, 31, 61]),
)

# Whole reports, so that random noise lands before, inside and after real submissions.
FLOWS = [
    ["kitchen pipe leaking in 1-1-1201", "2", "2", "1"],
    ["3号楼电梯坏了有人被困", "1"],
    ["2", "3", "rubbish everywhere", "skip", "1", "1"],
    ["/report the breaker trips in 1-1-1201", "normal", "fixed"],
    ["feedback", "6", "邻居打架了"],
]
plain = {"payload": None, "photo": False, "minutes": 0}
conversation = st.lists(
    st.one_of(
        message.map(lambda m: [m]), st.sampled_from(FLOWS).map(lambda flow: [{**plain, "text": t} for t in flow])
    ),
    min_size=1,
    max_size=8,
).map(lambda chunks: [m for chunk in chunks for m in chunk])


def inbound(sender: str, number: int, spec: dict) -> Inbound:  # type: ignore[type-arg]
    attachments = (Attachment("photo", f"file-{number}"),) if spec["photo"] else ()
    return Inbound("console", f"console:{sender}", sender, spec["text"], attachments=attachments,
                   payload=spec["payload"], native_id=str(number))  # fmt: skip


class NoTickets:
    """The read-only view of an estate where nobody has reported anything yet."""

    def ticket(self, number: str) -> Ticket | None:
        return None

    def reported_by(self, speaker: Speaker) -> list[Ticket]:
        return []

    def joined(self, ticket: Ticket, speaker: Speaker) -> bool:
        return False

    def latest_number(self, speaker: Speaker) -> str | None:
        return None

    def jobs(self, staff: Staff) -> list[Ticket]:
        return []

    def queue(self) -> list[Ticket]:
        return []

    def open_reports(self) -> list[OpenReport]:
        return []


@settings(max_examples=300, deadline=None)
@given(st.lists(message, max_size=25), st.sampled_from(["zh_CN", "en"]), st.booleans())
def test_step_never_raises_and_its_state_stays_plain_data(messages: list, locale: str, known: bool) -> None:  # type: ignore[type-arg]
    resident = ESTATE.residents[0]
    address = Address("console", "x")
    speaker = Speaker(address, resident.name, resident=resident) if known else Speaker(address, "stranger")
    context = Context(ESTATE, speaker, SETTINGS, locale, NoTickets())
    state: dict | None = None  # type: ignore[type-arg]
    now = NOW
    for number, spec in enumerate(messages):
        now += timedelta(minutes=spec["minutes"])
        outcome = step(RESIDENT, state, inbound("x", number, spec), now, context)
        replies = outcome.notes + outcome.question
        assert replies or outcome.commands, "every message gets an answer"
        assert all(reply.text or reply.choices for reply in replies)
        state = outcome.state
        json.dumps(state)  # storable as it is


ANNOUNCED = re.compile(r"(SG-\d{8}-\d{4})")
senders = itertools.count()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation)
def test_every_announced_ticket_is_stored_exactly_once(desk: Desk, messages: list) -> None:  # type: ignore[type-arg]
    sender = f"fuzz-{next(senders)}"
    now = NOW
    announced: list[str] = []
    for number, spec in enumerate(messages):
        now += timedelta(minutes=spec["minutes"])
        for reply in desk.handle(inbound(sender, number, spec), now):
            if "for example: /" in reply.text or "例如：/" in reply.text:
                continue  # a command's example, not a ticket
            for found in ANNOUNCED.findall(reply.text):
                if any(
                    marker in reply.text
                    for marker in ("Ticket number", "工单号", "recorded as", "noted it as", "记录为", "编号")
                ):
                    announced.append(found)
    mine = [t.number for t in stored(desk) if t.reporter_address == Address("console", sender)]
    assert sorted(announced) == sorted(mine)
    assert len(set(mine)) == len(mine)
    event(f"tickets stored: {min(len(mine), 2)}")
