"""Packet encoding/decoding, and the stream parser under arbitrary splits (property-based)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhost.mqtt import ProtocolError
from flowhost.mqtt import packets as p
from flowhost.mqtt.protocol import MQTTProtocol

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
binaries = st.binary(max_size=40)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
packet_ids = st.integers(1, 0xFFFF)


def properties(version: int) -> st.SearchStrategy[dict]:
    if version < p.MQTT_5:
        return st.just({})
    return st.fixed_dictionaries(
        {},
        optional={
            "payload_format_indicator": st.integers(0, 1),
            "message_expiry_interval": u32,
            "content_type": texts,
            "correlation_data": binaries,
            "subscription_identifier": st.lists(st.integers(1, p.MAX_REMAINING_LENGTH), min_size=1, max_size=3),
            "topic_alias": u16,
            "user_property": st.lists(st.tuples(texts, texts), min_size=1, max_size=3),
            "reason_string": texts,
        },
    )


def reason_codes(version: int) -> st.SearchStrategy[int]:
    return st.integers(0, 255) if version >= p.MQTT_5 else st.just(0)


def packets(version: int) -> st.SearchStrategy:
    props = properties(version)
    v5 = version >= p.MQTT_5
    wills = st.builds(p.Will, texts, binaries, st.integers(0, 2), st.booleans(), props)
    subscriptions = st.builds(
        p.Subscription,
        texts,
        st.integers(0, 2),
        st.booleans() if v5 else st.just(False),
        st.booleans() if v5 else st.just(False),
        st.integers(0, 2) if v5 else st.just(0),
    )

    @st.composite
    def messages(draw):
        qos = draw(st.integers(0, 2))
        packet_id = draw(packet_ids) if qos else None
        return p.Message(
            draw(texts), draw(binaries), qos, draw(st.booleans()), draw(st.booleans()), packet_id, draw(props)
        )

    acks = [
        st.builds(cls, packet_ids, reason_codes(version), props) for cls in (p.PubAck, p.PubRec, p.PubRel, p.PubComp)
    ]
    choices = [
        st.builds(
            p.Connect,
            texts,
            st.just(version),
            st.booleans(),
            u16,
            st.none() | texts,
            st.none() | binaries,
            st.none() | wills,
            props,
        ),
        st.builds(p.Connack, st.booleans(), st.integers(0, 255 if v5 else 5), props),
        messages(),
        *acks,
        st.builds(p.Subscribe, packet_ids, st.lists(subscriptions, min_size=1, max_size=3), props),
        st.builds(p.Suback, packet_ids, st.lists(st.integers(0, 255), min_size=1, max_size=3), props),
        st.builds(p.Unsubscribe, packet_ids, st.lists(texts, min_size=1, max_size=3), props),
        st.builds(p.Unsuback, packet_ids, st.lists(st.integers(0, 255), max_size=3) if v5 else st.just([]), props),
        st.builds(p.PingReq),
        st.builds(p.PingResp),
        st.builds(p.Disconnect, reason_codes(version), props),
    ]
    if v5:
        choices.append(st.builds(p.Auth, reason_codes(version), props))
    return st.one_of(choices)


@st.composite
def split_streams(draw):
    """(version, packets, the encoded stream cut into chunks at arbitrary positions)."""
    version = draw(st.sampled_from([p.MQTT_311, p.MQTT_5]))
    sequence = draw(st.lists(packets(version), min_size=1, max_size=12))
    stream = b"".join(packet.encode(version) for packet in sequence)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[start:end] for start, end in itertools.pairwise(bounds)]
    return version, sequence, chunks


@settings(max_examples=150, deadline=None)
@given(split_streams())
def test_packet_reader_decodes_any_split_of_a_packet_stream(case) -> None:
    version, sequence, chunks = case
    reader = p.PacketReader(version)
    decoded = []
    for chunk in chunks:
        decoded += reader.feed(chunk)
    assert decoded == sequence


class _RecordingOwner:
    def __init__(self, version: int) -> None:
        self.version = version
        self.packets: list = []
        self.reason = None

    def packet_handlers(self):
        return [self._record] * 16

    def _record(self, first, buf, start, end) -> None:
        self.packets.append(p.decode_packet(first, buf, start, end, self.version))

    def connection_ended(self, connection, reason) -> None:
        self.reason = reason


@settings(max_examples=150, deadline=None)
@given(split_streams())
def test_client_protocol_frames_any_split_of_a_packet_stream(case) -> None:
    version, sequence, chunks = case
    loop = asyncio.new_event_loop()
    try:
        owner = _RecordingOwner(version)
        protocol = MQTTProtocol(owner, loop)
        for chunk in chunks:
            protocol.data_received(chunk)
        assert owner.packets == sequence
    finally:
        loop.close()


@pytest.mark.parametrize("length", [0, 127, 128, 16383, 16384, 2_097_151, 2_097_152, p.MAX_REMAINING_LENGTH])
def test_remaining_length_round_trip(length: int) -> None:
    encoded = p.encode_remaining_length(length)
    assert p.decode_varint(encoded, 0, len(encoded)) == (length, len(encoded))


def test_hot_path_publish_encoder_matches_the_message_encoder() -> None:
    message = p.Message("a/b", b"x" * 300, 1, True, False, 77, {"user_property": [("k", "v")]})
    fast = p.encode_publish(0x33, p.encode_string("a/b"), 77, p.encode_properties(message.properties), b"x" * 300)
    assert fast == message.encode(p.MQTT_5)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x00\x00", id="packet type 0"),
        pytest.param(b"\x36\x05\x00\x01a\x00\x01", id="PUBLISH QoS 3"),
        pytest.param(b"\x32\x03\x00\x01a", id="QoS 1 PUBLISH without packet id"),
        pytest.param(b"\x30\x04\x00\x02\xff\xfe", id="topic not UTF-8"),
        pytest.param(b"\x30\xff\xff\xff\xff\x01", id="remaining length of 5 bytes"),
        pytest.param(b"\x60\x02\x00\x01", id="PUBREL with wrong flags"),
        pytest.param(b"\x20\x03\x00\x00\x05", id="CONNACK properties longer than packet"),
        pytest.param(b"\x40\x05\x00\x01\x00\x02\x7f", id="unknown property"),
        pytest.param(b"\xd0\x01\x00", id="PINGRESP with a body"),
    ],
)
def test_malformed_packets_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        p.PacketReader(p.MQTT_5).feed(data)


def test_repeated_single_value_property_is_a_protocol_error() -> None:
    body = b"\x00\x00\x0a\x02\x00\x00\x00\x01\x02\x00\x00\x00\x01"
    with pytest.raises(ProtocolError, match="twice"):
        p.decode_properties(body, 2, len(body))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([p.MQTT_311, p.MQTT_5]), st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_protocol_error(version: int, data: bytes) -> None:
    try:
        p.PacketReader(version).feed(data)
    except ProtocolError:
        pass
