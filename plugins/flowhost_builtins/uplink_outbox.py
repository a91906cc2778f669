"""The connector's ordered, bounded outbox: uplinks accepted and not yet acknowledged by the broker.

Entries leave only when the broker acknowledged them (or, at QoS 0, when written), when they expire under
``uplinkTimeValidity``, or when the outbox is full and the oldest waiting one must make room. An entry whose
publish failed goes back into line at its original place, so a reconnection republishes in order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass


@dataclass(slots=True)
class OutboxEntry:
    sequence: int
    topic: str
    payload: bytes
    expires_at: float | None
    """Monotonic time after which the uplink must not be published; None: never expires."""
    in_flight: bool = False


class Outbox:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: dict[int, OutboxEntry] = {}
        self._waiting: list[int] = []  # a heap of sequence numbers: the oldest waiting entry first
        self._next_sequence = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def add(self, topic: str, payload: bytes, expires_at: float | None) -> OutboxEntry | None:
        """Queue an uplink; returns the entry dropped to make room, if the outbox was full."""
        dropped = None
        if len(self._entries) >= self.capacity:
            dropped = self._drop_oldest_waiting()
        entry = OutboxEntry(self._next_sequence, topic, payload, expires_at)
        self._next_sequence += 1
        self._entries[entry.sequence] = entry
        heapq.heappush(self._waiting, entry.sequence)
        return dropped

    def _drop_oldest_waiting(self) -> OutboxEntry | None:
        while self._waiting:
            entry = self._entries.pop(heapq.heappop(self._waiting), None)
            if entry is not None:
                return entry
        # Everything is in flight: the window is as large as the outbox. Drop the oldest all the same.
        oldest = min(self._entries)
        return self._entries.pop(oldest)

    def next_waiting(self) -> OutboxEntry | None:
        """The oldest entry waiting to be published, now marked in flight."""
        while self._waiting:
            entry = self._entries.get(heapq.heappop(self._waiting))
            if entry is not None and not entry.in_flight:
                entry.in_flight = True
                return entry
        return None

    def acknowledged(self, entry: OutboxEntry) -> None:
        self._entries.pop(entry.sequence, None)

    def retry(self, entry: OutboxEntry) -> None:
        """Put a failed entry back in line, at its original place."""
        if entry.sequence in self._entries and entry.in_flight:
            entry.in_flight = False
            heapq.heappush(self._waiting, entry.sequence)

    def remove(self, entry: OutboxEntry) -> None:
        self._entries.pop(entry.sequence, None)
