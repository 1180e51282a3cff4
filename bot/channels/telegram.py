"""The Telegram channel: python-telegram-bot in, the desk in between, the outbox out."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import Response
from telegram import (
    Bot,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application

from bot import metrics
from bot.channels import TELEGRAM
from bot.config import TelegramSection
from bot.runtime.health import Health, first_line
from bot.runtime.inbox import Inbox
from bot.runtime.order import InOrder
from bot.runtime.outbox_sender import RetryLater, Undeliverable
from bot.runtime.pacing import ChatPacer
from bot.runtime.workers import DeskRunner
from core.conversation.buttons import encode
from core.conversation.messages import ChatKind, Choice, Inbound, Reply
from core.domain.model import Attachment
from core.ports import UnitOfWork

log = logging.getLogger(__name__)

CHANNEL = TELEGRAM.name
ALLOWED_UPDATES = ["message", "callback_query"]
NOT_YOURS = "这个问题是问别人的 · This question is for someone else"
RESUME = re.compile(r"^/start(?:@\w+)?\s+c(\d+)$")  # the "continue privately" deep link from a group
COMMAND_TO_A_BOT = re.compile(r"^(/\w+)@\w+")  # "/status@baoxiu_bot": a command addressed to one bot in a group
POLL_TIMEOUT = 10  # seconds a getUpdates call waits for an update
FIRST_WAIT, LONGEST_WAIT = 0.2, 30.0  # seconds before trying Telegram, or the database, again: doubled each try
# The updates as Telegram sent them, not as the library reads them: one it cannot read must not stop the rest. Named
# in lower case (Telegram's method names are case-insensitive), since the library warns against its own names.
GET_UPDATES = "getupdates"


def wait_before(try_number: int) -> float:
    return min(LONGEST_WAIT, FIRST_WAIT * 2.0 ** min(try_number - 1, 20))


def _update_id(data: dict[str, Any]) -> int | None:
    value = data.get("update_id")
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63 else None


def bare_command(text: str) -> str:
    """A command as the desk reads it, without the bot's name a group chat adds to it."""
    return COMMAND_TO_A_BOT.sub(r"\1", text)


class TelegramChannel:
    """Updates in (by polling or by webhook), kept in the inbox before Telegram is told they were received, and
    answered in the order each person sent them; the outbox's messages out (send)."""

    def __init__(
        self,
        settings: TelegramSection,
        desk: DeskRunner,
        uow: UnitOfWork,
        attachments_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        offload: bool = False,
    ) -> None:
        self.settings, self.desk = settings, desk
        self.attachments_dir = attachments_dir
        self.clock = clock
        self.in_order = InOrder()
        self.pacer = ChatPacer(settings.max_chat_messages_per_second)
        # offload: the database work of keeping updates in a thread, so the loop goes on meanwhile (PostgreSQL).
        self.inbox = Inbox(uow, CHANNEL, self.answer_kept, offload=offload, clock=clock)
        self.application = (
            Application.builder()
            .token(settings.token)
            .updater(None)  # updates are fetched here (receive), and confirmed only once they are kept
            .job_queue(None)  # baoxiu's jobs have their own scheduler
            .base_url(settings.base_url)
            .base_file_url(settings.base_file_url)
            .rate_limiter(
                AIORateLimiter(
                    overall_max_rate=settings.max_messages_per_second,
                    group_max_rate=settings.max_group_messages_per_minute,
                    max_retries=0,  # the outbox retries, and keeps each chat's order while it does
                )
            )
            .build()
        )
        self.username = ""
        self.offset = 0  # the next update to fetch: every one before it is kept
        self.health = Health()
        self._receiving: asyncio.Task[None] | None = None
        self._first_try = asyncio.Event()

    @property
    def bot(self) -> Bot:
        return self.application.bot

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take up what was kept and not answered before, then connect to Telegram and receive. When Telegram
        cannot be reached (no network, a wrong token), this keeps trying in the background, a line in the log and
        /healthz saying so each time, while the rest of baoxiu serves: it returns after the first try."""
        try:
            await self.inbox.take_up()
        except Exception as error:  # the database is away: the inbox's sweep takes them up later
            log.warning("telegram: could not read the messages waiting: %s", first_line(error))
        self._first_try.clear()
        self._receiving = asyncio.create_task(self._receive())
        await self._first_try.wait()

    async def _receive(self) -> None:
        failures = 0
        while True:
            try:
                if not self.username:
                    await self._connect()
                    self.health.ok()
                    failures = 0
                    self._first_try.set()
                if self.settings.mode == "webhook":
                    return  # Telegram calls: nothing more to fetch
                await self._poll()
                self.health.ok()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                wait = wait_before(failures)
                self.health.failed(first_line(error), self.clock())
                log.warning("telegram: %s (try %d); trying again in %.1f s", first_line(error), failures, wait)
                self._first_try.set()
                await asyncio.sleep(wait)

    async def _connect(self) -> None:
        await self.application.initialize()
        username = self.bot.username
        if self.settings.mode == "webhook":
            await self.bot.set_webhook(
                self.settings.webhook_url, secret_token=self.settings.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
        else:
            await self.bot.delete_webhook()
        self.username = username
        log.info("telegram: @%s in %s mode", username, self.settings.mode)

    async def _poll(self) -> None:
        """Fetch what Telegram holds and keep it; the next fetch's offset is what confirms it, so an update is
        confirmed only once it is kept. While the database is away, the fetched updates wait here."""
        fetched = await self.bot.do_api_request(
            GET_UPDATES,
            api_kwargs={"offset": self.offset or None, "timeout": POLL_TIMEOUT, "allowed_updates": ALLOWED_UPDATES},
            read_timeout=POLL_TIMEOUT + 10,
        )
        received = [(str(u["update_id"]), u) for u in fetched if isinstance(u, dict) and _update_id(u) is not None]
        away = 0
        while True:
            try:
                await self.inbox.keep(received)
                break
            except Exception as error:
                away += 1
                wait = wait_before(away)
                log.warning("telegram: could not keep %d updates (try %d), trying again in %.1f s: %s",
                            len(received), away, wait, first_line(error))  # fmt: skip
                await asyncio.sleep(wait)
        ids = [i for u in fetched if isinstance(u, dict) and (i := _update_id(u)) is not None]
        if ids:
            self.offset = max(self.offset, max(ids) + 1)

    async def stop(self) -> None:
        if self._receiving is not None:
            self._receiving.cancel()
            await asyncio.gather(self._receiving, return_exceptions=True)
        await self.inbox.close()
        await self.application.shutdown()  # nothing to do when it never connected

    # --- in ----------------------------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        """POST /telegram: 200 once the update is kept (it is answered after); until then Telegram keeps it and
        calls again. What is not an update at all is refused with a 400, and nothing is kept of it."""
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(secret.encode(), self.settings.webhook_secret.encode()):
            return Response(status_code=403)
        try:
            data = json.loads(await request.body())
        except (ValueError, RecursionError):
            return Response("not JSON", status_code=400)
        update_id = _update_id(data) if isinstance(data, dict) else None
        if update_id is None:
            return Response("not a Telegram update", status_code=400)
        try:
            await self.inbox.keep([(str(update_id), data)])
        except Exception as error:  # Telegram calls again: nothing is lost
            log.warning("telegram: update %s could not be kept; Telegram will call again: %s",
                        update_id, first_line(error))  # fmt: skip
            return Response(status_code=503)
        return Response(status_code=200)

    async def answer_kept(self, native_id: str, payload: dict[str, Any]) -> None:
        """An update taken from the inbox: answered, or rejected when it is not one Telegram's library can read."""
        try:
            update = Update.de_json(payload, self.bot)
        except Exception as error:
            log.warning("telegram: update %s is unreadable and is rejected: %r", native_id, error)
            await self.inbox.reject(native_id, f"unreadable: {error!r}")
            return
        metrics.INBOUND.labels(CHANNEL).inc()
        # Taken before the first await, so one person's updates are handled in the order they came.
        person = update.effective_user.id if update.effective_user else 0
        async with self.in_order.turn(person):
            await self._handle(native_id, update)

    async def _handle(self, native_id: str, update: Update) -> None:
        try:
            inbound = await self.translate(update)
        except Exception as error:
            log.warning("telegram: update %s could not be read and is rejected: %r", native_id, error)
            await self.inbox.reject(native_id, f"unreadable: {error!r}")
            return
        if inbound is None:
            await self.inbox.pass_over(native_id)
            return
        away = 0
        while True:
            try:
                with metrics.HANDLING.labels(CHANNEL).time():
                    replies = await self.desk.handle(inbound, self.clock(), render)
                break
            except OperationalError as error:  # the database is away: the update waits, kept, until it is back
                away += 1
                wait = wait_before(away)
                log.warning("telegram: the database failed update %s (try %d), trying again in %.1f s: %s",
                            native_id, away, wait, first_line(error))  # fmt: skip
                await asyncio.sleep(wait)
        if not replies and update.callback_query is None:
            metrics.DUPLICATES.labels(CHANNEL).inc()
        if update.callback_query is not None:
            await self.acknowledge(update.callback_query, inbound.payload or "", bool(replies))

    async def translate(self, update: Update) -> Inbound | None:
        """A Telegram update as the desk's Inbound; None for what is not addressed to the bot."""
        if update.callback_query is not None:
            return await self._from_button(update, update.callback_query)
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        group = message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        text = message.text or message.caption or ""
        if group:
            addressed = self._addressed(message, text)
            if addressed is None:
                return None
            text = addressed
        resumed_from = ""
        match = RESUME.match(text.strip()) if not group else None
        if match:
            resumed_from, text = f"-{match[1]}", ""
        replied = message.reply_to_message
        from_us = replied is not None and replied.from_user is not None and replied.from_user.id == self.bot.id
        return self._inbound(
            update,
            message,
            message.from_user,
            message_ref=message.message_id,
            text=bare_command(text),
            attachments=await self._attachments(message),
            resumed_from=resumed_from,
            replying_to=(replied.text or replied.caption or "") if from_us and replied is not None else "",
        )

    def _inbound(self, update: Update, message: Message, sender: User, message_ref: int, **fields: Any) -> Inbound:
        group = message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        return Inbound(
            channel=CHANNEL,
            chat=str(message.chat.id),
            sender=str(sender.id),
            sender_name=sender.full_name,
            chat_kind=ChatKind.GROUP if group else ChatKind.PRIVATE,
            native_id=str(update.update_id),
            language_hint=sender.language_code,
            message_ref=str(message_ref),
            private_link=self._private_link(message.chat.id) if group else "",
            **fields,
        )

    def _addressed(self, message: Message, text: str) -> str | None:
        """In a group the bot answers commands, mentions and replies to itself, and nothing else."""
        mention = f"@{self.username}"
        if text.startswith("/"):
            return text
        if self.username and mention.casefold() in text.casefold():
            return re.sub(re.escape(mention), "", text, flags=re.IGNORECASE).strip()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == self.bot.id:
            return text
        return None

    async def _from_button(self, update: Update, query: CallbackQuery) -> Inbound | None:
        message = query.message
        if not isinstance(message, Message):
            with contextlib.suppress(TelegramError):
                await query.answer()
            return None
        payload, _, owner = (query.data or "").partition("|")
        if owner and owner != str(query.from_user.id):
            with contextlib.suppress(TelegramError):  # too old to answer: nothing more to do either way
                await query.answer(NOT_YOURS)
            return None
        asked = message.reply_to_message  # in a group: the resident's message the question answered
        message_ref = asked.message_id if asked is not None else message.message_id
        return self._inbound(update, message, query.from_user, message_ref=message_ref, payload=payload)

    async def acknowledge(self, query: CallbackQuery, payload: str, answered: bool) -> None:
        """Stop the button's spinner and take the buttons off, so a stale one cannot be pressed twice."""
        try:
            await query.answer()
            message = query.message
            if answered and isinstance(message, Message) and message.reply_markup is not None:
                buttons = [b for row in message.reply_markup.inline_keyboard for b in row]
                label = next((b.text for b in buttons if str(b.callback_data or "").partition("|")[0] == payload), "")
                text = f"{message.text}\n\n→ {label}" if label and message.text else message.text
                if text:
                    await message.edit_text(text, reply_markup=None)
                else:
                    await message.edit_reply_markup(reply_markup=None)
        except TelegramError as error:  # cosmetic: the answer itself is already queued
            log.info("telegram: could not acknowledge a button: %s", error)

    async def _attachments(self, message: Message) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        if message.photo:
            found.append(await self._download("photo", message.photo[-1].file_id, message.photo[-1].file_unique_id))
        if message.voice is not None:
            found.append(await self._download("voice", message.voice.file_id, message.voice.file_unique_id))
        if message.location is not None:
            where = f"{message.location.latitude:.5f}, {message.location.longitude:.5f}"
            found.append(Attachment("location", f"geo:{message.location.latitude},{message.location.longitude}", where))
        return tuple(found)

    async def _download(self, kind: str, file_id: str, unique_id: str) -> Attachment:
        """Keep the file in the attachment store; a failed download keeps the reference to fetch later."""
        try:
            remote = await self.bot.get_file(file_id)
            suffix = Path(remote.file_path or "").suffix or (".jpg" if kind == "photo" else ".ogg")
            folder = self.attachments_dir / CHANNEL
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{unique_id}{suffix}"
            await remote.download_to_drive(target)
            return Attachment(kind, str(target))
        except TelegramError as error:
            log.warning("telegram: could not download %s %s: %s", kind, file_id, error)
            return Attachment(kind, f"telegram-file:{file_id}")

    def _private_link(self, chat_id: int) -> str:
        return f"https://t.me/{self.username}?start=c{abs(chat_id)}" if self.username else ""

    # --- out ---------------------------------------------------------------------------------------------

    async def send(self, chat: str, payload: dict[str, Any]) -> None:
        """The outbox transport: one payload to one chat, with Telegram's errors sorted into retry or give up."""
        if not chat.startswith("-"):
            await self.pacer.wait(chat)
        owner = payload.get("owner", "")
        buttons = [_button(Choice.load(choice), owner) for choice in payload.get("choices", [])]
        markup: InlineKeyboardMarkup | ForceReply | None = None
        if buttons:
            markup = InlineKeyboardMarkup([[button] for button in buttons])
        elif payload.get("force_reply"):
            markup = ForceReply(selective=True)
        reply_to = payload.get("reply_to")
        try:
            await self.bot.send_message(
                chat_id=int(chat),
                text=payload["text"],
                reply_markup=markup,
                reply_parameters=ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to else None,
            )
        except RetryAfter as error:
            after = error.retry_after
            raise RetryLater(str(error), after if isinstance(after, timedelta) else timedelta(seconds=after)) from None
        except (BadRequest, Forbidden) as error:  # chat gone, bot blocked, message refused: retrying won't help
            raise Undeliverable(str(error)) from None
        except TelegramError as error:  # network trouble, 5xx, timeouts: after some, Telegram may have it already
            raise RetryLater(str(error), unknown=isinstance(error, NetworkError)) from None


def render(inbound: Inbound, reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """One reply as outbox payloads: split at Telegram's 4,096 characters, buttons on the last part.

    A module function, not a method: it travels to the desk's worker processes."""
    chat = reply.recipient or inbound.chat
    group = inbound.chat_kind is ChatKind.GROUP and reply.recipient is None
    parts = split_text(reply.text or "…", MessageLimit.MAX_TEXT_LENGTH)
    owner = inbound.sender if group else ""
    choices = [c.dump() for c in reply.choices]
    payloads = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        payloads.append(
            (
                chat,
                {
                    "text": part,
                    "choices": choices if last else [],
                    "owner": owner,
                    "reply_to": inbound.message_ref if group else "",
                    "force_reply": group and last and not choices,
                },
            )
        )
    return payloads


def _button(choice: Choice, owner: str) -> InlineKeyboardButton:
    """A link opens it; any other answer comes back as callback data, with whom it is for in a group."""
    if choice.url:
        return InlineKeyboardButton(choice.label, url=choice.url)
    data = encode(choice.button) if choice.button is not None else "-"
    return InlineKeyboardButton(choice.label, callback_data=f"{data}|{owner}" if owner else data)


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at a line break or a space where there is one."""
    parts = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    return [*parts, text] if text or not parts else parts
