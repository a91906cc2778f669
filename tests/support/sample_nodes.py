"""Node and connection types used only by the tests, registered as the plugin 'test-nodes'."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import ClassVar

import voluptuous as vol

from flowhost import Connection, Message, Node, Receipt, hookimpl
from flowhost.validation import duration

EVENTS: list[str] = []
"""What test nodes and connections did, in order, across one test (cleared by the tests that read it)."""


class Collector(Node):
    """Keeps every message it receives, per node id, and can be told to be slow or to fail."""

    type = "test-collect"
    outputs = ()
    received: ClassVar[dict[str, list[Message]]] = defaultdict(list)
    config_schema = vol.Schema(
        {
            vol.Optional("delay", default="0s"): duration,
            vol.Optional("fail_on"): str,
            vol.Optional("inbox", default=1000): int,
            vol.Optional("connection"): str,
        }
    )
    connection_fields = ("connection",)

    def __init__(self, node_id, config, context):
        super().__init__(node_id, config, context)
        self.inbox_size = config["inbox"]

    async def start(self) -> None:
        EVENTS.append(f"start {self.id}")

    async def on_input(self, msg: Message) -> None:
        if self.config["delay"]:
            await asyncio.sleep(self.config["delay"])
        if self.config.get("fail_on") is not None and msg.payload == self.config["fail_on"]:
            raise ValueError(f"cannot handle {msg.payload!r}")
        self.received[self.id].append(msg)

    async def close(self) -> None:
        EVENTS.append(f"close {self.id}")


class BatchCollector(Node):
    """Takes what waits in its inbox in batches of up to 16: keeps each batch, fails alone the message equal to
    ``fail_on`` and raises for the whole batch when one message equals ``raise_on``; ``delay`` per batch."""

    type = "test-batch-collect"
    outputs = ()
    batch_size = 16
    batches: ClassVar[dict[str, list[list[Message]]]] = defaultdict(list)
    config_schema = vol.Schema(
        {
            vol.Optional("delay", default="0s"): duration,
            vol.Optional("fail_on"): str,
            vol.Optional("raise_on"): str,
        }
    )

    async def on_input(self, msg: Message) -> None:
        raise AssertionError("a batching node is handed batches, never single messages")

    async def on_input_batch(self, messages) -> None:
        if self.config["delay"]:
            await asyncio.sleep(self.config["delay"])
        if any(msg.payload == self.config.get("raise_on") for msg in messages):
            raise ValueError(f"cannot handle a batch of {len(messages)}")
        kept = []
        for msg in messages:
            if msg.payload == self.config.get("fail_on"):
                self.context.report_error(ValueError(f"cannot handle {msg.payload!r}"), msg)
                if msg.receipt is not None:
                    msg.receipt.refuse("refused alone", retryable=False, node_id=self.id)
            else:
                kept.append(msg)
        self.batches[self.id].append(kept)


class Emitter(Node):
    """Sends the configured payloads once, as fast as the receivers allow."""

    type = "test-emit"
    has_input = False
    outputs = ("out", "second")
    config_schema = vol.Schema(
        {
            vol.Required("payloads"): [object],
            vol.Optional("port", default="out"): str,
            vol.Optional("at_once", default=False): bool,
        }
    )
    receipts: ClassVar[dict[str, list[Receipt]]] = defaultdict(list)
    """With ``at_once``: the receipt of each message sent, in order."""
    settled: ClassVar[list[tuple[object, dict[str, int]]]] = []
    """With ``at_once``: (payload, how many messages each test-collect node had handled) as each receipt settled."""

    async def start(self) -> None:
        EVENTS.append(f"start {self.id}")
        self.context.create_task(self._emit_at_once() if self.config["at_once"] else self._emit(), "emit")

    async def _emit(self) -> None:
        for payload in self.config["payloads"]:
            await self.context.send(Message.create(payload), self.config["port"])
        EVENTS.append(f"emitted {self.id}")

    async def _emit_at_once(self) -> None:
        """Every payload with a receipt of its own, handed on with one send_many_nowait; the rest with send."""
        messages = [Message.create(payload, receipt=Receipt()) for payload in self.config["payloads"]]
        self.receipts[self.id] = [msg.receipt for msg in messages]
        for msg in messages:  # what each collector had handled when the message's receipt settled
            msg.receipt.when_settled(
                lambda _, payload=msg.payload: self.settled.append(
                    (payload, {node: len(kept) for node, kept in Collector.received.items()})
                )
            )
        sent = self.context.send_many_nowait(messages, self.config["port"])
        EVENTS.append(f"sent at once {sent}")
        for msg in messages[:sent]:
            msg.receipt.release()  # the creator's hold: the receivers hold it now
        for msg in messages[sent:]:
            await self.context.send(msg, self.config["port"])
            msg.receipt.release()
        EVENTS.append(f"emitted {self.id}")

    async def close(self) -> None:
        EVENTS.append(f"close {self.id}")


class Relay(Node):
    """Passes messages on unchanged (to check that fan-out shares them)."""

    type = "test-relay"
    outputs = ("out",)

    async def on_input(self, msg: Message) -> None:
        await self.context.send(msg)


class Stubborn(Node):
    """A node whose close() never finishes, to check the close timeout."""

    type = "test-stubborn"
    close_timeout = 0.2

    async def close(self) -> None:
        await asyncio.sleep(3600)


class Loopback(Connection):
    """A connection that only records when it starts and stops."""

    connector_id = "test-loopback"
    config_schema = vol.Schema({vol.Optional("label", default=""): str})

    async def start(self) -> None:
        EVENTS.append(f"connection start {self.id}")
        self.context.state_changed("OPENED")

    async def stop(self) -> None:
        EVENTS.append(f"connection stop {self.id}")
        self.context.state_changed("CLOSED")


@hookimpl
def flowhost_register_node_types(register):
    for node_type in (Collector, BatchCollector, Emitter, Relay, Stubborn, Unbuildable, FailingSubscriber):
        register(node_type)


class Dormant(Connection):
    """A connection that names its own inactive state and connects only when active."""

    connector_id = "test-dormant"
    inactive_state = "DORMANT"

    async def start(self) -> None:
        if self.context.active:
            self.context.state_changed("OPENED")


@hookimpl
def flowhost_register_connection_types(register):
    register(Loopback)
    register(Dormant)


class Unbuildable(Node):
    """A node type whose constructor raises, as a buggy plugin's might."""

    type = "test-unbuildable"

    def __init__(self, node_id, config, context):
        raise KeyError("missing calibration table")


class FailingSubscriber(Node):
    """Subscribes on an MQTT connection with a handler that raises for the first message it is given, as a buggy
    plugin's might, and keeps the topics of the messages it handled."""

    type = "test-failing-subscriber"
    has_input = False
    outputs = ()
    handled: ClassVar[list[str]] = []
    config_schema = vol.Schema({vol.Required("connection"): str, vol.Required("topic"): str})
    connection_fields = ("connection",)

    async def start(self) -> None:
        self._failed = False
        self._connection = self.context.connection(self.config["connection"])
        self._unsubscribe = self._connection.add_subscription(self.config["topic"], 1, self._on_message)

    def _on_message(self, message) -> None:
        if not self._failed:
            self._failed = True
            raise RuntimeError("the first message breaks this handler")
        self.handled.append(message.topic)

    async def close(self) -> None:
        self._unsubscribe()
