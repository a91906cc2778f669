"""prepare_uplink: document, settings and time -> topic, payload bytes and expiry, or the reason it is rejected.
No broker: the connector's decisions about one uplink, on their own."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from flowhost_builtins.mqtt_connection_config import CONFIGURATION_SCHEMA, settings_from_configuration
from flowhost_builtins.uplink_preparation import UplinkPreparer, UplinkRejected, prepare_uplink

DATA = Path(__file__).resolve().parent / "data" / "thingpark"
UPLINK = json.loads((DATA / "uplink.json").read_text())
SENT_AT = datetime.fromisoformat(UPLINK["DevEUI_uplink"]["Time"]).timestamp()


def settings(**configuration):
    document = {"uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink", "hostName": "broker.example.com"}
    return settings_from_configuration("c", CONFIGURATION_SCHEMA({**document, **configuration}))


def test_an_unchanged_uplink_goes_out_as_the_bytes_it_came_in():
    source = (DATA / "uplink.json").read_bytes()
    uplink = prepare_uplink(orjson.loads(source), settings(), SENT_AT, SENT_AT + 1, source_bytes=source)
    assert uplink.topic == f"mqtt/things/{UPLINK['DevEUI_uplink']['DevEUI']}/uplink"
    assert uplink.payload is source and uplink.expires_at is None


def test_validity_gives_the_expiry_from_the_uplinks_own_time():
    uplink = prepare_uplink(UPLINK, settings(uplinkTimeValidity="10m"), SENT_AT + 5, SENT_AT + 60)
    assert uplink.expires_at == pytest.approx(SENT_AT + 600)


def test_an_expired_uplink_is_rejected_as_expired():
    with pytest.raises(UplinkRejected, match=r"is 700s old, older than uplinkTimeValidity \(600s\)") as rejected:
        prepare_uplink(UPLINK, settings(uplinkTimeValidity="10m"), SENT_AT, SENT_AT + 700)
    assert rejected.value.expired


def test_legacy_and_raw_decoded_formats_reshape_only_uplinks():
    decoded = json.loads((DATA / "uplink-decoded.json").read_text())
    raw = prepare_uplink(decoded, settings(sendRawDecodedFormat=True), SENT_AT, SENT_AT)
    assert orjson.loads(raw.payload) == decoded["DevEUI_uplink"]["payload"]
    legacy = prepare_uplink(UPLINK, settings(sendMetadata=True), SENT_AT, SENT_AT)
    assert orjson.loads(legacy.payload) == UPLINK["DevEUI_uplink"]
    location = json.loads((DATA / "location.json").read_text())
    kept = prepare_uplink(location, settings(sendMetadata=True), SENT_AT, SENT_AT)
    assert orjson.loads(kept.payload) == location  # a location report keeps its root


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([1, 2], "an uplink must be a JSON object"),
        ({"deviceInfo": {"devEui": "0018b20000000b20"}, "data": "AQ=="}, "not a ThingPark document"),
        ({"DevEUI_uplink": {"DevEUI": "0018B20000000B20", "CustomerData": {"site": "a/b"}}}, "'/'"),
    ],
)
def test_what_cannot_be_published_is_rejected_with_the_reason(document, reason):
    with pytest.raises(UplinkRejected, match=reason) as rejected:
        prepare_uplink(document, settings(uplinkTopicPattern="s/{CustomerData.site}/{DevEUI}"), 0, 0)
    assert not rejected.value.expired


def test_aws_iot_limits_are_checked_on_the_rendered_topic():
    aws = settings(hostName="abc123-ats.iot.eu-west-1.amazonaws.com:8883", uplinkTopicPattern="t/{CustomerData.name}")
    document = {"DevEUI_uplink": {"DevEUI": "0018B20000000B20", "CustomerData": {"name": "n" * 300}}}
    with pytest.raises(UplinkRejected, match="256") as rejected:
        prepare_uplink(document, aws, 0, 0)
    assert "AWS IoT" in str(rejected.value)


# -- prepare_bytes: the same decisions from the JSON bytes, reading only the fields the connection needs -----------
def outcome(prepare, *args):
    try:
        return prepare(*args)
    except UplinkRejected as exc:
        return ("rejected", str(exc), exc.expired)


def both_ways(connection, data: bytes, arrival: float = SENT_AT, now: float = SENT_AT + 1):
    """(what prepare_bytes gives, what prepare gives on the parsed document)."""
    preparer = UplinkPreparer(connection)
    return outcome(preparer.prepare_bytes, data, arrival, now), outcome(
        preparer.prepare, orjson.loads(data), arrival, now, data
    )


@pytest.mark.parametrize(
    ("pattern", "validity", "data"),
    [
        ("mqtt/things/{DevEUI}/uplink", None, (DATA / "uplink.json").read_bytes()),
        ("s/{Lrrid}/{FPort}/{DevEUI}", "10m", (DATA / "uplink.json").read_bytes()),  # numbers, Time read
        ("s/{Lrrid}/{DevEUI}", "10m", b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","Time":"2026-01-01T00:00:00Z"}}'),
        ("s/{Lrrid}/{DevEUI}", None, b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20"}}'),  # Lrrid missing
        ("s/{Lrrid}/{DevEUI}", None, b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","Lrrid":["a"]}}'),
        ("s/{DevEUI}", None, b'{"DevEUI_uplink":{"DevEUI":"0018B2000000XX20"}}'),  # not a DevEUI
        ("s/{DevEUI}", None, b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","DevEUI":"0018B20000000B21"}}'),
        ("s/{DevEUI}", None, b'{"DevEUI_uplink":{"DevEUI":"A"},"DevEUI_uplink":{"DevEUI":"0018B20000000B22"}}'),
        ("s/{DevEUI}", None, b'{"DevEUI_uplink":{"FPort":1}}'),
    ],
)
def test_from_the_bytes_an_uplink_gets_the_same_topic_payload_expiry_or_rejection(pattern, validity, data):
    configuration = {"uplinkTopicPattern": pattern, **({"uplinkTimeValidity": validity} if validity else {})}
    from_bytes, parsed = both_ways(settings(**configuration), data)
    assert from_bytes == parsed
    if not isinstance(from_bytes, tuple) or from_bytes[0] != "rejected":
        assert from_bytes.payload is data  # published as the very bytes that came in


@pytest.mark.parametrize(
    "data",
    [
        (DATA / "location.json").read_bytes(),  # another root
        (DATA / "uplink-legacy.json").read_bytes(),  # no root
        b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20"},"extra":1}',
        b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","name":"caf\xc3\xa9"}}',  # not ASCII: full parser
        b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20"}',
        b'{"DevEUI_uplink":[]}',
        b'{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","x":' + b"[" * 5000 + b"]" * 5000 + b"}}",
        b"not json",
    ],
)
def test_what_is_not_a_plain_uplink_in_json_is_left_to_the_full_parser(data):
    assert UplinkPreparer(settings()).prepare_bytes(data, 0, 0) is None


@pytest.mark.parametrize(
    "configuration",
    [
        {"uplinkTopicPattern": "s/{CustomerData.name}/{DevEUI}"},  # a nested field
        {"uplinkTopicPattern": "s/{$..tags[0]}/{DevEUI}"},  # a JsonPath
        {"uplinkTopicPattern": "s/{DocumentType}/{DevEUI}"},  # the kind: fields are built for it
        {"sendMetadata": True},
        {"sendRawDecodedFormat": True},
    ],
)
def test_connections_that_need_the_whole_document_always_parse_it(configuration):
    data = (DATA / "uplink.json").read_bytes()
    assert UplinkPreparer(settings(**configuration)).prepare_bytes(data, SENT_AT, SENT_AT) is None


def test_damaged_uplinks_read_from_the_bytes_are_taken_exactly_when_the_full_parser_takes_them():
    """3,000 uplinks damaged at random (bytes changed, inserted, deleted): whatever the byte path decides, the
    parsed path decides the same; what it leaves alone, the full parser judges."""
    rng = random.Random(20261202)
    original = (DATA / "uplink.json").read_bytes()
    alphabet = b'{}[]",:0123456789.eE+-\\u \tabcfnrtDTx'
    preparer = UplinkPreparer(settings(uplinkTopicPattern="s/{Lrrid}/{DevEUI}", uplinkTimeValidity="1d"))
    decided = 0
    for _ in range(3000):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            position, byte = rng.randrange(len(damaged)), alphabet[rng.randrange(len(alphabet))]
            operation = rng.randrange(3)
            if operation == 0:
                damaged[position] = byte
            elif operation == 1:
                damaged.insert(position, byte)
            else:
                del damaged[position]
        data = bytes(damaged)
        from_bytes = outcome(preparer.prepare_bytes, data, SENT_AT, SENT_AT + 1)
        if from_bytes is None:
            continue
        decided += 1
        assert from_bytes == outcome(preparer.prepare, orjson.loads(data), SENT_AT, SENT_AT + 1, data), data
    assert decided > 500  # most damage lands in values, which the byte path reads past
