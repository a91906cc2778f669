"""MQTT 5 properties: the identifier table, and the property block's encoding and decoding."""

from __future__ import annotations

from typing import Any

from ..errors import ProtocolError
from .wire import (
    MQTT_5,
    decode_varint,
    encode_binary,
    encode_remaining_length,
    encode_string,
    read_binary,
    read_string,
    read_u16,
)

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


def _encode_pair(pair: tuple[str, str]) -> bytes:
    name, text = pair
    return encode_string(name) + encode_string(text)


_ENCODERS = {
    _BYTE: lambda value: bytes((value,)),
    _U16: lambda value: value.to_bytes(2),
    _U32: lambda value: value.to_bytes(4),
    _VARINT: encode_remaining_length,
    _STRING: encode_string,
    _BINARY: encode_binary,
    _PAIR: _encode_pair,
}


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
        encode = _ENCODERS[kind]
        values = value if name in REPEATABLE_PROPERTIES else (value,)
        for item in values:
            parts.append(prefix)
            parts.append(encode(item))
    body = b"".join(parts)
    return encode_remaining_length(len(body)) + body


def _read_byte(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise ProtocolError("truncated property")
    return buf[pos], pos + 1


def _read_u32(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 4 > end:
        raise ProtocolError("truncated property")
    return int.from_bytes(buf[pos : pos + 4]), pos + 4  # big-endian by default


def _read_pair(buf: bytes, pos: int, end: int) -> tuple[tuple[str, str], int]:
    key, pos = read_string(buf, pos, end)
    text, pos = read_string(buf, pos, end)
    return (key, text), pos


_READERS = {
    _BYTE: _read_byte,
    _U16: read_u16,
    _U32: _read_u32,
    _VARINT: decode_varint,
    _STRING: read_string,
    _BINARY: read_binary,
    _PAIR: _read_pair,
}


def decode_properties(buf: bytes, pos: int, end: int) -> tuple[Properties, int]:
    length, pos = decode_varint(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise ProtocolError("properties longer than the packet")
    properties: Properties = {}
    while pos < stop:
        ident = buf[pos]
        try:
            name, kind = _PROPERTIES[ident]
        except KeyError:
            raise ProtocolError(f"unknown property identifier 0x{ident:02X}") from None
        value, pos = _READERS[kind](buf, pos + 1, stop)
        if name in REPEATABLE_PROPERTIES:
            properties.setdefault(name, []).append(value)
        elif name in properties:
            raise ProtocolError(f"property {name} appears twice")
        else:
            properties[name] = value
    return properties, pos


def decode_reason(buf: bytes, pos: int, end: int, version: int, name: str) -> tuple[int, Properties]:
    """The optional reason code and properties that end an acknowledgement, DISCONNECT or AUTH (MQTT 5; absent
    they mean success with no properties); the body must end there."""
    reason_code = 0
    properties: Properties = {}
    if version >= MQTT_5 and pos < end:
        reason_code = buf[pos]
        pos += 1
        if pos < end:
            properties, pos = decode_properties(buf, pos, end)
    if pos != end:
        raise ProtocolError(f"{name} has {end - pos} unexpected trailing bytes")
    return reason_code, properties


def encode_reason(reason_code: int, properties: Properties, version: int) -> bytes:
    """What `decode_reason` reads: nothing for success without properties (and always on MQTT 3.1.1), else the
    reason code, followed by the properties when there are any."""
    if version < MQTT_5 or not (reason_code or properties):
        return b""
    if not properties:
        return bytes((reason_code,))
    return bytes((reason_code,)) + encode_properties(properties)
