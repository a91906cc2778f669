"""The outbox on its own: order, bounds, and what survives closing and reopening its journal."""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import signal
import sqlite3
import struct
import zlib

import pytest

from flowhost import Receipt
from flowhost_builtins.uplink_journal import JournalStore, read_journal
from flowhost_builtins.uplink_outbox import Outbox, OutboxFull


def notice() -> Receipt:
    """A receipt only the outbox holds: settled once the entry is stored, or left the outbox unstored."""
    return Receipt(holders=0)


async def stored(outbox: Outbox, topic: str, expires_at: float | None = None) -> None:
    receipt = notice()
    outbox.add(topic, topic.encode(), expires_at, receipt)
    assert await receipt.wait(5) is None and receipt.durable


async def test_pending_entries_come_back_in_order_after_reopening(tmp_path):
    path = tmp_path / "outbox"
    outbox = Outbox(100, JournalStore(path))
    await outbox.open()
    for number in range(5):
        await stored(outbox, f"t/{number}")
    first = outbox.next_waiting()
    outbox.acknowledged(first)
    await outbox.close()

    reopened = Outbox(100, JournalStore(path))
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
    path = tmp_path / "outbox"
    outbox = Outbox(10, JournalStore(path))
    await outbox.open()
    quick = notice()
    outbox.add("quick", b"acknowledged before any write", None, quick)
    outbox.acknowledged(outbox.next_waiting())
    assert quick.settled and quick.refusal is None and quick.durable  # the broker has it: as safe as on disk
    await stored(outbox, "slow")
    await outbox.close()
    on_disk = b"".join(segment.read_bytes() for segment in path.iterdir())
    assert b"slow" in on_disk and b"acknowledged before any write" not in on_disk


async def test_commits_are_grouped(tmp_path):
    outbox = Outbox(10_000, JournalStore(tmp_path / "outbox"))
    await outbox.open()
    writes = 0
    original = outbox._store.write

    async def counting_write(inserts, deletes):
        nonlocal writes
        writes += 1
        await original(inserts, deletes)

    outbox._store.write = counting_write
    receipts = [notice() for _ in range(2000)]
    for number, receipt in enumerate(receipts):
        outbox.add(f"t/{number}", b"payload", None, receipt)
    await outbox.close()
    assert all(receipt.settled and receipt.durable for receipt in receipts) and writes < 20


async def test_the_store_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "connection" / "outbox"
    outbox = Outbox(10, JournalStore(path))
    await outbox.open()
    await stored(outbox, "t/private")
    modes = {file.name: file.stat().st_mode & 0o777 for file in path.iterdir()}
    await outbox.close()
    assert modes and set(modes.values()) == {0o600}
    assert path.stat().st_mode & 0o777 == 0o700


async def test_a_record_cut_short_by_a_crash_ends_the_replay_and_the_rest_is_kept(tmp_path, caplog):
    path = tmp_path / "outbox"
    outbox = Outbox(100, JournalStore(path))
    await outbox.open()
    for number in range(3):
        await stored(outbox, f"t/{number}")
    await outbox.close()
    [segment] = path.iterdir()
    data = segment.read_bytes()
    segment.write_bytes(data[:-3])  # the last record, torn in the middle of its write
    assert [uplink[1] for uplink in read_journal(path)[0]] == ["t/0", "t/1"]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # a damaged byte in the second record: its CRC no longer matches
    segment.write_bytes(bytes(flipped))
    with caplog.at_level(logging.WARNING):
        reopened = Outbox(100, JournalStore(path))
        assert await reopened.open() == 1
    assert "unreadable" in caplog.text and reopened.next_waiting().topic == "t/0"
    await stored(reopened, "t/new")  # written after the damage, in a fresh segment: readable again
    await reopened.close()
    assert [uplink[1] for uplink in read_journal(path)[0]] == ["t/0", "t/new"]


async def test_a_batch_cut_short_by_a_crash_is_dropped_whole_and_the_batches_before_it_are_kept(tmp_path):
    """The uplinks of one write are reported stored together, once the write returned: a crash in the middle
    of it leaves none of them promised, so the replay takes none of them, not the first few."""
    path = tmp_path / "outbox"
    outbox = Outbox(100, JournalStore(path))
    await outbox.open()
    await stored(outbox, "t/alone")
    receipts = [notice() for _ in range(5)]
    outbox.add_many([((f"t/batch/{number}", b"p" * 200, None), receipt) for number, receipt in enumerate(receipts)])
    for receipt in receipts:
        assert await receipt.wait(5) is None
    await outbox.close()
    [segment] = path.iterdir()
    data = segment.read_bytes()
    assert [uplink[1] for uplink in read_journal(path)[0]] == ["t/alone", *(f"t/batch/{n}" for n in range(5))]
    segment.write_bytes(data[: len(data) - 300])  # torn after its first uplinks: the batch's CRC fails
    assert [uplink[1] for uplink in read_journal(path)[0]] == ["t/alone"]


def _legacy_add_record(sequence: int, topic: str, payload: bytes, expires_at: float | None) -> bytes:
    """An uplink as flowhost journaled it before batch records: kind "A", CRC-32, the fields, topic, payload."""
    fixed = struct.pack("<QdHI", sequence, math.nan if expires_at is None else expires_at, len(topic), len(payload))
    body = fixed + topic.encode() + payload
    return struct.pack("<BI", 0x41, zlib.crc32(body)) + body


async def test_a_journal_of_one_record_per_uplink_written_by_an_older_flowhost_is_replayed(tmp_path):
    path = tmp_path / "outbox"
    path.mkdir()
    done = struct.pack("<I2Q", 2, 1, 3)
    (path / "00000004.journal").write_bytes(
        b"".join(_legacy_add_record(n, f"old/{n}", b"x" * n, 1e10 if n == 2 else None) for n in range(5))
        + struct.pack("<BI", 0x44, zlib.crc32(done))
        + done
    )
    outbox = Outbox(100, JournalStore(path))
    assert await outbox.open() == 3
    await stored(outbox, "new")
    await outbox.close()
    pending, next_sequence = read_journal(path)
    assert [(uplink[0], uplink[1], uplink[2], uplink[3]) for uplink in pending] == [
        (0, "old/0", b"", None),
        (2, "old/2", b"xx", 1e10),
        (4, "old/4", b"xxxx", None),
        (5, "new", b"new", None),
    ]
    assert next_sequence == 6 and [file.name for file in path.iterdir()] == ["00000005.journal"]


async def test_the_journal_stays_the_size_of_what_is_pending(tmp_path):
    """Segments holding only delivered uplinks are replaced, so 2,000 uplinks through the outbox leave a journal
    about as big as the ten still pending, not as big as everything that went through."""
    path = tmp_path / "outbox"
    outbox = Outbox(10_000, JournalStore(path, min_segment_bytes=4096))
    await outbox.open()
    payload = b"p" * 500
    for number in range(10):
        outbox.add(f"kept/{number}", payload, None)
    for number in range(2000):
        receipt = notice()
        outbox.add(f"t/{number}", payload, None, receipt)
        await receipt.wait(5)
        entry = outbox.next_waiting()
        while not entry.topic.startswith("t/"):
            entry = outbox.next_waiting()
        outbox.acknowledged(entry)
    await outbox.close()
    size = sum(segment.stat().st_size for segment in path.iterdir())
    assert len(list(path.iterdir())) == 1 and size < 3 * 4096
    assert [uplink[1] for uplink in read_journal(path)[0]] == [f"kept/{number}" for number in range(10)]


async def test_a_legacy_sqlite_outbox_is_imported_once(tmp_path):
    legacy = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(legacy) as db:
        db.execute("CREATE TABLE uplinks (sequence INTEGER PRIMARY KEY, topic TEXT, payload BLOB, expires_at REAL)")
        db.executemany("INSERT INTO uplinks VALUES (?, ?, ?, ?)", [(7, "old/7", b"a", None), (9, "old/9", b"b", 1e10)])
    db.close()
    outbox = Outbox(100, JournalStore(tmp_path / "outbox"))
    assert await outbox.open() == 2
    assert not legacy.exists()
    await stored(outbox, "new")
    await outbox.close()
    pending, next_sequence = read_journal(tmp_path / "outbox")
    assert [(uplink[0], uplink[1], uplink[3]) for uplink in pending] == [
        (7, "old/7", None),
        (9, "old/9", 1e10),
        (10, "new", None),
    ]
    assert next_sequence == 11


async def test_a_write_that_fails_is_reported_and_the_journal_stays_readable(tmp_path):
    """A full disk (here: the file-size limit of the process, RLIMIT_FSIZE) fails the write of a batch: its
    uplinks are reported as not stored, and the next batch starts a clean segment, so that the replay after a
    restart is not cut short by the partial record the failed write may have left."""
    path = tmp_path / "outbox"
    outbox = Outbox(100, JournalStore(path))
    await outbox.open()
    await stored(outbox, "t/before")
    [segment] = path.iterdir()
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (segment.stat().st_size + 100, limits[1]))
    try:
        failed = notice()
        outbox.add("t/too-big", b"x" * 4096, None, failed)
        refusal = await failed.wait(5)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert refusal.retryable and refusal.reason.startswith("the outbox cannot store uplinks: [Errno")
    assert not failed.durable
    await stored(outbox, "t/after")
    await outbox.close()
    assert [uplink[1] for uplink in read_journal(path)[0]] == ["t/before", "t/after"]


async def test_with_sync_each_write_is_flushed_to_the_disk_before_it_counts_as_stored(tmp_path):
    """What a power cut would keep cannot be tested here; what can: every batch written is followed by
    fdatasync before its senders hear "stored", segment replacements too, and the journal reads back the same."""
    path = tmp_path / "outbox"
    store = JournalStore(path, min_segment_bytes=1024, sync=True)
    outbox = Outbox(100, store)
    await outbox.open()
    flushed_before_stored = []
    for number in range(5):
        receipt = notice()
        syncs_before = store.syncs
        outbox.add(f"t/{number}", b"p" * 400, None, receipt)
        await receipt.wait(5)
        flushed_before_stored.append(store.syncs > syncs_before)
    await outbox.close()
    assert all(flushed_before_stored)
    assert [uplink[1] for uplink in read_journal(path)[0]] == [f"t/{number}" for number in range(5)]


async def test_a_batch_is_taken_whole_or_not_at_all_and_written_in_one_go(tmp_path):
    outbox = Outbox(5, JournalStore(tmp_path / "outbox"))
    await outbox.open()
    writes = []
    original = outbox._store.write

    async def counting_write(inserts, deletes):
        writes.append(len(inserts))
        await original(inserts, deletes)

    outbox._store.write = counting_write
    await stored(outbox, "t/first")
    with pytest.raises(OutboxFull, match="holds 5 uplinks"):
        outbox.add_many([((f"t/{number}", b"", None), None) for number in range(5)])
    assert len(outbox) == 1  # none of the batch that did not fit
    receipts = [notice() for _ in range(4)]
    assert outbox.add_many([((f"t/{number}", b"", None), receipts[number]) for number in range(4)]) == []
    assert [await receipt.wait(5) for receipt in receipts] == [None] * 4
    await outbox.close()
    assert all(receipt.durable for receipt in receipts) and writes[:2] == [1, 4]
    assert [uplink[1] for uplink in read_journal(tmp_path / "outbox")[0]] == ["t/first", "t/0", "t/1", "t/2", "t/3"]


async def test_a_batch_drops_the_oldest_as_single_adds_would():
    outbox = Outbox(3, None, drop_oldest=True)
    outbox.add("a", b"", None)
    dropped = outbox.add_many([((topic, b"", None), None) for topic in ("b", "c", "d", "e")])
    assert [entry.topic for entry in dropped] == ["a", "b"]
    assert [outbox.next_waiting().topic for _ in range(3)] == ["c", "d", "e"]


async def test_a_wait_for_room_for_several_ends_once_they_all_fit():
    outbox = Outbox(4, None)
    for number in range(4):
        outbox.add(f"t/{number}", b"", None)
    waiter = asyncio.create_task(outbox.wait_for_room(3))
    single = asyncio.create_task(outbox.wait_for_room())
    await asyncio.sleep(0)  # both are waiting now
    outbox.acknowledged(outbox.next_waiting())
    await single
    outbox.acknowledged(outbox.next_waiting())
    await asyncio.sleep(0)
    assert not waiter.done()
    outbox.acknowledged(outbox.next_waiting())
    await asyncio.wait_for(waiter, 5)
    outbox.acknowledged(outbox.next_waiting())
    await asyncio.wait_for(outbox.wait_for_room(10), 5)  # more than it can ever hold: room for all it holds


async def test_a_receipt_held_by_the_outbox_learns_why_its_entry_left_unstored(tmp_path):
    """Dropped for room: refused, retryable (the sender may try again); refused by the broker: refused for good;
    a full outbox that refuses the entry never holds its receipt."""
    outbox = Outbox(2, JournalStore(tmp_path / "outbox"), drop_oldest=True)
    await outbox.open()
    dropped, refused, kept = notice(), notice(), notice()
    outbox.add("a", b"", None, dropped)
    outbox.add("b", b"", None, refused)
    outbox.add("c", b"", None, kept)  # no room: "a" goes
    outbox.refused(outbox.next_waiting(), ValueError("0x87 not authorized"))
    assert (dropped.refusal.retryable, refused.refusal.retryable) == (True, False)
    assert "dropped before it was stored" in dropped.refusal.reason and refused.refusal.reason == "0x87 not authorized"
    assert not dropped.durable and not refused.durable
    assert await kept.wait(5) is None and kept.durable
    await outbox.close()

    full = Outbox(1, None)
    full.add("a", b"", None)
    untouched = Receipt()
    with pytest.raises(OutboxFull):
        full.add("b", b"", None, untouched)
    untouched.release()
    assert untouched.settled and untouched.refusal is None  # nobody else held it


async def test_without_a_journal_an_entry_counts_as_stored_at_once():
    outbox = Outbox(10, None)
    receipt = Receipt()
    outbox.add("a", b"", None, receipt)
    assert receipt.durable and not receipt.settled  # its creator still holds it
    receipt.release()
    assert receipt.settled
