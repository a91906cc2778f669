"""`Settlement`: a count of holders and an outcome, settled once when the last holder lets go.

One primitive for everything in flowhost that must learn when others are done with something: the receipt of a
flow message (`flowhost.Receipt` is this class: the source learns when every node took the message, an HTTP 202 or
an MQTT PUBACK waits for it), the deferred acknowledgement of a message this client received (`on_message` returns
one: the PUBACK leaves when it is settled), and an outbox entry's "stored" notice (the outbox holds the receipt
until the entry is on disk).

It lives in this package because the MQTT client imports nothing else of flowhost and needs it for its
acknowledgements; the core imports it from here. On the hot path it costs one small object per message: no
future, no event-loop callback (an awaitable is made only by `wait`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from .deadlines import deadlines

__all__ = ["Refusal", "Settlement"]

log = logging.getLogger(__name__)

SettledCallback = Callable[["Refusal | None"], None]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a holder did not take what it was given: ``retryable`` when the sender may try again later (a full
    outbox; an MQTT message is then left unacknowledged, so that the broker delivers it again), not when trying
    again cannot help (the broker refused it for good). ``node_id``: the node that refused, when a node did."""

    reason: str
    retryable: bool
    node_id: str | None = None


class Settlement:
    """Settled once, when the last of its holders let go (``release``): accepted (``refusal`` None), or refused
    with the first `Refusal` a holder gave; ``durable`` once a holder stored it.

    It starts with ``holders`` holds (by default one: its creator's, released once it has handed the thing on;
    0 for a creator that takes its hold with ``with settlement.holding():``). Whoever passes it on holds it once
    per receiver (``hold``), and each receiver releases its hold when done. Callbacks given to `when_settled` run
    synchronously from the last release, once; `wait` makes the one awaitable, only when asked.
    """

    __slots__ = ("_callbacks", "_holders", "_waiter", "durable", "patient", "refusal", "settled")

    def __init__(self, *, patient: bool = False, holders: int = 1) -> None:
        self.patient = patient
        """Whoever waits for the outcome can wait long (``mqtt-in``: its broker keeps the message unacknowledged
        meanwhile): a holder that has no room now should wait for room rather than refuse. False when the outcome
        is wanted soon (an HTTP sender gets a 503 and retries)."""
        self._holders = holders
        self.settled = False
        self.durable = False
        self.refusal: Refusal | None = None
        self._callbacks: SettledCallback | list[SettledCallback] | None = None  # most have one, or none
        self._waiter: asyncio.Future[Refusal | None] | None = None

    def hold(self, count: int = 1) -> None:
        self._holders += count

    def release(self) -> None:
        self._holders -= 1
        if self._holders <= 0 and not self.settled:
            self.settled = True
            if self._callbacks is not None:
                self._run_callbacks()
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(self.refusal)

    def holding(self) -> _Holding:
        """``with settlement.holding():`` holds it for the block and releases it at the end. A block left by an
        exception has not handed the thing on: the settlement is refused first (retryable), so that nobody takes
        it as done."""
        return _Holding(self)

    def refuse(self, reason: str, *, retryable: bool, node_id: str | None = None) -> None:
        """Record a refusal (the first one counts); the holder still releases its hold."""
        if self.refusal is None:
            self.refusal = Refusal(reason, retryable, node_id)

    def mark_durable(self) -> None:
        self.durable = True

    def when_settled(self, callback: SettledCallback) -> None:
        """Call ``callback(refusal)`` (None when nobody refused) once settled, synchronously from the last release;
        at once if it is settled already. A callback that raises is logged; the others still run."""
        if self.settled:
            _call(callback, self.refusal)
            return
        callbacks = self._callbacks
        if callbacks is None:
            self._callbacks = callback
        elif type(callbacks) is list:
            callbacks.append(callback)
        else:
            self._callbacks = [callbacks, callback]

    def _run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, None
        refusal = self.refusal
        if type(callbacks) is list:
            for callback in callbacks:
                _call(callback, refusal)
        else:
            _call(callbacks, refusal)

    async def wait(self, timeout: float) -> Refusal | None:
        """None when every holder took it; the first refusal otherwise. Raises TimeoutError.

        One waiter at a time (RuntimeError for a second one meanwhile); a wait that timed out may be followed by
        another."""
        if self.settled:
            return self.refusal
        if self._waiter is not None:
            raise RuntimeError("a settlement has one waiter at a time")
        loop = asyncio.get_running_loop()
        # A fresh future in a timer shared with other waits, not asyncio.timeout() around shield(), nor a timer of
        # its own: this runs once per HTTP uplink. The limit may be noticed up to deadlines.TICK late.
        waiter = self._waiter = loop.create_future()
        waiting = deadlines(loop).add(loop, waiter, timeout)
        try:
            return await waiter
        finally:
            waiting.discard(waiter)
            self._waiter = None

    @classmethod
    def all_of(cls, parts: Sequence[Settlement | asyncio.Future]) -> Settlement:
        """Settled when every part is (a future: when it is done). Refused as the parts were, a retryable refusal
        before one for good (someone needs the thing again); a future that failed or was cancelled is a retryable
        refusal."""
        combined = cls(holders=len(parts) + 1)  # and its own hold, released once every part has its callback
        for part in parts:
            if isinstance(part, Settlement):
                part.when_settled(combined._part_settled)
            else:
                part.add_done_callback(combined._future_settled)
        combined.release()
        return combined

    def _part_settled(self, refusal: Refusal | None) -> None:
        if refusal is not None and (self.refusal is None or (refusal.retryable and not self.refusal.retryable)):
            self.refusal = refusal
        self.release()

    def _future_settled(self, future: asyncio.Future) -> None:
        error = "cancelled" if future.cancelled() else future.exception()
        self._part_settled(None if error is None else Refusal(str(error), retryable=True))

    def __repr__(self) -> str:
        state = "settled" if self.settled else f"held {self._holders}"
        return f"<Settlement {state}, refusal={self.refusal!r}, durable={self.durable}>"


class _Holding:
    """What `Settlement.holding` returns: a hold for one ``with`` block."""

    __slots__ = ("_settlement",)

    def __init__(self, settlement: Settlement) -> None:
        self._settlement = settlement

    def __enter__(self) -> Settlement:
        self._settlement._holders += 1
        return self._settlement

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is not None:
            described = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            self._settlement.refuse(f"interrupted by {described}", retryable=True)
        self._settlement.release()


def _call(callback: SettledCallback, refusal: Refusal | None) -> None:
    try:
        callback(refusal)
    except Exception:
        log.exception("a settlement callback failed")
