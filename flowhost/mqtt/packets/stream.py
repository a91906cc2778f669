"""Any framed packet to its object, and a byte stream split anywhere to packets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ProtocolError
from .publish import Message, PubAck, PubComp, PubRec, PubRel
from .session import Auth, Connack, Connect, Disconnect, PingReq, PingResp
from .subscribe import Suback, Subscribe, Unsuback, Unsubscribe
from .wire import MQTT_5, PUBLISH, REQUIRED_FLAGS, frame_at

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
    if not packet_type or first & 0x0F != REQUIRED_FLAGS.get(packet_type, 0):
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
