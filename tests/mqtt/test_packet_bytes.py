"""Exact wire bytes of MQTT packets, and the errors for malformed ones: what a broker or a peer would see.

Byte layouts from the OASIS specifications (MQTT Version 3.1.1, 2014, and MQTT Version 5.0, 2019): sections
1.5.5 (Variable Byte Integer), 2.1 (fixed header), 2.2.2 (properties) and 3.x (each packet). Fast by design: the
mutation tests of flowhost/mqtt/packets run against this file (scripts/mutate).
"""

from __future__ import annotations

import re

import pytest

from flowhost.mqtt import ProtocolError
from flowhost.mqtt import packets as p
from flowhost.mqtt.packets import properties as props
from flowhost.mqtt.packets import wire

V5, V311 = p.MQTT_5, p.MQTT_311


def exactly(message: str) -> str:
    """A `pytest.raises` match for this whole message, no more, no less."""
    return f"^{re.escape(message)}$"


def decode(data: bytes, version: int = V5):
    """The one packet in `data`, decoded as the client's stream parser does."""
    packets = p.PacketReader(version).feed(data)
    assert len(packets) == 1
    return packets[0]


# --- variable byte integers and the fixed header ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (321, b"\xc1\x02"),
        (16383, b"\xff\x7f"),
        (16384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_byte_integers_match_the_spec_table(value: int, encoded: bytes) -> None:
    assert p.encode_remaining_length(value) == encoded
    # decoded from the middle of a buffer: the position returned is just past the integer
    assert p.decode_varint(b"\xaa" + encoded + b"\xbb", 1, len(encoded) + 2) == (value, len(encoded) + 1)


def test_a_packet_beyond_the_largest_remaining_length_is_refused() -> None:
    with pytest.raises(ValueError, match=exactly("packet too large (268435456 bytes)")):
        p.encode_remaining_length(268_435_456)


def test_variable_byte_integer_errors() -> None:
    with pytest.raises(ProtocolError, match=exactly("truncated variable byte integer")):
        p.decode_varint(b"\x80\x80", 0, 2)
    with pytest.raises(ProtocolError, match=exactly("truncated variable byte integer")):
        p.decode_varint(b"\x05", 1, 1)
    with pytest.raises(ProtocolError, match=exactly("variable byte integer longer than 4 bytes")):
        p.decode_varint(b"\x80\x80\x80\x80\x01", 0, 5)
    # an integer of exactly four bytes is fine
    assert p.decode_varint(b"\x80\x80\x80\x01", 0, 4) == (1 << 21, 4)
    # the end bound counts, not the buffer's length
    with pytest.raises(ProtocolError, match=exactly("truncated variable byte integer")):
        p.decode_varint(b"\x80\x01", 0, 1)


def test_frame_at_finds_each_packet_of_a_buffer() -> None:
    stream = b"\x00\x00" + b"\x30\x03\x00\x01a" + b"\xc0\x00"
    assert p.frame_at(stream, 2, len(stream)) == (0x30, 4, 7)
    assert p.frame_at(stream, 7, len(stream)) == (0xC0, 9, 9)
    long_body = b"\x30\x80\x01" + b"x" * 128
    assert p.frame_at(long_body, 0, len(long_body)) == (0x30, 3, 131)
    three_bytes = b"\x30\x80\x80\x01" + b"x" * 16384
    assert p.frame_at(three_bytes, 0, len(three_bytes)) == (0x30, 4, 16388)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x03\x00\x01",  # one body byte missing
        b"\x30\x80",  # the length's second byte missing
        b"\x30\x80\x01" + b"x" * 127,
        b"\x30\x80\x80",
    ],
)
def test_frame_at_waits_for_an_incomplete_packet(data: bytes) -> None:
    assert p.frame_at(data, 0, len(data)) is None


def test_frame_at_respects_the_end_bound() -> None:
    data = b"\x30\x03\x00\x01a"
    assert p.frame_at(data, 0, 4) is None
    assert p.frame_at(data, 0, 1) is None


def test_frame_at_refuses_a_remaining_length_of_five_bytes() -> None:
    with pytest.raises(ProtocolError, match=exactly("remaining length longer than 4 bytes")):
        p.frame_at(b"\x30\xff\xff\xff\xff\x01", 0, 6)
    # four bytes of length, all continued: a fifth is awaited before judging
    assert p.frame_at(b"\x30\xff\xff\xff\xff", 0, 5) is None
    assert p.frame_at(b"\x30\xff\xff\xff\x7f", 0, 5) is None  # the largest length: its body is awaited


def test_strings_and_binary_data_carry_their_length_in_bytes() -> None:
    assert p.encode_string("") == b"\x00\x00"
    assert p.encode_string("é/ü") == b"\x00\x05\xc3\xa9/\xc3\xbc"
    assert p.encode_binary(b"\x00" * 300) == b"\x01\x2c" + b"\x00" * 300
    assert wire.read_string(b"\xff\x00\x03abc\xff", 1, 7) == ("abc", 6)
    assert wire.read_binary(b"\x00\x02\x01\x02", 0, 4) == (b"\x01\x02", 4)
    assert wire.read_u16(b"\x12\x34", 0, 2) == (0x1234, 2)


def test_string_and_integer_reading_errors() -> None:
    with pytest.raises(ProtocolError, match=exactly("truncated two-byte integer")):
        wire.read_u16(b"\x00\x01", 0, 1)
    with pytest.raises(ProtocolError, match=exactly("truncated string or binary data")):
        wire.read_binary(b"\x00\x03ab", 0, 4)
    with pytest.raises(ProtocolError, match=exactly("truncated string or binary data")):
        wire.read_string(b"\x00\x03abc", 0, 4)  # the bytes are there, past the end bound
    with pytest.raises(ProtocolError, match=exactly("string is not valid UTF-8")):
        wire.read_string(b"\x00\x02\xff\xfe", 0, 4)


def test_trailing_bytes_are_named_and_counted() -> None:
    wire.expect_end(4, 4, "X")
    with pytest.raises(ProtocolError, match=exactly("CONNACK has 2 unexpected trailing bytes")):
        wire.expect_end(3, 5, "CONNACK")


# --- MQTT 5 properties --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "encoded"),
    [
        ({}, b"\x00"),
        (None, b"\x00"),
        ({"payload_format_indicator": 1}, b"\x02\x01\x01"),
        ({"topic_alias": 0x0102}, b"\x03\x23\x01\x02"),
        ({"message_expiry_interval": 0x01020304}, b"\x05\x02\x01\x02\x03\x04"),
        ({"subscription_identifier": [1, 200]}, b"\x05\x0b\x01\x0b\xc8\x01"),
        ({"content_type": "a/b"}, b"\x06\x03\x00\x03a/b"),
        ({"correlation_data": b"\x00\xff"}, b"\x05\x09\x00\x02\x00\xff"),
        ({"user_property": [("k", "v"), ("k", "w")]}, b"\x0e\x26\x00\x01k\x00\x01v\x26\x00\x01k\x00\x01w"),
        ({"receive_maximum": 20, "maximum_qos": 1}, b"\x05\x21\x00\x14\x24\x01"),
    ],
)
def test_properties_encode_and_decode_as_the_spec_lays_them_out(properties, encoded: bytes) -> None:
    assert p.encode_properties(properties) == encoded
    assert p.decode_properties(b"\xaa" + encoded, 1, len(encoded) + 1) == (properties or {}, len(encoded) + 1)


def test_a_property_block_of_128_bytes_has_a_two_byte_length() -> None:
    encoded = p.encode_properties({"reason_string": "r" * 125})  # 1 + 2 + 125 bytes
    assert encoded[:4] == b"\x80\x01\x1f\x00"
    assert p.decode_properties(encoded, 0, len(encoded)) == ({"reason_string": "r" * 125}, 130)


def test_an_unknown_property_name_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=exactly("unknown MQTT 5 property 'colour'")):
        p.encode_properties({"colour": 1})


@pytest.mark.parametrize(
    ("block", "error"),
    [
        (b"\x02\x7f\x00", "unknown property identifier 0x7F"),
        (b"\x01\x01", "truncated property"),  # a byte property without its byte
        (b"\x03\x02\x00\x00", "truncated property"),  # four-byte integer of 2 bytes
        (b"\x02\x21\x00", "truncated two-byte integer"),
        (b"\x05\x03\x00\x05ab", "truncated string or binary data"),
        (b"\x0a\x02\x00\x00\x00\x01\x02\x00\x00\x00\x02", "property message_expiry_interval appears twice"),
        (b"\x06\x01\x01", "properties longer than the packet"),
        (b"\x80", "truncated variable byte integer"),
    ],
)
def test_malformed_properties_are_refused(block: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=exactly(error)):
        p.decode_properties(block, 0, len(block))


def test_properties_stop_at_their_own_length() -> None:
    # a user property whose value would run past the block's length, though not past the buffer
    block = b"\x05\x26\x00\x01k\x00\x01v"
    with pytest.raises(ProtocolError, match=exactly("truncated two-byte integer")):
        p.decode_properties(block, 0, len(block))
    assert p.decode_properties(b"\x02\x01\x00\x01\x01", 0, 5) == ({"payload_format_indicator": 0}, 3)
    assert p.decode_properties(b"\x05\x02\x00\x00\x00\x07\x01\x01", 0, 8) == ({"message_expiry_interval": 7}, 6)


def test_reason_code_and_properties_are_left_out_when_they_say_nothing() -> None:
    assert props.encode_reason(0, {}, V5) == b""
    assert props.encode_reason(0x10, {}, V5) == b"\x10"
    assert props.encode_reason(0, {"reason_string": "r"}, V5) == b"\x00\x04\x1f\x00\x01r"
    assert props.encode_reason(0x87, {"reason_string": "r"}, V311) == b""
    assert props.decode_reason(b"", 0, 0, V5, "X") == (0, {})
    assert props.decode_reason(b"\x10", 0, 1, V5, "X") == (0x10, {})
    assert props.decode_reason(b"\x87\x04\x1f\x00\x01r", 0, 6, V5, "X") == (0x87, {"reason_string": "r"})
    with pytest.raises(ProtocolError, match=exactly("PubAck has 1 unexpected trailing bytes")):
        props.decode_reason(b"\x10", 0, 1, V311, "PubAck")


# --- CONNECT, CONNACK, PINGREQ, PINGRESP, DISCONNECT, AUTH ------------------------------------------------------


def test_connect_311_with_will_username_and_password() -> None:
    will = p.Will("w", b"bye", qos=1, retain=True)
    connect = p.Connect("id", V311, clean_start=True, keep_alive=60, username="u", password=b"pw", will=will)
    body = (
        b"\x00\x04MQTT\x04"
        + bytes((0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02,))
        + b"\x00\x3c"
        + b"\x00\x02id"
        + b"\x00\x01w\x00\x03bye"
        + b"\x00\x01u\x00\x02pw"
    )
    assert connect.encode() == b"\x10" + bytes((len(body),)) + body
    assert decode(connect.encode(), V311) == connect


def test_connect_5_without_will_or_credentials() -> None:
    connect = p.Connect("c", V5, clean_start=False, keep_alive=0x1234, properties={"session_expiry_interval": 300})
    body = b"\x00\x04MQTT\x05\x00\x12\x34" + b"\x05\x11\x00\x00\x01\x2c" + b"\x00\x01c"
    assert connect.encode() == b"\x10" + bytes((len(body),)) + body
    assert decode(connect.encode()) == connect


def test_connect_5_will_carries_its_properties_and_qos_2() -> None:
    will = p.Will("t", b"", qos=2, properties={"will_delay_interval": 5})
    connect = p.Connect("", V5, will=will)
    encoded = connect.encode()
    assert encoded[9] == 0x02 | 0x04 | 0x10  # clean start, will, will QoS 2
    assert b"\x05\x18\x00\x00\x00\x05\x00\x01t\x00\x00" in encoded
    assert decode(encoded) == connect


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x00\x04MQTX\x04\x02\x00\x3c\x00\x00", "unsupported protocol name 'MQTX'"),
        (b"\x00\x04MQTT\x04\x02\x00", "unsupported protocol name 'MQTT'"),  # level, flags, keep alive cut
        (b"\x00\x04MQTT\x03\x02\x00\x3c\x00\x00", "bad CONNECT protocol level or flags"),
        (b"\x00\x04MQTT\x06\x02\x00\x3c\x00\x00", "bad CONNECT protocol level or flags"),
        (b"\x00\x04MQTT\x04\x03\x00\x3c\x00\x00", "bad CONNECT protocol level or flags"),  # reserved flag
        (b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\x00", "CONNECT has 1 unexpected trailing bytes"),
        (b"\x00\x04MQTT\x04\x02\x00\x3c", "truncated two-byte integer"),  # no client identifier
    ],
)
def test_malformed_connect_is_refused(body: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=exactly(error)):
        decode(b"\x10" + bytes((len(body),)) + body, V311)


def test_connect_fields_are_read_by_their_flags() -> None:
    # username flag only: the password is absent; keep alive read big-endian
    body = b"\x00\x04MQTT\x04\x80\x01\x02\x00\x01i\x00\x01u"
    connect = decode(b"\x10" + bytes((len(body),)) + body, V311)
    assert (connect.keep_alive, connect.username, connect.password, connect.clean_start) == (258, "u", None, False)
    # password flag only
    body = b"\x00\x04MQTT\x04\x40\x00\x00\x00\x01i\x00\x01p"
    assert decode(b"\x10" + bytes((len(body),)) + body, V311).password == b"p"
    # will flag with QoS 1, not retained
    body = b"\x00\x04MQTT\x04\x0c\x00\x00\x00\x01i\x00\x01w\x00\x01x"
    will = decode(b"\x10" + bytes((len(body),)) + body, V311).will
    assert will == p.Will("w", b"x", 1, False, {})


def test_connack_bytes_on_both_versions() -> None:
    assert p.Connack(True, 0).encode(V311) == b"\x20\x02\x01\x00"
    assert p.Connack(False, 0x86).encode(V5) == b"\x20\x03\x00\x86\x00"
    connack = p.Connack(True, 0, {"receive_maximum": 20})
    assert connack.encode(V5) == b"\x20\x06\x01\x00\x03\x21\x00\x14"
    assert decode(b"\x20\x06\x01\x00\x03\x21\x00\x14") == connack
    assert decode(b"\x20\x02\x00\x05", V311) == p.Connack(False, 5)
    assert decode(b"\x20\x02\x00\x00", V5) == p.Connack(False, 0)  # no property length: none


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x20\x01\x00", "bad CONNACK"),
        (b"\x20\x02\x02\x00", "bad CONNACK"),  # reserved acknowledge flag
        (b"\x20\x03\x00\x00\x00", "CONNACK has 1 unexpected trailing bytes"),
    ],
)
def test_malformed_connack_is_refused(data: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=exactly(error)):
        decode(data, V311)


def test_ping_packets() -> None:
    assert p.PingReq().encode(V5) == p.PINGREQ_BYTES == b"\xc0\x00"
    assert p.PingResp().encode(V311) == p.PINGRESP_BYTES == b"\xd0\x00"
    assert decode(b"\xc0\x00") == p.PingReq()
    assert decode(b"\xd0\x00") == p.PingResp()
    with pytest.raises(ProtocolError, match=exactly("PINGREQ has 1 unexpected trailing bytes")):
        decode(b"\xc0\x01\x00")
    with pytest.raises(ProtocolError, match=exactly("PINGRESP has 2 unexpected trailing bytes")):
        decode(b"\xd0\x02\x00\x00")


def test_disconnect_bytes() -> None:
    assert p.Disconnect().encode(V5) == b"\xe0\x00"
    assert p.Disconnect(0x04).encode(V311) == b"\xe0\x00"
    assert p.Disconnect(0x04).encode(V5) == b"\xe0\x01\x04"
    assert p.Disconnect(0x8E, {"reason_string": "x"}).encode(V5) == b"\xe0\x06\x8e\x04\x1f\x00\x01x"
    assert decode(b"\xe0\x06\x8e\x04\x1f\x00\x01x") == p.Disconnect(0x8E, {"reason_string": "x"})
    assert decode(b"\xe0\x00", V311) == p.Disconnect()
    with pytest.raises(ProtocolError, match=exactly("DISCONNECT has 1 unexpected trailing bytes")):
        decode(b"\xe0\x01\x04", V311)


def test_auth_bytes_and_its_version() -> None:
    assert p.Auth().encode(V5) == b"\xf0\x00"
    assert p.Auth(0x18, {"authentication_method": "m"}).encode(V5) == b"\xf0\x06\x18\x04\x15\x00\x01m"
    assert p.Auth(0x18).encode(V311) == b"\xf0\x01\x18"  # AUTH is MQTT 5's whatever the session says
    assert decode(b"\xf0\x01\x19") == p.Auth(0x19)
    with pytest.raises(ProtocolError, match=exactly("AUTH is an MQTT 5 packet")):
        decode(b"\xf0\x00", V311)
    with pytest.raises(ProtocolError, match=exactly("AUTH has 1 unexpected trailing bytes")):
        decode(b"\xf0\x03\x18\x00\x00")


# --- PUBLISH and its acknowledgements ----------------------------------------------------------------------


def test_publish_bytes_at_each_qos() -> None:
    assert p.Message("a/b", b"hi").encode(V311) == b"\x30\x07\x00\x03a/bhi"
    assert p.Message("a", b"x", 1, packet_id=0x0102).encode(V311) == b"\x32\x06\x00\x01a\x01\x02x"
    assert p.Message("a", b"", 2, retain=True, dup=True, packet_id=9).encode(V5) == b"\x3d\x06\x00\x01a\x00\x09\x00"
    # QoS 0 never carries a packet identifier, even when the message has one
    assert p.Message("a", b"", 0, packet_id=5).encode(V311) == b"\x30\x03\x00\x01a"
    with pytest.raises(ValueError, match=exactly("a QoS 1 or 2 PUBLISH needs a packet identifier")):
        p.Message("a", b"", 1).encode(V5)


def test_publish_decodes_flags_and_fields() -> None:
    message = decode(b"\x3b\x07\x00\x01a\x00\x09\x00x")
    assert message == p.Message("a", b"x", 1, retain=True, dup=True, packet_id=9)
    assert decode(b"\x30\x04\x00\x01ax", V311) == p.Message("a", b"x")
    with_properties = decode(b"\x32\x0b\x00\x01a\x00\x01\x03\x23\x00\x07xy")
    assert with_properties.properties == {"topic_alias": 7}
    assert with_properties.payload == b"xy"
    assert decode(b"\x34\x05\x00\x01a\x00\x02", V311).qos == 2


def test_publish_fields_of_more_than_one_byte_and_each_flag_alone() -> None:
    topic = "t" * 300  # a topic length with a high byte
    message = decode(b"\x32\xb2\x02\x01\x2c" + topic.encode() + b"\x01\x02\x00x")
    assert (message.topic, message.packet_id, message.payload) == (topic, 0x0102, b"x")
    retained = decode(b"\x31\x04\x00\x01a\x00", V5)
    assert (retained.retain, retained.dup, retained.qos) == (True, False, 0)
    duplicate = decode(b"\x3a\x06\x00\x01a\x00\x01\x00", V5)
    assert (duplicate.retain, duplicate.dup, duplicate.qos) == (False, True, 1)
    assert p.Message("a", b"", 1, dup=True, packet_id=1).encode(V311) == b"\x3a\x05\x00\x01a\x00\x01"
    assert p.Message("a", b"", 0, retain=True).encode(V311) == b"\x31\x03\x00\x01a"
    with_properties = p.Message("a", b"x", properties={"content_type": "j"})
    assert with_properties.encode(V5) == b"\x30\x09\x00\x01a\x04\x03\x00\x01jx"
    assert with_properties.encode(V311) == b"\x30\x04\x00\x01ax"


def test_publish_of_128_bytes_and_more_has_a_longer_header() -> None:
    message = p.Message("t", b"x" * 125)  # 3 + 125 = 128 bytes of body on 3.1.1
    encoded = message.encode(V311)
    assert encoded[:3] == b"\x30\x80\x01"
    assert len(encoded) == 131
    assert decode(encoded, V311) == message
    assert p.encode_publish(0x30, b"\x00\x01t", 0, b"", b"x" * 124)[:2] == b"\x30\x7f"
    big = p.encode_publish(0x32, b"\x00\x01t", 1, b"\x00", b"x" * 16378)  # 3 + 2 + 1 + 16378 = 16384
    assert big[:6] == b"\x32\x80\x80\x01\x00\x01"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x36\x05\x00\x01a\x00\x01", "PUBLISH with QoS 3"),
        (b"\x30\x03\x00\x05a", "truncated PUBLISH topic"),
        (b"\x32\x04\x00\x01a\x00", "truncated PUBLISH packet identifier"),
        (b"\x32\x05\x00\x01a\x00\x00", "PUBLISH with packet identifier 0"),
        (b"\x30\x04\x00\x02\xff\xfe", "topic is not valid UTF-8"),
        (b"\x30\x05\x00\x01a\x03\x01", "properties longer than the packet"),
    ],
)
def test_malformed_publish_is_refused(data: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=exactly(error)):
        decode(data)


def test_publish_5_without_room_for_properties_is_refused() -> None:
    with pytest.raises(ProtocolError, match=exactly("truncated variable byte integer")):
        decode(b"\x30\x03\x00\x01a")


def test_acknowledgement_bytes() -> None:
    assert p.PubAck(7).encode(V311) == b"\x40\x02\x00\x07"
    assert p.PubAck(7, 0x10).encode(V311) == b"\x40\x02\x00\x07"
    assert p.PubAck(0x0107, 0x10).encode(V5) == b"\x40\x03\x01\x07\x10"
    assert p.PubRec(1, 0x80, {"reason_string": "no"}).encode(V5) == b"\x50\x09\x00\x01\x80\x05\x1f\x00\x02no"
    assert p.PubRel(2).encode(V5) == b"\x62\x02\x00\x02"
    assert p.PubComp(3).encode(V5) == b"\x70\x02\x00\x03"
    assert p.encode_ack(p.PUBACK, 0x1234) == b"\x40\x02\x12\x34"
    assert p.encode_ack(p.PUBREL, 0x00FF) == b"\x62\x02\x00\xff"


def test_acknowledgements_decode_with_or_without_reason() -> None:
    assert decode(b"\x40\x02\x00\x07") == p.PubAck(7)
    assert decode(b"\x50\x03\x00\x07\x92") == p.PubRec(7, 0x92)
    assert decode(b"\x62\x09\x00\x01\x80\x05\x1f\x00\x02no") == p.PubRel(1, 0x80, {"reason_string": "no"})
    assert decode(b"\x70\x02\x00\x09", V311) == p.PubComp(9)
    with pytest.raises(ProtocolError, match=exactly("PubAck has 1 unexpected trailing bytes")):
        decode(b"\x40\x03\x00\x07\x10", V311)
    with pytest.raises(ProtocolError, match=exactly("truncated two-byte integer")):
        decode(b"\x40\x01\x00")


# --- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK -------------------------------------------------------------------


def test_subscribe_bytes_with_every_option() -> None:
    subscription = p.Subscription("a/#", qos=2, no_local=True, retain_as_published=True, retain_handling=2)
    assert subscription.options() == 0x2E
    packet = p.Subscribe(0x0A0B, [subscription, p.Subscription("b", 1)])
    assert packet.encode(V311) == b"\x82\x0c\x0a\x0b\x00\x03a/#\x2e\x00\x01b\x01"
    assert packet.encode(V5) == b"\x82\x0d\x0a\x0b\x00\x00\x03a/#\x2e\x00\x01b\x01"
    assert decode(packet.encode(V5)) == packet
    assert decode(b"\x82\x06\x00\x01\x00\x01c\x10", V311).subscriptions == [p.Subscription("c", 0, False, False, 1)]
    # each option alone
    assert p.Subscription("x", 2).options() == 0x02
    assert p.Subscription("x", 0, no_local=True).options() == 0x04
    assert p.Subscription("x", 0, retain_as_published=True).options() == 0x08
    assert p.Subscription("x", 0, retain_handling=1).options() == 0x10


def test_list_packets_carry_their_properties_on_mqtt_5() -> None:
    subscribe = p.Subscribe(1, [p.Subscription("a")], {"subscription_identifier": [5]})
    assert subscribe.encode(V5) == b"\x82\x09\x00\x01\x02\x0b\x05\x00\x01a\x00"
    assert decode(subscribe.encode(V5)) == subscribe
    suback = p.Suback(1, [0], {"reason_string": "ok"})
    assert suback.encode(V5) == b"\x90\x09\x00\x01\x05\x1f\x00\x02ok\x00"
    assert decode(suback.encode(V5)) == suback


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x82\x06\x00\x01\x00\x01a\x40", "bad subscription options"),  # reserved bit
        (b"\x82\x06\x00\x01\x00\x01a\x80", "bad subscription options"),
        (b"\x82\x06\x00\x01\x00\x01a\x03", "bad subscription options"),  # QoS 3
        (b"\x82\x06\x00\x01\x00\x01a\x30", "bad subscription options"),  # retain handling 3
        (b"\x82\x05\x00\x01\x00\x01a", "SUBSCRIBE without options"),
        (b"\x82\x02\x00\x01", "SUBSCRIBE without topic filters"),
        (b"\x80\x02\x00\x01", "bad fixed header 0x80"),  # SUBSCRIBE's flags must be 0x02
    ],
)
def test_malformed_subscribe_is_refused(data: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=exactly(error)):
        decode(data, V311)


def test_suback_unsubscribe_and_unsuback_bytes() -> None:
    assert p.Suback(1, [0, 1, 0x80]).encode(V311) == b"\x90\x05\x00\x01\x00\x01\x80"
    assert p.Suback(1, [2]).encode(V5) == b"\x90\x04\x00\x01\x00\x02"
    assert decode(b"\x90\x05\x00\x01\x00\x01\x80", V311) == p.Suback(1, [0, 1, 0x80])
    assert p.Unsubscribe(2, ["a", "bc"]).encode(V311) == b"\xa2\x09\x00\x02\x00\x01a\x00\x02bc"
    assert decode(b"\xa2\x09\x00\x02\x00\x01a\x00\x02bc", V311) == p.Unsubscribe(2, ["a", "bc"])
    with pytest.raises(ProtocolError, match=exactly("UNSUBSCRIBE without topic filters")):
        decode(b"\xa2\x02\x00\x02", V311)
    # UNSUBACK carries reason codes from MQTT 5 on; on 3.1.1 it is the packet identifier alone
    assert p.Unsuback(3, [0x11]).encode(V311) == b"\xb0\x02\x00\x03"
    assert p.Unsuback(3, [0, 0x11]).encode(V5) == b"\xb0\x05\x00\x03\x00\x00\x11"
    assert decode(b"\xb0\x02\x00\x03", V311) == p.Unsuback(3, [])
    assert decode(b"\xb0\x05\x00\x03\x00\x00\x11") == p.Unsuback(3, [0, 0x11])
    with pytest.raises(ProtocolError, match=exactly("UNSUBACK has 1 unexpected trailing bytes")):
        decode(b"\xb0\x03\x00\x03\x00", V311)
    assert decode(b"\x90\x03\x00\x01\x00") == p.Suback(1, [])  # an empty SUBACK is the client's to refuse


# --- the stream ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [0x00, 0x01, 0x41, 0x61, 0x63, 0x80, 0xA0, 0xC1, 0xE8, 0xF2])
def test_reserved_fixed_header_flags_are_refused(first: int) -> None:
    with pytest.raises(ProtocolError, match=f"^bad fixed header 0x{first:02X}$"):
        p.check_flags(first)


@pytest.mark.parametrize(("first", "packet_type"), [(0x30, 3), (0x3F, 3), (0x62, 6), (0x82, 8), (0xA2, 10), (0xF0, 15)])
def test_valid_fixed_headers_give_their_packet_type(first: int, packet_type: int) -> None:
    assert p.check_flags(first) == packet_type


def test_decoding_errors_of_any_kind_become_protocol_errors() -> None:
    # a SUBACK reason code read past the buffer's end: IndexError inside, ProtocolError outside
    with pytest.raises(ProtocolError, match=r"^malformed packet: "):
        p.decode_packet(0x90, b"\x00\x01\x00", 0, 4, V5)


def test_the_reader_keeps_a_partial_packet_for_the_next_read() -> None:
    reader = p.PacketReader(V311)
    assert reader.feed(b"\x40\x02\x00") == []
    assert reader.feed(b"\x07\xc0") == [p.PubAck(7)]
    assert reader.feed(b"\x00\x30\x03\x00\x01a\xd0") == [p.PingReq(), p.Message("a")]
    assert reader.feed(bytearray(b"\x00")) == [p.PingResp()]
    assert reader.feed(b"") == []
    assert p.PacketReader().version == V5
