"""Whatever a person sends, the dialogue answers and never loses or doubles a confirmed ticket."""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from bot.i18n import translator
from core.desk import Desk
from core.dialogue import Context, Person, step
from core.directory import parse_directory
from core.messages import Inbound
from core.model import Attachment
from core.ports import TicketQuery
from core.triage import TriageRules
from storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import DEMO_ESTATE, NOW

ESTATE = parse_directory(tomllib.loads(DEMO_ESTATE.read_text(encoding="utf-8")))
WORDS = [
    "1", "2", "3", "4", "5", "6", "7", "8", "0", "99", "-1", "yes", "no", "submit", "change", "cancel", "skip",
    "报修", "投诉", "确认", "取消", "匿名", "跳过", "修好了", "还是坏", "English", "中文", "garage", "车库",
    "1-1-1201", "1号楼1201", "3-1-2302", "9-9-999", "kitchen pipe leaking in 1-1-1201", "3号楼电梯坏了有人被困",
    "smell of gas", "楼道垃圾没人清理", "邻居打架", "/start", "/help", "/cancel", "/lang", "/tickets",
    "/status", "/status SG-20261127-0001", "/chase SG-20261127-0001", "/withdraw SG-20261127-0001", "/report",
    "/report 水管漏水", "/feedback", "/nonsense", "", " ", "👍", "…", "x" * 2500, "\x00", "{name}", "%s",
]  # fmt: skip
PAYLOADS = ["menu:repair", "menu:feedback", "menu:tickets", "menu:help", "menu:lang", "lang:en", "lang:zh_CN",
            "lang:fr", "yes", "change", "cancel", "fixed", "broken", "skip", "named", "anonymous", "urg:emergency",
            "urg:bogus", "cat:plumbing", "cat:nope", "room:1-1-1201", "room:9-9-9", "loc:other", "field:urgency",
            "field:nope", "t:status:SG-20261127-0001", "t:withdraw:X", "t:", "garbage", ""]  # fmt: skip

message = st.builds(
    dict,
    # Mostly first choices, so that many runs get as far as a confirmed ticket.
    text=st.one_of(st.just("1"), st.just("1"), st.just("2"), st.sampled_from(WORDS), st.text(max_size=40)),
    payload=st.one_of(st.none(), st.none(), st.none(), st.sampled_from(PAYLOADS)),
    photo=st.booleans(),
    minutes=st.sampled_from([0, 0, 0, 0, 0, 1, 31, 61]),
)

# Whole reports, so that random noise lands before, inside and after real submissions.
FLOWS = [
    ["kitchen pipe leaking in 1-1-1201", "1", "2", "1"],
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


@settings(max_examples=300, deadline=None)
@given(st.lists(message, max_size=25), st.sampled_from(["zh_CN", "en"]), st.booleans())
def test_step_never_raises_and_its_state_stays_plain_data(messages: list, locale: str, known: bool) -> None:  # type: ignore[type-arg]
    resident = ESTATE.residents[0]
    person = (Person(resident.name, "console:x", 1, resident.rooms, resident.phone) if known
              else Person("stranger", "console:stranger"))  # fmt: skip
    context = Context(ESTATE, person, TriageRules(), locale, translator)
    state: dict | None = None  # type: ignore[type-arg]
    now = NOW
    for number, spec in enumerate(messages):
        now += timedelta(minutes=spec["minutes"])
        state, replies, commands = step(state, inbound("x", number, spec), now, context)
        assert replies or commands, "every message gets an answer"
        assert all(reply.text or reply.choices for reply in replies)
        json.dumps(state)  # storable as it is


ANNOUNCED = re.compile(r"(SG-\d{8}-\d{4})")
senders = itertools.count()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation)
def test_every_announced_ticket_is_stored_exactly_once(desk: Desk, sqlite_engine: Engine, messages: list) -> None:  # type: ignore[type-arg]
    sender = f"fuzz-{next(senders)}"
    now = NOW
    announced: list[str] = []
    for number, spec in enumerate(messages):
        now += timedelta(minutes=spec["minutes"])
        for reply in desk.handle(inbound(sender, number, spec), now):
            if "/status SG-20261127-0001" in reply.text:
                continue  # the help text's example, not a ticket
            for found in ANNOUNCED.findall(reply.text):
                if any(
                    marker in reply.text
                    for marker in ("Ticket number", "工单号", "recorded as", "noted it as", "记录为", "编号")
                ):
                    announced.append(found)
    with SqlAlchemyUnitOfWork(sqlite_engine) as uow:
        stored = [t.number for t in uow.tickets.list(TicketQuery(reporter_ref=f"console:{sender}"))]
    assert sorted(announced) == sorted(stored)
    assert len(set(stored)) == len(stored)
    event(f"tickets stored: {min(len(stored), 2)}")
