"""PUBLISH and its acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP): the hot path of both directions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ProtocolError
from .properties import Properties, decode_properties, decode_reason, encode_properties, encode_reason
from .wire import (
    MQTT_5,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    REQUIRED_FLAGS,
    encode_remaining_length,
    encode_string,
    packet,
    read_u16,
)


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
        packet_id = self.packet_id if self.qos else 0
        if self.qos and not packet_id:
            raise ValueError("a QoS 1 or 2 PUBLISH needs a packet identifier")
        properties = encode_properties(self.properties) if version >= MQTT_5 else b""
        return encode_publish(first, encode_string(self.topic), packet_id, properties, self.payload)

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
    pid = packet_id.to_bytes(2) if packet_id else b""
    remaining = len(topic_field) + len(pid) + len(properties) + len(payload)
    if remaining < 128:
        header = bytes((first, remaining))
    elif remaining < 16384:  # the usual uplink: two length bytes, inline (one call and one copy fewer)
        header = bytes((first, remaining & 0x7F | 0x80, remaining >> 7))
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
        first = self.packet_type << 4 | REQUIRED_FLAGS.get(self.packet_type, 0)
        return packet(first, self.packet_id.to_bytes(2), encode_reason(self.reason_code, self.properties, version))

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> _Ack:
        packet_id, pos = read_u16(buf, pos, end)
        return cls(packet_id, *decode_reason(buf, pos, end, version, cls.__name__))


@dataclass(slots=True)
class PubAck(_Ack):
    """QoS 1: the receiver has the message."""

    packet_type: ClassVar[int] = PUBACK


@dataclass(slots=True)
class PubRec(_Ack):
    """QoS 2, first answer: the receiver has the message and keeps its packet identifier until PUBREL;
    a reason code of 0x80 or more refuses it."""

    packet_type: ClassVar[int] = PUBREC


@dataclass(slots=True)
class PubRel(_Ack):
    """QoS 2: the sender releases the packet identifier (fixed-header flags 0x02)."""

    packet_type: ClassVar[int] = PUBREL


@dataclass(slots=True)
class PubComp(_Ack):
    """QoS 2, last answer: the exchange is over,
    and the packet identifier is free again."""

    packet_type: ClassVar[int] = PUBCOMP


def encode_ack(packet_type: int, packet_id: int) -> bytes:
    """A success acknowledgement without reason code or properties; the same bytes on 3.1.1 and 5."""
    return bytes((packet_type << 4 | REQUIRED_FLAGS.get(packet_type, 0), 2, packet_id >> 8, packet_id & 0xFF))
