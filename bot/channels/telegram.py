"""The Telegram channel: python-telegram-bot in, the desk in between, the outbox out."""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot import metrics
from bot.channels import TELEGRAM
from bot.config import TelegramSection
from bot.runtime.order import InOrder
from bot.runtime.outbox_sender import RetryLater, Undeliverable
from bot.runtime.pacing import ChatPacer
from bot.runtime.workers import DeskRunner
from core.conversation.buttons import encode
from core.conversation.messages import ChatKind, Choice, Inbound, Reply
from core.domain.model import Attachment

log = logging.getLogger(__name__)

CHANNEL = TELEGRAM.name
ALLOWED_UPDATES = ["message", "callback_query"]
NOT_YOURS = "这个问题是问别人的 · This question is for someone else"
RESUME = re.compile(r"^/start(?:@\w+)?\s+c(\d+)$")  # the "continue privately" deep link from a group
COMMAND_TO_A_BOT = re.compile(r"^(/\w+)@\w+")  # "/status@baoxiu_bot": a command addressed to one bot in a group


def bare_command(text: str) -> str:
    """A command as the desk reads it, without the bot's name a group chat adds to it."""
    return COMMAND_TO_A_BOT.sub(r"\1", text)


class TelegramChannel:
    def __init__(
        self,
        settings: TelegramSection,
        desk: DeskRunner,
        attachments_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.desk = settings, desk
        self.attachments_dir = attachments_dir
        self.clock = clock
        self.in_order = InOrder()
        self.pacer = ChatPacer(settings.max_chat_messages_per_second)
        builder = (
            Application.builder()
            .token(settings.token)
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
        )
        if settings.mode == "webhook":
            builder = builder.updater(None)
        if desk.parallel > 1:  # different people's updates overlap; one person's stay in order (on_update)
            builder = builder.concurrent_updates(desk.parallel)
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self.on_update))
        self.username = ""

    @property
    def bot(self) -> Bot:
        return self.application.bot

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.application.initialize()
        self.username = self.bot.username
        await self.application.start()
        if self.settings.mode == "webhook":
            await self.bot.set_webhook(
                self.settings.webhook_url, secret_token=self.settings.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
        else:
            assert self.application.updater is not None
            await self.bot.delete_webhook()
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # --- in ----------------------------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        """POST /telegram: 200 only once the update is handled and its answers are in the outbox.

        Until then Telegram keeps the update and delivers it again, so a crash loses nothing; an update
        delivered twice is recognised by its update_id and handled once."""
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(secret.encode(), self.settings.webhook_secret.encode()):
            return Response(status_code=403)
        try:
            data = await request.json()
            update_id = int(data["update_id"])
        except (ValueError, KeyError, TypeError):
            return Response("not a Telegram update", status_code=400)
        try:
            await self.on_update(Update.de_json(data, self.bot))
        except Exception:  # Telegram will deliver it again: say so instead of losing it
            log.exception("telegram: update %s failed; Telegram will retry it", update_id)
            return Response(status_code=500)
        return Response(status_code=200)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE | None = None) -> None:
        metrics.INBOUND.labels(CHANNEL).inc()
        # Taken before the first await, so one person's updates are handled in the order they came.
        person = update.effective_user.id if update.effective_user else 0
        async with self.in_order.turn(person):
            await self._handle(update)

    async def _handle(self, update: Update) -> None:
        inbound = await self.translate(update)
        if inbound is None:
            return
        # A webhook call that fails is made again by Telegram; an update fetched by polling is confirmed already.
        delivered_again = self.settings.mode == "webhook"
        with metrics.HANDLING.labels(CHANNEL).time():
            replies = await self.desk.handle(inbound, self.clock(), render, delivered_again)
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
        except TelegramError as error:  # network trouble, 5xx, timeouts
            raise RetryLater(str(error)) from None


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
