"""The dead-letter store on its own: what survives reopening, its limits, damaged lines, file modes."""

from __future__ import annotations

import logging

from flowhost_builtins.dead_letters import DeadLetterStore


def opened(directory, max_letters: int = 100, max_bytes: int = 1 << 20) -> DeadLetterStore:
    store = DeadLetterStore(directory, max_letters, max_bytes)
    store.open()
    return store


def test_letters_survive_reopening_with_their_bytes_reason_and_ids(tmp_path):
    store = opened(tmp_path / "connection")
    store.add("t/1", b"\x00\xffbinary", "refused (0x87 not authorized)", 0x87)
    store.add("t/2", b"{}", "refused (0x95 packet too large)", 0x95)
    store.remove([1])
    store.close()

    reopened = opened(tmp_path / "connection")
    [letter] = reopened.select(None)
    assert (letter.id, letter.topic, letter.payload, letter.reason_code) == (2, "t/2", b"{}", 0x95)
    assert reopened.add("t/3", b"", "again").id == 3  # ids keep growing across runs
    reopened.close()
    assert (tmp_path / "connection").stat().st_mode & 0o777 == 0o700
    assert reopened.path.stat().st_mode & 0o777 == 0o600


def test_the_limits_refuse_what_does_not_fit(tmp_path):
    by_count = opened(tmp_path / "count", max_letters=2)
    assert by_count.add("a", b"", "r") and by_count.add("b", b"", "r")
    assert by_count.add("c", b"", "r") is None and len(by_count) == 2
    by_bytes = opened(tmp_path / "bytes", max_bytes=300)
    assert by_bytes.add("a", b"x" * 100, "r") is not None
    assert by_bytes.add("b", b"x" * 100, "r") is None  # a second line would pass 300 bytes
    by_bytes.remove(None)
    assert by_bytes.add("c", b"x" * 100, "r") is not None


def test_pages_follow_the_ids(tmp_path):
    store = opened(tmp_path)
    for number in range(5):
        store.add(f"t/{number}", b"", "r")
    letters, after = store.page(2)
    assert [letter.id for letter in letters] == [1, 2] and after == 2
    letters, after = store.page(2, after)
    assert [letter.id for letter in letters] == [3, 4] and after == 4
    letters, after = store.page(2, after)
    assert [letter.id for letter in letters] == [5] and after is None


def test_a_damaged_line_is_skipped_counted_and_the_rest_kept(tmp_path, caplog):
    store = opened(tmp_path)
    store.add("t/1", b"one", "r")
    store.add("t/2", b"two", "r")
    store.close()
    lines = store.path.read_bytes().splitlines(keepends=True)
    store.path.write_bytes(lines[0][:-10] + b"\n" + lines[1])  # the first line cut short
    reopened = DeadLetterStore(tmp_path, 100)
    with caplog.at_level(logging.WARNING):
        assert reopened.open() == 1
    assert "not a dead letter" in caplog.text
    assert [letter.payload for letter in reopened.select(None)] == [b"two"]
    assert len(reopened.path.read_bytes().splitlines()) == 1  # rewritten: the file holds what is listed
