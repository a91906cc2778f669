"""A connection's dead letters: uplinks the broker refused or that can never be published, kept on disk.

An uplink refused by the broker (an MQTT 5 PUBACK with a reason code >= 0x80, such as 0x87 from an ACL, or a
packet over the broker's Maximum Packet Size) would be refused again however often it were sent. Instead of
being retried for ever or dropped, it is kept here with the reason and the time, until an operator replays it
(after fixing the ACL) or deletes it through ``/api/connections/{id}/dead-letters``.

The store is one JSON-lines file (``dead-letters.jsonl``, mode 0600) in the connection's data directory: one
line appended per dead letter, the file rewritten (to a temporary file, then renamed) when letters are removed.
It is bounded by a number of letters and a number of bytes; a letter that does not fit is not kept, and the
caller counts it. Dead letters are rare and small, so the file is written on the event loop; like the outbox
without ``outboxSync``, it survives a crash of the process, not a power cut.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from flowhost import Receipt

log = logging.getLogger(__name__)

FILE_NAME = "dead-letters.jsonl"
MAX_BYTES = 16 * 1024 * 1024
"""At most this much JSON on disk (and about as much in memory), whatever the number of letters."""
REPLAY_TIMEOUT = 30.0
"""How long a replay waits for the letters it put back in the outbox to be stored there."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    time: float
    """When it was refused (epoch seconds)."""
    topic: str
    payload: bytes
    reason: str
    reason_code: int | None = None
    """The broker's MQTT 5 reason code, when it gave one."""

    def as_json(self) -> dict[str, Any]:
        """The API's view: the payload in base64, the time in ISO 8601 (UTC)."""
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds"),
            "topic": self.topic,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadBytes": len(self.payload),
            "reason": self.reason,
            "reasonCode": self.reason_code,
        }

    def line(self) -> bytes:
        record = {
            "id": self.id,
            "time": self.time,
            "topic": self.topic,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "reason": self.reason,
            "reasonCode": self.reason_code,
        }
        return orjson.dumps(record) + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> DeadLetter:
        """Raises ValueError (or a subclass) for a line that is not a dead letter."""
        record = orjson.loads(line)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        return cls(
            int(record["id"]),
            float(record["time"]),
            str(record["topic"]),
            base64.b64decode(record["payload"], validate=True),
            str(record["reason"]),
            None if record.get("reasonCode") is None else int(record["reasonCode"]),
        )


class DeadLetterStore:
    def __init__(self, directory: Path, max_letters: int, max_bytes: int = MAX_BYTES) -> None:
        self.path = directory / FILE_NAME
        self.max_letters = max_letters
        self.max_bytes = max_bytes
        self._letters: dict[int, tuple[DeadLetter, int]] = {}  # id -> (letter, bytes of its line), oldest first
        self._bytes = 0
        self._next_id = 1
        self._fd: int | None = None

    def __len__(self) -> int:
        return len(self._letters)

    def open(self) -> int:
        """Read what earlier runs kept; returns how many letters could not be read or kept (logged)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lost = 0
        if self.path.exists():
            with self.path.open("rb") as file:
                lost = self._load(file)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(self._fd, 0o600)
        if lost:
            self._rewrite()  # what is on disk is what is listed
        return lost

    def _load(self, lines: Iterable[bytes]) -> int:
        lost = 0
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                letter = DeadLetter.from_line(line)
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                log.warning("%s:%d: not a dead letter (%s); skipped", self.path, number, exc)
                lost += 1
                continue
            if not self._fits(len(line)) or letter.id in self._letters:
                lost += 1
                continue
            self._keep(letter, len(line))
        if lost:
            log.warning("%s: %d dead letters could not be read or exceed the limits", self.path, lost)
        return lost

    def _fits(self, size: int) -> bool:
        return len(self._letters) < self.max_letters and self._bytes + size <= self.max_bytes

    def _keep(self, letter: DeadLetter, size: int) -> None:
        self._letters[letter.id] = (letter, size)
        self._bytes += size
        self._next_id = max(self._next_id, letter.id + 1)

    def add(self, topic: str, payload: bytes, reason: str, reason_code: int | None = None) -> DeadLetter | None:
        """Keep one letter (written before this returns); None when it does not fit within the limits or cannot
        be written (the store is closed, the disk is full: logged)."""
        letter = DeadLetter(self._next_id, time.time(), topic, payload, reason, reason_code)
        line = letter.line()
        if self._fd is None or not self._fits(len(line)):
            return None
        try:
            os.write(self._fd, line)
        except OSError as exc:
            log.error("%s: cannot write a dead letter: %s", self.path, exc)
            return None
        self._keep(letter, len(line))
        return letter

    def page(self, limit: int, after: int | None = None) -> tuple[list[DeadLetter], int | None]:
        """Up to ``limit`` letters with an id above ``after``, oldest first, and the id to ask ``after`` next
        (None on the last page)."""
        letters = [letter for letter, _ in self._letters.values() if after is None or letter.id > after]
        if len(letters) > limit:
            return letters[:limit], letters[limit - 1].id
        return letters, None

    def select(self, ids: Collection[int] | None) -> list[DeadLetter]:
        """The letters with these ids (every letter for None), oldest first."""
        if ids is None:
            return [letter for letter, _ in self._letters.values()]
        return [entry[0] for entry in (self._letters.get(letter_id) for letter_id in sorted(ids)) if entry]

    def remove(self, ids: Collection[int] | None) -> int:
        """Forget these letters (every letter for None); returns how many there were."""
        gone = list(self._letters) if ids is None else [letter_id for letter_id in ids if letter_id in self._letters]
        for letter_id in gone:
            self._bytes -= self._letters.pop(letter_id)[1]
        if gone:
            self._rewrite()
        return len(gone)

    def _rewrite(self) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, b"".join(letter.line() for letter, _ in self._letters.values()))
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


Resubmit = Callable[[DeadLetter, Receipt], bool]
"""Puts a letter back in line and returns True, or returns False when there is no room now. The line holds the
receipt until the letter is stored again, or refuses it (for good when the broker refused the letter again)."""


async def replay(
    store: DeadLetterStore,
    ids: Collection[int] | None,
    resubmit: Resubmit,
    *,
    timeout: float = REPLAY_TIMEOUT,
) -> dict[str, Any]:
    """Resubmit these letters (all for None), oldest first, while there is room. A letter leaves the store once
    its new copy is stored, or was refused again for good (then it is a new dead letter); one that was not taken,
    or not stored within ``timeout``, stays."""
    receipts: dict[int, Receipt] = {}
    letters = store.select(ids)
    for letter in letters:
        receipt = Receipt(holders=0)
        with receipt.holding():
            taken = resubmit(letter, receipt)
        if not taken:
            break
        receipts[letter.id] = receipt
    if receipts:
        with contextlib.suppress(TimeoutError):
            await Receipt.all_of(list(receipts.values())).wait(timeout)
    done = [
        letter_id
        for letter_id, receipt in receipts.items()
        if receipt.settled and (receipt.refusal is None or not receipt.refusal.retryable)
    ]
    store.remove(done)
    return {"replayed": len(done), "notReplayed": len(letters) - len(done), "remaining": len(store)}
