"""What the outbox's disk store costs per uplink: the journal (``JournalStore``) against the SQLite store it replaced.

    /work/venv/bin/python bench/outbox_store.py [--count 30000] [--batch 1500]

Each uplink (760 bytes, a ThingPark-sized topic) is written, then deleted in the next batch, as the connector does
during a burst at QoS 1. Printed: CPU time of the whole process (store thread included) and wall time per uplink.
Bounded: ``--count`` uplinks, in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flowhost_builtins.uplink_journal import JournalStore
from flowhost_builtins.uplink_outbox import OutboxEntry


class SqliteStore:
    """The store of flowhost before the journal (commit e486a6e), as it was: WAL, synchronous=NORMAL, one
    transaction per batch on a thread of its own."""

    def __init__(self, path: Path) -> None:
        self._executor = ThreadPoolExecutor(1)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE uplinks (sequence INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,"
            " expires_at REAL)"
        )

    async def open(self) -> list:
        return []

    async def write(self, inserts: list[OutboxEntry], deletes: list[int]) -> None:
        rows = [(entry.sequence, entry.topic, entry.payload, entry.expires_at) for entry in inserts]
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write, rows, deletes)

    def _write(self, rows: list[tuple], deletes: list[int]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO uplinks VALUES (?, ?, ?, ?)", rows)
        self._db.executemany("DELETE FROM uplinks WHERE sequence = ?", [(sequence,) for sequence in deletes])
        self._db.execute("COMMIT")

    async def close(self) -> None:
        self._db.close()
        self._executor.shutdown()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(store, count: int, batch: int) -> tuple[float, float]:
    await store.open()
    payload = os.urandom(760)
    entries = [
        OutboxEntry(sequence, f"mqtt/things/{sequence % 1000:016X}/uplink", payload, None) for sequence in range(count)
    ]
    cpu, wall = cpu_seconds(), time.perf_counter()
    previous: list[int] = []
    for start in range(0, count, batch):
        chunk = entries[start : start + batch]
        await store.write(chunk, previous)
        previous = [entry.sequence for entry in chunk]
    await store.write([], previous)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    await store.close()
    return cpu / count * 1e6, wall / count * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1_500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowhost-store-bench-") as directory:
        for name, store in (
            ("SQLite (before)", SqliteStore(Path(directory) / "outbox.sqlite3")),
            ("journal", JournalStore(Path(directory) / "journal" / "outbox")),
        ):
            cpu, wall = await measure(store, args.count, args.batch)
            batches = f"{args.count:,} uplinks in batches of {args.batch:,}"
            print(f"{name:16} {cpu:6.2f} us CPU, {wall:6.2f} us wall per uplink ({batches})")


if __name__ == "__main__":
    asyncio.run(main())
