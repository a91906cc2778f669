"""ThingPark documents: the sample documents and every reason a document is refused."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhost_builtins.thingpark import (
    MAX_DOWNLINK_BYTES,
    MAX_DOWNLINK_DEPTH,
    DocumentError,
    make_uplink,
    matches,
    parse_downlink,
    parse_uplink,
    uplink_age,
    uplink_fields,
    uplink_time,
)

SAMPLES = Path(__file__).parent / "data" / "thingpark"
DEV_EUI = "78AF580300000345"


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict:
    return json.loads(sample_bytes(name))


def downlink(fields: dict, topic_values: dict | None = None, default_fport: int | None = None) -> dict:
    raw = orjson.dumps({"DevEUI_downlink": fields})
    result = parse_downlink(raw, topic_values or {}, default_fport)
    assert result.kind == "downlink"
    return result.command


def refused(fields: dict, topic_values: dict | None = None, default_fport: int | None = None) -> str:
    with pytest.raises(DocumentError) as caught:
        downlink(fields, topic_values, default_fport)
    return str(caught.value)


# ------------------------------------------------------------------------------------ uplinks


@pytest.mark.parametrize("name", ["uplink.json", "uplink-decoded.json"])
def test_wrapped_sample_uplinks_keep_their_shape(name: str) -> None:
    document = parse_uplink(sample_bytes(name))
    assert document == sample(name)
    assert uplink_fields(document) is document["DevEUI_uplink"]


def test_legacy_sample_uplink_has_no_root_node() -> None:
    document = parse_uplink(sample_bytes("uplink-legacy.json"))
    assert "DevEUI_uplink" not in document
    assert uplink_fields(document)["FCntUp"] == 124


@pytest.mark.parametrize(
    "raw",
    [
        b'{"DevEUI_uplink": {"DevEUI": "78af580300000345", "FPort": 1}}',
        '{"DevEUI_uplink": {"DevEUI": "78af580300000345", "FPort": 1}}',
        {"DevEUI_uplink": {"DevEUI": "78af580300000345", "FPort": 1}},
    ],
)
def test_uplink_dev_eui_is_upper_cased_from_bytes_text_or_mapping(raw) -> None:
    assert parse_uplink(raw) == {"DevEUI_uplink": {"DevEUI": DEV_EUI, "FPort": 1}}


def test_parse_uplink_does_not_change_a_given_mapping() -> None:
    given_document = {"DevEUI": "78af580300000345"}
    assert parse_uplink(given_document) == {"DevEUI": DEV_EUI}
    assert given_document == {"DevEUI": "78af580300000345"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", r"^uplink is not JSON: "),
        (b'{"DevEUI": "\xff\xfe"}', r"^uplink is not UTF-8 text \(bad byte at offset 12\)$"),
        (b"[1, 2]", r"^uplink must be a JSON object, got an array$"),
        (b'"text"', r"^uplink must be a JSON object, got a string$"),
        (b'{"DevEUI_uplink": 3}', r"^DevEUI_uplink must be an object, got a number$"),
        (b'{"DevEUI_uplink": {"FPort": 1}}', r"^uplink has no DevEUI$"),
        (b'{"FPort": 1}', r"^not a ThingPark document: it has none of the roots DevEUI_uplink, DevEUI_location"),
        (b'{"DevEUI": "78AF5803"}', r"^DevEUI must be 16 hexadecimal digits, got '78AF5803'$"),
        (b'{"DevEUI": "78AF58030000034G"}', r"^DevEUI must be 16 hexadecimal digits"),
        (b'{"DevEUI": 1234}', r"^DevEUI must be 16 hexadecimal digits, got 1234$"),
    ],
)
def test_uplink_refused_with_its_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DocumentError, match=reason):
        parse_uplink(raw)


def test_uplink_time_keeps_the_offset() -> None:
    moment = uplink_time(uplink_fields(sample("uplink.json")))
    assert moment == datetime(2018, 10, 3, 13, 38, 46, 882000, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("fields", [{}, {"Time": "yesterday"}, {"Time": 1234}])
def test_uplink_without_a_usable_time_has_none(fields: dict) -> None:
    assert uplink_time(fields) is None


def test_uplink_time_without_offset_is_utc() -> None:
    assert uplink_time({"Time": "2026-11-26T07:00:00"}) == datetime(2026, 11, 26, 7, tzinfo=UTC)


def test_uplink_age_counts_from_time_else_from_arrival() -> None:
    now = datetime(2026, 11, 26, 7, 10, tzinfo=UTC)
    arrival = datetime(2026, 11, 26, 7, 9, 30, tzinfo=UTC)
    assert uplink_age(uplink_fields(sample("uplink-decoded.json")), now, arrival) == 600.0
    assert uplink_age({"DevEUI": DEV_EUI}, now, arrival) == 30.0


# ------------------------------------------------------------------------------------ matchers


@pytest.mark.parametrize(
    ("dev_euis", "fports", "tags", "expected"),
    [
        (None, None, None, True),
        ({"0018B20000000B20"}, None, None, True),
        ({DEV_EUI}, None, None, False),
        (None, {1, 2}, None, True),
        (None, {3}, None, False),
        (None, None, {"site=Paris", "site=Lyon"}, True),
        (None, None, {"site=Lyon"}, False),
        ({"0018B20000000B20"}, {1}, {"site=Paris"}, True),
        ({"0018B20000000B20"}, {1}, {"site=Lyon"}, False),
    ],
)
def test_flow_matchers(dev_euis, fports, tags, expected: bool) -> None:
    assert matches(uplink_fields(sample("uplink.json")), dev_euis, fports, tags) is expected


def test_matchers_treat_lower_case_dev_eui_and_number_fport_alike() -> None:
    assert matches({"DevEUI": "0018b20000000b20", "FPort": 1}, {"0018B20000000B20"}, {1}, None)


def test_matchers_refuse_uplinks_missing_the_field() -> None:
    assert not matches({}, {DEV_EUI}, None, None)
    assert not matches({"FPort": "x"}, None, {1}, None)
    assert not matches(uplink_fields(sample("uplink-legacy.json")), None, None, {"site=Paris"})


# ------------------------------------------------------------------------------------ downlinks


def test_sample_downlink_numbers_given_as_strings_become_ints() -> None:
    result = parse_downlink(sample_bytes("downlink.json"), {}, None)
    assert result.kind == "downlink"
    assert result.document == {
        "DevEUI_downlink": {
            "DevEUI": "A81758FFFE04F27E",
            "FPort": 8,
            "payload_hex": "9e1c4852512000220020e3831071",
            "Confirmed": 1,
            "FlushDownlinkQueue": 1,
            "Time": "2022-06-08T15:50:00.882+02:00",
        }
    }


def test_minimal_sample_downlink() -> None:
    result = parse_downlink(sample_bytes("downlink-minimal.json"), {"DevEUI": DEV_EUI.lower()}, None)
    assert result.command == {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "0100"}


def test_dev_eui_and_fport_can_come_from_the_topic() -> None:
    command = downlink({"payload_hex": "AB"}, {"DevEUI": "78af580300000345", "FPort": "5"})
    assert command == {"DevEUI": DEV_EUI, "FPort": 5, "payload_hex": "ab"}


def test_document_fport_wins_over_topic_and_default() -> None:
    assert downlink({"DevEUI": DEV_EUI, "FPort": 3, "payload_hex": ""}, {"FPort": "5"}, 7)["FPort"] == 3


def test_connection_downlink_port_is_the_last_resort() -> None:
    assert downlink({"DevEUI": DEV_EUI, "payload_hex": "01"}, {}, 7)["FPort"] == 7


def test_decoded_payload_object_and_optional_fields() -> None:
    command = downlink(
        {
            "DevEUI": DEV_EUI,
            "FPort": 2,
            "payload": {"setpoint": 21.5},
            "Confirmed": False,
            "FlushDownlinkQueue": "0",
            "ValidityTime": "2026-11-26T08:00:00Z",
            "CorrelationID": "0123456789abcdef",
        }
    )
    assert command == {
        "DevEUI": DEV_EUI,
        "FPort": 2,
        "payload": {"setpoint": 21.5},
        "Confirmed": 0,
        "FlushDownlinkQueue": 0,
        "ValidityTime": "2026-11-26T08:00:00Z",
        "CorrelationID": "0123456789abcdef",
    }


@pytest.mark.parametrize(
    "raw",
    [b'{"DevEUI_downlink_Sent": {"DeliveryStatus": 1}}', b"[1, 2, 3]", b'"hello"', b"42", b"null", b"{}"],
)
def test_other_valid_json_is_forwarded_untouched(raw: bytes) -> None:
    result = parse_downlink(raw, {"DevEUI": DEV_EUI}, None)
    assert result.kind == "other"
    assert result.document == json.loads(raw)


@pytest.mark.parametrize(
    ("fields", "topic_values", "default_fport", "reason"),
    [
        (
            {"FPort": 1, "payload_hex": "01"},
            {},
            None,
            "downlink has no DevEUI, in the document or in the topic",
        ),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "01"},
            {"DevEUI": "0018B20000000B20"},
            None,
            f"DevEUI {DEV_EUI} in the document does not match 0018B20000000B20 in the topic",
        ),
        (
            {"DevEUI": "78AF", "FPort": 1, "payload_hex": "01"},
            {},
            None,
            "DevEUI must be 16 hexadecimal digits",
        ),
        (
            {"FPort": 1, "payload_hex": "01"},
            {"DevEUI": "xyz"},
            None,
            "DevEUI in the topic must be 16 hexadecimal",
        ),
        ({"DevEUI": DEV_EUI, "FPort": 0, "payload_hex": "01"}, {}, None, "FPort must be 1..224"),
        (
            {"DevEUI": DEV_EUI, "FPort": "225", "payload_hex": "01"},
            {},
            None,
            "FPort must be 1..224 (application",
        ),
        ({"DevEUI": DEV_EUI, "FPort": "one", "payload_hex": "01"}, {}, None, "FPort must be a whole number"),
        ({"DevEUI": DEV_EUI, "FPort": 1.5, "payload_hex": "01"}, {}, None, "FPort must be a whole number"),
        ({"DevEUI": DEV_EUI, "FPort": True, "payload_hex": "01"}, {}, None, "FPort must be a whole number"),
        (
            {"DevEUI": DEV_EUI, "payload_hex": "01"},
            {},
            None,
            "no FPort and the connection has no downlinkPort",
        ),
        ({"DevEUI": DEV_EUI, "payload_hex": "01"}, {"FPort": "0"}, None, "FPort in the topic must be 1..224"),
        ({"DevEUI": DEV_EUI, "FPort": 1}, {}, None, "exactly one of payload_hex or payload, got neither"),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "01", "payload": {}},
            {},
            None,
            "exactly one of payload_hex or payload, got both",
        ),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "012"},
            {},
            None,
            "even number of hexadecimal digits",
        ),
        ({"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "zz"}, {}, None, "even number of hexadecimal digits"),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload": [1]},
            {},
            None,
            "payload must be an object, got an array",
        ),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "01", "Confirmed": 2},
            {},
            None,
            "Confirmed must be 0 or 1",
        ),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "01", "FlushDownlinkQueue": "yes"},
            {},
            None,
            "FlushDownlinkQueue must be a whole number",
        ),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "01", "CorrelationID": "12"},
            {},
            None,
            "CorrelationID must be 16 hexadecimal digits",
        ),
        (
            {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "01", "ValidityTime": "soon"},
            {},
            None,
            "ValidityTime must be an ISO 8601 time",
        ),
        (
            {"DevEUI": DEV_EUI, "Fport": 1, "payload_hex": "01"},
            {},
            None,
            "unknown field 'Fport' in DevEUI_downlink (did you mean 'FPort'?)",
        ),
    ],
)
def test_downlink_refused_with_a_specific_reason(fields, topic_values, default_fport, reason: str) -> None:
    assert reason in refused(fields, topic_values, default_fport)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{oops", "downlink document is not JSON"),
        (b'{"DevEUI_downlink": "\xc3\x28"}', "downlink document is not UTF-8 text"),
        (b'{"DevEUI_downlink": []}', "DevEUI_downlink must be an object, got an array"),
        (b'{"DevEUI_downlink": {}, "x": 1}', "holds only DevEUI_downlink, found 'x' too"),
        (b"[" * (MAX_DOWNLINK_DEPTH + 1) + b"]" * (MAX_DOWNLINK_DEPTH + 1), "nested deeper than 32 levels"),
        (b'"' + b"a" * MAX_DOWNLINK_BYTES + b'"', "larger than 64 KiB"),
    ],
)
def test_downlink_document_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_downlink(raw, {}, None)
    assert reason in str(caught.value)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    raw = b"[" * MAX_DOWNLINK_DEPTH + b"]" * MAX_DOWNLINK_DEPTH
    assert parse_downlink(raw, {}, None).kind == "other"


# The stdlib encoder, unlike orjson, writes integers beyond 64 bits and lone surrogates ("\ud800").
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
COMMAND_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        name: JSON_VALUES | st.sampled_from(["1", "0", "224", DEV_EUI, "0a1b", "2026-11-26T08:00:00Z"])
        for name in (
            "DevEUI",
            "FPort",
            "payload_hex",
            "payload",
            "Confirmed",
            "FlushDownlinkQueue",
            "ValidityTime",
            "CorrelationID",
            "Time",
            "Other",
        )
    },
)


@settings(max_examples=400, deadline=None)
@given(
    raw=st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        COMMAND_FIELDS.map(lambda fields: json.dumps({"DevEUI_downlink": fields}).encode()),
    ),
    topic_values=st.fixed_dictionaries(
        {}, optional={"DevEUI": st.sampled_from([DEV_EUI, "bad", ""]), "FPort": st.text(max_size=4)}
    ),
    default_fport=st.none() | st.integers(-5, 300),
)
def test_parse_downlink_raises_only_document_error(raw: bytes, topic_values: dict, default_fport) -> None:
    try:
        result = parse_downlink(raw, topic_values, default_fport)
    except DocumentError:
        return
    if result.kind == "downlink":
        command = result.command
        assert 1 <= command["FPort"] <= 224
        assert len(command["DevEUI"]) == 16 and command["DevEUI"] == command["DevEUI"].upper()
        assert ("payload_hex" in command) != ("payload" in command)
        assert orjson.loads(orjson.dumps(result.document)) == result.document


# ------------------------------------------------------------------------------------ simulated uplinks


def test_simulated_uplink_has_the_shape_of_the_sample() -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    document = make_uplink("78af580300000345", 17, 2, "0A6401", now, random.Random(7))
    fields = document["DevEUI_uplink"]
    assert set(sample("uplink.json")["DevEUI_uplink"]) <= set(fields)
    assert parse_uplink(orjson.dumps(document)) == document
    assert fields["DevEUI"] == DEV_EUI
    assert (fields["FPort"], fields["FCntUp"], fields["payload_hex"]) == ("2", "17", "0a6401")
    assert 0 < uplink_age(fields, now, now) < 1
    assert -120 <= float(fields["LrrRSSI"]) <= -60
    assert 7 <= int(fields["SpFact"]) <= 12
    assert int(fields["DevLrrCnt"]) == len(fields["Lrrs"]["Lrr"])
    assert fields["Lrrs"]["Lrr"][0]["Lrrid"] == fields["Lrrid"]


def test_simulated_uplinks_are_reproducible_from_the_seed() -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    first = make_uplink(DEV_EUI, 1, 1, "00", now, random.Random(3))
    assert first == make_uplink(DEV_EUI, 1, 1, "00", now, random.Random(3))
    assert first != make_uplink(DEV_EUI, 1, 1, "00", now, random.Random(4))


def test_simulated_uplink_refuses_bad_arguments() -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="DevEUI must be 16 hexadecimal digits"):
        make_uplink("xyz", 1, 1, "00", now, random.Random(1))
    with pytest.raises(ValueError, match="payload_hex even-length hex"):
        make_uplink(DEV_EUI, 1, 1, "0", now, random.Random(1))
