"""Encoding and decoding of every MQTT 3.1.1 and MQTT 5 control packet, including MQTT 5 properties.

Decoders read from a buffer between `start` and `end` so that the stream parser never copies a packet body
before it needs to. Anything that is not valid MQTT raises `ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import ProtocolError

MQTT_311 = 4
MQTT_5 = 5

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
AUTH = 15

MAX_REMAINING_LENGTH = 268_435_455

# Packets whose fixed-header flags are fixed by the spec (PUBLISH carries its own flags).
_REQUIRED_FLAGS = {PUBREL: 0x02, SUBSCRIBE: 0x02, UNSUBSCRIBE: 0x02}

_SMALL_LENGTHS = [bytes((n,)) for n in range(128)]


def encode_remaining_length(n: int) -> bytes:
    if n < 128:
        return _SMALL_LENGTHS[n]
    if n < 16384:
        return bytes((n & 0x7F | 0x80, n >> 7))
    if n > MAX_REMAINING_LENGTH:
        raise ValueError(f"packet too large ({n} bytes)")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    shift = 0
    for _ in range(4):
        if pos >= end:
            raise ProtocolError("truncated variable byte integer")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ProtocolError("variable byte integer longer than 4 bytes")


def frame_at(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(first byte, body start, body end) of the packet starting at `pos`, or None when it is incomplete."""
    if end - pos < 2:
        return None
    first = buf[pos]
    length = buf[pos + 1]
    start = pos + 2
    if length & 0x80:
        length &= 0x7F
        shift = 7
        while True:
            if start >= end:
                return None
            if shift > 21:
                raise ProtocolError("remaining length longer than 4 bytes")
            byte = buf[start]
            start += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
    if start + length > end:
        return None
    return first, start, start + length


def encode_string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def encode_binary(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _read_u16(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 2 > end:
        raise ProtocolError("truncated two-byte integer")
    return buf[pos] << 8 | buf[pos + 1], pos + 2


def _read_binary(buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
    size, pos = _read_u16(buf, pos, end)
    if pos + size > end:
        raise ProtocolError("truncated string or binary data")
    return bytes(buf[pos : pos + size]), pos + size


def _read_string(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    data, pos = _read_binary(buf, pos, end)
    try:
        return data.decode(), pos
    except UnicodeDecodeError as exc:
        raise ProtocolError("string is not valid UTF-8") from exc


# --- MQTT 5 properties ----------------------------------------------------------------------------

_BYTE, _U16, _U32, _VARINT, _STRING, _BINARY, _PAIR = range(7)

_PROPERTIES: dict[int, tuple[str, int]] = {
    0x01: ("payload_format_indicator", _BYTE),
    0x02: ("message_expiry_interval", _U32),
    0x03: ("content_type", _STRING),
    0x08: ("response_topic", _STRING),
    0x09: ("correlation_data", _BINARY),
    0x0B: ("subscription_identifier", _VARINT),
    0x11: ("session_expiry_interval", _U32),
    0x12: ("assigned_client_identifier", _STRING),
    0x13: ("server_keep_alive", _U16),
    0x15: ("authentication_method", _STRING),
    0x16: ("authentication_data", _BINARY),
    0x17: ("request_problem_information", _BYTE),
    0x18: ("will_delay_interval", _U32),
    0x19: ("request_response_information", _BYTE),
    0x1A: ("response_information", _STRING),
    0x1C: ("server_reference", _STRING),
    0x1F: ("reason_string", _STRING),
    0x21: ("receive_maximum", _U16),
    0x22: ("topic_alias_maximum", _U16),
    0x23: ("topic_alias", _U16),
    0x24: ("maximum_qos", _BYTE),
    0x25: ("retain_available", _BYTE),
    0x26: ("user_property", _PAIR),
    0x27: ("maximum_packet_size", _U32),
    0x28: ("wildcard_subscription_available", _BYTE),
    0x29: ("subscription_identifier_available", _BYTE),
    0x2A: ("shared_subscription_available", _BYTE),
}
_PROPERTY_IDS = {name: (ident, kind) for ident, (name, kind) in _PROPERTIES.items()}
# These may appear several times in one packet; they are lists in the properties dict.
REPEATABLE_PROPERTIES = frozenset({"user_property", "subscription_identifier"})

Properties = dict[str, Any]
"""MQTT 5 properties by snake_case name; `user_property` is a list of (name, value) pairs and
`subscription_identifier` a list of ints."""

EMPTY_PROPERTIES = b"\x00"


def _encode_property_value(kind: int, value: Any) -> bytes:
    if kind == _BYTE:
        return bytes((value,))
    if kind == _U16:
        return value.to_bytes(2, "big")
    if kind == _U32:
        return value.to_bytes(4, "big")
    if kind == _VARINT:
        return encode_remaining_length(value)
    if kind == _STRING:
        return encode_string(value)
    if kind == _BINARY:
        return encode_binary(value)
    name, text = value
    return encode_string(name) + encode_string(text)


def encode_properties(properties: Properties | None) -> bytes:
    """The property length followed by the properties; b"\\x00" when there are none."""
    if not properties:
        return EMPTY_PROPERTIES
    parts = []
    for name, value in properties.items():
        try:
            ident, kind = _PROPERTY_IDS[name]
        except KeyError:
            raise ValueError(f"unknown MQTT 5 property {name!r}") from None
        prefix = bytes((ident,))
        values = value if name in REPEATABLE_PROPERTIES else (value,)
        for item in values:
            parts.append(prefix)
            parts.append(_encode_property_value(kind, item))
    body = b"".join(parts)
    return encode_remaining_length(len(body)) + body


def decode_properties(buf: bytes, pos: int, end: int) -> tuple[Properties, int]:
    length, pos = decode_varint(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise ProtocolError("properties longer than the packet")
    properties: Properties = {}
    while pos < stop:
        ident = buf[pos]
        pos += 1
        try:
            name, kind = _PROPERTIES[ident]
        except KeyError:
            raise ProtocolError(f"unknown property identifier 0x{ident:02X}") from None
        if kind == _BYTE:
            if pos >= stop:
                raise ProtocolError("truncated property")
            value: Any = buf[pos]
            pos += 1
        elif kind == _U16:
            value, pos = _read_u16(buf, pos, stop)
        elif kind == _U32:
            if pos + 4 > stop:
                raise ProtocolError("truncated property")
            value = int.from_bytes(buf[pos : pos + 4], "big")
            pos += 4
        elif kind == _VARINT:
            value, pos = decode_varint(buf, pos, stop)
        elif kind == _STRING:
            value, pos = _read_string(buf, pos, stop)
        elif kind == _BINARY:
            value, pos = _read_binary(buf, pos, stop)
        else:
            key, pos = _read_string(buf, pos, stop)
            text, pos = _read_string(buf, pos, stop)
            value = (key, text)
        if name in REPEATABLE_PROPERTIES:
            properties.setdefault(name, []).append(value)
        elif name in properties:
            raise ProtocolError(f"property {name} appears twice")
        else:
            properties[name] = value
    return properties, pos


# --- packets --------------------------------------------------------------------------------------


def _packet(first: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return bytes((first,)) + encode_remaining_length(len(body)) + body


def _expect_end(pos: int, end: int, name: str) -> None:
    if pos != end:
        raise ProtocolError(f"{name} has {end - pos} unexpected trailing bytes")


@dataclass(slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Connect:
    packet_type: ClassVar[int] = CONNECT
    client_id: str
    protocol_version: int = MQTT_5
    clean_start: bool = True
    keep_alive: int = 60
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = field(default_factory=dict)

    def encode(self, version: int | None = None) -> bytes:
        v5 = self.protocol_version >= MQTT_5
        will = self.will
        flags = 0x02 if self.clean_start else 0
        if will is not None:
            flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
        if self.username is not None:
            flags |= 0x80
        if self.password is not None:
            flags |= 0x40
        parts = [
            encode_string("MQTT"),
            bytes((self.protocol_version, flags)),
            self.keep_alive.to_bytes(2, "big"),
        ]
        if v5:
            parts.append(encode_properties(self.properties))
        parts.append(encode_string(self.client_id))
        if will is not None:
            if v5:
                parts.append(encode_properties(will.properties))
            parts += (encode_string(will.topic), encode_binary(will.payload))
        if self.username is not None:
            parts.append(encode_string(self.username))
        if self.password is not None:
            parts.append(encode_binary(self.password))
        return _packet(0x10, *parts)

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Connect:
        name, pos = _read_string(buf, pos, end)
        if name != "MQTT" or pos + 4 > end:
            raise ProtocolError(f"unsupported protocol name {name!r}")
        level, flags = buf[pos], buf[pos + 1]
        keep_alive = buf[pos + 2] << 8 | buf[pos + 3]
        pos += 4
        if level not in (MQTT_311, MQTT_5) or flags & 0x01:
            raise ProtocolError("bad CONNECT protocol level or flags")
        v5 = level == MQTT_5
        properties: Properties = {}
        if v5:
            properties, pos = decode_properties(buf, pos, end)
        client_id, pos = _read_string(buf, pos, end)
        will = None
        if flags & 0x04:
            will_properties: Properties = {}
            if v5:
                will_properties, pos = decode_properties(buf, pos, end)
            topic, pos = _read_string(buf, pos, end)
            payload, pos = _read_binary(buf, pos, end)
            will = Will(topic, payload, flags >> 3 & 0x03, bool(flags & 0x20), will_properties)
        username = password = None
        if flags & 0x80:
            username, pos = _read_string(buf, pos, end)
        if flags & 0x40:
            password, pos = _read_binary(buf, pos, end)
        _expect_end(pos, end, "CONNECT")
        return cls(client_id, level, bool(flags & 0x02), keep_alive, username, password, will, properties)


@dataclass(slots=True)
class Connack:
    packet_type: ClassVar[int] = CONNACK
    session_present: bool = False
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)

    def encode(self, version: int) -> bytes:
        parts = [bytes((1 if self.session_present else 0, self.reason_code))]
        if version >= MQTT_5:
            parts.append(encode_properties(self.properties))
        return _packet(0x20, *parts)

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Connack:
        if pos + 2 > end or buf[pos] & 0xFE:
            raise ProtocolError("bad CONNACK")
        session_present, reason_code = bool(buf[pos]), buf[pos + 1]
        pos += 2
        properties: Properties = {}
        if version >= MQTT_5 and pos < end:
            properties, pos = decode_properties(buf, pos, end)
        _expect_end(pos, end, "CONNACK")
        return cls(session_present, reason_code, properties)


@dataclass(slots=True)
class Message:
    """An application message: a PUBLISH packet as sent or received."""

    packet_type: ClassVar[int] = PUBLISH
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = field(default_factory=dict)

    @property
    def user_properties(self) -> list[tuple[str, str]]:
        return self.properties.get("user_property", [])

    def encode(self, version: int) -> bytes:
        first = 0x30 | self.qos << 1 | (0x08 if self.dup else 0) | (0x01 if self.retain else 0)
        packet_id = self.packet_id.to_bytes(2, "big") if self.qos else b""
        properties = encode_properties(self.properties) if version >= MQTT_5 else b""
        return _packet(first, encode_string(self.topic), packet_id, properties, self.payload)

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Message:
        # The inbound hot path: fields are read inline rather than through the helpers.
        qos = first >> 1 & 0x03
        if qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        topic_end = pos + 2 + (buf[pos] << 8 | buf[pos + 1])
        if topic_end > end:
            raise ProtocolError("truncated PUBLISH topic")
        try:
            topic = str(buf[pos + 2 : topic_end], "utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("topic is not valid UTF-8") from exc
        pos = topic_end
        packet_id = None
        if qos:
            if pos + 2 > end:
                raise ProtocolError("truncated PUBLISH packet identifier")
            packet_id = buf[pos] << 8 | buf[pos + 1]
            pos += 2
            if not packet_id:
                raise ProtocolError("PUBLISH with packet identifier 0")
        properties: Properties = {}
        if version >= MQTT_5:
            if pos < end and not buf[pos]:
                pos += 1
            else:
                properties, pos = decode_properties(buf, pos, end)
        return cls(topic, bytes(buf[pos:end]), qos, bool(first & 0x01), bool(first & 0x08), packet_id, properties)


def encode_publish(first: int, topic_field: bytes, packet_id: int, properties: bytes, payload: bytes) -> bytes:
    """The hot-path PUBLISH encoder: `topic_field` is the length-prefixed topic, cached by the caller;
    `packet_id` 0 means none (QoS 0); `properties` is b"" on 3.1.1 or the encoded property block on 5."""
    pid = packet_id.to_bytes(2, "big") if packet_id else b""
    remaining = len(topic_field) + len(pid) + len(properties) + len(payload)
    if remaining < 128:
        header = bytes((first, remaining))
    else:
        header = bytes((first,)) + encode_remaining_length(remaining)
    return b"".join((header, topic_field, pid, properties, payload))


@dataclass(slots=True)
class _Ack:
    """PUBACK, PUBREC, PUBREL and PUBCOMP share one layout."""

    packet_type: ClassVar[int]
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)

    def encode(self, version: int) -> bytes:
        first = self.packet_type << 4 | _REQUIRED_FLAGS.get(self.packet_type, 0)
        pid = self.packet_id.to_bytes(2, "big")
        if version < MQTT_5 or (not self.reason_code and not self.properties):
            return bytes((first, 2)) + pid
        if not self.properties:
            return bytes((first, 3)) + pid + bytes((self.reason_code,))
        return _packet(first, pid, bytes((self.reason_code,)), encode_properties(self.properties))

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> _Ack:
        packet_id, pos = _read_u16(buf, pos, end)
        reason_code = 0
        properties: Properties = {}
        if version >= MQTT_5 and pos < end:
            reason_code = buf[pos]
            pos += 1
            if pos < end:
                properties, pos = decode_properties(buf, pos, end)
        _expect_end(pos, end, cls.__name__)
        return cls(packet_id, reason_code, properties)


@dataclass(slots=True)
class PubAck(_Ack):
    packet_type: ClassVar[int] = PUBACK


@dataclass(slots=True)
class PubRec(_Ack):
    packet_type: ClassVar[int] = PUBREC


@dataclass(slots=True)
class PubRel(_Ack):
    packet_type: ClassVar[int] = PUBREL


@dataclass(slots=True)
class PubComp(_Ack):
    packet_type: ClassVar[int] = PUBCOMP


def encode_ack(packet_type: int, packet_id: int) -> bytes:
    """A success acknowledgement without reason code or properties; the same bytes on 3.1.1 and 5."""
    return bytes((packet_type << 4 | _REQUIRED_FLAGS.get(packet_type, 0), 2, packet_id >> 8, packet_id & 0xFF))


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
    topic_filter, pos = _read_string(buf, pos, end)
    if pos >= end:
        raise ProtocolError("SUBSCRIBE without options")
    options = buf[pos]
    if options & 0xC0 or options & 0x03 == 3 or options >> 4 & 0x03 == 3:
        raise ProtocolError("bad subscription options")
    subscription = Subscription(
        topic_filter, options & 0x03, bool(options & 0x04), bool(options & 0x08), options >> 4 & 3
    )
    return subscription, pos + 1


def _read_reason_code(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    return buf[pos], pos + 1


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
        parts = [packet_id.to_bytes(2, "big")]
        if version >= MQTT_5:
            parts.append(encode_properties(properties))
        if version >= self.items_since:
            parts += (self.write_item(item) for item in items)
        return _packet(self.first, *parts)

    def decode(self, buf: bytes, pos: int, end: int, version: int) -> tuple[int, list[Any], Properties]:
        packet_id, pos = _read_u16(buf, pos, end)
        properties: Properties = {}
        if version >= MQTT_5:
            properties, pos = decode_properties(buf, pos, end)
        items = []
        while pos < end and version >= self.items_since:
            item, pos = self.read_item(buf, pos, end)
            items.append(item)
        _expect_end(pos, end, self.name)
        if not items and self.empty_error:
            raise ProtocolError(self.empty_error)
        return packet_id, items, properties


_LIST_LAYOUTS = {
    SUBSCRIBE: _ListLayout(
        "SUBSCRIBE",
        0x82,
        "subscriptions",
        lambda sub: encode_string(sub.topic_filter) + bytes((sub.options(),)),
        _read_subscription,
        "SUBSCRIBE without topic filters",
    ),
    SUBACK: _ListLayout("SUBACK", 0x90, "reason_codes", lambda code: bytes((code,)), _read_reason_code),
    UNSUBSCRIBE: _ListLayout(
        "UNSUBSCRIBE", 0xA2, "topic_filters", encode_string, _read_string, "UNSUBSCRIBE without topic filters"
    ),
    UNSUBACK: _ListLayout(
        "UNSUBACK", 0xB0, "reason_codes", lambda code: bytes((code,)), _read_reason_code, items_since=MQTT_5
    ),
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
    packet_type: ClassVar[int] = SUBSCRIBE
    subscriptions: list[Subscription]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Suback(_ListPacket):
    packet_type: ClassVar[int] = SUBACK
    reason_codes: list[int]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Unsubscribe(_ListPacket):
    packet_type: ClassVar[int] = UNSUBSCRIBE
    topic_filters: list[str]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Unsuback(_ListPacket):
    """On MQTT 3.1.1 UNSUBACK carries no reason codes: `reason_codes` is then empty."""

    packet_type: ClassVar[int] = UNSUBACK
    reason_codes: list[int] = field(default_factory=list)
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class PingReq:
    packet_type: ClassVar[int] = PINGREQ

    def encode(self, version: int) -> bytes:
        return PINGREQ_BYTES

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> PingReq:
        _expect_end(pos, end, "PINGREQ")
        return cls()


@dataclass(slots=True)
class PingResp:
    packet_type: ClassVar[int] = PINGRESP

    def encode(self, version: int) -> bytes:
        return PINGRESP_BYTES

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> PingResp:
        _expect_end(pos, end, "PINGRESP")
        return cls()


PINGREQ_BYTES = b"\xc0\x00"
PINGRESP_BYTES = b"\xd0\x00"


@dataclass(slots=True)
class Disconnect:
    packet_type: ClassVar[int] = DISCONNECT
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)

    def encode(self, version: int) -> bytes:
        if version < MQTT_5 or (not self.reason_code and not self.properties):
            return b"\xe0\x00"
        return _packet(0xE0, bytes((self.reason_code,)), encode_properties(self.properties))

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Disconnect:
        reason_code = 0
        properties: Properties = {}
        if version >= MQTT_5 and pos < end:
            reason_code = buf[pos]
            pos += 1
            if pos < end:
                properties, pos = decode_properties(buf, pos, end)
        _expect_end(pos, end, "DISCONNECT")
        return cls(reason_code, properties)


@dataclass(slots=True)
class Auth:
    packet_type: ClassVar[int] = AUTH
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)

    def encode(self, version: int) -> bytes:
        if not self.reason_code and not self.properties:
            return b"\xf0\x00"
        return _packet(0xF0, bytes((self.reason_code,)), encode_properties(self.properties))

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Auth:
        if version < MQTT_5:
            raise ProtocolError("AUTH is an MQTT 5 packet")
        reason_code = 0
        properties: Properties = {}
        if pos < end:
            reason_code = buf[pos]
            pos += 1
            if pos < end:
                properties, pos = decode_properties(buf, pos, end)
        _expect_end(pos, end, "AUTH")
        return cls(reason_code, properties)


Packet = (
    Connect
    | Connack
    | Message
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | Suback
    | Unsubscribe
    | Unsuback
    | PingReq
    | PingResp
    | Disconnect
    | Auth
)

_DECODERS: dict[int, Callable[..., Any]] = {
    cls.packet_type: cls.decode
    for cls in (
        Connect,
        Connack,
        Message,
        PubAck,
        PubRec,
        PubRel,
        PubComp,
        Subscribe,
        Suback,
        Unsubscribe,
        Unsuback,
        PingReq,
        PingResp,
        Disconnect,
        Auth,
    )
}


def check_flags(first: int) -> int:
    """The packet type of a fixed-header byte, after checking the reserved flag bits."""
    packet_type = first >> 4
    if packet_type == PUBLISH:
        return packet_type
    if not packet_type or first & 0x0F != _REQUIRED_FLAGS.get(packet_type, 0):
        raise ProtocolError(f"bad fixed header 0x{first:02X}")
    return packet_type


def decode_packet(first: int, buf: bytes, start: int, end: int, version: int) -> Packet:
    """Decode one framed packet (see `frame_at`)."""
    decode = _DECODERS[check_flags(first)]
    try:
        return decode(first, buf, start, end, version)
    except (IndexError, ValueError) as exc:
        raise ProtocolError(f"malformed packet: {exc}") from exc


class PacketReader:
    """Turns a byte stream split anywhere into packets."""

    __slots__ = ("_buffer", "version")

    def __init__(self, version: int = MQTT_5) -> None:
        self.version = version
        self._buffer = b""

    def feed(self, data: bytes) -> list[Packet]:
        buf = self._buffer + data if self._buffer else bytes(data)
        pos, end = 0, len(buf)
        packets = []
        while (frame := frame_at(buf, pos, end)) is not None:
            first, start, pos = frame
            packets.append(decode_packet(first, buf, start, pos, self.version))
        self._buffer = buf[pos:]
        return packets
