"""Repositories, unit of work and migrations, the same suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import tomllib
from datetime import date, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from core.directory import parse_directory
from core.lifecycle import Action, apply
from core.model import Actor, Attachment, Location, Source, Status, TicketKind, Urgency
from core.ports import OutboxMessage, TicketQuery
from core.services import create_ticket, find_ticket
from core.tickets import TicketDraft
from storage.db import DatabaseError, make_engine, schema_state, upgrade
from storage.tables import Base
from storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import DEMO_ESTATE, NOW

SHANGHAI = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
CLERK = Actor("operator", "front desk")


def load_demo(uow: SqlAlchemyUnitOfWork) -> None:
    with uow:
        uow.directory.sync(parse_directory(tomllib.loads(DEMO_ESTATE.read_text(encoding="utf-8"))))
        uow.commit()


def leak_draft(**changes: object) -> TicketDraft:
    values: dict[str, object] = {
        "kind": TicketKind.REPAIR,
        "source": Source.FRONT_DESK,
        "location": Location(room="1-1-1201"),
        "category": "plumbing",
        "description": "厨房水管漏水",
        "urgency": Urgency.URGENT,
        "reporter": "张三 Zhang San",
        "attachments": (Attachment("photo", "attachments/leak.jpg", "under the sink"),),
    }
    values.update(changes)
    return TicketDraft(**values)  # type: ignore[arg-type]


class TestMigrations:
    def test_the_migrated_schema_matches_the_models(self, engine: Engine) -> None:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []

    def test_upgrading_twice_is_harmless(self, engine: Engine) -> None:
        current, head = upgrade(engine)
        assert current == head

    def test_a_database_newer_than_the_code_is_refused(self, engine: Engine) -> None:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        with pytest.raises(DatabaseError, match="newer than this baoxiu"):
            upgrade(engine)

    def test_an_unreachable_database_is_one_clear_error(self) -> None:
        engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
        with pytest.raises(DatabaseError, match="cannot reach database"):
            schema_state(engine)


class TestTickets:
    def test_a_ticket_comes_back_as_it_was_stored(self, uow: SqlAlchemyUnitOfWork) -> None:
        load_demo(uow)
        with uow:
            created = create_ticket(uow, leak_draft(), "SG", CLERK, NOW, SHANGHAI)
            uow.commit()
        with uow:
            loaded = uow.tickets.get_by_number("sg-20261127-0001")
        assert loaded is not None
        assert loaded.number == "SG-20261127-0001"
        assert loaded.id == created.id
        assert (loaded.location, loaded.category, loaded.urgency) == (created.location, "plumbing", Urgency.URGENT)
        assert loaded.attachments == created.attachments
        assert loaded.created_at == NOW and loaded.created_at.tzinfo is not None
        assert loaded.response_due == created.response_due and loaded.resolve_due == created.resolve_due
        assert loaded.milestones == {"created": NOW}
        assert [(e.action, e.to_status, e.actor) for e in loaded.history] == [("create", Status.NEW, CLERK)]

    def test_each_step_appends_one_history_event_and_none_is_rewritten(self, uow: SqlAlchemyUnitOfWork) -> None:
        load_demo(uow)
        tech = Actor("staff", "李伟 Li Wei", 1)
        with uow:
            ticket = create_ticket(uow, leak_draft(), "SG", CLERK, NOW, SHANGHAI)
            apply(ticket, Action.ASSIGN, CLERK, NOW + timedelta(minutes=1), assignee="李伟 Li Wei")
            uow.tickets.save(ticket)
            uow.tickets.save(ticket)  # saving again adds nothing
            uow.commit()
        with uow:
            ticket = find_ticket(uow, "SG-20261127-0001")
            apply(ticket, Action.ACCEPT, tech, NOW + timedelta(minutes=2))
            uow.tickets.save(ticket)
            uow.commit()
        with uow:
            ticket = find_ticket(uow, str(ticket.id))
            count = uow.session.execute(text("SELECT count(*) FROM ticket_events")).scalar_one()  # type: ignore[union-attr]
        assert [(e.action, e.from_status, e.to_status) for e in ticket.history] == [
            ("create", None, Status.NEW),
            ("assign", Status.NEW, Status.ASSIGNED),
            ("accept", Status.ASSIGNED, Status.ACCEPTED),
        ]
        assert count == 3
        assert ticket.history[2].actor == tech
        assert ticket.assignee_name == "李伟 Li Wei" and ticket.status is Status.ACCEPTED

    def test_nothing_is_kept_without_commit(self, uow: SqlAlchemyUnitOfWork) -> None:
        load_demo(uow)
        with uow:
            create_ticket(uow, leak_draft(), "SG", CLERK, NOW, SHANGHAI)
        with uow:
            assert uow.tickets.list(TicketQuery()) == []

    def test_numbers_count_up_within_a_local_day_and_restart_the_next(self, uow: SqlAlchemyUnitOfWork) -> None:
        load_demo(uow)
        late_evening = NOW.replace(hour=15, minute=59)  # 23:59 in Shanghai
        just_after_midnight = NOW.replace(hour=16, minute=1)  # 00:01 the next day there
        with uow:
            numbers = [
                create_ticket(uow, leak_draft(), "SG", CLERK, moment, SHANGHAI).number
                for moment in (NOW, late_evening, just_after_midnight)
            ]
            uow.commit()
        assert numbers == ["SG-20261127-0001", "SG-20261127-0002", "SG-20261128-0001"]

    def test_concurrent_writers_never_draw_the_same_number(self, engine: Engine) -> None:
        load_demo(SqlAlchemyUnitOfWork(engine))
        drawn: list[int] = []
        errors: list[BaseException] = []

        def draw() -> None:
            try:
                for _ in range(10):
                    with SqlAlchemyUnitOfWork(engine) as uow:
                        drawn.append(uow.tickets.next_sequence("SG", date(2026, 11, 27)))
                        uow.commit()
            except BaseException as error:  # reported below, so a failure shows its cause
                errors.append(error)

        threads = [threading.Thread(target=draw) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(drawn) == list(range(1, 41))

    def test_listing_filters_by_status_date_reporter_and_openness(self, uow: SqlAlchemyUnitOfWork) -> None:
        load_demo(uow)
        with uow:
            zhang = next(r for r in uow.directory.get("SG").residents if r.name.startswith("张三"))  # type: ignore[union-attr]
            first = create_ticket(uow, leak_draft(reporter_resident_id=zhang.id), "SG", CLERK, NOW, SHANGHAI)
            second = create_ticket(uow, leak_draft(), "SG", CLERK, NOW + timedelta(days=1), SHANGHAI)
            apply(second, Action.CANCEL, CLERK, NOW + timedelta(days=1))
            uow.tickets.save(second)
            uow.commit()
        with uow:
            numbers = lambda **query: [t.number for t in uow.tickets.list(TicketQuery(**query))]  # noqa: E731
            assert numbers() == [first.number, second.number]
            assert numbers(status=Status.CANCELLED) == [second.number]
            assert numbers(open_only=True) == [first.number]
            assert numbers(since=NOW + timedelta(hours=1)) == [second.number]
            assert numbers(reporter_resident_id=zhang.id) == [first.number]
            assert numbers(estate_code="XX") == []

    def test_a_strangers_open_unconfirmed_reports_are_found_by_their_chat_identity(
        self, uow: SqlAlchemyUnitOfWork
    ) -> None:
        load_demo(uow)
        stranger = {"reporter_ref": "telegram:9", "verified": False}
        with uow:
            waiting = create_ticket(uow, leak_draft(**stranger), "SG", CLERK, NOW, SHANGHAI)
            withdrawn = create_ticket(uow, leak_draft(**stranger), "SG", CLERK, NOW, SHANGHAI)
            apply(withdrawn, Action.CANCEL, CLERK, NOW)
            uow.tickets.save(withdrawn)
            create_ticket(uow, leak_draft(reporter_ref="telegram:9"), "SG", CLERK, NOW, SHANGHAI)  # confirmed
            create_ticket(uow, leak_draft(reporter_ref="telegram:10", verified=False), "SG", CLERK, NOW, SHANGHAI)
            uow.commit()
        with uow:
            assert uow.tickets.unverified_open("SG", "telegram:9") == [waiting.number]
            assert uow.tickets.unverified_open("XX", "telegram:9") == []


class TestDialogueState:
    def test_state_is_kept_per_channel_chat_and_user(self, uow: SqlAlchemyUnitOfWork) -> None:
        with uow:
            uow.dialogues.put("telegram", "-100", "7001", {"step": "location", "draft": {"text": "漏水"}}, NOW)
            uow.dialogues.put("telegram", "-100", "7002", {"step": "menu"}, NOW)
            uow.dialogues.put("telegram", "-100", "7001", {"step": "confirm"}, NOW + timedelta(seconds=5))
            uow.commit()
        with uow:
            assert uow.dialogues.get("telegram", "-100", "7001") == {"step": "confirm"}
            assert uow.dialogues.get("telegram", "-100", "7002") == {"step": "menu"}
            assert uow.dialogues.get("console", "-100", "7001") is None
            uow.dialogues.delete("telegram", "-100", "7001")
            uow.dialogues.delete("telegram", "-100", "nobody")
            uow.commit()
        with uow:
            assert uow.dialogues.get("telegram", "-100", "7001") is None

    def test_a_turn_opens_with_state_language_and_registration_read_together(self, uow: SqlAlchemyUnitOfWork) -> None:
        from core.model import Registration
        from core.ports import TurnOpening

        with uow:
            uow.dialogues.put("telegram", "-100", "9", {"step": "location"}, NOW)
            uow.settings.set_locale("telegram", "9", "en", NOW)
            uow.registrations.confirm(Registration("telegram:9", "Guest", "1-2-804", "陈静"), NOW)
            uow.commit()
        with uow:
            opened = uow.dialogues.opening("telegram", "-100", "9", "telegram:9")
            assert opened == TurnOpening(
                {"step": "location"}, "en", Registration("telegram:9", "Guest", "1-2-804", "陈静")
            )
            # Another chat of the same person: their own language and registration, not that chat's state.
            assert uow.dialogues.opening("telegram", "9", "9", "telegram:9").state is None
            assert uow.dialogues.opening("telegram", "9", "9", "telegram:9").locale == "en"
            assert uow.dialogues.opening("telegram", "-100", "10", "telegram:10") == TurnOpening(None, None, None)

    def test_a_turn_that_claims_its_message_opens_once(self, uow: SqlAlchemyUnitOfWork) -> None:
        with uow:
            uow.dialogues.put("telegram", "9", "9", {"step": "location"}, NOW)
            first = uow.dialogues.opening("telegram", "9", "9", "telegram:9", claim=("4242", NOW))
            assert first is not None and first.state == {"step": "location"}
            assert uow.dialogues.opening("telegram", "9", "9", "telegram:9", claim=("4242", NOW)) is None
            uow.commit()
        with uow:
            assert uow.dialogues.opening("telegram", "9", "9", "telegram:9", claim=("4242", NOW)) is None
            assert uow.dialogues.opening("telegram", "10", "10", "telegram:10", claim=("4242", NOW)) is None
            assert uow.dialogues.opening("telegram", "9", "9", "telegram:9", claim=("4243", NOW)) is not None


class TestOutbox:
    def test_several_queued_at_once_report_which_are_new(self, uow: SqlAlchemyUnitOfWork) -> None:
        first, second, third = (OutboxMessage(f"k{n}", "telegram", "7001", {"text": str(n)}) for n in (1, 2, 3))
        with uow:
            assert uow.outbox.add_all([first], NOW) == [first]
            assert uow.outbox.add_all([second, first, third], NOW) == [second, third]
            assert uow.outbox.add_all([], NOW) == []
            uow.commit()
        with uow:
            assert uow.outbox.due(NOW) == [first, second, third]  # in the order they were queued

    def test_a_message_is_queued_once_and_sent_once(self, uow: SqlAlchemyUnitOfWork) -> None:
        message = OutboxMessage("ticket-1-created", "telegram", "7001", {"text": "已收到 SG-20261127-0001"})
        with uow:
            assert uow.outbox.add(message, NOW) is True
            assert uow.outbox.add(message, NOW) is False
            uow.commit()
        with uow:
            assert uow.outbox.due(NOW) == [message]
            uow.outbox.mark_failed(message.key, "502 Bad Gateway", NOW + timedelta(seconds=30))
            uow.commit()
        with uow:
            assert uow.outbox.due(NOW + timedelta(seconds=29)) == []
            assert uow.outbox.due(NOW + timedelta(seconds=30)) == [message]
            uow.outbox.mark_sent([message.key], NOW + timedelta(seconds=31))
            uow.commit()
        with uow:
            assert uow.outbox.due(NOW + timedelta(days=1)) == []


class TestChannelBookkeeping:
    def test_a_message_is_claimed_once_even_by_racing_workers(self, engine: Engine) -> None:
        claimed: list[bool] = []

        def claim() -> None:
            with SqlAlchemyUnitOfWork(engine) as uow:
                claimed.append(uow.dialogues.opening("telegram", "9", "9", "telegram:9", ("4242", NOW)) is not None)
                uow.commit()

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(claimed) == [False, False, False, True]

    def test_a_retried_message_holds_back_later_ones_to_the_same_chat_only(self, uow: SqlAlchemyUnitOfWork) -> None:
        first, second = (OutboxMessage(f"m{i}", "telegram", "7001", {"text": str(i)}) for i in (1, 2))
        elsewhere = OutboxMessage("m3", "telegram", "7002", {"text": "3"})
        with uow:
            for message in (first, second, elsewhere):
                uow.outbox.add(message, NOW)
            uow.outbox.mark_failed("m1", "429", NOW + timedelta(seconds=10))
            uow.commit()
        with uow:
            assert uow.outbox.due(NOW + timedelta(seconds=1)) == [elsewhere]
            assert [m.key for m in uow.outbox.due(NOW + timedelta(seconds=10))] == ["m1", "m2", "m3"]
            uow.outbox.mark_dead("m1", "chat not found")
            uow.commit()
        with uow:
            assert [m.key for m in uow.outbox.due(NOW + timedelta(seconds=10))] == ["m2", "m3"]
            assert uow.outbox.pending_count() == 2

    def test_open_reports_of_shared_places_count_who_joined(self, uow: SqlAlchemyUnitOfWork) -> None:
        from core.model import Subscriber

        load_demo(uow)
        with uow:
            lift = create_ticket(uow, leak_draft(location=Location(common_area="3号楼电梯 Building 3 lifts"),
                                                 category="lift"), "SG", CLERK, NOW, SHANGHAI)  # fmt: skip
            create_ticket(uow, leak_draft(), "SG", CLERK, NOW, SHANGHAI)  # a room: not joinable
            assert lift.id is not None
            assert uow.tickets.subscribe(lift.id, Subscriber("telegram:8001", "A"), NOW) is True
            assert uow.tickets.subscribe(lift.id, Subscriber("telegram:8001", "A"), NOW) is False
            uow.tickets.subscribe(lift.id, Subscriber("telegram:8002", "B", "-100", "55"), NOW)
            uow.commit()
        with uow:
            assert uow.tickets.open_area_reports("SG") == [(lift.number, "3号楼电梯 Building 3 lifts", "lift", 3)]
            assert [s.ref for s in uow.tickets.subscribers(lift.id)] == ["telegram:8001", "telegram:8002"]

    def test_registrations_and_settings_are_kept_per_chat_identity(self, uow: SqlAlchemyUnitOfWork) -> None:
        from core.model import Registration

        with uow:
            uow.registrations.confirm(Registration("telegram:9", "Guest", "1-2-803", "陈静"), NOW)
            uow.registrations.confirm(Registration("telegram:9", "Guest", "1-2-804", "陈静"), NOW)
            uow.settings.set_locale("telegram", "9", "en", NOW)
            uow.commit()
        with uow:
            registered = uow.dialogues.opening("telegram", "9", "9", "telegram:9")
            assert registered is not None
            assert registered.registration == Registration("telegram:9", "Guest", "1-2-804", "陈静")
            stranger = uow.dialogues.opening("telegram", "10", "10", "telegram:10")
            assert stranger is not None and stranger.registration is None
            assert uow.settings.locale("telegram", "9") == "en" and uow.settings.locale("wechat", "9") is None

    def test_a_directory_load_that_changes_something_bumps_the_version(self, uow: SqlAlchemyUnitOfWork) -> None:
        load_demo(uow)
        with uow:
            first = uow.directory.version("SG")
        load_demo(uow)  # unchanged
        with uow:
            assert uow.directory.version("SG") == first
            estate = uow.directory.get("SG")
            assert estate is not None
            uow.directory.sync(parse_directory({"estate": {"code": "SG", "name": "renamed"}}))
            uow.commit()
        with uow:
            assert uow.directory.version("SG") == (first or 0) + 1
            assert uow.directory.version("XX") is None


def test_upgrading_a_database_that_has_tickets_keeps_them(database_url: str) -> None:
    from alembic import command

    from storage.db import _alembic_config

    engine = make_engine(database_url)
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO estates (code, name) VALUES ('SG', 'x')"))
        connection.execute(
            text(
                "INSERT INTO tickets (estate_id, number, kind, source, status, category, urgency, description,"
                " reporter, reporter_contact, reporter_ref, anonymous, verified, assignee_name, department,"
                " attachments, milestones, materials, cost, resolution, acceptance, rating_comment, rework_count,"
                " created_at, updated_at) VALUES (1, 'SG-20261127-0001', 'repair', 'front_desk', 'new', 'civil',"
                " 'normal', 'old ticket', 'x', '', '', false, true, '', '', '[]', '{}', '[]', 0, '', '', '', 0,"
                " :now, :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
    upgrade(engine)
    with SqlAlchemyUnitOfWork(engine) as uow:
        ticket = uow.tickets.get_by_number("SG-20261127-0001")
        assert ticket is not None and ticket.origin_chat == "" and ticket.description == "old ticket"
        assert uow.directory.version("SG") == 1
    engine.dispose()
