"""`baoxiu run`: one ASGI server for every channel's webhook, /healthz and /metrics, plus the outbox sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import bootstrap, metrics
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram import render as telegram_render
from bot.config import Config
from bot.runtime.health import Health, first_line
from bot.runtime.outbox_sender import DeadHook, OutboxSender
from bot.runtime.workers import DeskProcesses, DeskRunner, InLoopDesk, default_workers
from core.ports import OutboxMessage, UnitOfWork
from core.services.delivery import undeliverable
from storage.retention import prune
from storage.tables import OutboxRow

log = logging.getLogger(__name__)

PRUNE_FIRST_AFTER, PRUNE_EVERY = 60.0, 3600.0  # seconds


def build_app(
    engine: Engine,
    telegram: TelegramChannel | None,
    sender: OutboxSender | None = None,
    unhealthy_after: timedelta = timedelta(seconds=120),
) -> Starlette:
    async def healthz(request: Request) -> Response:
        """200 while everything works; 503 when the database cannot be reached, or a channel has failed to take or
        to give messages for longer than unhealthy_after: each channel says since when, why, and what waits."""

        def waiting() -> dict[str, int]:
            with engine.connect() as connection:
                counted = connection.execute(
                    select(OutboxRow.channel, func.count())
                    .where(OutboxRow.status == "pending")
                    .group_by(OutboxRow.channel)
                )
                return {str(channel): int(n) for channel, n in counted}

        try:
            pending = await asyncio.to_thread(waiting)
        except Exception as error:  # the point of a health check: say so instead of failing
            return JSONResponse({"status": "error", "database": first_line(error)}, status_code=503)
        now = datetime.now(UTC)
        channels: dict[str, dict[str, object]] = {}
        failing = False
        sides = {"telegram": (telegram.health if telegram is not None else None,
                              sender.health.get("telegram") if sender is not None else None)}  # fmt: skip
        for name, (receiving, sending) in sides.items():
            if receiving is None and sending is None:
                continue
            report: dict[str, object] = {"waiting": pending.get(name, 0)}
            for side, health in (("receiving", receiving), ("sending", sending)):
                health = health or Health()
                report[side] = health.report()
                failing = failing or health.failing_for(now) > unhealthy_after
            channels[name] = report
        body = {"status": "failing" if failing else "ok", "outbox_pending": sum(pending.values()), "channels": channels}
        return JSONResponse(body, status_code=503 if failing else 200)

    async def metrics_page(request: Request) -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes = [Route("/healthz", healthz), Route("/metrics", metrics_page)]
    if telegram is not None and telegram.settings.mode == "webhook":
        routes.append(Route("/telegram", telegram.webhook, methods=["POST"]))
    return Starlette(routes=routes)


def rerouting(config: Config) -> DeadHook:
    """A push the channel refused for good goes to the person's next address on a channel served here
    (core.services.delivery)."""
    served = tuple(bootstrap.channels(config))

    def reroute(uow: UnitOfWork, message: OutboxMessage, reason: str) -> None:
        undeliverable(uow, message, datetime.now(UTC), served)

    return reroute


async def prune_now_and_then(engine: Engine, config: Config, stopping: asyncio.Event) -> None:
    """[retention]: once soon after start, then once an hour; a database that is away is tried at the next."""
    wait = PRUNE_FIRST_AFTER
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), wait)
        if stopping.is_set():
            return
        wait = PRUNE_EVERY
        try:
            deleted = await asyncio.to_thread(prune, engine, config.retention.days(), datetime.now(UTC))
        except Exception as error:
            log.warning("retention: could not delete old rows: %s", first_line(error))
            continue
        if any(deleted.values()):
            log.info("retention: deleted %s", ", ".join(f"{n} from {table}" for table, n in deleted.items() if n))


def unserved(config: Config) -> list[str]:
    """Config sections of channels this baoxiu reads but does not serve yet, that are set all the same."""
    return [name for name in ("wechat", "wecom") if getattr(config, name) != type(getattr(config, name))()]


async def run(config: Config) -> None:
    """Serve until SIGINT or SIGTERM, then stop taking messages, finish sending, and exit."""
    engine = bootstrap.open_database(config)
    with bootstrap.unit_of_work(engine) as uow:
        code = bootstrap.estate_code(uow, config)
    desk = bootstrap.build_desk(config, engine, code)
    uow = bootstrap.unit_of_work(engine)
    postgresql = engine.dialect.name == "postgresql"
    # On PostgreSQL the sender's reads and writes wait on the network: a thread lets the loop send meanwhile.
    sender = OutboxSender(uow, transports={}, offload=postgresql, on_dead=rerouting(config))
    desk.sender = sender.claims  # what the desk queues is this sender's from the start (and its workers' too)
    loop = asyncio.get_running_loop()

    # Messages queued in one thread, turn after turn (SQLite), are handed over in memory in the order they committed.
    # Turns in desk workers (PostgreSQL) end in no particular order as the serving process sees them: the sender is
    # told to read the table instead, where each chat's messages are in commit order.
    queued = sender.poke if postgresql else sender.submit

    # Desk work outside the loop's thread (a scheduled job, say) hands its messages to the loop's own thread.
    def hand_over(messages: list[OutboxMessage]) -> None:
        loop.call_soon_threadsafe(queued, messages)

    desk.queued_listeners.append(hand_over)
    runner: DeskRunner = InLoopDesk(desk, on_queued=queued)
    if postgresql:
        workers = config.server.workers or default_workers()
        runner = DeskProcesses(config, code, workers, desk, on_queued=queued)
        log.info("baoxiu answers messages in %d worker processes", workers)
    for name in unserved(config):
        log.warning("[%s] is set, but this baoxiu does not serve that channel yet; it is ignored", name)
    telegram = None
    if config.telegram.token:
        telegram = TelegramChannel(config.telegram, runner, uow, Path(config.app.attachments_dir), offload=postgresql)
        sender.transports["telegram"] = telegram.send
    else:
        log.warning("no chat channel is configured: set [telegram] token to serve Telegram")
    server = uvicorn.Server(
        uvicorn.Config(build_app(engine, telegram, sender, timedelta(seconds=config.server.unhealthy_after_seconds)),
                       host=config.server.host, port=config.server.port,
                       lifespan="off", log_level="warning")
    )  # fmt: skip
    stopping = asyncio.Event()
    # Before uvicorn serves: while it does it takes SIGINT and SIGTERM itself, and when it is done it gives them
    # back to these handlers, which tell the loop instead of ending the process before the cleanup below.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, lambda: setattr(server, "should_exit", True))
    try:  # the desk's workers first: /healthz says ok only once messages can be answered
        await runner.start([telegram_render] if telegram is not None else [])
    except BaseException:
        await runner.close()
        raise
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    if serving.done():  # could not listen: serve() has said why
        await runner.close()
        await serving
        raise SystemExit(2)
    log.info("baoxiu serves http://%s:%s", config.server.host, config.server.port)
    sending = asyncio.create_task(sender.run(stopping))
    sweeping = asyncio.create_task(telegram.inbox.run(stopping)) if telegram is not None else None
    pruning = asyncio.create_task(prune_now_and_then(engine, config, stopping))
    try:
        if telegram is not None:
            await telegram.start()
        await serving  # until a signal asks uvicorn to exit
        log.info("baoxiu: stopping")
    finally:
        if telegram is not None:
            await telegram.stop()
        await runner.close()
        stopping.set()
        await sending
        if sweeping is not None:
            await sweeping
        await pruning
        engine.dispose()
