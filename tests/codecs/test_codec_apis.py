"""Codec API styles (TS013, ThingPark drivers, TTN v2, ChirpStack v3), detected per file, and malformed results."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowhost_builtins.codec_apis import Codec, CodecError
from flowhost_builtins.codec_loader import load_codec_folder
from flowhost_builtins.js_sandbox import SandboxError

DATA = Path(__file__).parent.parent / "data" / "codecs"
TEMP_HUM = bytes.fromhex("0100e7022d")  # 23.1 degC, 45 %


@pytest.fixture(scope="module")
def good() -> dict[str, Codec]:
    codecs, failures = load_codec_folder(DATA / "good")
    assert failures == {}
    return codecs


@pytest.fixture(scope="module")
def hostile() -> dict[str, Codec]:
    codecs, failures = load_codec_folder(DATA / "hostile")
    assert failures == {}
    return codecs


def test_the_api_style_of_each_file_is_detected(good):
    assert {name: codec.style for name, codec in good.items()} == {
        "temp-hum": "ts013",
        "tracker": "ts013",
        "tp-meter": "thingpark",
        "ttn-counter": "ttn-v2",
        "chirp-level": "chirpstack-v3",
    }


def test_ts013_decode_uplink_gets_bytes_fport_and_recv_time_as_a_date(good):
    decoded = good["temp-hum"].decode_uplink(TEMP_HUM, 1, "2026-12-01T10:00:00.000+01:00")
    assert decoded.data == {"temperature": 23.1, "humidity": 45, "receivedYear": 2026}
    assert decoded.warnings == []


@pytest.mark.parametrize(
    ("time", "seen"),
    [
        ("2026-12-01T10:00:00.250+02:00", "2026-12-01T08:00:00.250Z"),  # ThingPark's form: given as ms, exact
        ("2026-12-01T10:00:00.250Z", "2026-12-01T10:00:00.250Z"),
        ("Tue, 01 Dec 2026 10:00:00 GMT", "2026-12-01T10:00:00.000Z"),  # not ISO: parsed by QuickJS's Date
        ("not a time", "Invalid Date"),
        (None, "null"),
    ],
)
def test_recv_time_is_a_date_of_the_uplink_time(time, seen):
    codec = Codec(
        "clock",
        "function decodeUplink(input) { const t = input.recvTime;"
        " return {data: t instanceof Date ? (isNaN(t) ? 'Invalid Date' : t.toISOString()) : String(t)}; }",
    )
    assert codec.decode_uplink(b"", 1, time).data == seen


def test_ts013_warnings_are_kept_and_errors_make_a_codec_error(good):
    assert good["temp-hum"].decode_uplink(bytes([1, 0, 10, 2, 120]), 1).warnings == ["humidity over 100%"]
    with pytest.raises(CodecError, match="unknown FPort 7") as caught:
        good["temp-hum"].decode_uplink(TEMP_HUM, 7)
    assert caught.value.reason == "errors" and caught.value.errors == ["unknown FPort 7"]


def test_ts013_encode_and_decode_downlink(good):
    encoded = good["temp-hum"].encode_downlink({"interval": 600})
    assert (encoded.bytes, encoded.fport) == ([0x10, 0x02, 0x58], 2)
    assert good["temp-hum"].decode_downlink(bytes(encoded.bytes), 2).data == {"interval": 600}
    with pytest.raises(CodecError, match="interval must be"):
        good["temp-hum"].encode_downlink({"interval": "often"})


def test_thingpark_drivers_also_give_their_points(good):
    decoded = good["tp-meter"].decode_uplink(bytes([0, 1, 0xE2, 0x40, 0x03, 0xE8]), 1, "2026-12-01T10:00:00Z")
    assert decoded.data == {"energy": 123456, "power": 1000}
    assert decoded.points == {"energy": {"unitId": "Wh", "record": 123456}, "power": {"unitId": "W", "record": 1000}}


def test_ttn_v2_decoder_and_encoder(good):
    decoded = good["ttn-counter"].decode_uplink(bytes([0, 0, 1, 0, 250]), 3)
    assert decoded.data == {"pulses": 256, "battery": 2.5, "port": 3}
    encoded = good["ttn-counter"].encode_downlink({"reset": True}, 4)
    assert (encoded.bytes, encoded.fport) == ([1], 4)


def test_chirpstack_v3_decode_and_encode(good):
    assert good["chirp-level"].decode_uplink(bytes([0x04, 0xD2, 1]), 2).data == {
        "level": 1234,
        "valveOpen": True,
        "fPort": 2,
    }
    assert good["chirp-level"].encode_downlink({"open": True}, 5).bytes == [1, 5]


def test_a_large_codec_in_es2015_syntax_decodes(good):
    source = (DATA / "good" / "tracker.js").read_text()
    assert len(source.encode()) > 20_000
    assert all(word in source for word in ("class ", "extends", "const ", "let ", "=>", "`", "...decoder"))
    decoded = good["tracker"].decode_uplink(bytes([0x02, 0x0C, 0x80, 0xFB, 0x05]), 10)
    assert decoded.data == {
        "type": "status",
        "battery": 3.2,
        "temperature": -5,
        "moving": True,
        "charging": False,
        "sos": True,
    }
    assert decoded.warnings == ["battery low: 3.2 V"]


def test_a_file_without_any_known_function_is_refused():
    with pytest.raises(SandboxError, match="defines none of decodeUplink") as caught:
        Codec("nothing", "function helper() {}")
    assert caught.value.reason == "compile"


def test_a_decoder_only_codec_cannot_encode(good):
    with pytest.raises(CodecError, match="has no encodeDownlink") as caught:
        good["tp-meter"].encode_downlink({"x": 1})
    assert caught.value.reason == "missing"


@pytest.mark.parametrize(
    ("fport", "reason", "message"),
    [
        (1, "malformed", "must return an object with data"),
        (2, "malformed", "must return an object with data"),
        (3, "malformed", "warnings must be a list of strings"),
        (4, "exception", "circular"),
        (5, "exception", "BigInt"),
        (6, "result", "more than 1048576"),
        (7, "malformed", "errors must be a list of strings"),
        (8, "malformed", "returned no data and no errors"),
    ],
)
def test_malformed_results_are_codec_errors(hostile, fport, reason, message):
    with pytest.raises(CodecError, match=message) as caught:
        hostile["malformed"].decode_uplink(b"\x01", fport)
    assert caught.value.reason == reason
    assert hostile["malformed"].decode_uplink(b"\x01", 99).data == {"ok": True}  # and the codec goes on


@pytest.mark.parametrize(
    ("kind", "message"),
    [("bytes", "bytes must be a list of integers 0..255"), ("port", "fPort must be an integer 1..223"), ("x", "bytes")],
)
def test_malformed_encoder_results_are_codec_errors(hostile, kind, message):
    with pytest.raises(CodecError, match=message):
        hostile["malformed"].encode_downlink({"kind": kind})


def test_a_throwing_codec_fails_only_the_uplinks_it_throws_on(hostile):
    with pytest.raises(CodecError, match="TypeError: odd first byte 3") as caught:
        hostile["throws"].decode_uplink(b"\x03", 1)
    assert caught.value.reason == "exception"
    assert hostile["throws"].decode_uplink(b"\x04", 1).data == {"value": 4}
