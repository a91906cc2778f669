"""Watching a connection's uplink rate against its ``alarms`` (connection_alarms.py), on the runtime's clock.

The rules (ThingPark gives the format, not these; docs/connection-alarms.md): inside a window, once its first
hour is over, the alarm is raised when fewer than ``uplinkRateMinPerHour`` uplinks reached the connection in the
last hour; it is cleared when the last hour has enough again (at the uplink that makes it so) or when the window
ends. Only uplinks inside the window count, so the first check is one hour after the window opens.

:class:`AlarmMonitor` is the pure state machine (time passed in, changes returned); :class:`AlarmWatch` runs it
on a :class:`flowhost.clock.Clock`, waking exactly when something can change.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from flowhost.clock import Clock

from .connection_alarms import AlarmDefinition

__all__ = ["AlarmChange", "AlarmMonitor", "AlarmWatch"]

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class AlarmChange:
    alarm: AlarmDefinition
    state: Literal["raised", "cleared"]
    reason: Literal["rateBelowMinimum", "rateRestored", "windowEnded"]
    time: float
    """Epoch seconds."""
    window: tuple[datetime, datetime]
    uplinks_last_hour: int
    """Counted up to ``uplinkRateMinPerHour`` (what the rule needs): more than that reads as the minimum."""

    def as_json(self, connection_id: str) -> dict[str, Any]:
        zone = self.alarm.zone
        return {
            "connection": connection_id,
            "alarm": self.alarm.index,
            "state": self.state,
            "reason": self.reason,
            "message": self.alarm.message,
            "uplinkRateMinPerHour": self.alarm.minimum_per_hour,
            "uplinksLastHour": self.uplinks_last_hour,
            "windowStart": self.window[0].astimezone(zone).isoformat(),
            "windowEnd": self.window[1].astimezone(zone).isoformat(),
            "timezone": zone.key,
            "time": datetime.fromtimestamp(self.time, zone).isoformat(),
        }


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class AlarmMonitor:
    """The alarms of one connection. Memory is bounded: only the newest ``max(uplinkRateMinPerHour)`` uplink
    times are kept, which is all the rule reads."""

    def __init__(self, alarms: Sequence[AlarmDefinition]) -> None:
        self.alarms = tuple(alarms)
        self._recent: deque[float] = deque(maxlen=max(alarm.minimum_per_hour for alarm in self.alarms))
        self._raised: dict[int, tuple[datetime, datetime]] = {}

    def raised(self) -> list[int]:
        return sorted(self._raised)

    def _count(self, alarm: AlarmDefinition, now: float) -> int:
        """Uplinks of the last hour, up to the minimum. Only asked an hour or more into a window, so the last
        hour is all inside it."""
        hour_ago = now - HOUR
        count = 0
        for seen in reversed(self._recent):  # newest first: stops at the first one too old, or at the minimum
            if seen <= hour_ago or count >= alarm.minimum_per_hour:
                break
            count += seen <= now
        return count

    def record_uplink(self, now: float) -> list[AlarmChange]:
        """An uplink reached the connection at ``now``: clears the alarms whose last hour has enough again."""
        self._recent.append(now)
        changes = []
        for alarm in self.alarms:
            window = self._raised.get(alarm.index)
            if window is not None and self._count(alarm, now) >= alarm.minimum_per_hour:
                changes.append(self._clear(alarm, "rateRestored", now, window))
        return changes

    def check(self, now: float) -> list[AlarmChange]:
        """What changes at ``now``: windows that ended clear their alarm, windows past their first hour with too
        few uplinks in the last hour raise theirs."""
        changes = []
        when = _instant(now)
        for alarm in self.alarms:
            window = alarm.window_at(when)
            raised_in = self._raised.get(alarm.index)
            if raised_in is not None and raised_in != window:
                changes.append(self._clear(alarm, "windowEnded", now, raised_in))
                raised_in = None
            if window is None or raised_in is not None or now < window[0].timestamp() + HOUR:
                continue
            count = self._count(alarm, now)
            if count < alarm.minimum_per_hour:
                self._raised[alarm.index] = window
                changes.append(AlarmChange(alarm, "raised", "rateBelowMinimum", now, window, count))
        return changes

    def _clear(self, alarm: AlarmDefinition, reason: Any, now: float, window: tuple[datetime, datetime]) -> AlarmChange:
        del self._raised[alarm.index]
        return AlarmChange(alarm, "cleared", reason, now, window, self._count(alarm, now))

    def next_check(self, now: float) -> float | None:
        """When :meth:`check` should run next (after ``now``; uplinks arriving meanwhile can only make it later,
        except by clearing an alarm), or None when no window is left."""
        times = [moment for alarm in self.alarms if (moment := self._next_for(alarm, now)) is not None]
        return min(times) if times else None

    def _next_for(self, alarm: AlarmDefinition, now: float) -> float | None:
        when = _instant(now)
        window = alarm.window_at(when)
        if window is None:
            upcoming = alarm.next_window_after(when)
            return None if upcoming is None else upcoming[0].timestamp() + HOUR
        start, end = window[0].timestamp(), window[1].timestamp()
        if alarm.index in self._raised:
            return end
        if now < start + HOUR:
            return min(start + HOUR, end)
        # Not raised, so the last hour holds at least the minimum: it falls short when the oldest of those leaves.
        if len(self._recent) < alarm.minimum_per_hour:
            return now  # not reached after check(); a check now sets it right
        return min(self._recent[-alarm.minimum_per_hour] + HOUR, end)


class AlarmWatch:
    """Runs an :class:`AlarmMonitor` for a connection on a clock: counts (``alarmsRaised``, ``alarmsCleared`` in
    ``counters``), logs, and tells the listeners (connector nodes) what changed."""

    def __init__(
        self, alarms: Sequence[AlarmDefinition], connection_id: str, counters: dict[str, int], log: logging.Logger
    ) -> None:
        self.monitor = AlarmMonitor(alarms)
        self.connection_id, self.counters, self.log = connection_id, counters, log
        self.clock: Clock | None = None
        self._listeners: list[Callable[[AlarmChange], None]] = []
        self._rearm = asyncio.Event()

    def add_listener(self, listener: Callable[[AlarmChange], None], clock: Clock) -> bool:
        """Add a listener; the first one's clock (the runtime's) is used, and True says :meth:`run` should be
        started now."""
        self._listeners.append(listener)
        if self.clock is not None:
            return False
        self.clock = clock
        return True

    def remove_listener(self, listener: Callable[[AlarmChange], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _tell(self, changes: list[AlarmChange]) -> None:
        for change in changes:
            raised = change.state == "raised"
            self.counters["alarmsRaised" if raised else "alarmsCleared"] += 1
            self.log.log(
                logging.WARNING if raised else logging.INFO,
                "connection %s: alarm %d %s (%s: %d uplinks in the last hour, minimum %d): %s",
                self.connection_id,
                change.alarm.index,
                change.state,
                change.reason,
                change.uplinks_last_hour,
                change.alarm.minimum_per_hour,
                change.alarm.message,
            )
            for listener in list(self._listeners):
                listener(change)

    def record_uplink(self) -> None:
        if self.clock is None:
            return  # nothing watches yet: the rate counts from when a connector started the watch
        changes = self.monitor.record_uplink(self.clock.wall_time())
        if changes:
            self._tell(changes)
            self._rearm.set()  # a cleared alarm has to be checked again before its window ends

    async def run(self) -> None:
        clock = self.clock
        assert clock is not None, "add_listener() gives the clock first"
        while True:
            now = clock.wall_time()
            self._tell(self.monitor.check(now))
            upcoming = self.monitor.next_check(now)
            self._rearm.clear()
            waits = [asyncio.ensure_future(self._rearm.wait())]
            if upcoming is not None:
                waits.append(asyncio.ensure_future(clock.sleep(max(upcoming - now, 0.001))))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
