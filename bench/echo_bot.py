"""The yardstick: a bare python-telegram-bot echo bot, in polling or custom-webhook mode."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(update.message.text or "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--mode", choices=["polling", "webhook"], required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    builder = Application.builder().token(args.token).base_url(args.base_url).job_queue(None)
    if args.mode == "polling":
        application = builder.build()
        application.add_handler(MessageHandler(filters.TEXT, echo))
        application.run_polling(allowed_updates=["message"])
        return
    application = builder.updater(None).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def webhook(request: Request) -> Response:
        await application.update_queue.put(Update.de_json(await request.json(), application.bot))
        return Response()

    async def serve() -> None:
        server = uvicorn.Server(
            uvicorn.Config(Starlette(routes=[Route("/telegram", webhook, methods=["POST"])]), port=args.port,
                           log_level="warning")
        )  # fmt: skip
        async with application:
            await application.start()
            await server.serve()
            await application.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
