"""The connection's outbox pump: publishes the outbox's uplinks in order while connected, within the broker's
in-flight window, and settles each with the broker's answer (acknowledged, refused for good, or to be sent
again)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from flowhost.mqtt import (
    ConnectionLostError,
    MQTTClient,
    NotConnectedError,
    PublishRefusedError,
    PublishTimeoutError,
)

from .uplink_outbox import Outbox, OutboxEntry


class OutboxPublisher:
    """One per connection; :meth:`run` is the task of one connected session (cancelled when it ends)."""

    def __init__(
        self,
        connection_id: str,
        outbox: Outbox,
        counters: dict[str, int],
        log: logging.Logger,
        dead_letter: Callable[[OutboxEntry, PublishRefusedError], None],
    ) -> None:
        self.connection_id = connection_id
        self.outbox = outbox
        self.counters = counters
        self.log = log
        self.dead_letter = dead_letter
        """Called with an uplink the broker refused: sending it again would not help."""
        self.ready = asyncio.Event()
        """Set when the outbox may have something to publish."""

    async def run(self, client: MQTTClient, qos: int, retain: bool) -> None:
        outbox, ready, counters = self.outbox, self.ready, self.counters
        while True:
            entry = outbox.next_waiting()
            if entry is None:
                ready.clear()
                await ready.wait()
                continue
            expires_at = entry.expires_at
            if expires_at is not None and time.time() > expires_at:
                self._expired(entry)
                continue
            # QoS 1/2: the outcome comes through on_done, with no future per uplink. QoS 0: done once written, or
            # a future already failed when the broker announced it cannot take the message.
            on_done = partial(self._done, entry) if qos else None
            try:
                if client.publish_would_wait(qos):
                    refused = await client.publish(entry.topic, entry.payload, qos, retain, on_done=on_done)
                else:
                    refused = client.publish_nowait(entry.topic, entry.payload, qos, retain, on_done=on_done)
            except (NotConnectedError, ConnectionLostError):
                outbox.retry(entry)
                return
            if not qos:
                if refused is None:
                    outbox.acknowledged(entry)
                    counters["uplinksPublished"] += 1
                else:
                    self._done(entry, None, refused.exception())

    def _expired(self, entry: OutboxEntry) -> None:
        self.outbox.remove(entry)
        self.counters["uplinksExpired"] += 1
        self.log.warning(
            "connection %s: uplink for %s expired while waiting (uplinkTimeValidity): not published",
            self.connection_id,
            entry.topic,
        )

    def _done(self, entry: OutboxEntry, reason_code: int | None, error: BaseException | None) -> None:
        if error is None:
            self.outbox.acknowledged(entry)
            self.counters["uplinksPublished"] += 1
            return
        if isinstance(error, PublishRefusedError):
            self.dead_letter(entry, error)
            return
        if isinstance(error, PublishTimeoutError):
            self.counters["publishFailures"] += 1
        self.outbox.retry(entry)  # published again, in order, now or after reconnecting
        self.ready.set()
