"""The connector's outbox: uplinks accepted and not yet acknowledged by the broker, in order, on disk.

Entries leave only when the broker acknowledged them (or, at QoS 0, when written), when they expire under
``uplinkTimeValidity``, or, with the ``dropOldest`` overflow policy, when the oldest waiting one must make room.
An entry whose publish failed goes back into line at its original place, so a reconnection republishes in order.

Every entry is also written to a journal (``uplink_journal``) in the connection's data directory, so that after
a crash (even ``kill -9``) the next start publishes what was pending. Writes are grouped: while one batch is
being written by the store's thread, new entries gather for the next one, so the cost per uplink falls as the
rate rises. A caller that must learn when its entry is safe gives a receipt (``stored``): the outbox holds it
until the entry is on disk, or already acknowledged by the broker (then it is never written at all), and marks it
durable; or refuses it when the entry left unstored (retryable, but for an uplink the broker refused for good).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from flowhost import Receipt

from .uplink_journal import JournalStore

log = logging.getLogger(__name__)

NewUplink = tuple[tuple[str, bytes, float | None], Receipt | None]
"""((topic, payload, expires_at), stored): one uplink for :meth:`Outbox.add_many` (a prepared uplink and its
receipt, as the connection has them)."""


class OutboxFull(Exception):
    """The outbox holds as many uplinks as it may; the sender should try again later."""


@dataclass(slots=True)
class OutboxEntry:
    sequence: int
    topic: str
    payload: bytes
    expires_at: float | None
    """Wall-clock time (epoch seconds) after which the uplink must not be published; None: never expires."""
    in_flight: bool = False
    stored: bool = False
    receipt: Receipt | None = None
    """Held until the entry is on disk (or acknowledged), then released."""


class Outbox:
    def __init__(self, capacity: int, store: JournalStore | None, *, drop_oldest: bool = False) -> None:
        self.capacity = capacity
        self.drop_oldest = drop_oldest
        self._store = store
        self._entries: dict[int, OutboxEntry] = {}
        self._waiting: list[int] = []  # a heap of sequence numbers: the oldest waiting entry first
        self._next_sequence = 0
        self._unstored: list[OutboxEntry] = []
        self._deletes: list[int] = []
        self._dirty = asyncio.Event()
        self._room_waiters: list[tuple[int, asyncio.Future[None]]] = []  # (how many must fit, its future)
        self._room_wanted = capacity  # the least room a waiter waits for
        self._writer: asyncio.Task | None = None
        self._closing = False
        self.commit_delay = 0.0
        """Seconds a commit waits while uplinks are being published: those the broker acknowledges meanwhile
        are never written. Set by the connection while it is connected; 0 (commit at once) otherwise."""

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def full(self) -> bool:
        """``add`` would refuse (or, with ``drop_oldest``, drop) an uplink now."""
        return len(self._entries) >= self.capacity

    async def wait_for_room(self, count: int = 1) -> None:
        """Return once ``count`` more uplinks fit (at most the capacity): woken once, not at every removal."""
        count = min(count, self.capacity)
        while self.capacity - len(self._entries) < count:
            waiter = asyncio.get_running_loop().create_future()
            self._room_waiters.append((count, waiter))
            self._room_wanted = min(self._room_wanted, count)
            await waiter

    def _wake_room_waiters(self) -> None:
        room = self.capacity - len(self._entries)
        waiting = []
        for count, waiter in self._room_waiters:
            if waiter.done():
                continue  # cancelled
            if count <= room:
                waiter.set_result(None)
            else:
                waiting.append((count, waiter))
        self._room_waiters = waiting
        self._room_wanted = min((count for count, _ in waiting), default=self.capacity)

    async def open(self) -> int:
        """Load what a previous run left pending; returns how many entries that was."""
        if self._store is None:
            return 0
        for sequence, topic, payload, expires_at in await self._store.open():
            entry = OutboxEntry(sequence, topic, payload, expires_at, stored=True)
            self._entries[sequence] = entry
            heapq.heappush(self._waiting, sequence)
            self._next_sequence = sequence + 1
        self._next_sequence = max(self._next_sequence, self._store.next_sequence)
        name = f"outbox writer {self._store.directory.parent.name}"
        self._writer = asyncio.create_task(self._write_forever(), name=name)
        return len(self._entries)

    def add(
        self, topic: str, payload: bytes, expires_at: float | None, stored: Receipt | None = None
    ) -> OutboxEntry | None:
        """Queue an uplink. Raises OutboxFull, or with ``drop_oldest`` returns the entry dropped for room.
        ``stored`` is held until the entry is on disk (see the module's docstring)."""
        dropped = self.add_many([((topic, payload, expires_at), stored)])
        return dropped[0] if dropped else None

    def add_many(self, uplinks: Sequence[NewUplink]) -> list[OutboxEntry]:
        """Queue uplinks in their order, as one submission: one hand-off to the journal's writer for all of them.
        Raises OutboxFull, queueing none, when they do not all fit; with ``drop_oldest`` returns the entries
        dropped for room instead (as many ``add`` calls would). Each ``stored`` receipt is held as by ``add``."""
        entries, waiting, capacity = self._entries, self._waiting, self.capacity
        if len(entries) + len(uplinks) > capacity and not self.drop_oldest:
            raise OutboxFull(f"the outbox holds {capacity} uplinks not yet acknowledged by the broker")
        dropped = []
        sequence = self._next_sequence
        durable = self._store is not None
        unstored = self._unstored
        for (topic, payload, expires_at), stored in uplinks:
            if len(entries) >= capacity:
                dropped.append(self._drop_oldest())
            entry = OutboxEntry(sequence, topic, payload, expires_at, False, not durable)
            entries[sequence] = entry
            heapq.heappush(waiting, sequence)  # the newest: stays a leaf, one comparison
            sequence += 1
            if not durable:
                if stored is not None:
                    stored.mark_durable()
                continue
            if stored is not None:
                stored.hold()
                entry.receipt = stored
            unstored.append(entry)
        self._next_sequence = sequence
        if durable and uplinks:
            self._dirty.set()
        return dropped

    def _drop_oldest(self) -> OutboxEntry:
        while self._waiting:
            entry = self._entries.get(heapq.heappop(self._waiting))
            if entry is not None and not entry.in_flight:
                self.remove(entry)
                return entry
        oldest = self._entries[min(self._entries)]  # everything is in flight: drop the oldest all the same
        self.remove(oldest)
        return oldest

    def next_waiting(self) -> OutboxEntry | None:
        """The oldest entry waiting to be published, now marked in flight."""
        while self._waiting:
            entry = self._entries.get(heapq.heappop(self._waiting))
            if entry is not None and not entry.in_flight:
                entry.in_flight = True
                return entry
        return None

    def retry(self, entry: OutboxEntry) -> None:
        """Put a failed entry back in line, at its original place."""
        if entry.sequence in self._entries and entry.in_flight:
            entry.in_flight = False
            heapq.heappush(self._waiting, entry.sequence)

    def acknowledged(self, entry: OutboxEntry) -> None:
        # Delivered before it reached the disk: whoever waits for it to be safe need not wait for a write.
        self._settle(entry, None)
        self.remove(entry)

    def refused(self, entry: OutboxEntry, error: BaseException) -> None:
        """The entry can never be published: whoever still waits for it to be stored learns why (for good)."""
        self._settle(entry, str(error), retryable=False)
        self.remove(entry)

    def remove(self, entry: OutboxEntry) -> None:
        if self._entries.pop(entry.sequence, None) is None:
            return
        if self._room_waiters and self.capacity - len(self._entries) >= self._room_wanted:
            self._wake_room_waiters()
        self._settle(entry, "the outbox cannot store uplinks: dropped before it was stored")
        if self._store is not None:
            self._deletes.append(entry.sequence)
            self._dirty.set()

    @staticmethod
    def _settle(entry: OutboxEntry, refusal: str | None, *, retryable: bool = True) -> None:
        """Release the entry's receipt: durable, or refused for ``refusal``."""
        receipt, entry.receipt = entry.receipt, None
        if receipt is None:
            return
        if refusal is None:
            receipt.mark_durable()
        else:
            receipt.refuse(refusal, retryable=retryable)
        receipt.release()

    async def _write_forever(self) -> None:
        while not (self._closing and not self._unstored and not self._deletes):
            await self._dirty.wait()
            if self.commit_delay and not self._closing:
                await asyncio.sleep(self.commit_delay)
            self._dirty.clear()
            await self._write_batch()

    async def _write_batch(self) -> None:
        inserts, self._unstored = self._unstored, []
        deletes, self._deletes = self._deletes, []
        gone = set(deletes)
        # An uplink acknowledged before it reached the disk never needs to be written at all.
        to_insert = [entry for entry in inserts if entry.sequence not in gone]
        refusal: str | None = None
        try:
            await self._store.write(to_insert, deletes)
        except OSError as exc:
            refusal = f"the outbox cannot store uplinks: {exc}"
            log.error("outbox %s: cannot write: %s", self._store.directory, exc)
        for entry in inserts:
            entry.stored = refusal is None
            self._settle(entry, refusal)

    async def close(self) -> None:
        """Write what is still unwritten, then close the store."""
        if self._store is None:
            return
        self._closing = True
        self._dirty.set()
        if self._writer is not None:
            await self._writer
        await self._store.close()
