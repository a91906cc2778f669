"""How the client settles what it was given: `Acknowledgement` (returned by `on_message` to acknowledge a message
later), the `on_done` callback of `publish_nowait` standing in for a future, and failing futures quietly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

PublishCallback = Callable[[int | None, BaseException | None], None]
"""``on_done(reason_code, error)`` of `MQTTClient.publish_nowait`: one of the two is None."""


class Notify:
    """Stands in for a publish's future when the caller gave `on_done`; settled once, like a future."""

    __slots__ = ("_on_done", "_settled")

    def __init__(self, on_done: PublishCallback) -> None:
        self._on_done = on_done
        self._settled = False

    def done(self) -> bool:
        return self._settled

    def set_result(self, reason_code: int) -> None:
        self._settled = True
        self._on_done(reason_code, None)

    def set_exception(self, error: BaseException) -> None:
        self._settled = True
        self._on_done(None, error)

    def exception(self) -> None:
        return None


class Acknowledgement:
    """What `on_message` may return instead of an `asyncio.Future` to acknowledge its message later, at a lower
    cost per message (no future, no event-loop callback): call `done()` once the message is handled (stored), or
    `fail(error)` to leave it unacknowledged (the connection drops, so that the broker delivers it again). Only
    the first call counts; the acknowledgements still leave in arrival order."""

    __slots__ = ("_on_settled", "error", "settled")

    def __init__(self) -> None:
        self.settled = False
        self.error: BaseException | None = None
        self._on_settled: Callable[[BaseException | None], None] | None = None

    def done(self) -> None:
        self._settle(None)

    def fail(self, error: BaseException) -> None:
        self._settle(error)

    def on_settled(self, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(error)`` when settled (now, if it is): one callback, the last one given."""
        if self.settled:
            callback(self.error)
        else:
            self._on_settled = callback

    def _settle(self, error: BaseException | None) -> None:
        if self.settled:
            return
        self.settled, self.error = True, error
        if self._on_settled is not None:
            self._on_settled(error)

    @classmethod
    def all_of(cls, parts: Sequence[Acknowledgement | asyncio.Future]) -> Acknowledgement:
        """Done when every part is done; failed with the first part that fails."""
        combined = cls()
        waiting = len(parts)

        def part_settled(error: BaseException | None) -> None:
            nonlocal waiting
            waiting -= 1
            if error is not None:
                combined.fail(error)
            elif not waiting:
                combined.done()

        for part in parts:
            if isinstance(part, Acknowledgement):
                part.on_settled(part_settled)
            else:
                part.add_done_callback(
                    lambda future: part_settled(asyncio.CancelledError() if future.cancelled() else future.exception())
                )
        return combined


Handled = asyncio.Future | Acknowledgement | None


def fail_quietly(future: asyncio.Future, exc: BaseException) -> None:
    """Fail a future that the caller may never await, without 'exception was never retrieved' noise: the
    failure is also reported through `ConnectResult.undelivered` or `disconnect_reason`."""
    if not future.done():
        future.set_exception(exc)
        future.exception()
