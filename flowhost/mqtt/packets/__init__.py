"""Encoding and decoding of every MQTT 3.1.1 and MQTT 5 control packet, including MQTT 5 properties.

- `wire`: packet type numbers, the fixed header, variable byte integers, strings;
- `properties`: MQTT 5 properties;
- `session`: CONNECT, CONNACK, PINGREQ/PINGRESP, DISCONNECT, AUTH;
- `publish`: PUBLISH and its acknowledgements;
- `subscribe`: SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK;
- `stream`: any framed packet to its object, a byte stream to packets.

Decoders read from a buffer between `start` and `end` so that the stream parser never copies a packet body
before it needs to. Anything that is not valid MQTT raises `ProtocolError`.
"""

from .properties import EMPTY_PROPERTIES, REPEATABLE_PROPERTIES, Properties, decode_properties, encode_properties
from .publish import Message, PubAck, PubComp, PubRec, PubRel, encode_ack, encode_publish
from .session import PINGREQ_BYTES, PINGRESP_BYTES, Auth, Connack, Connect, Disconnect, PingReq, PingResp, Will
from .stream import Packet, PacketReader, check_flags, decode_packet
from .subscribe import Suback, Subscribe, Subscription, Unsuback, Unsubscribe
from .wire import (
    AUTH,
    CONNACK,
    CONNECT,
    DISCONNECT,
    MAX_REMAINING_LENGTH,
    MQTT_5,
    MQTT_311,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    decode_varint,
    encode_binary,
    encode_remaining_length,
    encode_string,
    frame_at,
)

__all__ = [
    "AUTH",
    "CONNACK",
    "CONNECT",
    "DISCONNECT",
    "EMPTY_PROPERTIES",
    "MAX_REMAINING_LENGTH",
    "MQTT_5",
    "MQTT_311",
    "PINGREQ",
    "PINGREQ_BYTES",
    "PINGRESP",
    "PINGRESP_BYTES",
    "PUBACK",
    "PUBCOMP",
    "PUBLISH",
    "PUBREC",
    "PUBREL",
    "REPEATABLE_PROPERTIES",
    "SUBACK",
    "SUBSCRIBE",
    "UNSUBACK",
    "UNSUBSCRIBE",
    "Auth",
    "Connack",
    "Connect",
    "Disconnect",
    "Message",
    "Packet",
    "PacketReader",
    "PingReq",
    "PingResp",
    "Properties",
    "PubAck",
    "PubComp",
    "PubRec",
    "PubRel",
    "Suback",
    "Subscribe",
    "Subscription",
    "Unsuback",
    "Unsubscribe",
    "Will",
    "check_flags",
    "decode_packet",
    "decode_properties",
    "decode_varint",
    "encode_ack",
    "encode_binary",
    "encode_properties",
    "encode_publish",
    "encode_remaining_length",
    "encode_string",
    "frame_at",
]
