"""`baoxiu` on the command line: one clear line and exit status 2 for a bad setup, never a traceback."""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from bot import bootstrap
from bot.channels import CONSOLE
from bot.channels.console import ConsoleChat, interactive_lines
from bot.config import Config, ConfigError, load_config
from core.conversation.staff import find_staff
from core.conversation.views import actor_for_staff, anonymous_actor, reporter_for_staff
from core.domain.directory import DirectoryError, Estate, Resident, Staff
from core.domain.errors import DomainError
from core.domain.lifecycle import STATUS_WORDS
from core.domain.model import (
    FEEDBACK_CATEGORIES,
    REPAIR_CATEGORIES,
    Actor,
    Location,
    Source,
    Status,
    Ticket,
    TicketKind,
    Urgency,
)
from core.domain.people import Address
from core.domain.places import find_place
from core.domain.tickets import TicketDraft
from core.i18n import IdentityTranslator
from core.ports import TicketQuery, UnitOfWork
from core.services.tickets import find_ticket, open_ticket, resident_named, taken_at_the_desk
from core.services.work import Work
from storage.db import DatabaseError, schema_state

F = TypeVar("F", bound=Callable[..., Any])
ENGLISH = IdentityTranslator()  # what the command line prints is English, as the history is
SETUP_ERROR = 2


class Context:
    """What every command shares: the config, read once, and the database, opened on first use and closed
    when the command ends."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._engine: Engine | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def engine(self) -> Engine:
        """The database on an up-to-date schema."""
        if self._engine is None:
            self._engine = bootstrap.open_database(self.config)
        return self._engine

    def uow(self) -> UnitOfWork:
        return bootstrap.unit_of_work(self.engine)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def now() -> datetime:
    return datetime.now(UTC)


class BaoxiuGroup(click.Group):
    """Turns the errors a user can cause into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, DatabaseError) as error:
            click.echo(f"baoxiu: {error}", err=True)
            sys.exit(SETUP_ERROR)
        except DirectoryError as error:
            click.echo(f"baoxiu: the directory was not loaded; {len(error.problems)} problem(s):", err=True)
            for problem in error.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(SETUP_ERROR)
        except DomainError as error:
            click.echo(f"baoxiu: {error}", err=True)
            sys.exit(1)


@click.group(cls=BaoxiuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar="BAOXIU_CONFIG",
    help="Config file (TOML). Without one: SQLite at ./baoxiu.db and the console channel.",
)
@click.version_option(package_name="baoxiu")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """baoxiu (报修): a chat-first repair and feedback desk."""
    ctx.obj = Context(config_path)
    ctx.call_on_close(ctx.obj.close)


pass_context = click.make_pass_decorator(Context)


# --- db ---------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Create or upgrade the schema to this version of baoxiu."""
    from storage.db import make_engine, upgrade

    engine = make_engine(context.config.database.url)
    try:
        before, head = upgrade(engine)
    finally:
        engine.dispose()
    if before == head:
        click.echo(f"database is up to date (revision {head})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to revision {head}")


@db.command("status")
@pass_context
def db_status(context: Context) -> None:
    """Show the schema revision of the database and of this baoxiu."""
    from storage.db import make_engine

    engine = make_engine(context.config.database.url)
    try:
        current, head = schema_state(engine)
    finally:
        engine.dispose()
    click.echo(f"database revision: {current or 'empty'}; this baoxiu: {head}")


# --- directory --------------------------------------------------------------------------------


@cli.group()
def directory() -> None:
    """The estate directory: places, staff, residents, groups."""


@directory.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_context
def directory_load(context: Context, file: str) -> None:
    """Load FILE.toml; loading it again changes only what was edited."""
    estate = read_directory(Path(file))
    with context.uow() as uow:
        report = uow.directory.sync(estate)
        uow.commit()
    if not report.changed:
        click.echo(f"{estate.code} {estate.name}: no changes")
        return
    click.echo(f"{estate.code} {estate.name}: loaded")
    for label, counts in (("added", report.added), ("updated", report.updated), ("deactivated", report.deactivated)):
        if counts:
            click.echo(f"  {label}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))


def read_directory(file: Path) -> Estate:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"directory file {file} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"directory file {file} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: TOML syntax error: {error}") from None
    return bootstrap.read_estate(data)


# --- tickets ----------------------------------------------------------------------------------


@cli.group()
def tickets() -> None:
    """Create, list and show tickets."""


@tickets.command("create")
@click.option("--kind", type=click.Choice([k.value for k in TicketKind]), default="repair", show_default=True)
@click.option(
    "--source",
    type=click.Choice([Source.FRONT_DESK.value, Source.PATROL.value, Source.PREVENTIVE.value]),
    default=Source.FRONT_DESK.value,
    show_default=True,
    help="front_desk: a call or a walk-in; patrol: found on an inspection round; preventive: planned work.",
)
@click.option("--location", required=True, help="A room (1-1-1201, 1栋1单元1201) or a common area (garage).")
@click.option("--description", required=True, help="What is wrong, in the reporter's words.")
@click.option(
    "--category",
    required=True,
    type=click.Choice(sorted(set(REPAIR_CATEGORIES) | set(FEEDBACK_CATEGORIES))),
    help=f"Repair: {', '.join(REPAIR_CATEGORIES)}. Feedback: {', '.join(FEEDBACK_CATEGORIES)}.",
)
@click.option("--urgency", type=click.Choice([u.value for u in Urgency]), default="normal", show_default=True)
@click.option("--reporter", default="", help="A resident's name or phone, or who called (name and number).")
@click.option("--anonymous", is_flag=True, help="Feedback only: hide the reporter's name from staff.")
@click.option("--estate", "estate_option", default=None, help="Estate code, when several are loaded.")
@click.option("--json", "as_json", is_flag=True, help="Print the new ticket as JSON.")
@pass_context
def tickets_create(
    context: Context,
    kind: str,
    source: str,
    location: str,
    description: str,
    category: str,
    urgency: str,
    reporter: str,
    anonymous: bool,
    estate_option: str | None,
    as_json: bool,
) -> None:
    """Open a ticket for a phone call, a walk-in or a patrol finding; it is dispatched as a report in chat is."""
    ticket_kind = TicketKind(kind)
    if anonymous and ticket_kind is not TicketKind.FEEDBACK:
        raise click.BadParameter("only feedback can be anonymous", param_hint="--anonymous")
    engine = context.engine
    with bootstrap.unit_of_work(engine) as uow:
        code = bootstrap.estate_code(uow, context.config, estate_option)
    desk = bootstrap.build_desk(context.config, engine, code)

    def create(work: Work) -> Ticket:
        estate = work.estate
        place = find_place(estate, location, fuzzy=False)
        if place.candidates:
            raise click.BadParameter(f"which one: {' or '.join(place.candidates)}?", param_hint="--location")
        department = estate.department_for(category) if ticket_kind is TicketKind.FEEDBACK else None
        draft = TicketDraft(
            kind=ticket_kind,
            source=Source(source),
            location=Location(room=place.room, common_area=place.common_area, text=None if place.found else location),
            category=category,
            description=description,
            urgency=Urgency(urgency),
            reporter="",
            anonymous=anonymous,
            department=department.name if department else "",
        )
        draft = taken_at_the_desk(estate, draft, Source(source), caller=reporter)
        return open_ticket(work, draft, Actor("operator", "command line"))

    ticket = desk.act(now(), create)
    if as_json:
        click.echo(json.dumps(ticket_json(ticket, context.config), ensure_ascii=False, indent=2))
        return
    click.echo(
        f"created {ticket.number}: {ticket.kind} · {ticket.category} · {ticket.urgency} · {ticket.location.label()}"
    )
    click.echo(f"  {STATUS_WORDS[ticket.status]}" + (f": {ticket.assignee_name}" if ticket.assignee_name else ""))
    if ticket.location.needs_review:
        click.echo("  the location is not in the directory; it is flagged for staff review", err=True)


def _parse_since(value: str | None, config: Config) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), config.zone).astimezone(UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f'"{value}" is not a date like 2026-11-27', param_hint="--since") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=config.zone)).astimezone(UTC)


@tickets.command("list")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None)
@click.option("--since", default=None, help="Only tickets created on or after this date (YYYY-MM-DD, local).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def tickets_list(context: Context, status: str | None, since: str | None, as_json: bool) -> None:
    """List tickets, oldest first."""
    query = TicketQuery(status=Status(status) if status else None, since=_parse_since(since, context.config))
    with context.uow() as uow:
        found = uow.tickets.list(query)
    if as_json:
        click.echo(json.dumps([ticket_json(t, context.config) for t in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no tickets")
        return
    for t in found:
        created = t.created_at.astimezone(context.config.zone).strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{t.number}  {created}  {t.status:<11} {t.urgency:<9} {t.category:<15} "
            f"{t.location.label()}  {t.assignee_name or '-'}"
        )


@tickets.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with the full history.")
@pass_context
def tickets_show(context: Context, reference: str, as_json: bool) -> None:
    """Show one ticket (by number or id) with its full history."""
    with context.uow() as uow:
        ticket = find_ticket(uow, reference)
    zone = context.config.zone
    if as_json:
        data = ticket_json(ticket, context.config)
        data["history"] = [
            {
                "at": e.at.astimezone(zone).isoformat(),
                "actor": {
                    "kind": e.actor.kind,
                    "name": actor_for_staff(ticket, e, ENGLISH),
                    "id": None if anonymous_actor(ticket, e) else e.actor.id,
                },
                "action": e.action,
                "from_status": e.from_status.value if e.from_status else None,
                "to_status": e.to_status.value,
                "details": e.details,
            }
            for e in ticket.history
        ]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    review = "  (not in the directory: needs review)" if ticket.location.needs_review else ""
    lines = [
        f"{ticket.number}  {ticket.kind} · {ticket.category} · {ticket.urgency}",
        f"status:      {STATUS_WORDS[ticket.status]}",
        f"location:    {ticket.location.label()}{review}",
        f"description: {ticket.description}",
        f"source:      {ticket.source}",
        f"reporter:    {reporter_of(ticket)}"
        + (
            f", {ticket.reporter_contact}"
            if ticket.reporter_contact and ticket.reporter_contact != ticket.reporter and not ticket.anonymous
            else ""
        )
        + ("  (unverified: not in the directory yet)" if not ticket.verified else ""),
        f"assignee:    {ticket.assignee_name or '-'}"
        + (f"  department: {ticket.department}" if ticket.department else ""),
        f"created:     {local(ticket.created_at)}",
    ]
    if ticket.response_due and ticket.resolve_due:
        lines.append(f"due:         respond by {local(ticket.response_due)}, fix by {local(ticket.resolve_due)}")
    if ticket.rating is not None:
        lines.append(f"rating:      {ticket.rating}/5 {ticket.rating_comment}".rstrip())
    if ticket.rework_count:
        lines.append(f"rework:      {ticket.rework_count}")
    lines.append("history:")
    for e in ticket.history:
        move = f"{e.from_status or '-'} → {e.to_status}" if e.from_status != e.to_status else str(e.to_status)
        extra = "  " + json.dumps(e.details, ensure_ascii=False) if e.details else ""
        lines.append(f"  {local(e.at)}  {actor_for_staff(ticket, e, ENGLISH):<14} {e.action:<12} {move}{extra}")
    click.echo("\n".join(lines))


def reporter_of(ticket: Ticket) -> str:
    """The reporter as the records keep them (a directory name in both languages); anonymous stays anonymous."""
    return ticket.reporter if ticket.reporter and not ticket.anonymous else reporter_for_staff(ticket, ENGLISH)


def ticket_json(ticket: Ticket, config: Config) -> dict[str, Any]:
    """The JSON shape the README documents (Command reference), which other tools rely on."""

    def iso(moment: datetime | None) -> str | None:
        return moment.astimezone(config.zone).isoformat() if moment else None

    return {
        "id": ticket.id,
        "number": ticket.number,
        "estate": ticket.estate_code,
        "kind": ticket.kind.value,
        "status": ticket.status.value,
        "category": ticket.category,
        "urgency": ticket.urgency.value,
        "location": ticket.location.label(),
        "location_detail": {
            "room": ticket.location.room,
            "common_area": ticket.location.common_area,
            "text": ticket.location.text,
            "needs_review": ticket.location.needs_review,
        },
        "description": ticket.description,
        "source": ticket.source.value,
        # the name as the directory gives it (both languages); an anonymous reporter stays anonymous here too
        "reporter": ticket.reporter
        if ticket.reporter and not ticket.anonymous
        else reporter_for_staff(ticket, ENGLISH),
        "reporter_contact": None if ticket.anonymous else ticket.reporter_contact,
        "anonymous": ticket.anonymous,
        "verified": ticket.verified,
        "assignee": ticket.assignee_name or None,
        "department": ticket.department or None,
        "attachments": [asdict(a) for a in ticket.attachments],
        "created_at": iso(ticket.created_at),
        "milestones": {name: iso(at) for name, at in ticket.milestones.items()},
        "response_due": iso(ticket.response_due),
        "resolve_due": iso(ticket.resolve_due),
        "materials": [m.dump() for m in ticket.materials],
        "cost": str(ticket.cost),  # exact: a decimal as text
        "resolution": ticket.resolution or None,
        "acceptance": ticket.acceptance or None,
        "rating": ticket.rating,
        "rating_comment": ticket.rating_comment or None,
        "rework_count": ticket.rework_count,
    }


# --- run --------------------------------------------------------------------------------------


@cli.command("run")
@pass_context
def run_command(context: Context) -> None:
    """Serve the configured channels, webhooks, /healthz and /metrics until SIGINT or SIGTERM."""
    import asyncio
    import logging

    from bot.runtime.server import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    asyncio.run(run(context.config))


# --- console ----------------------------------------------------------------------------------


@cli.command("console")
@click.option("--as", "as_name", default=None, help="Chat as this resident (default: the first in the directory).")
@click.option("--staff", "staff_name", default=None, help="Chat as this staff member (name, or part of it).")
@click.option("--estate", "estate_option", default=None, help="Estate code, when several are loaded.")
@pass_context
def console(context: Context, as_name: str | None, staff_name: str | None, estate_option: str | None) -> None:
    """Chat with the bot in the terminal; pipe a conversation in, one message a line."""
    if as_name and staff_name:
        raise click.UsageError("use --as or --staff, not both")
    engine = context.engine
    with bootstrap.unit_of_work(engine) as uow:
        code = bootstrap.estate_code(uow, context.config, estate_option)
        estate = uow.directory.get(code)
    assert estate is not None
    if staff_name is not None:
        staff = find_staff(estate.staff, staff_name)
        if staff is None:
            names = ", ".join(s.name for s in estate.staff if s.active)
            raise DomainError(f'no one on the staff is called "{staff_name}" (staff: {names})')
        person = staff.name
    elif as_name is None:
        if not estate.residents:
            raise DomainError("the directory has no residents; add one or use --as NAME")
        person = estate.residents[0].name
    else:
        match = resident_named(estate, as_name)
        person = match.name if match else as_name
        if match is None:
            click.echo(f"note: {as_name} is not in the directory; chatting as an unknown resident", err=True)
    desk = bootstrap.build_desk(context.config, engine, code)
    people: tuple[Staff | Resident, ...] = (*estate.staff, *estate.residents)
    known = next((p for p in people if p.name == person), None)
    if known is not None:  # this console is theirs: what others' actions send them waits here too
        desk.link(Address(CONSOLE.name, person), known.ref)
    interactive = sys.stdin.isatty()
    chat = ConsoleChat(desk, person, sys.stdout, interactive)
    if interactive:
        click.echo(f"{estate.name} · {person} · /help · Ctrl-D to leave", err=True)
        chat.run(interactive_lines("你 you › "))
    else:
        chat.run(sys.stdin)


def main() -> None:
    cli(prog_name="baoxiu")
