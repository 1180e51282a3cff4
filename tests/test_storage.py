"""Repositories, unit of work and migrations on SQLite and on PostgreSQL; and the in-memory FakeUnitOfWork held
to the same rules where the conversation and service tests rely on them (the `any_uow` fixture)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, select, text

from bot.config import ConfigError, RetentionSection, parse_config
from core.domain.lifecycle import Action, apply
from core.domain.model import Actor, Attachment, Location, Material, Source, Status, Subscriber, TicketKind, Urgency
from core.domain.people import Address, PersonRef
from core.domain.tickets import TicketDraft
from core.ports import NOTICE, Claim, OutboxMessage, TicketQuery, UnitOfWork
from core.services.tickets import find_ticket
from storage.db import DatabaseError, make_engine, schema_state, upgrade
from storage.retention import KEPT, PRUNED, prune
from storage.tables import Base, InboundMessageRow, OutboxRow
from storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import NOW, add_ticket, demo_estate, migrated
from tests.fakes import FakeUnitOfWork

CLERK = Actor("operator", "front desk")
STRANGER, OTHER = Address("telegram", "9"), Address("telegram", "10")


def load_demo(uow: UnitOfWork) -> None:
    with uow:
        uow.directory.sync(demo_estate())
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


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
def any_uow(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[UnitOfWork]:
    """The same behaviour from the fake and from both databases."""
    if request.param == "fake":
        yield FakeUnitOfWork()
        return
    engine = migrated(request.param, tmp_path, sqlite_template)
    yield SqlAlchemyUnitOfWork(engine)
    engine.dispose()


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
    def test_a_ticket_comes_back_as_it_was_stored(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        with any_uow as uow:
            created = add_ticket(uow, leak_draft(reporter_address=STRANGER, origin=Address("telegram", "-100"),
                                                 origin_message="55"), NOW)  # fmt: skip
            uow.commit()
        with any_uow as uow:
            loaded = find_ticket(uow, "sg-20261127-0001")
        assert loaded.number == "SG-20261127-0001" and loaded.id == created.id
        assert (loaded.location, loaded.category, loaded.urgency) == (created.location, "plumbing", Urgency.URGENT)
        assert (loaded.reporter_address, loaded.origin, loaded.origin_message) == (
            STRANGER, Address("telegram", "-100"), "55",
        )  # fmt: skip
        assert loaded.attachments == created.attachments
        assert loaded.created_at == NOW and loaded.created_at.tzinfo is not None
        assert loaded.response_due == created.response_due and loaded.resolve_due == created.resolve_due
        assert loaded.milestones == {"created": NOW}
        assert [(e.action, e.to_status, e.actor) for e in loaded.history] == [("create", Status.NEW, CLERK)]

    def test_each_step_appends_one_history_event_and_none_is_rewritten(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        tech = Actor("staff", "李伟 Li Wei", 1)
        with any_uow as uow:
            ticket = add_ticket(uow, leak_draft(), NOW)
            apply(ticket, Action.ASSIGN, CLERK, NOW + timedelta(minutes=1), assignee="李伟 Li Wei")
            uow.tickets.save(ticket)
            uow.tickets.save(ticket)  # saving again adds nothing
            uow.commit()
        with any_uow as uow:
            ticket = find_ticket(uow, "SG-20261127-0001", for_update=True)
            apply(ticket, Action.ACCEPT, tech, NOW + timedelta(minutes=2))
            uow.tickets.save(ticket)
            uow.commit()
        with any_uow as uow:
            ticket = find_ticket(uow, str(ticket.id))
        assert [(e.action, e.from_status, e.to_status) for e in ticket.history] == [
            ("create", None, Status.NEW),
            ("assign", Status.NEW, Status.ASSIGNED),
            ("accept", Status.ASSIGNED, Status.ACCEPTED),
        ]
        assert ticket.history[2].actor == tech
        assert ticket.assignee_name == "李伟 Li Wei" and ticket.status is Status.ACCEPTED

    def test_money_comes_back_exactly(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        with any_uow as uow:
            ticket = add_ticket(uow, leak_draft(), NOW)
            ticket.status = Status.IN_PROGRESS
            parts = [
                Material("washer", Decimal(1), cost=Decimal("0.10")),
                Material("tape", Decimal(1), cost=Decimal("0.20")),
            ]
            apply(ticket, Action.RESOLVE, CLERK, NOW, note="done", materials=parts)
            uow.tickets.save(ticket)
            uow.commit()
        with any_uow as uow:
            loaded = find_ticket(uow, "SG-20261127-0001")
        assert loaded.cost == Decimal("0.30") and [m.cost for m in loaded.materials] == [
            Decimal("0.10"),
            Decimal("0.20"),
        ]
        assert loaded.history[-1].details["cost"] == "0.30"

    def test_nothing_is_kept_without_commit(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        with any_uow as uow:
            add_ticket(uow, leak_draft(), NOW)
        with any_uow as uow:
            assert uow.tickets.list(TicketQuery()) == []

    def test_numbers_count_up_within_a_local_day_and_restart_the_next(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        late_evening = NOW.replace(hour=15, minute=59)  # 23:59 in Shanghai
        just_after_midnight = NOW.replace(hour=16, minute=1)  # 00:01 the next day there
        with any_uow as uow:
            numbers = [add_ticket(uow, leak_draft(), at).number for at in (NOW, late_evening, just_after_midnight)]
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

    def test_listing_filters_by_status_date_reporter_and_openness(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        with any_uow as uow:
            zhang = next(r for r in uow.directory.get("SG").residents if r.name.startswith("张三"))  # type: ignore[union-attr]
            first = add_ticket(uow, leak_draft(reporter_resident_id=zhang.id), NOW)
            second = add_ticket(uow, leak_draft(reporter_address=STRANGER), NOW + timedelta(days=1))
            apply(second, Action.CANCEL, CLERK, NOW + timedelta(days=1))
            uow.tickets.save(second)
            uow.commit()
        with any_uow as uow:

            def numbers(**query: Any) -> list[str]:
                return [t.number for t in uow.tickets.list(TicketQuery(**query))]

            assert numbers() == [first.number, second.number]
            assert numbers(status=Status.CANCELLED) == [second.number]
            assert numbers(open_only=True) == [first.number]
            assert numbers(since=NOW + timedelta(hours=1)) == [second.number]
            assert numbers(reporter_resident_id=zhang.id) == [first.number]
            assert numbers(reporter_address=STRANGER) == [second.number]
            assert numbers(reporter_resident_id=zhang.id, reporter_address=STRANGER) == [first.number, second.number]
            assert numbers(estate_code="XX") == []
            assert uow.tickets.latest_number("SG", zhang.id, None) == first.number
            assert uow.tickets.latest_number("SG", None, STRANGER) == second.number
            assert uow.tickets.latest_number("SG", None, OTHER) is None

    def test_a_strangers_open_unconfirmed_reports_are_found_by_their_address(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        stranger = {"reporter_address": STRANGER, "verified": False}
        with any_uow as uow:
            waiting = add_ticket(uow, leak_draft(**stranger), NOW)
            withdrawn = add_ticket(uow, leak_draft(**stranger), NOW)
            apply(withdrawn, Action.CANCEL, CLERK, NOW)
            uow.tickets.save(withdrawn)
            add_ticket(uow, leak_draft(reporter_address=STRANGER), NOW)  # confirmed
            add_ticket(uow, leak_draft(reporter_address=OTHER, verified=False), NOW)
            uow.commit()
        with any_uow as uow:
            assert uow.tickets.unverified_open("SG", STRANGER) == [waiting.number]
            assert uow.tickets.unverified_open("XX", STRANGER) == []

    def test_open_reports_of_shared_places_count_who_joined(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        lift = Location(common_area="3号楼电梯 Building 3 lifts")
        with any_uow as uow:
            ticket = add_ticket(uow, leak_draft(location=lift, category="lift"), NOW)
            add_ticket(uow, leak_draft(), NOW)  # a room: not joinable
            assert ticket.id is not None
            first, second = Subscriber("A", address=Address("telegram", "8001")), Subscriber("B", address=OTHER)
            for subscriber in (first, first, second):
                if uow.tickets.subscribe(ticket.id, subscriber, NOW):
                    apply(ticket, Action.JOIN, CLERK, NOW)
            uow.tickets.save(ticket)
            uow.commit()
        with any_uow as uow:
            assert uow.tickets.open_area_reports("SG") == [(ticket.number, "3号楼电梯 Building 3 lifts", "lift", 3)]
            assert [s.address for s in uow.tickets.subscribers(ticket.id)] == [first.address, second.address]

    def test_a_patrol_finding_joined_once_is_reported_by_one_and_listed_among_the_joiners_tickets(
        self, any_uow: UnitOfWork
    ) -> None:
        load_demo(any_uow)
        garage = Location(common_area="地下车库 Underground garage")
        joiner = Subscriber("Emily Brown", resident_id=2, address=Address("telegram", "7002"))
        with any_uow as uow:
            found = add_ticket(uow, leak_draft(location=garage, source=Source.PATROL, reporter=""), NOW)
            own = add_ticket(uow, leak_draft(reporter_resident_id=2), NOW)
            assert found.id is not None and uow.tickets.subscribe(found.id, joiner, NOW)
            apply(found, Action.JOIN, CLERK, NOW)
            uow.tickets.save(found)
            uow.commit()
        with any_uow as uow:
            assert uow.tickets.open_area_reports("SG") == [(found.number, "地下车库 Underground garage", "plumbing", 1)]
            by_id, by_address = TicketQuery(reporter_resident_id=2), TicketQuery(reporter_address=joiner.address)
            assert [t.number for t in uow.tickets.list(by_id)] == [own.number]
            assert [t.number for t in uow.tickets.list(replace(by_id, joined=True))] == [found.number, own.number]
            assert [t.number for t in uow.tickets.list(replace(by_address, joined=True))] == [found.number]
            assert uow.tickets.get_by_number(found.number).reporters == 1  # type: ignore[union-attr]

    def test_a_technicians_workload_counts_what_they_hold_and_when_they_were_last_given_a_job(
        self, any_uow: UnitOfWork
    ) -> None:
        load_demo(any_uow)
        with any_uow as uow:
            li = next(s for s in uow.directory.get("SG").staff if s.name.startswith("李伟"))  # type: ignore[union-attr]
            assert li.id is not None
            held, done = add_ticket(uow, leak_draft(), NOW), add_ticket(uow, leak_draft(), NOW)
            for ticket, at in ((held, NOW), (done, NOW + timedelta(hours=1))):
                apply(ticket, Action.ASSIGN, CLERK, at, assignee=li.name, assignee_id=li.id)
                uow.tickets.save(ticket)
            apply(done, Action.CANCEL, CLERK, NOW + timedelta(hours=2))
            uow.tickets.save(done)
            uow.commit()
        with any_uow as uow:
            since = NOW - timedelta(days=30)
            loads = uow.tickets.workloads("SG", since)
            assert (loads[li.id].open_tickets, loads[li.id].last_assigned) == (1, NOW + timedelta(hours=1))
            assert uow.tickets.hold_workload(li.id, since) == loads[li.id]
            later = uow.tickets.workloads("SG", NOW + timedelta(minutes=30))
            assert (later[li.id].open_tickets, later[li.id].last_assigned) == (1, NOW + timedelta(hours=1))

    def test_a_ticket_is_looked_up_by_number_through_its_unique_index(self, engine: Engine) -> None:
        """A button press finds its ticket without reading the whole table, however the number was typed."""
        uow = SqlAlchemyUnitOfWork(engine)
        load_demo(uow)
        with uow:
            add_ticket(uow, leak_draft(), NOW)
            uow.commit()
        ran: list[tuple[str, Any]] = []

        def capture(conn: object, cursor: object, statement: str, parameters: Any, *rest: object) -> None:
            ran.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        with uow:
            assert uow.tickets.get_by_number("sg-20261127-0001") is not None
        event.remove(engine, "before_cursor_execute", capture)
        sql, parameters = next((s, p) for s, p in ran if "FROM tickets" in s and "number" in s.split("WHERE")[1])
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET enable_seqscan = off")  # a table this small is scanned otherwise
                plan = " ".join(str(row) for row in connection.exec_driver_sql("EXPLAIN " + sql, parameters))
                assert "uq_tickets_number" in plan, plan
            else:
                plan = " ".join(str(row) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters))
                assert "USING INDEX" in plan and "(number=?)" in plan, plan


class TestConversations:
    def test_state_is_kept_per_channel_chat_and_user(self, any_uow: UnitOfWork) -> None:
        with any_uow as uow:
            uow.conversations.put("telegram", "-100", "7001", {"step": "location", "draft": {"text": "漏水"}}, NOW)
            uow.conversations.put("telegram", "-100", "7002", {"step": "menu"}, NOW)
            uow.conversations.put("telegram", "-100", "7001", {"step": "confirm"}, NOW + timedelta(seconds=5))
            uow.commit()
        with any_uow as uow:
            assert uow.conversations.get("telegram", "-100", "7001") == {"step": "confirm"}
            assert uow.conversations.get("telegram", "-100", "7002") == {"step": "menu"}
            assert uow.conversations.get("console", "-100", "7001") is None
            uow.conversations.delete("telegram", "-100", "7001")
            uow.conversations.delete("telegram", "-100", "nobody")
            uow.commit()
        with any_uow as uow:
            assert uow.conversations.get("telegram", "-100", "7001") is None

    def test_messages_kept_wait_until_handled_rejected_or_passed_over_each_once(self, any_uow: UnitOfWork) -> None:
        update = {"update_id": 11, "message": {"text": "厨房漏水"}}
        with any_uow as uow:
            assert uow.conversations.keep("telegram", [("11", update), ("12", {"n": 12}), ("13", {"n": 13})], NOW) == 3
            assert uow.conversations.keep("telegram", [("11", {"again": True}), ("14", {"n": 14})], NOW) == 1
            uow.commit()
        later = NOW + timedelta(seconds=1)
        with any_uow as uow:
            assert uow.conversations.waiting("telegram", NOW, 10) == []  # none received before then
            assert [i for i, _ in uow.conversations.waiting("telegram", later, 10)] == ["11", "12", "13", "14"]
            assert uow.conversations.waiting("telegram", later, 10)[0] == ("11", update)  # as it came, kept once
            assert uow.conversations.waiting("console", later, 10) == []
            assert uow.conversations.open("telegram", "7001", "7001", STRANGER, later, claim="11") is not None
            assert uow.conversations.reject("telegram", "12", "unreadable", later)
            uow.conversations.pass_over("telegram", "13", later)
            uow.commit()
        with any_uow as uow:
            assert uow.conversations.waiting("telegram", later, 10) == [("14", {"n": 14})]
            # Settled is settled: kept again (a redelivery), claimed or rejected again, it stays as it is.
            assert uow.conversations.keep("telegram", [("11", update), ("12", {}), ("13", {})], later) == 0
            assert uow.conversations.open("telegram", "7001", "7001", STRANGER, later, claim="11") is None
            assert not uow.conversations.reject("telegram", "11", "late", later)
            assert uow.conversations.open("telegram", "7001", "7001", STRANGER, later, claim="13") is None
            assert [i for i, _ in uow.conversations.waiting("telegram", later, 10)] == ["14"]

    def test_a_turn_opens_with_the_state_and_the_persons_language(self, any_uow: UnitOfWork) -> None:
        zhang = PersonRef("resident", 1)
        with any_uow as uow:
            uow.conversations.put("telegram", "-100", "9", {"step": "location"}, NOW)
            uow.people.set_locale(STRANGER, "en", NOW)
            uow.people.set_locale(zhang, "zh_CN", NOW)
            uow.commit()
        with any_uow as uow:
            opened = uow.conversations.open("telegram", "-100", "9", STRANGER, NOW)
            assert opened is not None and (opened.state, opened.locale) == ({"step": "location"}, "en")
            # Another chat of the same person: their own language, not that chat's state.
            private = uow.conversations.open("telegram", "9", "9", STRANGER, NOW)
            assert private is not None and (private.state, private.locale) == (None, "en")
            known = uow.conversations.open("telegram", "7001", "7001", zhang, NOW)
            assert known is not None and known.locale == "zh_CN"
            nobody = uow.conversations.open("telegram", "10", "10", OTHER, NOW)
            assert nobody is not None and (nobody.state, nobody.locale) == (None, None)

    def test_a_turn_that_claims_its_message_opens_once_and_a_rejected_message_is_never_claimed(
        self, any_uow: UnitOfWork
    ) -> None:
        with any_uow as uow:
            uow.conversations.put("telegram", "9", "9", {"step": "location"}, NOW)
            first = uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="4242")
            assert first is not None and first.state == {"step": "location"}
            assert uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="4242") is None
            assert uow.conversations.reject("telegram", "4244", "it crashed its worker", NOW) is True
            uow.commit()
        with any_uow as uow:
            assert uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="4242") is None
            assert uow.conversations.open("telegram", "10", "10", OTHER, NOW, claim="4242") is None
            assert uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="4244") is None
            assert uow.conversations.reject("telegram", "4242", "late", NOW) is False
            assert uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="4243") is not None

    def test_a_message_is_claimed_once_even_by_racing_workers(self, engine: Engine) -> None:
        claimed: list[bool] = []

        def claim() -> None:
            with SqlAlchemyUnitOfWork(engine) as uow:
                claimed.append(uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="4242") is not None)
                uow.commit()

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(claimed) == [False, False, False, True]

    @pytest.mark.postgres
    def test_one_persons_turns_wait_for_each_other_and_read_what_the_one_before_wrote(self, pg_engine: Engine) -> None:
        """On PostgreSQL, where turns run side by side (SQLite runs one transaction at a time anyway)."""
        engine = pg_engine
        first_open, release = threading.Event(), threading.Event()
        seen: list[object] = []

        def first() -> None:
            with SqlAlchemyUnitOfWork(engine) as uow:
                uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="1")
                first_open.set()
                release.wait(10)
                uow.conversations.put("telegram", "9", "9", {"step": "written by the first"}, NOW)
                uow.commit()

        def second() -> None:
            first_open.wait(10)
            with SqlAlchemyUnitOfWork(engine) as uow:
                opened = uow.conversations.open("telegram", "9", "9", STRANGER, NOW, claim="2")
                seen.append(opened.state if opened else None)
                uow.commit()

        def someone_else() -> None:
            first_open.wait(10)
            with SqlAlchemyUnitOfWork(engine) as uow:
                uow.conversations.open("telegram", "10", "10", OTHER, NOW, claim="3")
                seen.append("someone else went on")
                uow.commit()

        threads = [threading.Thread(target=f) for f in (first, second, someone_else)]
        for thread in threads:
            thread.start()
        threads[2].join(10)
        assert seen == ["someone else went on"]  # not held back by another person's turn
        time.sleep(0.2)  # the second turn had time to read the state, were it not waiting
        assert seen == ["someone else went on"]
        release.set()
        for thread in threads:
            thread.join(10)
        assert seen == ["someone else went on", {"step": "written by the first"}]


class TestPeople:
    def test_settings_are_kept_per_person_and_per_strangers_address(self, any_uow: UnitOfWork) -> None:
        with any_uow as uow:
            uow.people.set_locale(PersonRef("staff", 1), "en", NOW)
            uow.people.set_locale(STRANGER, "en", NOW)
            uow.people.set_locale(STRANGER, "zh_CN", NOW)
            uow.commit()
        with any_uow as uow:
            assert uow.people.locale(PersonRef("staff", 1)) == "en"
            assert uow.people.locale(PersonRef("resident", 1)) is None
            assert uow.people.locale(STRANGER) == "zh_CN" and uow.people.locale(OTHER) is None

    def test_an_address_is_noted_as_used_when_its_person_writes(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        telegram, console = Address("telegram", "5001"), Address("console", "李伟 Li Wei")
        with any_uow as uow:
            li = next(s for s in uow.directory.get("SG").staff if s.name.startswith("李伟"))  # type: ignore[union-attr]
            uow.directory.link("SG", console, li.ref)
            uow.conversations.open("console", "console:李伟 Li Wei", console.id, li.ref, NOW)
            uow.conversations.open("telegram", "5001", "5001", li.ref, NOW + timedelta(minutes=1))
            uow.commit()
        with any_uow as uow:
            assert uow.people.last_used([telegram, console, OTHER]) == {
                console: NOW, telegram: NOW + timedelta(minutes=1),
            }  # fmt: skip


class TestDirectoryAddresses:
    def test_people_come_back_with_the_files_addresses_then_those_linked_since(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        with any_uow as uow:
            estate = uow.directory.get("SG")
            assert estate is not None
            zhang = estate.residents[0]
            assert estate.phone == "0755-8600 1234"  # the front desk's number, given for what chat cannot do
            assert zhang.addresses == (Address("telegram", "7001"), Address("wechat", "oRES_zhangsan_0001"))
            first = uow.directory.version("SG")
            assert uow.directory.link("SG", Address("console", zhang.name), zhang.ref) is True
            assert uow.directory.link("SG", Address("console", zhang.name), zhang.ref) is False
            uow.commit()
        load_demo(any_uow)  # loading the file again keeps what was linked
        with any_uow as uow:
            estate = uow.directory.get("SG")
            assert estate is not None and uow.directory.version("SG") == (first or 0) + 1
            assert estate.residents[0].addresses[-1] == Address("console", zhang.name)
            assert uow.directory.addresses(zhang.ref) == list(estate.residents[0].addresses)
            assert uow.directory.addresses(PersonRef("staff", 999)) == []
            assert estate.person_at(Address("console", zhang.name)) == estate.residents[0]
            assert estate.person_at(Address("telegram", "5001")) == estate.staff[0]

    def test_a_registered_resident_is_kept_through_loads_and_found_by_their_address(self, any_uow: UnitOfWork) -> None:
        load_demo(any_uow)
        with any_uow as uow:
            resident_id = uow.directory.register("SG", "Wu Xin", "1-2-502", STRANGER)
            uow.commit()
        load_demo(any_uow)
        with any_uow as uow:
            estate = uow.directory.get("SG")
            assert estate is not None
            wu = estate.person_at(STRANGER)
            assert wu is not None and wu.id == resident_id and wu.name == "Wu Xin"
            assert wu.rooms == ("1-2-502",) and wu.registered  # type: ignore[union-attr]

    def test_a_directory_load_that_changes_something_bumps_the_version(self, any_uow: UnitOfWork) -> None:
        from bot.bootstrap import read_estate

        load_demo(any_uow)
        with any_uow as uow:
            first = uow.directory.version("SG")
        load_demo(any_uow)  # unchanged
        with any_uow as uow:
            assert uow.directory.version("SG") == first
            uow.directory.sync(read_estate({"estate": {"code": "SG", "name": "renamed"}}))
            uow.commit()
        with any_uow as uow:
            assert uow.directory.version("SG") == (first or 0) + 1
            assert uow.directory.version("XX") is None


class TestOutbox:
    def test_several_queued_at_once_report_which_are_new(self, any_uow: UnitOfWork) -> None:
        first, second, third = (OutboxMessage(f"k{n}", "telegram", "7001", {"text": str(n)}) for n in (1, 2, 3))
        with any_uow as uow:
            assert uow.outbox.add_all([first], NOW) == [first]
            assert uow.outbox.add_all([second, first, third], NOW) == [second, third]
            assert uow.outbox.add_all([], NOW) == []
            uow.commit()
        with any_uow as uow:
            assert uow.outbox.due(NOW) == [first, second, third]  # in the order they were queued

    def test_a_message_is_queued_once_and_sent_once(self, any_uow: UnitOfWork) -> None:
        message = OutboxMessage("ticket-1-created", "telegram", "7001", {"text": "已收到 SG-20261127-0001"})
        with any_uow as uow:
            assert uow.outbox.add_all([message, message], NOW) == [message]
            uow.commit()
        with any_uow as uow:
            assert uow.outbox.due(NOW) == [message]
            uow.outbox.mark_failed(message.key, "502 Bad Gateway", NOW + timedelta(seconds=30))
            uow.commit()
        with any_uow as uow:
            assert uow.outbox.due(NOW + timedelta(seconds=29)) == []
            (again,) = uow.outbox.due(NOW + timedelta(seconds=30))
            assert again.key == message.key and again.attempts == 1
            uow.outbox.mark_sent([message.key], NOW + timedelta(seconds=31))
            uow.commit()
        with any_uow as uow:
            assert uow.outbox.due(NOW + timedelta(days=1)) == []

    def test_a_retried_message_holds_back_later_ones_to_the_same_chat_only(self, any_uow: UnitOfWork) -> None:
        first, second = (OutboxMessage(f"m{i}", "telegram", "7001", {"text": str(i)}) for i in (1, 2))
        elsewhere = OutboxMessage("m3", "telegram", "7002", {"text": "3"})
        with any_uow as uow:
            uow.outbox.add_all([first, second, elsewhere], NOW)
            uow.outbox.mark_failed("m1", "429", NOW + timedelta(seconds=10))
            uow.commit()
        with any_uow as uow:
            assert uow.outbox.due(NOW + timedelta(seconds=1)) == [elsewhere]
            assert [m.key for m in uow.outbox.due(NOW + timedelta(seconds=10))] == ["m1", "m2", "m3"]
            uow.outbox.mark_dead("m1", "chat not found")
            uow.commit()
        with any_uow as uow:
            assert [m.key for m in uow.outbox.due(NOW + timedelta(seconds=10))] == ["m2", "m3"]
            assert uow.outbox.pending_count() == 2

    def test_senders_claim_messages_each_chat_to_one_sender_until_its_claim_runs_out(self, any_uow: UnitOfWork) -> None:
        x1, x2, y1 = (
            OutboxMessage(k, "telegram", chat, {"text": k}) for k, chat in (("x1", "X"), ("x2", "X"), ("y1", "Y"))
        )
        born = OutboxMessage("z1", "telegram", "Z", {"text": "z1"})  # handed to sender A in memory
        a, b = Claim("A", NOW + timedelta(seconds=8)), Claim("B", NOW + timedelta(seconds=8))
        with any_uow as uow:
            uow.outbox.add_all([x1, x2], NOW)
            uow.outbox.add_all([born], NOW, held=a)
            assert [m.key for m in uow.outbox.claim(NOW, a, limit=1)] == ["x1"]
            uow.commit()
        with any_uow as uow:
            uow.outbox.add_all([y1], NOW)
            # x2 waits behind x1, which A holds; z1 is A's from the start.
            assert [m.key for m in uow.outbox.claim(NOW, b, limit=10)] == ["y1"]
            assert [m.key for m in uow.outbox.claim(NOW, a, limit=10)] == ["x1", "x2", "z1"]  # its own, again
            uow.commit()
        with any_uow as uow:  # A renews, then dies: after its claim runs out, B takes what it held
            uow.outbox.renew(Claim("A", NOW + timedelta(seconds=12)))
            uow.outbox.mark_sent(["y1"], NOW + timedelta(seconds=1))
            assert uow.outbox.claim(NOW + timedelta(seconds=10), Claim("B", NOW + timedelta(seconds=18)), 10) == []
            later = uow.outbox.claim(NOW + timedelta(seconds=13), Claim("B", NOW + timedelta(seconds=21)), limit=10)
            assert [(m.key, m.uncertain) for m in later] == [("x1", True), ("x2", True), ("z1", True)]
            uow.outbox.mark_sent(["x1"], NOW + timedelta(seconds=14))
            uow.outbox.renew(Claim("B", NOW))  # B stops and lets go: A' may take the rest at once
            uow.commit()
        with any_uow as uow:
            again = uow.outbox.claim(NOW + timedelta(seconds=14), Claim("C", NOW + timedelta(seconds=22)), limit=10)
            assert [m.key for m in again] == ["x2", "z1"]

    def test_a_chats_messages_are_numbered_in_the_order_their_transactions_commit(self, engine: Engine) -> None:
        """PostgreSQL numbers rows when they are inserted, not when they commit: a transaction queueing for a chat
        waits for another that queued for it first, or the sender would send the later one first."""
        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite has one writer at a time: inserts are in commit order already")
        first, second = SqlAlchemyUnitOfWork(engine), SqlAlchemyUnitOfWork(engine)
        order: list[str] = []
        queued = threading.Event()

        def queue_second() -> None:
            queued.wait()
            with second as uow:
                uow.outbox.add_all([OutboxMessage("b", "telegram", "7001", {"text": "b"})], NOW)
                order.append("second queued")
                uow.commit()

        thread = threading.Thread(target=queue_second)
        thread.start()
        with first as uow:
            uow.outbox.add_all([OutboxMessage("a", "telegram", "7001", {"text": "a"})], NOW)
            queued.set()
            time.sleep(0.3)  # the second transaction is at its insert meanwhile
            order.append("first commits")
            uow.commit()
        thread.join()
        assert order == ["first commits", "second queued"]
        with first as uow:
            assert [m.key for m in uow.outbox.due(NOW)] == ["a", "b"]

    def test_what_was_pushed_to_a_person_since_a_time_is_found_and_answers_are_not(self, any_uow: UnitOfWork) -> None:
        earlier = OutboxMessage(f"{NOTICE}1:2:0", "telegram", "7001", {"text": "earlier"})
        later = OutboxMessage(f"{NOTICE}1:3:0", "telegram", "7001", {"text": "Is it fixed?"})
        failed = OutboxMessage(f"{NOTICE}1:4:0", "telegram", "7001", {"text": "never delivered"})
        answer = OutboxMessage("telegram:55:0", "telegram", "7001", {"text": "an answer to their own message"})
        other = OutboxMessage(f"{NOTICE}2:2:0", "telegram", "7002", {"text": "someone else's"})
        with any_uow as uow:
            uow.outbox.add_all([earlier], NOW)
            uow.outbox.add_all([later, failed, answer, other], NOW + timedelta(seconds=5))
            uow.outbox.mark_dead(failed.key, "bot was blocked by the user")
            uow.commit()
        with any_uow as uow:
            assert uow.outbox.notices_since("telegram", "7001", NOW) == [{"text": "Is it fixed?"}]
            assert uow.outbox.notices_since("telegram", "7001", NOW + timedelta(seconds=5)) == []


class TestRetention:
    def test_every_table_is_either_pruned_by_age_or_kept_for_good(self) -> None:
        assert set(PRUNED) | KEPT == set(Base.metadata.tables) and not set(PRUNED) & KEPT

    def test_old_rows_go_and_what_is_still_to_do_or_recent_stays(self, engine: Engine) -> None:
        old, recent = NOW - timedelta(days=40), NOW - timedelta(days=1)
        uow = SqlAlchemyUnitOfWork(engine)
        with uow:
            uow.conversations.keep("telegram", [("1", {}), ("2", {}), ("3", {})], old)
            uow.conversations.keep("telegram", [("4", {})], recent)
            for native_id in ("1", "2", "4"):
                uow.conversations.reject("telegram", native_id, "test", old if native_id != "4" else recent)
            uow.outbox.add_all([OutboxMessage("sent", "telegram", "1", {}), OutboxMessage("dead", "telegram", "1", {}),
                                OutboxMessage("to send", "telegram", "1", {})], old)  # fmt: skip
            uow.outbox.mark_sent(["sent"], old)
            uow.outbox.mark_dead("dead", "blocked")
            uow.conversations.put("telegram", "1", "1", {"step": "old"}, old)
            uow.conversations.put("telegram", "2", "2", {"step": "new"}, recent)
            uow.commit()
        deleted = prune(engine, RetentionSection().days(), NOW)
        assert deleted == {"inbound_messages": 2, "outbox": 2, "dialogue_states": 1}
        with engine.connect() as connection:
            assert sorted(connection.execute(select(InboundMessageRow.native_id)).scalars()) == ["3", "4"]
            assert list(connection.execute(select(OutboxRow.key)).scalars()) == ["to send"]
        with uow:
            assert uow.conversations.get("telegram", "1", "1") is None
            assert uow.conversations.get("telegram", "2", "2") == {"step": "new"}
        assert prune(engine, RetentionSection().days(), NOW) == {
            "inbound_messages": 0,
            "outbox": 0,
            "dialogue_states": 0,
        }

    def test_fewer_than_two_days_of_messages_is_refused(self) -> None:
        with pytest.raises(ConfigError, match=r"retention\.inbound_messages: must be 2 days or more"):
            parse_config({"retention": {"inbound_messages": 1}}, environ={})


def _at_revision(database_url: str, revision: str) -> Engine:
    from alembic import command

    from storage.db import _alembic_config

    engine = make_engine(database_url)
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def test_upgrading_a_database_that_has_tickets_keeps_them(database_url: str) -> None:
    engine = _at_revision(database_url, "0001")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO estates (code, name) VALUES ('SG', 'x')"))
        connection.execute(
            text(
                "INSERT INTO tickets (estate_id, number, kind, source, status, category, urgency, description,"
                " reporter, reporter_contact, reporter_ref, anonymous, verified, assignee_name, department,"
                " attachments, milestones, materials, cost, resolution, acceptance, rating_comment, rework_count,"
                " created_at, updated_at) VALUES (1, 'sg-20261127-0001', 'repair', 'front_desk', 'new', 'civil',"
                " 'normal', 'old ticket', 'x', '', 'telegram:9', false, true, '', '', '[]', '{}',"
                ' \'[{"name": "washer", "quantity": 2, "unit": "", "cost": 0.3}]\', 0.3, \'\', \'\','
                " '', 0, :now, :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
    upgrade(engine)
    with SqlAlchemyUnitOfWork(engine) as uow:
        ticket = uow.tickets.get_by_number("SG-20261127-0001")  # numbers are stored in capitals since
        assert ticket is not None and ticket.origin is None and ticket.description == "old ticket"
        assert ticket.reporter_address == STRANGER
        # 0006: a cost kept as a float is now exact cents, and a material's float cost reads as exact money
        assert ticket.cost == Decimal("0.30") and ticket.materials[0].cost == Decimal("0.30")
    engine.dispose()


def test_upgrading_moves_chat_ids_contacts_registrations_and_settings_to_people(database_url: str) -> None:
    """0004: the directory's channel columns, staff contacts and registrations become addresses of people, and
    settings kept per chat identity become settings per person."""
    engine = _at_revision(database_url, "0003")
    now = NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO estates (code, name, version) VALUES ('SG', 'x', 1)"))
        connection.execute(text(
            "INSERT INTO staff (estate_id, name, active, roles, trades, departments, shifts, telegram_id,"
            " wecom_userid, phone) VALUES (1, 'Li', true, '[\"technician\"]', '[]', '[]', '[]', 5001, 'liwei', '')"
        ))  # fmt: skip
        connection.execute(text(
            "INSERT INTO staff_groups (estate_id, name, active, trades, telegram_chat_id)"
            " VALUES (1, 'Duty', true, '[]', -100)"
        ))  # fmt: skip
        connection.execute(text(
            "INSERT INTO staff_contacts (channel, \"user\", staff_id, seen_at) VALUES ('console', 'Li', 1, :now)"
        ), {"now": now})  # fmt: skip
        connection.execute(text(
            "INSERT INTO registrations (ref, name, room, confirmed_by, confirmed_at)"
            " VALUES ('telegram:9', 'Guest', '1-2-804', 'Chen', :now)"
        ), {"now": now})  # fmt: skip
        connection.execute(text(
            "INSERT INTO user_settings (channel, \"user\", locale, updated_at) VALUES"
            " ('telegram', '5001', 'en', :now), ('telegram', '9', 'en', :now), ('telegram', '77', 'zh_CN', :now)"
        ), {"now": now})  # fmt: skip
    upgrade(engine)
    with SqlAlchemyUnitOfWork(engine) as uow:
        estate = uow.directory.get("SG")
        assert estate is not None
        (li,) = estate.staff
        assert li.addresses == (Address("telegram", "5001"), Address("wecom", "liwei"), Address("console", "Li"))
        assert estate.staff_groups[0].addresses == (Address("telegram", "-100"),)
        guest = estate.person_at(STRANGER)
        assert guest is not None and guest.name == "Guest" and guest.rooms == ("1-2-804",)  # type: ignore[union-attr]
        assert uow.people.locale(li.ref) == "en" and uow.people.locale(guest.ref) == "en"
        assert uow.people.locale(Address("telegram", "77")) == "zh_CN"
        assert uow.directory.version("SG") == 2  # running processes read the directory again
    engine.dispose()


def test_upgrading_gives_registered_strangers_who_share_a_name_names_of_their_own(database_url: str) -> None:
    """0004: registrations become residents of origin "registered", unique by name; strangers who share a display
    name are told apart by their room, as `register` does, and by a number when that is taken too."""
    engine = _at_revision(database_url, "0003")
    now = NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO estates (code, name, version) VALUES ('SG', 'x', 1)"))
        connection.execute(text(
            "INSERT INTO registrations (ref, name, room, confirmed_by, confirmed_at) VALUES"
            " ('telegram:9', 'Li', '1-2-804', 'Chen', :first), ('telegram:10', 'Li', '1-1-1201', 'Chen', :second),"
            " ('telegram:11', 'Li', '1-1-1201', 'Chen', :third)"
        ), {"first": now, "second": now + timedelta(minutes=1), "third": now + timedelta(minutes=2)})  # fmt: skip
    upgrade(engine)
    with SqlAlchemyUnitOfWork(engine) as uow:
        estate = uow.directory.get("SG")
        assert estate is not None
        found = {user: estate.person_at(Address("telegram", user)) for user in ("9", "10", "11")}
        assert {user: person.name for user, person in found.items() if person is not None} == {
            "9": "Li",
            "10": "Li (1-1-1201)",
            "11": "Li (1-1-1201, 2)",
        }
        assert found["10"].rooms == ("1-1-1201",)  # type: ignore[union-attr]
    engine.dispose()


def test_upgrading_gives_a_chat_id_to_the_person_the_old_code_found_there(database_url: str) -> None:
    """0004: an address has one owner. A rename in the directory file deactivated the old row and added a new one
    with the same chat id, and the old code looked only at active people (staff, then residents, then a
    registration): the active person gets the address and its settings, whatever the order of the rows."""
    engine = _at_revision(database_url, "0003")
    now = NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO estates (code, name, version) VALUES ('SG', 'x', 1)"))
        connection.execute(text(
            "INSERT INTO residents (estate_id, name, active, rooms, phone, telegram_id) VALUES"
            " (1, '张三', false, '[\"1-1-1201\"]', '', 7001), (1, '张三 Zhang San', true, '[\"1-1-1201\"]', '', 7001),"
            " (1, 'Old tenant', false, '[\"1-2-804\"]', '', 9)"
        ))  # fmt: skip
        connection.execute(text(
            "INSERT INTO staff (estate_id, name, active, roles, trades, departments, shifts, telegram_id, phone)"
            " VALUES (1, 'Wang', false, '[]', '[]', '[]', '[]', 5002, ''),"
            " (1, 'Wang Fang', true, '[]', '[]', '[]', '[]', 5002, '')"
        ))  # fmt: skip
        connection.execute(text(
            "INSERT INTO staff_contacts (channel, \"user\", staff_id, seen_at) VALUES ('telegram', '5002', 1, :now)"
        ), {"now": now})  # fmt: skip
        connection.execute(text(
            "INSERT INTO registrations (ref, name, room, confirmed_by, confirmed_at) VALUES"
            " ('telegram:9', 'Guest', '1-2-804', 'Chen', :now), ('telegram:7001', 'Zhang', '1-1-1201', 'Chen', :now)"
        ), {"now": now})  # fmt: skip
        connection.execute(text(
            "INSERT INTO user_settings (channel, \"user\", locale, updated_at) VALUES"
            " ('telegram', '7001', 'en', :now), ('telegram', '5002', 'zh_CN', :now), ('telegram', '9', 'en', :now)"
        ), {"now": now})  # fmt: skip
    upgrade(engine)
    with SqlAlchemyUnitOfWork(engine) as uow:
        estate = uow.directory.get("SG")
        assert estate is not None
        zhang, wang, guest = (estate.person_at(Address("telegram", user)) for user in ("7001", "5002", "9"))
        assert zhang is not None and zhang.name == "张三 Zhang San"
        assert wang is not None and wang.name == "Wang Fang"
        # The old tenant had left, so the old code found the registration for their chat id.
        assert guest is not None and guest.name == "Guest"
        assert uow.people.locale(zhang.ref) == "en" and uow.people.locale(wang.ref) == "zh_CN"
        assert uow.people.locale(guest.ref) == "en"
        held = uow.session.execute(text("SELECT person_kind, person_id FROM addresses")).all()
        assert sorted(held) == sorted([("resident", zhang.ref.id), ("staff", wang.ref.id), ("resident", guest.ref.id)])
    engine.dispose()
