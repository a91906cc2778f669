"""Time limits of many waits on one event loop: the waits whose limits end within the same tick share one timer.

A timer per wait (``loop.call_later``, then ``cancel`` when the wait ends in time, and the loop's clean-up of the
cancelled timers) cost about 1.7 us, more than the rest of an HTTP uplink's wait for its receipt. Here a wait costs
a set insertion and removal; it ends at most one tick after its limit.
"""

from __future__ import annotations

import asyncio
import math
import weakref

TICK = 0.1
"""Seconds: how late a limit may be noticed."""


class Deadlines:
    def __init__(self) -> None:
        self._due: dict[int, set[asyncio.Future]] = {}

    def add(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, timeout: float) -> set[asyncio.Future]:
        """Fail ``future`` with TimeoutError once ``timeout`` seconds have passed (up to one tick later) unless it
        is done by then; never when ``timeout`` is infinite (or NaN). Returns the set it waits in: discard it from
        there when the wait ends."""
        if not math.isfinite(timeout):
            return set()
        tick = math.ceil((loop.time() + timeout) / TICK)
        waiting = self._due.get(tick)
        if waiting is None:
            waiting = self._due[tick] = set()
            loop.call_at(tick * TICK, self._expire, tick)
        waiting.add(future)
        return waiting

    def _expire(self, tick: int) -> None:
        for future in self._due.pop(tick, ()):
            if not future.done():
                future.set_exception(TimeoutError())


_OF_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deadlines] = weakref.WeakKeyDictionary()


def deadlines(loop: asyncio.AbstractEventLoop) -> Deadlines:
    """The loop's own (it holds no reference to the loop: the loop's timers hold it)."""
    found = _OF_LOOP.get(loop)
    if found is None:
        found = _OF_LOOP[loop] = Deadlines()
    return found
