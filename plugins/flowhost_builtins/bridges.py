"""What the network-server bridges share: refusing one message with its reason, and the small conversions of
identifiers and payloads between ThingPark's shapes and those of ChirpStack and The Things Stack."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

import orjson

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

    def refuse(self, msg: Message, reason: str) -> None:
        self.context.count("rejected")
        self.context.log.warning("node %s: message %s not converted: %s", self.id, msg.id, reason)
        if msg.receipt is not None:
            msg.receipt.refuse(reason, retryable=False, node_id=self.id)


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
