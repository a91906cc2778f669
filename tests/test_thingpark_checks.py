"""ThingPark documents, limit by limit and reason by reason: the exact text a sender reads, the limits at their
edges, and the simulator's radio fields agreeing with each other as a network server's would."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import orjson
import pytest

from flowhost_builtins.thingpark import (
    DOCUMENT_ROOTS,
    MAX_DOWNLINK_BYTES,
    MAX_DOWNLINK_DEPTH,
    MAX_UPLINK_DEPTH,
    DocumentError,
    make_uplink,
    matches,
    parse_downlink,
    parse_posted_uplink,
    parse_uplink,
    uplink_fields,
)

DEV_EUI = "78AF580300000345"


def nested(depth: int, innermost: object = 1) -> object:
    """``depth`` levels of objects, the outermost one included."""
    value = innermost
    for _ in range(depth):
        value = {"a": value}
    return value


def downlink_refusal(raw: bytes) -> str:
    with pytest.raises(DocumentError) as caught:
        parse_downlink(raw, {}, None)
    return str(caught.value)


def uplink_refusal(raw) -> str:
    with pytest.raises(DocumentError) as caught:
        parse_uplink(raw)
    return str(caught.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"DevEUI_downlink": "\xc3\x28"}', "downlink document is not UTF-8 text (bad byte at offset 21)"),
        (b'{"DevEUI_downlink": []}', "DevEUI_downlink must be an object, got an array"),
        (b'{"DevEUI_downlink": null}', "DevEUI_downlink must be an object, got null"),
        (b'{"DevEUI_downlink": {}, "x": 1}', "a downlink document holds only DevEUI_downlink, found 'x' too"),
        (b'{"y": 1, "DevEUI_downlink": {}}', "a downlink document holds only DevEUI_downlink, found 'y' too"),
        (orjson.dumps(nested(MAX_DOWNLINK_DEPTH + 1)), "downlink document is nested deeper than 32 levels"),
        (b'"' + b"a" * (MAX_DOWNLINK_BYTES - 1) + b'"', "downlink document is larger than 64 KiB"),
    ],
)
def test_a_downlink_document_is_refused_with_the_whole_reason(raw: bytes, reason: str) -> None:
    assert downlink_refusal(raw) == reason


def test_a_downlink_document_that_is_not_json_says_where() -> None:
    assert downlink_refusal(b'{"DevEUI_downlink": }').startswith("downlink document is not JSON: unexpected character")


def test_downlink_limits_are_inclusive() -> None:
    at_the_limit = b'"' + b"a" * (MAX_DOWNLINK_BYTES - 2) + b'"'
    assert parse_downlink(at_the_limit, {}, None).kind == "other"
    deepest = parse_downlink(orjson.dumps(nested(MAX_DOWNLINK_DEPTH)), {}, None)
    assert deepest.kind == "other" and deepest.document == nested(MAX_DOWNLINK_DEPTH)
    # Depth counts in any branch, not only the first one.
    wide = orjson.dumps({"a": 1, "b": [1, nested(MAX_DOWNLINK_DEPTH - 1)]})
    assert downlink_refusal(wide) == "downlink document is nested deeper than 32 levels"


def test_uplink_nesting_limit() -> None:
    fields = {"DevEUI": DEV_EUI, "payload": nested(MAX_UPLINK_DEPTH - 2)}
    assert parse_uplink(orjson.dumps({"DevEUI_uplink": fields}))["DevEUI_uplink"] == fields
    deeper = {"DevEUI_uplink": {"DevEUI": DEV_EUI, "FPort": 1, "payload": [nested(MAX_UPLINK_DEPTH - 2)]}}
    assert uplink_refusal(orjson.dumps(deeper)) == "uplink is nested deeper than 32 levels of arrays and objects"


def posted_refusal(raw: bytes) -> str:
    with pytest.raises(DocumentError) as caught:
        parse_posted_uplink(raw)
    return str(caught.value)


def test_a_posted_uplink_at_the_nesting_limit_whatever_its_count_of_brackets() -> None:
    at_limit = {"DevEUI_uplink": {"DevEUI": DEV_EUI, "payload": nested(MAX_UPLINK_DEPTH - 2)}}
    many = {"DevEUI_uplink": {"DevEUI": DEV_EUI, "list": [{"a": [1]} for _ in range(MAX_UPLINK_DEPTH)]}}
    for document in (at_limit, many):  # the second one has more brackets than levels allowed, all shallow
        assert parse_posted_uplink(orjson.dumps(document)) == (document, True)
    deeper = {"DevEUI_uplink": {"DevEUI": DEV_EUI, "payload": [nested(MAX_UPLINK_DEPTH - 2)]}}
    assert posted_refusal(orjson.dumps(deeper)) == "uplink is nested deeper than 32 levels of arrays and objects"
    assert posted_refusal(b"[" * 40 + b"]" * 40) == "uplink must be a JSON object, got an array"


def test_a_posted_uplink_is_the_document_posted_unless_its_dev_eui_was_upper_cased() -> None:
    body = orjson.dumps({"DevEUI_uplink": {"DevEUI": DEV_EUI, "FPort": 1}})
    document, unchanged = parse_posted_uplink(body)
    assert unchanged and document == orjson.loads(body)
    document, unchanged = parse_posted_uplink(body.replace(DEV_EUI.encode(), DEV_EUI.lower().encode()))
    assert not unchanged and document == orjson.loads(body)
    legacy, unchanged = parse_posted_uplink(b'{"DevEUI": "78af580300000345", "FPort": 1}')
    assert not unchanged and legacy == {"DevEUI": DEV_EUI, "FPort": 1}
    assert (
        posted_refusal(b'{"DevEUI_uplink": {"DevEUI": "78AF58"}}')
        == "DevEUI must be 16 hexadecimal digits, got '78AF58'"
    )
    assert posted_refusal(b"{oops").startswith("uplink is not JSON: unexpected character")


def test_a_base_station_alarm_whose_dev_eui_is_null_is_an_alarm_that_names_no_device() -> None:
    alarm = {"BS_alarm": {"LrrID": "100019D4", "DevEUI": None}}
    assert parse_uplink(alarm) == alarm  # was an AttributeError ('NoneType' has no 'upper'): a 500 over HTTP
    assert parse_posted_uplink(orjson.dumps(alarm)) == (alarm, True)


def test_uplink_that_is_not_json() -> None:
    assert uplink_refusal("{oops").startswith("uplink is not JSON: unexpected character")
    assert uplink_refusal(b"\xff") == "uplink is not UTF-8 text (bad byte at offset 0)"


def test_an_uplink_keeps_its_other_keys_and_upper_cases_only_the_dev_eui() -> None:
    legacy = parse_uplink({"DevEUI": "78af580300000345", "payload_hex": "0A"})
    assert legacy == {"DevEUI": DEV_EUI, "payload_hex": "0A"}
    location = parse_uplink({"DevEUI_location": {"DevEUI": "78af580300000345", "DevLocTime": "t"}})
    assert location == {"DevEUI_location": {"DevEUI": DEV_EUI, "DevLocTime": "t"}}
    alarm = {"BS_alarm": {"LrrID": "100019D4"}}
    assert parse_uplink(alarm) == alarm


def test_uplink_fields_of_a_root_that_is_not_an_object_are_the_document() -> None:
    document = {"DevEUI_uplink": "text", "DevEUI": DEV_EUI}
    assert uplink_fields(document) is document


def test_matchers_skip_tags_that_are_not_text_and_customer_data_that_is_not_an_object() -> None:
    assert matches({"CustomerData": {"tags": [3, "site=Paris"]}}, None, None, {"site=Paris"})
    assert not matches({"CustomerData": {"tags": [3]}}, None, None, {"3"})
    assert not matches({"CustomerData": ["site=Paris"]}, None, None, {"site=Paris"})
    assert not matches({"CustomerData": {"tags": "site=Paris"}}, None, None, {"site=Paris"})
    assert not matches({"DevEUI": 78}, {"78"}, None, None)
    assert matches({"FPort": "2"}, None, {2}, None)


@pytest.mark.parametrize(("given", "sent"), [(True, 1), (False, 0), ("1", 1), (0, 0)])
def test_confirmed_is_sent_as_thingpark_writes_it(given, sent) -> None:
    fields = {"DevEUI": DEV_EUI, "FPort": 1, "payload_hex": "00", "Confirmed": given, "FlushDownlinkQueue": given}
    result = parse_downlink(orjson.dumps({"DevEUI_downlink": fields}), {}, None)
    assert result.kind == "downlink"
    assert result.command["Confirmed"] == sent and result.command["FlushDownlinkQueue"] == sent
    assert type(result.command["Confirmed"]) is int


# ------------------------------------------------------------------------------------ simulated uplinks

# ThingPark's EU868 channels: name, sub-band, frequency (MHz).
EU868 = {
    "LC1": ("G1", 868.1),
    "LC2": ("G1", 868.3),
    "LC3": ("G1", 868.5),
    "LC4": ("G0", 867.1),
    "LC5": ("G0", 867.3),
    "LC6": ("G0", 867.5),
    "LC7": ("G0", 867.7),
    "LC8": ("G0", 867.9),
}


def expected_spreading_factor(snr: float) -> int:
    """The demodulation floor of LoRa (-7.5 dB at SF7, 2.5 dB lower per step) with a 5 dB margin (Semtech AN1200.22,
    LoRa modulation basics, table 13)."""
    for spreading_factor in range(7, 12):
        if snr >= -7.5 - 2.5 * (spreading_factor - 7) + 5:
            return spreading_factor
    return 12


def simulated(seed: int, fcnt: int = 1234, now: datetime | None = None) -> dict:
    now = now or datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    return make_uplink("78af580300000345", fcnt, 2, "0A6401", now, random.Random(seed))["DevEUI_uplink"]


def test_the_simulated_spreading_factor_follows_the_snr_of_the_best_gateway() -> None:
    seen = set()
    for seed in [*range(300), 2208]:  # 2208: a rare weak uplink (SNR -10.3)
        fields = simulated(seed)
        snr = float(fields["LrrSNR"])
        assert int(fields["SpFact"]) == expected_spreading_factor(snr), (seed, snr)
        seen.add(int(fields["SpFact"]))
    assert seen == {7, 8, 9, 10, 11}  # SF12 needs an SNR below -12.5 dB, which the simulator almost never draws


def test_the_simulated_radio_fields_agree_with_each_other() -> None:
    gateway_counts = set()
    for seed in range(100):
        fields = simulated(seed)
        gateways = fields["Lrrs"]["Lrr"]
        gateway_counts.add(len(gateways))
        assert fields["DevLrrCnt"] == str(len(gateways))
        rssis = [float(gateway["LrrRSSI"]) for gateway in gateways]
        assert rssis == sorted(rssis, reverse=True)  # the best gateway first, as ThingPark lists them
        best = gateways[0]
        assert (fields["Lrrid"], fields["LrrRSSI"], fields["LrrSNR"], fields["LrrESP"]) == (
            best["Lrrid"],
            best["LrrRSSI"],
            best["LrrSNR"],
            best["LrrESP"],
        )
        for gateway in gateways:
            assert set(gateway) == {"Lrrid", "Chain", "LrrRSSI", "LrrSNR", "LrrESP"}
            assert -120 <= float(gateway["LrrRSSI"]) <= -60 and -20 <= float(gateway["LrrSNR"]) <= 12
            assert float(gateway["LrrESP"]) == pytest.approx(float(gateway["LrrRSSI"]) - 0.79, abs=1e-5)
            assert len(gateway["Lrrid"]) == 8 and int(gateway["Lrrid"], 16) >= 0
        assert abs(float(fields["LrrLAT"]) - 45.1885) <= 0.05 and abs(float(fields["LrrLON"]) - 5.7245) <= 0.05
        assert (fields["SubBand"], fields["Frequency"]) == EU868[fields["Channel"]]
        assert len(fields["mic_hex"]) == 8 and int(fields["mic_hex"], 16) >= 0
        assert 0 <= fields["MeanPER"] <= 0.05
    assert gateway_counts == {1, 2, 3}


def test_the_simulated_counters_and_device_fields() -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=timezone(timedelta(hours=1)))
    fields = simulated(5, fcnt=1234, now=now)
    assert (fields["FCntUp"], fields["FCntDn"], fields["FPort"]) == ("1234", "123", "2")
    assert (fields["DevEUI"], fields["DevAddr"], fields["payload_hex"]) == (DEV_EUI, "00000345", "0a6401")
    assert fields["CustomerData"] == {
        "alr": {"pro": "LORA/Generic", "ver": "1"},
        "tags": ["simulated"],
        "name": "Simulated 0345",
    }
    emitted = datetime.fromisoformat(fields["Time"])
    assert emitted.utcoffset() == timedelta(hours=1) and len(fields["Time"].split(".")[1]) == len("000+01:00")
    assert timedelta(milliseconds=20) <= now - emitted <= timedelta(milliseconds=400)


@pytest.mark.parametrize("fport", [0, 255])
def test_the_simulator_takes_every_fport(fport: int) -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    assert make_uplink(DEV_EUI, 1, fport, "", now, random.Random(1))["DevEUI_uplink"]["FPort"] == str(fport)


@pytest.mark.parametrize(("fport", "payload_hex"), [(-1, "00"), (256, "00"), (1, "0g")])
def test_the_simulator_refuses_a_bad_fport_or_payload(fport: int, payload_hex: str) -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError) as caught:
        make_uplink(DEV_EUI, 1, fport, payload_hex, now, random.Random(1))
    assert str(caught.value) == (f"FPort must be 0..255 and payload_hex even-length hex, got {fport}, {payload_hex!r}")


def test_the_simulated_snr_follows_the_rssi_with_some_noise() -> None:
    """A gateway that hears the device louder hears it clearer: SNR = (RSSI + 120) / 4 - 5 dB, give or take 2 dB
    (the simulator's model, fixed seeds: the figures below are exact for them, not a matter of luck)."""
    residuals = []
    for seed in range(300):
        for gateway in simulated(seed)["Lrrs"]["Lrr"]:
            rssi, snr = float(gateway["LrrRSSI"]), float(gateway["LrrSNR"])
            if -20 < snr < 12:  # not clamped
                residuals.append(snr - ((rssi + 120) / 4 - 5))
    mean = statistics.fmean(residuals)
    assert len(residuals) > 300 and abs(mean) < 0.3
    assert 1.7 < statistics.pstdev(residuals) < 2.3


def test_a_document_that_is_not_thingparks_names_its_first_five_keys() -> None:
    five = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    roots = ", ".join(DOCUMENT_ROOTS)
    assert uplink_refusal(five) == (
        f"not a ThingPark document: it has none of the roots {roots} nor a DevEUI at the top level (a legacy "
        "uplink); found 'a', 'b', 'c', 'd', 'e'"
    )
    assert uplink_refusal({**five, "f": 6}).endswith("found 'a', 'b', 'c', 'd', 'e', ...")


def test_a_long_value_is_cut_in_the_reason_and_a_boolean_named() -> None:
    assert uplink_refusal({"DevEUI": "0" * 60}) == f"DevEUI must be 16 hexadecimal digits, got '{'0' * 39}..."
    assert uplink_refusal({"DevEUI": "0" * 38}) == f"DevEUI must be 16 hexadecimal digits, got '{'0' * 38}'"
    assert uplink_refusal({"DevEUI_location": True}) == "DevEUI_location must be an object, got a boolean"


def test_uplink_fields_inside_a_read_only_mapping() -> None:
    inner = MappingProxyType({"DevEUI": DEV_EUI})
    assert uplink_fields({"DevEUI_uplink": inner}) is inner
