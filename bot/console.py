"""The console channel: chat with the desk in a terminal, or pipe a conversation in, one message a line."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from core.desk import Desk
from core.messages import Inbound, Reply

CHANNEL = "console"


def render(reply: Reply) -> str:
    """Text, then the choices as a numbered list: the number or the word answers them."""
    lines = [reply.text] if reply.text else []
    lines += [f"  {number}. {choice.label}" for number, choice in enumerate(reply.choices, start=1)]
    return "\n".join(lines)


class ConsoleChat:
    def __init__(
        self,
        desk: Desk,
        person: str,
        output: TextIO,
        interactive: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.desk, self.person, self.clock = desk, person, clock
        self.interactive = interactive
        self.console = Console(file=output, highlight=False, force_terminal=interactive or None)
        self.plain = output
        self.sent = 0

    def send(self, text: str) -> list[Reply]:
        self.sent += 1
        inbound = Inbound(
            channel=CHANNEL,
            chat=f"{CHANNEL}:{self.person}",
            sender=self.person,
            sender_name=self.person,
            text=text,
            native_id=str(self.sent),
        )
        return self.desk.handle(inbound, self.clock())

    def show(self, replies: Iterable[Reply]) -> None:
        for reply in replies:
            if self.interactive:
                self.console.print(f"[bold cyan]baoxiu ›[/] {escape(render(reply))}")
            else:
                print(render(reply), file=self.plain)
                print(file=self.plain)

    def run(self, lines: Iterable[str]) -> None:
        # Each console session starts afresh: a script must not answer a question left open by an earlier run.
        if self.interactive:
            self.show(self.send("/start"))
        else:
            self.desk.forget(CHANNEL, f"{CHANNEL}:{self.person}", self.person)
        for raw in lines:
            line = raw.rstrip("\r\n")
            if not self.interactive:
                print(f"» {line}", file=self.plain)
            self.show(self.send(line))


def interactive_lines(prompt: str) -> Iterable[str]:
    """input() with line editing; ends on Ctrl-D or Ctrl-C."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (gives input() history and editing)
    while True:
        try:
            yield input(prompt)
        except (EOFError, KeyboardInterrupt):
            print()
            return
