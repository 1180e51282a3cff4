"""A stand-in for the Telegram Bot API on 127.0.0.1, for tests and benchmarks.

It speaks the Bot API's HTTP (what python-telegram-bot sends and expects), keeps every message the
bot sends, delivers updates by getUpdates or to a registered webhook with its secret token, and can
be told to fail: 429 with retry_after, or 502, for the next calls of a method.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456:TEST-token"
BOT = {"id": 999000, "is_bot": True, "first_name": "报修 Desk", "username": "baoxiu_test_bot"}
PHOTO_BYTES = b"\xff\xd8\xff\xe0fake-jpeg"


@dataclass
class Failure:
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class FakeTelegram:
    port: int = 0
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # sendMessage and edits, as the bot sent them
    calls: list[str] = field(default_factory=list)
    webhook: dict[str, str] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    # Tells whether the bot has nothing left to send to a chat, when the test can look (baoxiu's outbox); without
    # it, an answer counts as complete after a quiet moment.
    nothing_left_for: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._new_update: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.rejected_webhook_posts = 0
        self._again: list[dict[str, Any]] = []
        self.blocked: set[str] = set()
        self._pushed: dict[int, dict[str, Any]] = {}

    # --- running ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file),
                Route("/_control/updates", self._control_updates, methods=["POST"]),
                Route("/_control/sent", self._control_sent),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._new_update = asyncio.Event()
        yield

    def start(self) -> FakeTelegram:
        """Serve in a background thread; returns once it listens."""
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- what a test does ---------------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        """Deliver an update as Telegram would: to the webhook if one is set, else to getUpdates."""
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self.updates.append(update)
            self._pushed[update["update_id"]] = update
        assert self._loop is not None
        if self.webhook.get("url"):
            asyncio.run_coroutine_threadsafe(self._post_to_webhook(update), self._loop).result(timeout=10)
        else:
            self._loop.call_soon_threadsafe(self._new_update.set)  # type: ignore[union-attr]
        return int(update["update_id"])

    def resend(self, update_id: int) -> None:
        """The same update once more (Telegram retries when it thinks delivery failed)."""
        update = self._pushed[update_id]
        assert self._loop is not None
        if self.webhook.get("url"):
            asyncio.run_coroutine_threadsafe(self._post_to_webhook(update), self._loop).result(timeout=10)
        else:  # as after a bot crashed before confirming it: handed out again whatever the offset
            with self._lock:
                self._again.append(update)
            self._loop.call_soon_threadsafe(self._new_update.set)  # type: ignore[union-attr]

    def fail(self, method: str, status: int, times: int, retry_after: int | None = None) -> None:
        self.failures[method] = Failure(status, retry_after, times)

    def block(self, chat: int | str, blocked: bool = True) -> None:
        """The person blocked the bot: every message to them is refused with 403, as Telegram does."""
        (self.blocked.add if blocked else self.blocked.discard)(str(chat))

    def messages_to(self, chat: int | str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent if m["method"] == "sendMessage" and str(m["chat_id"]) == str(chat)]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting; sent so far: {json.dumps(self.sent[-5:], ensure_ascii=False)}")

    def wait_for_messages(self, chat: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """At least `count` messages to the chat, and the answer they belong to complete (all its parts sent)."""
        self.wait_for(lambda: len(self.messages_to(chat)) >= count, timeout)
        nothing_left_for = self.nothing_left_for
        if nothing_left_for is not None:
            self.wait_for(lambda: nothing_left_for(str(chat)), timeout)
            return self.messages_to(chat)
        seen = -1
        while seen != len(self.sent):
            seen = len(self.sent)
            time.sleep(0.15)
        return self.messages_to(chat)

    # --- the Bot API --------------------------------------------------------------------------------

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            raw: dict[str, Any] = dict(request.query_params)
        elif request.headers.get("content-type", "").startswith("application/json"):
            raw = await request.json()
        else:
            raw = dict(await request.form())
        params = {}
        for key, value in raw.items():
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            params[key] = value
        return params

    async def _api(self, request: Request) -> Response:
        # Telegram's method names are case-insensitive ("getupdates" is getUpdates).
        method = METHODS.get(request.path_params["method"].casefold(), request.path_params["method"])
        if request.path_params["token"] != TOKEN:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        try:
            params = await self._params(request)
        except ClientDisconnect:  # the bot died in the middle of its request (a fault run kills it)
            return Response(status_code=499)
        self.calls.append(method)
        if method == "sendMessage" and str(params.get("chat_id")) in self.blocked:
            refused = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            return JSONResponse(refused, status_code=403)
        failure = self.failures.get(method)
        if failure is not None and failure.remaining > 0:
            failure.remaining -= 1
            body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": "simulated failure"}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
                body["description"] = f"Too Many Requests: retry after {failure.retry_after}"
            return JSONResponse(body, status_code=failure.status)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": f"Not Found: {method}"}, 404)
        return JSONResponse({"ok": True, "result": await handler(params)})

    async def _getMe(self, params: dict[str, Any]) -> Any:
        return BOT

    async def _deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook.clear()
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": str(params["url"]), "secret_token": str(params.get("secret_token", ""))}
        return True

    async def _getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        assert self._new_update is not None
        while True:
            with self._lock:
                if offset:  # confirming an offset forgets everything before it, as Telegram does
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                ready = [u for u in self.updates if u["update_id"] >= offset][:limit]
                ready = [*self._again, *ready]
                self._again.clear()
            if ready or time.monotonic() >= deadline:
                return ready
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=max(0.0, deadline - time.monotonic()))

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        message_id = next(self._message_ids)
        with self._lock:
            self.sent.append({"method": "sendMessage", "message_id": message_id, **params})
        chat_id = params["chat_id"]
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if int(chat_id) > 0 else "supergroup"},
            "from": BOT,
            "text": params.get("text", ""),
        }
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            message["reply_markup"] = params["reply_markup"]  # Telegram returns inline keyboards only
        return message

    async def _editMessageText(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self.sent.append({"method": "editMessageText", **params})
        chat_id = params["chat_id"]
        return {"message_id": params["message_id"], "date": int(time.time()), "text": params.get("text", ""),
                "chat": {"id": chat_id, "type": "private" if int(chat_id) > 0 else "supergroup"}}  # fmt: skip

    async def _editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return await self._editMessageText(params)

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self.sent.append({"method": "answerCallbackQuery", **params})
        return True

    async def _getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        path = f"photos/{file_id}.jpg"
        self.files.setdefault(path, PHOTO_BYTES)
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(PHOTO_BYTES), "file_path": path}

    async def _file(self, request: Request) -> Response:
        content = self.files.get(request.path_params["path"])
        return Response(content, media_type="image/jpeg") if content is not None else Response(status_code=404)

    async def _post_to_webhook(self, update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook.get("secret_token", "")}
        async with httpx.AsyncClient() as client:
            for _ in range(50):  # Telegram retries until the bot answers 200
                response = await client.post(self.webhook["url"], json=update, headers=headers)
                if response.status_code == 200:
                    return
                self.rejected_webhook_posts += 1
                await asyncio.sleep(0.1)

    # --- control over HTTP, for a bot in another process ------------------------------------------------

    async def _control_updates(self, request: Request) -> Response:
        updates = await request.json()
        for update in updates:
            with self._lock:
                self.updates.append({"update_id": next(self._update_ids), **update})
        assert self._new_update is not None
        self._new_update.set()
        return JSONResponse({"queued": len(updates)})

    async def _control_sent(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse({"sent": sum(1 for m in self.sent if m["method"] == "sendMessage")})


# --- updates as Telegram shapes them ------------------------------------------------------------------

_message_ids = itertools.count(50_000)


def user(user_id: int, name: str = "Resident", language: str = "zh-hans") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name, "language_code": language}


def chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private"} if chat_id > 0 else {"id": chat_id, "type": "supergroup", "title": "群"}


METHODS = {name[1:].casefold(): name[1:] for name in dir(FakeTelegram) if name[1:2].islower() and name[:1] == "_"
           and name[1:2] != "_" and not name.startswith(("_control", "_post", "_params", "_api", "_file", "_lifespan"))}  # fmt: skip


def text_update(user_id: int, text: str, chat_id: int | None = None, reply_to: dict[str, Any] | None = None,
                name: str = "Resident", language: str = "zh-hans", **extra: Any) -> dict[str, Any]:  # fmt: skip
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat(chat_id if chat_id is not None else user_id),
        "from": user(user_id, name, language),
        **extra,
    }
    if text:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return {"message": message}


def button_update(
    user_id: int, sent: dict[str, Any], label_part: str, chat_id: int | None = None, language: str = "zh-hans"
) -> dict[str, Any]:
    """Pressing the button of a message the bot sent (as kept by the fake)."""
    markup = sent["reply_markup"]
    rows = markup["inline_keyboard"]
    button = next(b for row in rows for b in row if label_part in b["text"])
    target = chat_id if chat_id is not None else user_id
    message = {"message_id": sent["message_id"], "date": int(time.time()), "chat": chat(target),
               "from": BOT, "text": sent["text"], "reply_markup": markup}  # fmt: skip
    return {"callback_query": {"id": str(next(_message_ids)), "from": user(user_id, language=language), "chat_instance": "x",
                               "message": message, "data": button["callback_data"]}}  # fmt: skip


if __name__ == "__main__":  # for benchmarks: the fake in its own process
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    fake = FakeTelegram(port=port)
    uvicorn.run(fake.app(), host="127.0.0.1", port=port, log_level="warning")
