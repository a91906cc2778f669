"""Receipt waits share timers (flowhost.mqtt.deadlines): one per tick, and each wait fails with TimeoutError once its
limit has passed, never before it and at most one tick after it."""

from __future__ import annotations

import asyncio
import math

import pytest

from flowhost.mqtt.deadlines import TICK, Deadlines


class LoopClock:
    """The two things Deadlines asks of a loop, on a clock the test sets: the timers are run by the test."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.timers: list[tuple[float, object, tuple]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback, *args) -> None:
        self.timers.append((when, callback, args))


async def test_waits_whose_limits_end_in_one_tick_share_its_timer():
    clock, shared = LoopClock(100.02), Deadlines()
    loop = asyncio.get_running_loop()
    first, second, later, answered = (loop.create_future() for _ in range(4))
    waiting = shared.add(clock, first, 30)
    clock.now = 100.05
    assert shared.add(clock, second, 30) is waiting
    assert shared.add(clock, answered, 30) is waiting
    clock.now = 100.15
    assert shared.add(clock, later, 30) is not waiting
    # the latest limit of the first tick is 130.05: its timer runs after it, and at most a tick later
    assert [when for when, _, _ in clock.timers] == pytest.approx([130.1, 130.2])

    answered.set_result("in time")
    waiting.discard(answered)
    _, expire, args = clock.timers[0]
    expire(*args)
    for future in (first, second):
        with pytest.raises(TimeoutError):
            future.result()
    assert answered.result() == "in time" and not later.done()
    expire(*args)  # a timer that fired already has nothing left to do
    _, expire, args = clock.timers[1]
    later.set_result(None)
    expire(*args)
    assert later.result() is None


async def test_a_limit_already_past_fails_the_wait_at_the_next_tick():
    clock, shared = LoopClock(7.0), Deadlines()
    future = asyncio.get_running_loop().create_future()
    shared.add(clock, future, 0)
    when, expire, args = clock.timers[0]
    assert 7.0 <= when <= 7.0 + TICK
    expire(*args)
    with pytest.raises(TimeoutError):
        future.result()


async def test_a_wait_without_limit_gets_no_timer():
    clock, shared = LoopClock(7.0), Deadlines()
    future = asyncio.get_running_loop().create_future()
    for timeout in (math.inf, math.nan):
        shared.add(clock, future, timeout)
    assert clock.timers == [] and not future.done()
