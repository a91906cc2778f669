"""The on-disk half of the connector's outbox: an append-only journal of the uplinks not yet acknowledged.

Each batch of changes is one ``os.write`` to the current segment file: an *add* record per uplink written
(sequence, expiry, topic, payload) and one *done* record listing the sequences that left the outbox
(acknowledged, expired, dropped). Reading the segments in order and replaying them gives back exactly what was
pending. Every record carries a CRC-32, so a record cut short by a crash (``kill -9`` in the middle of a write)
ends the replay of its segment instead of producing garbage.

A segment that has grown past twice the size of what is still pending (and past ``min_segment_bytes``) is
replaced: the pending uplinks are written to a new segment, then the old one is deleted, so the journal stays
about the size of the outbox, whatever went through it. A crash between the two leaves both segments, whose
replay gives the same result.

Why not SQLite (used before, in WAL mode): each uplink cost an indexed INSERT and a DELETE, 6-8 us of CPU
against 3 us here (``bench/outbox_store.py``), and its thread took the GIL once per row while the event loop
needed it. By default, like SQLite with ``synchronous=NORMAL``, the journal survives a crash of the process, not
of the machine: writes reach the operating system, no ``fsync`` follows them. With ``sync`` (the connection's
``outboxSync``) every write is followed by ``fdatasync`` before its uplinks count as stored, and a new segment
and its directory entry are synced before the old segment is deleted: a power cut loses nothing accepted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sqlite3
import struct
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

PendingUplink = tuple[int, str, bytes, float | None]
"""(sequence, topic, payload, expires_at): what ``open()`` hands back."""

_HEAD = struct.Struct("<BI")  # record kind, CRC-32 of the rest of the record
_ADD = struct.Struct("<QdHI")  # sequence, expires_at (NaN: never), topic length, payload length
_DONE = struct.Struct("<I")  # how many sequences follow (u64 each)
_ADD_KIND, _DONE_KIND = 0x41, 0x44  # "A", "D": readable in a hex dump
_SUFFIX = ".journal"
MIN_SEGMENT_BYTES = 16 * 1024 * 1024
LEGACY_SQLITE = "outbox.sqlite3"
"""The SQLite outbox of flowhost before the journal: imported once by ``open()``, then removed."""


class Entry(Protocol):
    sequence: int
    topic: str
    payload: bytes
    expires_at: float | None


_ADD_OVERHEAD = _HEAD.size + _ADD.size


def _encode_add(sequence: int, topic: bytes, payload: bytes, expires_at: float | None) -> tuple[bytes, ...]:
    fixed = _ADD.pack(sequence, math.nan if expires_at is None else expires_at, len(topic), len(payload))
    crc = zlib.crc32(payload, zlib.crc32(topic, zlib.crc32(fixed)))
    return _HEAD.pack(_ADD_KIND, crc), fixed, topic, payload


def _add_size(record: tuple[bytes, ...]) -> int:
    """The bytes of an add record (cheaper than summing its parts: this runs for every uplink journaled)."""
    return _ADD_OVERHEAD + len(record[2]) + len(record[3])


def _encode_done(sequences: list[int]) -> tuple[bytes, ...]:
    body = _DONE.pack(len(sequences)) + struct.pack(f"<{len(sequences)}Q", *sequences)
    return _HEAD.pack(_DONE_KIND, zlib.crc32(body)), body


def replay(data: bytes, pending: dict[int, PendingUplink]) -> tuple[int, int]:
    """Apply one segment's records to ``pending``. Returns (bytes read, highest sequence seen); reading stops at
    the first record that is incomplete or fails its CRC."""
    pos, end, highest = 0, len(data), -1
    while pos + _HEAD.size <= end:
        kind, crc = _HEAD.unpack_from(data, pos)
        start = pos + _HEAD.size
        if kind == _ADD_KIND and start + _ADD.size <= end:
            sequence, expires_at, topic_length, payload_length = _ADD.unpack_from(data, start)
            topic_start = start + _ADD.size
            record_end = topic_start + topic_length + payload_length
            if record_end > end or zlib.crc32(data[start:record_end]) != crc:
                break
            topic = data[topic_start : topic_start + topic_length].decode()
            payload = data[topic_start + topic_length : record_end]
            pending[sequence] = (sequence, topic, payload, None if math.isnan(expires_at) else expires_at)
            highest = max(highest, sequence)
        elif kind == _DONE_KIND and start + _DONE.size <= end:
            (count,) = _DONE.unpack_from(data, start)
            record_end = start + _DONE.size + 8 * count
            if record_end > end or zlib.crc32(data[start:record_end]) != crc:
                break
            for sequence in struct.unpack_from(f"<{count}Q", data, start + _DONE.size):
                pending.pop(sequence, None)
                highest = max(highest, sequence)
        else:
            break
        pos = record_end
    return pos, highest


def read_journal(directory: Path) -> tuple[list[PendingUplink], int]:
    """The uplinks pending in a journal directory, in sequence order, and the next free sequence number."""
    pending: dict[int, PendingUplink] = {}
    highest = -1
    for segment in _segments(directory):
        data = segment.read_bytes()
        read, segment_highest = replay(data, pending)
        highest = max(highest, segment_highest)
        if read < len(data):
            log.warning(
                "outbox journal %s: the last %d bytes are unreadable (a write cut short by a crash?); "
                "what came before them is kept",
                segment,
                len(data) - read,
            )
    return [pending[sequence] for sequence in sorted(pending)], highest + 1


def _segments(directory: Path) -> list[Path]:
    found = [path for path in directory.glob(f"*{_SUFFIX}") if path.stem.isdigit()]
    return sorted(found, key=lambda path: int(path.stem))


def _read_legacy_sqlite(path: Path) -> list[PendingUplink]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT sequence, topic, payload, expires_at FROM uplinks ORDER BY sequence").fetchall()


class JournalStore:
    """Writes the outbox's changes to the journal in ``directory``; file work runs on a thread of its own."""

    def __init__(self, directory: Path, min_segment_bytes: int = MIN_SEGMENT_BYTES, *, sync: bool = False) -> None:
        self.directory = directory
        self.min_segment_bytes = min_segment_bytes
        self.sync = sync
        self.syncs = 0
        """How many times the journal was flushed to the disk (``sync``)."""
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"outbox-{directory.parent.name}")
        self._fd: int | None = None
        self._segment_number = 0
        self._segment_bytes = 0
        self._live: dict[int, tuple[bytes, ...]] = {}  # sequence -> its add record, for rewriting a segment
        self._live_bytes = 0
        self._rewrite_next = False
        self.next_sequence = 0
        """After ``open()``: higher than any sequence the journal ever held, so that none is reused."""

    async def open(self) -> list[PendingUplink]:
        """Replay the journal (and a legacy SQLite outbox), write what is pending to a fresh segment, delete the
        old segments; returns the pending uplinks in order."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    def _open(self) -> list[PendingUplink]:
        # Uplinks are the integrator's data: the directory and every segment are the owner's only.
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        pending, self.next_sequence = read_journal(self.directory)
        legacy = self.directory.parent / LEGACY_SQLITE
        if legacy.exists():
            known = {uplink[0] for uplink in pending}
            imported = [row for row in _read_legacy_sqlite(legacy) if row[0] not in known]
            pending = sorted([*pending, *imported])
            self.next_sequence = max(self.next_sequence, pending[-1][0] + 1) if pending else self.next_sequence
            log.warning("outbox: %d pending uplinks imported from %s", len(imported), legacy)
        old_segments = _segments(self.directory)
        self._segment_number = int(old_segments[-1].stem) if old_segments else 0
        for sequence, topic, payload, expires_at in pending:
            record = _encode_add(sequence, topic.encode(), payload, expires_at)
            self._live[sequence] = record
            self._live_bytes += _add_size(record)
        self._start_segment()
        for segment in old_segments:
            segment.unlink()
        if legacy.exists():
            for path in (legacy, legacy.with_name(LEGACY_SQLITE + "-wal"), legacy.with_name(LEGACY_SQLITE + "-shm")):
                path.unlink(missing_ok=True)
        return pending

    async def write(self, inserts: Sequence[Entry], deletes: list[int]) -> None:
        """Journal new uplinks and the sequences that left the outbox, as one write."""
        # Runs on the event loop for every uplink journaled: names are looked up once, sizes counted once.
        live = self._live
        parts: list[bytes] = []
        extend = parts.extend
        added_bytes = added = 0
        encode_add = _encode_add
        for entry in inserts:
            sequence, topic, payload = entry.sequence, entry.topic.encode(), entry.payload
            record = live[sequence] = encode_add(sequence, topic, payload, entry.expires_at)
            added_bytes += len(topic) + len(payload)
            added += 1
            extend(record)
        done = []
        pop = live.pop
        for sequence in deletes:
            record = pop(sequence, None)
            if record is not None:
                done.append(sequence)
                added_bytes -= len(record[2]) + len(record[3])
        self._live_bytes += added_bytes + _ADD_OVERHEAD * (added - len(done))
        if done:
            parts += _encode_done(done)
        if not parts and not self._rewrite_next:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._append, b"".join(parts))
        except OSError:
            # What this write added is not on disk: forget it; the next write starts a clean segment (this
            # one may end in a partial record, which would hide whatever came after it).
            for entry in inserts:
                record = live.pop(entry.sequence, None)
                if record is not None:
                    self._live_bytes -= _add_size(record)
            self._rewrite_next = True
            raise

    def _append(self, data: bytes) -> None:
        if self._rewrite_next or self._segment_bytes > max(self.min_segment_bytes, 2 * self._live_bytes):
            # The new segment holds everything pending after this write: ``data`` itself need not follow.
            old = self.directory / f"{self._segment_number:08d}{_SUFFIX}"
            self._start_segment()
            self._rewrite_next = False
            old.unlink(missing_ok=True)
            return
        self._write_all(data)
        if self.sync:
            os.fdatasync(self._fd)
            self.syncs += 1

    def _start_segment(self) -> None:
        """A new segment holding every pending uplink; later writes go to it."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._segment_number += 1
        path = self.directory / f"{self._segment_number:08d}{_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._segment_bytes = 0
        # A snapshot: the event loop may change the live set while this thread writes.
        self._write_all(b"".join(part for record in list(self._live.values()) for part in record))
        if self.sync:  # the new segment and its name on disk before the old one may go
            os.fsync(self._fd)
            directory = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self.syncs += 1

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._segment_bytes += written

    async def close(self) -> None:
        def close_file() -> None:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close_file)
        self._executor.shutdown(wait=False)
