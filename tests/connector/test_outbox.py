"""The outbox on its own: order, bounds, and what survives closing and reopening its SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from flowhost_builtins.uplink_outbox import Outbox, OutboxFull, SqliteStore


async def stored(outbox: Outbox, topic: str, expires_at: float | None = None) -> None:
    done = asyncio.get_running_loop().create_future()
    outbox.add(topic, topic.encode(), expires_at, done.set_result)
    assert await asyncio.wait_for(done, 5) is None


async def test_pending_entries_come_back_in_order_after_reopening(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(100, SqliteStore(path))
    await outbox.open()
    for number in range(5):
        await stored(outbox, f"t/{number}")
    first = outbox.next_waiting()
    outbox.acknowledged(first)
    await outbox.close()

    reopened = Outbox(100, SqliteStore(path))
    assert await reopened.open() == 4
    topics = []
    while (entry := reopened.next_waiting()) is not None:
        topics.append(entry.topic)
    assert topics == ["t/1", "t/2", "t/3", "t/4"]
    await stored(reopened, "t/5")
    assert reopened.next_waiting().sequence > 4  # sequence numbers keep growing across runs
    await reopened.close()


async def test_a_failed_publish_goes_back_to_its_place(tmp_path):
    outbox = Outbox(10, None)
    for number in range(3):
        outbox.add(f"t/{number}", b"", None)
    first, second = outbox.next_waiting(), outbox.next_waiting()
    outbox.retry(first)
    assert [outbox.next_waiting().topic, outbox.next_waiting().topic] == ["t/0", "t/2"]
    assert second.in_flight


async def test_a_full_outbox_refuses_by_default_and_can_drop_the_oldest_instead():
    refusing = Outbox(2, None)
    refusing.add("a", b"", None)
    refusing.add("b", b"", None)
    with pytest.raises(OutboxFull, match="holds 2 uplinks"):
        refusing.add("c", b"", None)

    dropping = Outbox(2, None, drop_oldest=True)
    dropping.add("a", b"", None)
    dropping.add("b", b"", None)
    assert dropping.add("c", b"", None).topic == "a"
    assert [dropping.next_waiting().topic, dropping.next_waiting().topic] == ["b", "c"]


async def test_an_uplink_acknowledged_before_its_commit_is_never_written(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(10, SqliteStore(path))
    await outbox.open()
    results = []
    outbox.add("quick", b"x", None, results.append)
    outbox.acknowledged(outbox.next_waiting())
    await outbox.close()
    assert results == [None]
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM uplinks").fetchone() == (0,)


async def test_commits_are_grouped(tmp_path):
    outbox = Outbox(10_000, SqliteStore(tmp_path / "outbox.sqlite3"))
    await outbox.open()
    writes = 0
    original = outbox._store.write

    async def counting_write(inserts, deletes):
        nonlocal writes
        writes += 1
        await original(inserts, deletes)

    outbox._store.write = counting_write
    done = []
    for number in range(2000):
        outbox.add(f"t/{number}", b"payload", None, done.append)
    await outbox.close()
    assert len(done) == 2000 and writes < 20


async def test_the_store_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "connection" / "outbox.sqlite3"
    outbox = Outbox(10, SqliteStore(path))
    await outbox.open()
    await stored(outbox, "t/private")
    modes = {file.name: file.stat().st_mode & 0o777 for file in path.parent.iterdir()}
    await outbox.close()
    assert modes["outbox.sqlite3"] == 0o600 and modes["outbox.sqlite3-wal"] == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
