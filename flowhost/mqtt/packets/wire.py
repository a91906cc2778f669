"""The MQTT wire primitives: packet type numbers, the fixed header and its remaining length, variable byte
integers, two-byte integers, strings and binary data.

Readers take a buffer with `pos` and `end` so that the stream parser never copies a packet body before it needs
to; anything that is not valid MQTT raises `ProtocolError`.
"""

from __future__ import annotations

from ..errors import ProtocolError

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
REQUIRED_FLAGS = {PUBREL: 0x02, SUBSCRIBE: 0x02, UNSUBSCRIBE: 0x02}

_SMALL_LENGTHS = [bytes((n,)) for n in range(128)]


def encode_remaining_length(n: int) -> bytes:
    """The variable byte integer of `n` (also used for property lengths and subscription identifiers)."""
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
            if shift == 28:  # four length bytes read, and the last said more follow
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
    return len(data).to_bytes(2) + data  # big-endian, as all MQTT integers


def encode_binary(data: bytes) -> bytes:
    return len(data).to_bytes(2) + data


def read_u16(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 2 > end:
        raise ProtocolError("truncated two-byte integer")
    return buf[pos] << 8 | buf[pos + 1], pos + 2


def read_binary(buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
    size, pos = read_u16(buf, pos, end)
    if pos + size > end:
        raise ProtocolError("truncated string or binary data")
    return bytes(buf[pos : pos + size]), pos + size


def read_string(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    data, pos = read_binary(buf, pos, end)
    try:
        return data.decode(), pos
    except UnicodeDecodeError as exc:
        raise ProtocolError("string is not valid UTF-8") from exc


def packet(first: int, *parts: bytes) -> bytes:
    """A whole packet: the fixed header's first byte, the remaining length, the parts."""
    body = b"".join(parts)
    return bytes((first,)) + encode_remaining_length(len(body)) + body


def expect_end(pos: int, end: int, name: str) -> None:
    if pos != end:
        raise ProtocolError(f"{name} has {end - pos} unexpected trailing bytes")
