"""How the client settles what it was given: what `on_message` may return to acknowledge a message later (a
future or a `Settlement`), the `on_done` callback of `publish_nowait` standing in for a future, and failing futures
quietly.

`Notify` is not a `Settlement`: it is the callback form of one publish's future, settled by the broker's answer
with a value (the reason code) or an exception whose type the caller acts on (`PublishRefusedError` and its reason
code, `PublishTimeoutError`, a lost connection), and the outbound window treats both forms alike, as futures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .settlement import Settlement

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


Handled = asyncio.Future | Settlement | None
"""What `on_message` returns: the PUBACK waits until it is done (None: acknowledged at once)."""


def fail_quietly(future: asyncio.Future, exc: BaseException) -> None:
    """Fail a future that the caller may never await, without 'exception was never retrieved' noise: the
    failure is also reported through `ConnectResult.undelivered` or `disconnect_reason`."""
    if not future.done():
        future.set_exception(exc)
        future.exception()
