"""The one clock the runtime gives nodes (``context.clock``): real time by default, or a manual clock that a
test advances (``advance: 10m``) without waiting.

Time-based nodes take every reading and every wait from their context's clock, never from ``time`` or
``asyncio.sleep`` directly, so that a flow test can move time forward and see what a node does ten minutes
later in milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

__all__ = ["Clock", "ManualClock", "SystemClock"]

SETTLE_ROUNDS = 20
"""Event-loop turns :meth:`ManualClock.advance` gives woken tasks before it wakes the next sleeper: enough for a
node to send and for its receivers to handle what it sent, without waiting on real time."""


class Clock:
    """What nodes read time from: ``now()`` is monotonic seconds, ``wall_time()`` seconds since the epoch (for
    cron times and timestamps in documents); ``sleep``/``sleep_until`` wait in the clock's own time."""

    def now(self) -> float:
        raise NotImplementedError

    def wall_time(self) -> float:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + seconds)

    async def sleep_until(self, deadline: float) -> None:
        """Wait until ``now()`` reaches ``deadline`` (a ``now()`` reading): absolute deadlines do not drift."""
        raise NotImplementedError


class SystemClock(Clock):
    """Real time: ``time.monotonic`` and ``time.time``."""

    def now(self) -> float:
        return time.monotonic()

    def wall_time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class ManualClock(Clock):
    """A clock that moves only when told to: :meth:`advance` wakes every sleeper whose deadline it passes, in
    deadline order, with ``now()`` set to that deadline, and lets the woken tasks run before going on."""

    def __init__(self, wall_start: float | None = None) -> None:
        self._now = 0.0
        self._wall_start = time.time() if wall_start is None else wall_start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def wall_time(self) -> float:
        return self._wall_start + self._now

    @property
    def sleepers(self) -> int:
        """How many waits are pending (cancelled ones excluded)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers on the way (also those that woken tasks add)."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            if future.done():  # its task was cancelled
                continue
            self._now = max(self._now, deadline)
            future.set_result(None)
            await _settle()
        self._now = target
        await _settle()


async def _settle() -> None:
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)
