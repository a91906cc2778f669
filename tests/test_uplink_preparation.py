"""prepare_uplink: document, settings and time -> topic, payload bytes and expiry, or the reason it is rejected.
No broker: the connector's decisions about one uplink, on their own."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from flowhost_builtins.mqtt_connection_config import CONFIGURATION_SCHEMA, settings_from_configuration
from flowhost_builtins.uplink_preparation import UplinkRejected, prepare_uplink

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
