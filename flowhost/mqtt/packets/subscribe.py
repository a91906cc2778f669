"""SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK: one table-driven codec for their common body layout
(a packet identifier, MQTT 5 properties, a list of items)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ProtocolError
from .properties import Properties, decode_properties, encode_properties
from .wire import (
    MQTT_5,
    MQTT_311,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    encode_string,
    expect_end,
    packet,
    read_string,
    read_u16,
)


@dataclass(slots=True)
class Subscription:
    topic_filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0

    def options(self) -> int:
        return (
            self.qos
            | (0x04 if self.no_local else 0)
            | (0x08 if self.retain_as_published else 0)
            | self.retain_handling << 4
        )


def _read_subscription(buf: bytes, pos: int, end: int) -> tuple[Subscription, int]:
    topic_filter, pos = read_string(buf, pos, end)
    if pos >= end:
        raise ProtocolError("SUBSCRIBE without options")
    options = buf[pos]
    if options & 0xC0 or options & 0x03 == 3 or options >> 4 & 0x03 == 3:
        raise ProtocolError("bad subscription options")
    subscription = Subscription(
        topic_filter, options & 0x03, bool(options & 0x04), bool(options & 0x08), options >> 4 & 3
    )
    return subscription, pos + 1


def _write_subscription(subscription: Subscription) -> bytes:
    return encode_string(subscription.topic_filter) + bytes((subscription.options(),))


def _read_reason_code(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    return buf[pos], pos + 1


def _write_reason_code(code: int) -> bytes:
    return bytes((code,))


@dataclass(frozen=True, slots=True)
class _ListLayout:
    """How one of SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK lays out its body: a packet id, properties (MQTT 5)
    and a list of items, each written and read by the functions given here."""

    name: str
    first: int
    """The fixed header's first byte."""
    items: str
    """The packet class's attribute holding the list."""
    write_item: Callable[[Any], bytes]
    read_item: Callable[[bytes, int, int], tuple[Any, int]]
    empty_error: str | None = None
    """The error for a packet without items, when that is malformed."""
    items_since: int = MQTT_311
    """The protocol version from which the packet carries items (UNSUBACK's reason codes came with MQTT 5)."""

    def encode(self, packet_id: int, properties: Properties, items: list[Any], version: int) -> bytes:
        parts = [packet_id.to_bytes(2)]
        if version >= MQTT_5:
            parts.append(encode_properties(properties))
        if version >= self.items_since:
            parts += (self.write_item(item) for item in items)
        return packet(self.first, *parts)

    def decode(self, buf: bytes, pos: int, end: int, version: int) -> tuple[int, list[Any], Properties]:
        packet_id, pos = read_u16(buf, pos, end)
        properties: Properties = {}
        if version >= MQTT_5:
            properties, pos = decode_properties(buf, pos, end)
        items = []
        while pos < end and version >= self.items_since:
            item, pos = self.read_item(buf, pos, end)
            items.append(item)
        expect_end(pos, end, self.name)
        if not items and self.empty_error:
            raise ProtocolError(self.empty_error)
        return packet_id, items, properties


_LIST_LAYOUTS = {
    SUBSCRIBE: _ListLayout(
        "SUBSCRIBE", 0x82, "subscriptions", _write_subscription, _read_subscription, "SUBSCRIBE without topic filters"
    ),
    SUBACK: _ListLayout("SUBACK", 0x90, "reason_codes", _write_reason_code, _read_reason_code),
    UNSUBSCRIBE: _ListLayout(
        "UNSUBSCRIBE", 0xA2, "topic_filters", encode_string, read_string, "UNSUBSCRIBE without topic filters"
    ),
    UNSUBACK: _ListLayout("UNSUBACK", 0xB0, "reason_codes", _write_reason_code, _read_reason_code, items_since=MQTT_5),
}


@dataclass(slots=True)
class _ListPacket:
    """A packet id, a list and properties, laid out as ``_LIST_LAYOUTS`` says for ``packet_type``."""

    packet_type: ClassVar[int]
    packet_id: int

    def encode(self, version: int) -> bytes:
        layout = _LIST_LAYOUTS[self.packet_type]
        properties = self.properties  # type: ignore[attr-defined]  # each subclass's last field (it has a default)
        return layout.encode(self.packet_id, properties, getattr(self, layout.items), version)

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Any:
        return cls(*_LIST_LAYOUTS[cls.packet_type].decode(buf, pos, end, version))


@dataclass(slots=True)
class Subscribe(_ListPacket):
    """Topic filters with their options (`Subscription`); a filter `$share/<group>/<filter>` makes a shared
    subscription (MQTT 5)."""

    packet_type: ClassVar[int] = SUBSCRIBE
    subscriptions: list[Subscription]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Suback(_ListPacket):
    """One reason code per topic filter, in the order of the SUBSCRIBE: the granted QoS (0 to 2), or
    0x80 and above for a refusal."""

    packet_type: ClassVar[int] = SUBACK
    reason_codes: list[int]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Unsubscribe(_ListPacket):
    """The topic filters to forget."""

    packet_type: ClassVar[int] = UNSUBSCRIBE
    topic_filters: list[str]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Unsuback(_ListPacket):
    """On MQTT 3.1.1 UNSUBACK carries no reason codes: `reason_codes` is then empty."""

    packet_type: ClassVar[int] = UNSUBACK
    reason_codes: list[int] = field(default_factory=list)
    properties: Properties = field(default_factory=dict)
