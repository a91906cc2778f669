"""The packets that open, keep and close a connection: CONNECT (with its will), CONNACK, PINGREQ, PINGRESP,
DISCONNECT and AUTH."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ProtocolError
from .properties import Properties, decode_properties, decode_reason, encode_properties, encode_reason
from .wire import (
    AUTH,
    CONNACK,
    CONNECT,
    DISCONNECT,
    MQTT_5,
    MQTT_311,
    PINGREQ,
    PINGRESP,
    encode_binary,
    encode_string,
    expect_end,
    packet,
    read_binary,
    read_string,
)

PINGREQ_BYTES = b"\xc0\x00"
PINGRESP_BYTES = b"\xd0\x00"


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

    def _flags(self) -> int:
        will = self.will
        flags = 0x02 if self.clean_start else 0
        if will is not None:
            flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
        if self.username is not None:
            flags |= 0x80
        if self.password is not None:
            flags |= 0x40
        return flags

    def encode(self, version: int | None = None) -> bytes:
        """CONNECT in its own `protocol_version` (`version` is ignored: CONNECT is what sets it)."""
        v5 = self.protocol_version >= MQTT_5
        will = self.will
        parts = [
            encode_string("MQTT"),
            bytes((self.protocol_version, self._flags())),
            self.keep_alive.to_bytes(2),
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
        return packet(0x10, *parts)

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Connect:
        name, pos = read_string(buf, pos, end)
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
        client_id, pos = read_string(buf, pos, end)
        will = None
        if flags & 0x04:
            will, pos = _read_will(buf, pos, end, flags, v5)
        username = password = None
        if flags & 0x80:
            username, pos = read_string(buf, pos, end)
        if flags & 0x40:
            password, pos = read_binary(buf, pos, end)
        expect_end(pos, end, "CONNECT")
        return cls(client_id, level, bool(flags & 0x02), keep_alive, username, password, will, properties)


def _read_will(buf: bytes, pos: int, end: int, flags: int, v5: bool) -> tuple[Will, int]:
    properties: Properties = {}
    if v5:
        properties, pos = decode_properties(buf, pos, end)
    topic, pos = read_string(buf, pos, end)
    payload, pos = read_binary(buf, pos, end)
    return Will(topic, payload, flags >> 3 & 0x03, bool(flags & 0x20), properties), pos


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
        return packet(0x20, *parts)

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Connack:
        if pos + 2 > end or buf[pos] & 0xFE:
            raise ProtocolError("bad CONNACK")
        session_present, reason_code = bool(buf[pos]), buf[pos + 1]
        pos += 2
        properties: Properties = {}
        if version >= MQTT_5 and pos < end:
            properties, pos = decode_properties(buf, pos, end)
        expect_end(pos, end, "CONNACK")
        return cls(session_present, reason_code, properties)


@dataclass(slots=True)
class _Empty:
    """PINGREQ and PINGRESP: a fixed header and nothing else."""

    packet_type: ClassVar[int]
    wire: ClassVar[bytes]

    def encode(self, version: int) -> bytes:
        return self.wire

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> _Empty:
        expect_end(pos, end, cls.__name__.upper())
        return cls()


@dataclass(slots=True)
class PingReq(_Empty):
    packet_type: ClassVar[int] = PINGREQ
    wire: ClassVar[bytes] = PINGREQ_BYTES


@dataclass(slots=True)
class PingResp(_Empty):
    packet_type: ClassVar[int] = PINGRESP
    wire: ClassVar[bytes] = PINGRESP_BYTES


@dataclass(slots=True)
class _Reason:
    """DISCONNECT and AUTH: a reason code and properties, both left out when they say nothing."""

    packet_type: ClassVar[int]
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)

    def encode(self, version: int) -> bytes:
        return packet(self.packet_type << 4, encode_reason(self.reason_code, self.properties, version))

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> _Reason:
        return cls(*decode_reason(buf, pos, end, version, cls.__name__.upper()))


@dataclass(slots=True)
class Disconnect(_Reason):
    """On MQTT 5 the reason code 0x04 asks the broker to publish the will."""

    packet_type: ClassVar[int] = DISCONNECT


@dataclass(slots=True)
class Auth(_Reason):
    packet_type: ClassVar[int] = AUTH

    def encode(self, version: int) -> bytes:
        return packet(0xF0, encode_reason(self.reason_code, self.properties, MQTT_5))

    @classmethod
    def decode(cls, first: int, buf: bytes, pos: int, end: int, version: int) -> Auth:
        if version < MQTT_5:
            raise ProtocolError("AUTH is an MQTT 5 packet")
        return cls(*decode_reason(buf, pos, end, version, "AUTH"))
