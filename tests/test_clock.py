"""The runtime's clock: real time by default; a manual clock wakes sleepers in order when advanced."""

from __future__ import annotations

import asyncio

import pytest

from flowhost.clock import ManualClock, SystemClock


async def test_a_manual_clock_wakes_sleepers_in_deadline_order_at_their_deadlines():
    clock = ManualClock(wall_start=1000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.ensure_future(sleeper(name, s)) for name, s in (("late", 30), ("early", 5), ("middle", 10))]
    await asyncio.sleep(0)
    assert clock.sleepers == 3
    await clock.advance(9)
    assert woke == [("early", 5)]
    await clock.advance(60)
    assert woke == [("early", 5), ("middle", 10), ("late", 30)]
    assert clock.now() == 69 and clock.wall_time() == 1069
    await asyncio.gather(*tasks)


async def test_a_task_woken_by_advance_can_sleep_again_within_the_same_advance():
    clock = ManualClock()
    ticks: list[float] = []

    async def every_ten_seconds() -> None:
        deadline = 0.0
        for _ in range(5):
            deadline += 10
            await clock.sleep_until(deadline)
            ticks.append(clock.now())

    task = asyncio.ensure_future(every_ten_seconds())
    await asyncio.sleep(0)
    await clock.advance(35)
    assert ticks == [10, 20, 30]
    await clock.advance(100)
    assert ticks == [10, 20, 30, 40, 50]
    await task


async def test_a_cancelled_sleeper_is_forgotten_and_time_cannot_go_back():
    clock = ManualClock()
    task = asyncio.ensure_future(clock.sleep(5))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert clock.sleepers == 0
    await clock.advance(10)
    with pytest.raises(ValueError, match="cannot go back"):
        await clock.advance(-1)


async def test_the_system_clock_is_monotonic_and_a_past_deadline_returns_at_once():
    clock = SystemClock()
    before = clock.now()
    await clock.sleep_until(before - 100)
    await clock.sleep(0.001)
    assert clock.now() > before
    assert clock.wall_time() > 1.7e9
