"""What the network-server bridges share: refusing one message with its reason, and the small conversions of
identifiers and payloads between ThingPark's shapes and those of ChirpStack and The Things Stack."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

import orjson
import voluptuous as vol

from flowhost import Message, Node

from .thingpark import DOWNLINK_ROOT, DocumentError, parse_downlink
from .thingpark_documents import excerpt

_EUI64 = re.compile(r"[0-9A-Fa-f]{16}").fullmatch


class BridgeError(ValueError):
    """A message a bridge cannot convert; the message is the reason."""


class BridgeNode(Node):
    """A node that converts each message and refuses, alone, the ones it cannot: counted as ``rejected``, logged
    with the reason, and the source told (an ``mqtt-in`` then acknowledges it: sending it again cannot help)."""

    category = "network"

    def convert(self, msg: Message) -> tuple[str, Message]:
        """The converted message and the counter it counts under; raises BridgeError with the reason."""
        raise NotImplementedError

    async def on_input(self, msg: Message) -> None:
        try:
            counter, converted = self.convert(msg)
        except BridgeError as exc:
            self.refuse(msg, str(exc))
            return
        self.context.count(counter)
        await self.context.send(converted)

    def refuse(self, msg: Message, reason: str) -> None:
        self.context.count("rejected")
        self.context.log.warning("node %s: message %s not converted: %s", self.id, msg.id, reason)
        if msg.receipt is not None:
            msg.receipt.refuse(reason, retryable=False, node_id=self.id)


def event_schema(events: tuple[str, ...]) -> vol.Schema:
    """The config of a from-bridge: which event a message is (``auto``: from its topic or content)."""
    return vol.Schema(
        {vol.Optional("event", default="auto"): vol.In(("auto", *events), msg=f"event is auto or one of {events}")}
    )


def downlink_message(msg: Message, down: Any, topic: str, command: Mapping[str, Any], sent: set[str]) -> Message:
    """The network server's downlink ``down`` on ``topic``; what its command has no field for (ValidityTime,
    FlushDownlinkQueue...) travels in ``meta.thingpark``, not in the command: the servers refuse unknown fields."""
    unsent = {key: value for key, value in command.items() if key not in sent}
    return msg.derive(payload=down, topic=topic, meta={**msg.meta, "thingpark": unsent})


def dev_eui(value: Any, where: str) -> str:
    """A DevEUI as ThingPark writes it: 16 upper-case hexadecimal digits."""
    if not isinstance(value, str) or not _EUI64(value):
        raise BridgeError(f"{where} must be 16 hexadecimal digits, got {excerpt(value)}")
    return value.upper()


def hex_from_base64(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BridgeError(f"{where} must be base64 text, got {excerpt(value)}")
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        raise BridgeError(f"{where} is not base64: {excerpt(value)}") from None


def base64_from_hex(payload_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(payload_hex)).decode("ascii")


def thawed(value: Any) -> Any:
    """A plain, mutable copy of a (frozen) message payload, for building a new document from it."""
    if isinstance(value, Mapping):
        return {key: thawed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thawed(item) for item in value]
    return value


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BridgeError(f"{where} must be a JSON object, got {excerpt(value)}")
    return value


def downlink_command(payload: Any) -> dict[str, Any]:
    """The checked fields of a ``DevEUI_downlink`` message payload (DevEUI upper-case, FPort an int, exactly one
    of payload_hex or payload). Raises BridgeError with the reason."""
    if isinstance(payload, bytes | bytearray):
        raw = bytes(payload)
    else:
        if not isinstance(payload, Mapping) or DOWNLINK_ROOT not in payload:
            raise BridgeError(f"expected a ThingPark {DOWNLINK_ROOT} document, got {excerpt(payload)}")
        raw = orjson.dumps(thawed(payload))
    try:
        result = parse_downlink(raw, {}, None)
    except DocumentError as exc:
        raise BridgeError(str(exc)) from None
    if result.kind != "downlink":
        raise BridgeError(f"expected a ThingPark {DOWNLINK_ROOT} document, got {excerpt(payload)}")
    return result.command
