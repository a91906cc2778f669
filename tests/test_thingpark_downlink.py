"""Every field of ThingPark's downlink reference, with Actility's own example (tests/data/thingpark, source in its
README), and the connection's downlinkAsId / downlinkAsKey."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from flowhost_builtins.mqtt_connection_config import CONFIGURATION_SCHEMA, SECRET_FIELDS, settings_from_configuration
from flowhost_builtins.thingpark import DocumentError, parse_downlink

SAMPLES = Path(__file__).parent / "data" / "thingpark"
DEV_EUI = "0018B20000000B20"
BASE = {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "01"}
TOKEN = "b5a84fe9c8921e9de359e3041a37b76c4b122f6f9b83577b5596c842052f7e62"


def command(fields: dict, application_server: dict | None = None) -> dict:
    result = parse_downlink(orjson.dumps({"DevEUI_downlink": fields}), {}, None, application_server)
    assert result.kind == "downlink"
    return result.command


def refusal(fields: dict) -> str:
    with pytest.raises(DocumentError) as caught:
        command(fields)
    return str(caught.value)


def test_actilitys_example_with_optional_fields_is_accepted() -> None:
    example = json.loads((SAMPLES / "downlink-optional.json").read_bytes())["DevEUI_downlink"]
    result = parse_downlink((SAMPLES / "downlink-optional.json").read_bytes(), {}, None)
    assert result.command == {**example, "Confirmed": 1, "FlushDownlinkQueue": 1}
    assert result.command["DriverCfg"] == {"app": {"pId": "abeeway", "mId": "asset-tracker", "ver": "1"}}


def test_the_reference_fields_the_example_leaves_out() -> None:
    fields = {**BASE, "FCntDn": "47", "AFCntDn": 12, "Token": TOKEN, "RetryIneligibleGateways": "0"}
    assert command(fields) == {**BASE, "FCntDn": 47, "AFCntDn": 12, "Token": TOKEN, "RetryIneligibleGateways": 0}


@pytest.mark.parametrize(("given", "kept"), [(3600, 3600), ("3600", 3600), (0, 0), ("2019-07-10T16:38:46Z", None)])
def test_validity_time_is_a_date_or_seconds(given, kept) -> None:
    assert command({**BASE, "ValidityTime": given})["ValidityTime"] == (given if kept is None else kept)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("FCntDn", 2**32, "FCntDn must be a 32-bit unsigned integer (0..4294967295), got 4294967296"),
        ("AFCntDn", -1, "AFCntDn must be a 32-bit unsigned integer"),
        ("FCntDn", "x", "FCntDn must be a whole number, got 'x'"),
        ("RetryIneligibleGateways", 2, "RetryIneligibleGateways must be 0 or 1, got 2"),
        ("ValidityTime", -5, "ValidityTime in seconds must be a whole number of 0 or more"),
        ("ValidityTime", "tomorrow", "ValidityTime must be an ISO 8601 time such as"),
        ("Token", "abc", "Token must be 64 hexadecimal digits (a 256-bit signature), got a string"),
        ("AS_ID", "", "AS_ID must be non-empty text, got a string"),
        ("AS_KEY", 1234, "AS_KEY must be non-empty text, got a number"),
        ("DriverCfg", "abeeway", "DriverCfg must be an object, got a string"),
        ("CorrelationID", "12", "CorrelationID must be 16 hexadecimal digits, got '12'"),
    ],
)
def test_reference_fields_are_checked_as_defined(field: str, value, reason: str) -> None:
    assert reason in refusal({**BASE, field: value})


def test_a_secret_field_is_never_echoed() -> None:
    assert "s3cr3t" not in refusal({**BASE, "AS_KEY": ["s3cr3t"]})


def test_fields_outside_the_reference_pass_through_but_misspelt_ones_are_refused() -> None:
    assert command({**BASE, "ApplicationRef": {"site": 4}})["ApplicationRef"] == {"site": 4}
    assert refusal({**BASE, "Confirmd": 1}) == "unknown field 'Confirmd' in DevEUI_downlink (did you mean 'Confirmed'?)"


def test_the_connections_application_server_fills_downlinks_that_have_none() -> None:
    server = {"AS_ID": "TWA_199983788.1972.AS", "AS_KEY": "9311e22d7d44fc52215b0dc154aa1d22"}
    assert command(BASE, server) == {**BASE, **server}
    own = {**BASE, "AS_ID": "OTHER.AS"}
    assert command(own, server) == own  # the sender's own AS_ID: the connection's pair is not mixed in


def test_downlink_as_id_and_key_in_the_connection_configuration() -> None:
    configuration = CONFIGURATION_SCHEMA(
        {
            "hostName": "127.0.0.1:1883",
            "protocol": "TCP",
            "uplinkTopicPattern": "tp/{DevEUI}/up",
            "downlinkTopicPattern": "tp/{DevEUI}/down",
            "downlinkAsId": "TWA_199983788.1972.AS",
            "downlinkAsKey": "9311e22d7d44fc52215b0dc154aa1d22",
        }
    )
    settings = settings_from_configuration("c", configuration)
    assert settings.downlink_application_server == {
        "AS_ID": "TWA_199983788.1972.AS",
        "AS_KEY": "9311e22d7d44fc52215b0dc154aa1d22",
    }
    assert "downlinkAsKey" in SECRET_FIELDS
    assert "9311e22d" not in repr(settings)
