"""The console channel: chat with the desk in a terminal, or pipe a conversation in, one message a line."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from bot.channels import CONSOLE
from core.conversation.messages import Inbound, Reply
from core.desk import Desk
from core.domain.people import Address

CHANNEL = CONSOLE.name


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

    def show(self, replies: Iterable[Reply], pushed: bool = False) -> None:
        for reply in replies:
            if self.interactive:
                mark = "[bold magenta]🔔 baoxiu ›[/]" if pushed else "[bold cyan]baoxiu ›[/]"
                self.console.print(f"{mark} {escape(render(reply))}")
            else:
                print(("🔔 " if pushed else "") + render(reply), file=self.plain)
                print(file=self.plain)

    def show_pushes(self) -> None:
        """What others' actions sent this person (a job, a step of their repair) since the last look."""
        address = Address(CHANNEL, self.person)
        self.show(self.desk.take_pushes(address, f"{CHANNEL}:{self.person}", self.clock()), pushed=True)

    def watch_pushes(self, stopping: threading.Event, every: float = 2.0) -> None:
        while not stopping.wait(every):
            with contextlib.suppress(Exception):  # a busy database: look again next time
                self.show_pushes()

    def run(self, lines: Iterable[str]) -> None:
        # Each console session starts afresh: a script must not answer a question left open by an earlier run.
        stopping = threading.Event()
        if self.interactive:
            self.show(self.send("/start"))
            threading.Thread(target=self.watch_pushes, args=(stopping,), daemon=True).start()
        else:
            self.desk.forget(CHANNEL, f"{CHANNEL}:{self.person}", self.person)
        self.show_pushes()
        try:
            for raw in lines:
                line = raw.rstrip("\r\n")
                if not self.interactive:
                    print(f"» {line}", file=self.plain)
                self.show(self.send(line))
                self.show_pushes()
        finally:
            stopping.set()


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
