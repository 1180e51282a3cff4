"""Per-chat pacing, in an event loop whose clock jumps to its next timer instead of waiting for it: the
times asserted are the loop's own, so nothing here waits or depends on how fast the machine is."""

from __future__ import annotations

import asyncio
import math
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from bot.runtime.pacing import ChatPacer

T = TypeVar("T")


class _FastForward(selectors.SelectSelector):
    """Never blocks: when nothing is ready, the loop's clock moves on by the time it would have waited."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self.loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if not ready:
            if timeout is None:
                raise RuntimeError("every task waits and no timer is set: the test would hang")
            # At least the float's smallest step, as real time would: a timer that comes due a rounding
            # error later than it was set for (aiolimiter's can) must not keep the loop at one instant.
            self.loop.now = max(self.loop.now + timeout, math.nextafter(self.loop.now, math.inf))
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_FastForward(self))

    def time(self) -> float:
        return self.now


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(scenario())


def now() -> float:
    return asyncio.get_running_loop().time()


async def times_of(pacer: ChatPacer, chat: str, count: int) -> list[float]:
    """When each of `count` messages, one after the other, may go to the chat."""
    times = []
    for _ in range(count):
        await pacer.wait(chat)
        times.append(now())
    return times


def test_a_burst_goes_at_once_then_the_rate_holds() -> None:
    async def scenario() -> list[float]:
        return await times_of(ChatPacer(per_second=2, burst=3), "7001", 7)

    assert run(scenario) == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0])


def test_about_one_a_second_by_default_burst() -> None:
    async def scenario() -> list[float]:
        return await times_of(ChatPacer(per_second=1), "7001", 5)

    assert run(scenario) == pytest.approx([0, 0, 0, 1, 2])


def test_a_chat_that_rested_has_its_burst_again() -> None:
    async def scenario() -> list[float]:
        pacer = ChatPacer(per_second=1, burst=2)
        first = await times_of(pacer, "7001", 2)
        await asyncio.sleep(10)
        return first + await times_of(pacer, "7001", 3)

    assert run(scenario) == pytest.approx([0, 0, 10, 10, 11])


def test_chats_do_not_wait_for_each_other() -> None:
    async def scenario() -> tuple[list[float], list[float]]:
        pacer = ChatPacer(per_second=1, burst=2)
        busy = asyncio.ensure_future(times_of(pacer, "7001", 4))
        await asyncio.sleep(0)
        other = await times_of(pacer, "7002", 2)
        return await busy, other

    busy, other = run(scenario)
    assert busy == pytest.approx([0, 0, 1, 2])
    assert other == pytest.approx([0, 0])


def test_several_waiting_on_one_chat_go_one_at_a_time_at_the_rate() -> None:
    async def scenario() -> list[float]:
        pacer = ChatPacer(per_second=4, burst=1)
        passed: list[float] = []

        async def send() -> None:
            await pacer.wait("7001")
            passed.append(now())

        await asyncio.gather(*(send() for _ in range(5)))
        return passed

    assert run(scenario) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])


def test_a_very_high_rate_does_not_hold_messages_back() -> None:
    async def scenario() -> list[float]:
        return await times_of(ChatPacer(per_second=1e9, burst=3), "7001", 1000)

    assert max(run(scenario)) < 1e-3


def test_chats_that_went_quiet_are_forgotten_and_busy_ones_kept() -> None:
    async def scenario() -> tuple[int, int, int]:
        pacer = ChatPacer(per_second=1, burst=3, remember=4)
        for chat in range(4):
            await pacer.wait(str(chat))
        await asyncio.sleep(60)
        await pacer.wait("new")  # the four have drained: a fresh limiter would do just as they would
        after_quiet = len(pacer.limiters)
        for chat in range(100):
            await pacer.wait(f"crowd-{chat}")  # none has drained yet: none may be forgotten
        return after_quiet, len(pacer.limiters), pacer.sweep_at

    after_quiet, in_a_crowd, next_look = run(scenario)
    assert after_quiet == 1
    assert in_a_crowd == 101
    assert next_look >= 2 * 64  # looked again only at doubling sizes, not for every new chat


def test_a_chat_is_remembered_while_someone_waits_on_it() -> None:
    async def scenario() -> list[float]:
        pacer = ChatPacer(per_second=1, burst=1, remember=1)
        passed: list[float] = []

        async def send(chat: str, after: float = 0) -> None:
            await asyncio.sleep(after)
            await pacer.wait(chat)
            passed.append(now())

        # Its timer set first, this one wakes at 1 s just before the waiter on 7001 resumes, when 7001's
        # bucket has drained (its waiter is about to take it) and a new chat makes the pacer look for quiet
        # ones: 7001's limiter must not be forgotten, or the message after would go at 1 s as well.
        other = asyncio.ensure_future(send("7002", after=1))
        await send("7001")
        waiter = asyncio.ensure_future(send("7001"))
        await asyncio.sleep(0)
        await asyncio.gather(other, waiter)
        await send("7001")
        return passed

    first, other, second, third = run(scenario)
    assert (first, other, second) == pytest.approx((0, 1, 1))
    assert third == pytest.approx(2)


def test_a_waiter_that_gives_up_leaves_no_trace() -> None:
    async def scenario() -> tuple[dict[str, int], list[float]]:
        pacer = ChatPacer(per_second=1, burst=1)
        await pacer.wait("7001")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pacer.wait("7001"), timeout=0.5)
        return dict(pacer.waiting), await times_of(pacer, "7001", 2)

    waiting, times = run(scenario)
    assert waiting == {}
    assert times == pytest.approx([1, 2])


@pytest.mark.parametrize(("per_second", "burst"), [(0, 3), (-1, 3), (1, 0)])
def test_a_rate_that_could_never_send_is_refused(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError):
        ChatPacer(per_second, burst)
