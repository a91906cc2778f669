"""``mqtt-out``: publish any message on a connection's broker (ChirpStack's and The Things Stack's downlink topics,
or anything a flow makes), with the topic from a pattern or the message, QoS and retain set, and at QoS 1/2 the
broker's acknowledgement awaited before the next message (Node-RED's mqtt out does the same)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import orjson
import voluptuous as vol

from flowhost import Message, Node, hookimpl
from flowhost.mqtt import ConnectionLostError, MQTTError, NotConnectedError, PublishRefusedError, PublishTimeoutError
from flowhost.templating import TemplateError, TopicRenderError, compile_topic_pattern, create_environment
from flowhost.validation import duration, identifier, with_form

from .mqtt_nodes import connection_of
from .thingpark_documents import DocumentError, read_document, topic_fields
from .thingpark_fields import THINGPARK_TOPIC_FIELDS

_FIRST_RETRY = 0.05
_LONGEST_RETRY = 1.0
_UNSAFE_TOPIC = ("+", "#", "\x00")


@with_form(type="string", format="topic-pattern")
def _topic_pattern(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise vol.Invalid(f"topic must be a topic pattern such as application/1/device/{{DevEUI}}/down, got {value!r}")
    try:
        compile_topic_pattern(value, create_environment(), field_name="topic", fields=THINGPARK_TOPIC_FIELDS)
    except TemplateError as exc:
        raise vol.Invalid(str(exc)) from None
    return value


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return orjson.dumps(payload)


def _pattern_fields(payload: Any) -> Mapping[str, Any]:
    """What a topic pattern reads: a ThingPark document's fields and kind, or the top level of any object."""
    if not isinstance(payload, Mapping):
        return {}
    try:
        return topic_fields(read_document(payload))
    except DocumentError:
        return payload


class MqttOut(Node):
    type = "mqtt-out"
    category = "output"
    description = (
        "Publishes each message on a connection's broker: topic from 'topic' (a ThingPark pattern such as "
        "tp/{DevEUI}/down, or Jinja) or else the message's topic; payload as JSON (bytes and text as they are). "
        "At QoS 1/2 the broker's acknowledgement is awaited; while the connection is down it is retried for "
        "'timeout'."
    )
    outputs = ()
    connection_fields = ("connection",)
    config_schema = vol.Schema(
        {
            vol.Required("connection"): identifier,
            vol.Optional("topic"): _topic_pattern,
            vol.Optional("qos", default=1): vol.In([0, 1, 2], msg="qos must be 0, 1 or 2"),
            vol.Optional("retain", default=False): bool,
            vol.Optional("timeout", default="10s"): vol.All(duration, vol.Range(min=0.1, max=600)),
        }
    )

    async def start(self) -> None:
        self._connection = connection_of(self)
        pattern = self.config.get("topic")
        self._topic = (
            compile_topic_pattern(pattern, self.context.templates, field_name="topic", fields=THINGPARK_TOPIC_FIELDS)
            if pattern
            else None
        )

    def _topic_for(self, msg: Message) -> str:
        if self._topic is not None:
            return self._topic.render(_pattern_fields(msg.payload))
        topic = msg.topic
        if not topic:
            raise TopicRenderError("the message has no topic and the node no 'topic' pattern")
        if any(char in topic for char in _UNSAFE_TOPIC):
            raise TopicRenderError(f"topic {topic!r} holds a wildcard or NUL: it cannot be published")
        return topic

    async def on_input(self, msg: Message) -> None:
        try:
            topic = self._topic_for(msg)
        except TopicRenderError as exc:
            self._failed(msg, str(exc))
            return
        payload = msg.source_bytes if msg.source_bytes is not None else _payload_bytes(msg.payload)
        problem, retryable = await self._publish(topic, payload)
        if problem is None:
            self.context.count("published")
        else:
            self._failed(msg, f"not published on {topic}: {problem}", retryable=retryable)

    async def _publish(self, topic: str, payload: bytes) -> tuple[str | None, bool]:
        """(None, _) once published (acknowledged at QoS 1/2); else why not, after retrying for ``timeout``, and
        whether sending it later may work."""
        deadline = time.monotonic() + self.config["timeout"]
        wait = _FIRST_RETRY
        while True:
            try:
                # The whole wait is bounded, room in the in-flight window included (the uplink outbox may fill it).
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    await self._connection.publish(topic, payload, self.config["qos"], self.config["retain"])
                return None, False
            except PublishRefusedError as exc:
                return str(exc), False  # the broker will not take it: sending it again cannot help
            except (NotConnectedError, ConnectionLostError, PublishTimeoutError) as exc:
                problem = str(exc) or type(exc).__name__
            except MQTTError as exc:
                return f"{type(exc).__name__}: {exc}", False
            except TimeoutError:  # after the MQTT errors: PublishTimeoutError is a TimeoutError too
                return f"not acknowledged within {self.config['timeout']:g}s", True
            if time.monotonic() + wait > deadline:
                return f"{problem} (gave up after {self.config['timeout']:g}s)", True
            self.context.count("retries")
            await asyncio.sleep(wait)
            wait = min(wait * 2, _LONGEST_RETRY)

    def _failed(self, msg: Message, reason: str, *, retryable: bool = False) -> None:
        self.context.count("failed")
        self.context.log.warning("node %s: message %s %s", self.id, msg.id, reason)
        if msg.receipt is not None:
            msg.receipt.refuse(reason, retryable=retryable, node_id=self.id)


@hookimpl
def flowhost_register_node_types(register):
    register(MqttOut)
