"""The ``codec`` node in running flows: which codec for which device, results in ThingPark's decoded format,
failures confined to their uplink, downlinks encoded, codecs reloaded on redeploy."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from flowhost.flowfile import FlowValidationError
from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.sample_nodes import Collector

DATA = Path(__file__).parent.parent / "data" / "codecs"
GOOD, HOSTILE = DATA / "good", DATA / "hostile"
TEMP_HUM_HEX = "0100e7022d"


@pytest.fixture(autouse=True)
def _clean():
    Collector.received.clear()


def uplink(dev_eui: str, payload_hex: str = TEMP_HUM_HEX, fport: int = 1, **extra) -> dict:
    return {"DevEUI_uplink": {"DevEUI": dev_eui, "FPort": str(fport), "payload_hex": payload_hex, **extra}}


def flow(codec_config: dict, payloads: list, flow_id: str = "codecs") -> str:
    return json.dumps(
        {
            "flowhost": 1,
            "id": flow_id,
            "nodes": [
                {"id": "source", "type": "test-emit", "config": {"payloads": payloads}, "wires": {"out": ["codec"]}},
                {"id": "codec", "type": "codec", "config": codec_config, "wires": {"out": ["ok"], "error": ["bad"]}},
                {"id": "ok", "type": "test-collect"},
                {"id": "bad", "type": "test-collect"},
            ],
        }
    )


def fields(port: str) -> list[dict]:
    """The uplink (or downlink) fields of what reached a collector, thawed into plain dicts and lists."""
    documents = [message.payload.thaw() for message in Collector.received[port]]
    return [document.get("DevEUI_uplink") or document.get("DevEUI_downlink") for document in documents]


async def run(runtime, load_flow, codec_config: dict, payloads: list, expect: int) -> None:
    await runtime.deploy(load_flow(flow(codec_config, payloads)))
    await wait_until(lambda: len(Collector.received["ok"]) + len(Collector.received["bad"]) >= expect)


async def test_each_device_gets_its_codec_by_deveui_driver_tag_or_default(runtime, load_flow):
    config = {
        "codecs": str(GOOD),
        "devices": {"00000000000000a1": "ttn-counter"},
        "models": {"acme:meter:2": "tp-meter"},
        "profiles": {"acme:tank": "chirp-level"},
        "tags": {"tracker": "tracker"},
        "default": "temp-hum",
    }
    payloads = [
        uplink("00000000000000A1", "00000100fa"),
        uplink("00000000000000A2", "0001e24003e8", DriverCfg={"mod": {"pId": "acme", "mId": "meter", "ver": "2"}}),
        uplink("00000000000000A3", "04d201", DriverCfg={"app": {"pId": "acme", "mId": "tank", "ver": "1"}}),
        uplink("00000000000000A4", "020c80fb05", fport=10, CustomerData={"tags": ["fleet", "tracker"]}),
        uplink("00000000000000A5"),
    ]
    await run(runtime, load_flow, config, payloads, 5)
    decoded = [item["payload"] for item in fields("ok")]
    assert decoded[0] == {"pulses": 256, "battery": 2.5, "port": 1}
    assert decoded[1] == {"energy": 123456, "power": 1000}
    assert fields("ok")[1]["points"]["power"] == {"unitId": "W", "record": 1000}
    assert decoded[2] == {"level": 1234, "valveOpen": True, "fPort": 1}
    assert decoded[3]["type"] == "status" and decoded[3]["battery"] == 3.2
    assert decoded[4] == {"temperature": 23.1, "humidity": 45}
    assert fields("ok")[4]["payload_hex"] == TEMP_HUM_HEX  # the rest of the uplink is kept
    assert runtime.node("codecs", "codec").counters["decoded"] == 5


async def test_the_codec_gets_the_uplinks_time_as_its_reception_time(runtime, load_flow):
    payloads = [uplink("00000000000000B1", Time="2026-12-01T10:00:00.000+01:00")]
    await run(runtime, load_flow, {"codecs": str(GOOD), "default": "temp-hum"}, payloads, 1)
    assert fields("ok")[0]["payload"] == {"temperature": 23.1, "humidity": 45, "receivedYear": 2026}


async def test_a_failing_uplink_gets_payload_decoded_error_on_the_error_port_and_the_next_one_decodes(
    runtime, load_flow
):
    config = {
        "codecs": str(HOSTILE),
        "devices": {
            "00000000000000C1": "loop",
            "00000000000000C2": "alloc",
            "00000000000000C3": "throws",
            "00000000000000C4": "malformed",
            "00000000000000C5": "host",
        },
        "timeout": "50ms",
    }
    payloads = [
        uplink("00000000000000C1"),
        uplink("00000000000000C3", "02"),
        uplink("00000000000000C2"),
        uplink("00000000000000C3", "04"),
        uplink("00000000000000C3", "01"),
        uplink("00000000000000C4", "00", fport=8),
        uplink("00000000000000C5", "00", fport=2),
        uplink("00000000000000C4", "00", fport=9),
    ]
    await run(runtime, load_flow, config, payloads, len(payloads))
    errors = [(item["DevEUI"][-2:], item["payloadDecodedError"]["message"]) for item in fields("bad")]
    assert errors == [
        ("C1", "decodeUplink: the script ran longer than its time limit"),
        ("C2", errors[1][1]),
        ("C3", "decodeUplink: TypeError: odd first byte 1"),
        ("C4", "malformed result: decodeUplink returned no data and no errors"),
        ("C5", "decodeUplink: ReferenceError: require is not defined"),
    ]
    # out of memory, its time limit when it hoards, or ran away (freeing what it hoarded takes long on a busy machine)
    assert errors[1][1].startswith(("decodeUplink: the script", "decodeUplink: timeout: "))
    assert all("payload" not in item for item in fields("bad"))
    assert [item["payload"] for item in fields("ok")] == [{"value": 2}, {"value": 4}, {"ok": True}]
    counters = runtime.node("codecs", "codec").counters
    assert (counters["decoded"], counters["decode-errors"]) == (3, 5)
    # the loop, and the alloc codec when it hoards until the watchdog stops it
    assert 1 <= counters["decode-errors-timeout"] <= 2


async def test_codec_errors_and_warnings_are_reported_in_payload_decoded_error(runtime, load_flow):
    payloads = [uplink("00000000000000D1", "0102", fport=10)]
    await run(runtime, load_flow, {"codecs": str(GOOD), "default": "tracker"}, payloads, 1)
    assert fields("bad")[0]["payloadDecodedError"] == {
        "message": "latitude: needs 4 bytes at offset 1, 1 left",
        "warnings": [],
    }
    assert runtime.node("codecs", "codec").counters["decode-errors-errors"] == 1


async def test_bad_payload_hex_is_that_uplinks_error(runtime, load_flow):
    payloads = [uplink("00000000000000D2", "0g"), uplink("00000000000000D2")]
    await run(runtime, load_flow, {"codecs": str(GOOD), "default": "temp-hum"}, payloads, 2)
    assert "payload_hex is not even-length hexadecimal" in fields("bad")[0]["payloadDecodedError"]["message"]
    assert fields("ok")[0]["payload"]["temperature"] == 23.1


async def test_an_inline_source_codec_and_uplinks_without_a_codec_pass_unchanged(runtime, load_flow):
    source = "function Decoder(bytes, port) { return {first: bytes[0], port: port}; }"
    config = {"source": source, "devices": {"00000000000000E1": "inline"}, "tags": {"never": "inline"}}
    payloads = [uplink("00000000000000E1", "2a", fport=5), uplink("00000000000000E2"), {"other": "document"}]
    await run(runtime, load_flow, {"source": source}, payloads[:1], 1)  # alone, the inline codec is the default
    assert fields("ok")[0]["payload"] == {"first": 42, "port": 5}
    Collector.received.clear()
    await run(runtime, load_flow, config, payloads, 3)
    assert fields("ok")[0]["payload"] == {"first": 42, "port": 5}
    assert "payload" not in fields("ok")[1]  # no codec for this device: passed on as it came
    assert Collector.received["ok"][2].payload == {"other": "document"}
    counters = runtime.node("codecs", "codec").counters
    assert (counters["no-codec"], counters["passed"]) == (1, 1)


async def test_a_relative_codec_folder_is_relative_to_the_flow_file(runtime, load_flow, tmp_path):
    shutil.copytree(GOOD, tmp_path / "my-codecs")
    await run(runtime, load_flow, {"codecs": "my-codecs", "default": "temp-hum"}, [uplink("00000000000000F1")], 1)
    assert fields("ok")[0]["payload"]["humidity"] == 45


async def test_downlinks_with_a_payload_are_encoded_and_encoding_errors_reject_them(runtime, load_flow):
    config = {"codecs": str(GOOD), "devices": {"00000000000000A1": "ttn-counter"}, "default": "temp-hum"}
    payloads = [
        {"DevEUI_downlink": {"DevEUI": "00000000000000A9", "payload": {"interval": 600}}},
        {"DevEUI_downlink": {"DevEUI": "00000000000000A1", "FPort": 7, "payload": {"reset": True}}},
        {"DevEUI_downlink": {"DevEUI": "00000000000000A9", "payload": {"interval": -1}}},
        {"DevEUI_downlink": {"DevEUI": "00000000000000A1", "payload": {"reset": True}}},
        {"DevEUI_downlink": {"DevEUI": "00000000000000A9", "FPort": 3, "payload_hex": "beef"}},
    ]
    await run(runtime, load_flow, config, payloads, 5)
    assert [(item["payload_hex"], item["FPort"]) for item in fields("ok")] == [
        ("100258", 2),
        ("01", 7),
        ("beef", 3),  # already encoded: passed on
    ]
    assert [item["payloadEncodedError"] for item in fields("bad")] == [
        {
            "message": "interval must be a number of seconds 1..65535",
            "errors": ["interval must be a number of seconds 1..65535"],
        },
        {
            "message": "codec ttn-counter gave no fPort and the downlink has no FPort",
            "errors": ["codec ttn-counter gave no fPort and the downlink has no FPort"],
        },
    ]
    assert runtime.node("codecs", "codec").counters["encode-errors"] == 2


async def test_codecs_are_reloaded_on_redeploy(runtime, load_flow, tmp_path):
    folder = tmp_path / "codecs"
    folder.mkdir()
    (folder / "version.js").write_text("function Decoder(bytes) { return {version: 1}; }")
    config = {"codecs": str(folder), "default": "version"}
    await run(runtime, load_flow, config, [uplink("00000000000000AA")], 1)
    (folder / "version.js").write_text("function Decoder(bytes) { return {version: 2, edited: true}; }")
    # Only the source's config changes: the codec node itself is not restarted, yet it picks up the edit.
    changed = await runtime.deploy(load_flow(flow(config, [uplink("00000000000000AA", "00")])))
    assert "codec" not in changed
    await wait_until(lambda: len(Collector.received["ok"]) == 2)
    assert [item["payload"] for item in fields("ok")] == [{"version": 1}, {"version": 2, "edited": True}]
    assert runtime.node("codecs", "codec").counters["reloads"] == 1


@pytest.mark.expect_node_errors
async def test_a_codec_that_fails_to_load_is_reported_and_fails_only_its_devices(runtime, load_flow, tmp_path):
    folder = tmp_path / "codecs"
    shutil.copytree(GOOD, folder)
    (folder / "broken.js").write_text("function decodeUplink(input) { return {data: ")
    config = {"codecs": str(folder), "devices": {"00000000000000B1": "broken"}, "default": "temp-hum"}
    await run(runtime, load_flow, config, [uplink("00000000000000B1"), uplink("00000000000000B2")], 2)
    message = fields("bad")[0]["payloadDecodedError"]["message"]
    assert message.startswith("codec broken failed to load: broken: SyntaxError")
    assert fields("ok")[0]["payload"]["temperature"] == 23.1
    runner = runtime.node("codecs", "codec")
    assert runner.status_text == "5 codecs, 1 failed" and runner.status_level == "warning"


@pytest.mark.expect_node_errors
async def test_a_mapping_to_an_unknown_codec_stops_the_node_with_the_names(runtime, load_flow):
    await runtime.deploy(load_flow(flow({"codecs": str(GOOD), "default": "temp-humm"}, [])))
    runner = runtime.node("codecs", "codec")
    assert runner.status_level == "error"
    assert "no codec named temp-humm (codecs loaded: chirp-level, temp-hum, tp-meter, tracker, ttn-counter)" in (
        runner.status_text
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"default": "x"}, "give codecs (a folder of .js files"),
        ({"source": "function Decoder(){}", "memoryLimit": "2TB"}, "expected a size such as 32MB"),
        ({"source": "function Decoder(){}", "memoryLimit": "100KB"}, "must be between 1MB and 1GB"),
        ({"source": "function Decoder(){}", "timeout": "1h"}, "must be between"),
        ({"source": "function Decoder(){}", "devices": {"1234": "inline"}}, "DevEUI must be 16 hexadecimal"),
        ({"source": "function Decoder(){}", "default": "x.js"}, "a codec name is its file name without .js"),
        ({"source": "function Decoder(){}", "decoder": "x"}, "decoder"),
    ],
)
def test_bad_config_is_refused_naming_the_field(runtime, load_flow, config, message):
    with pytest.raises(FlowValidationError, match=re.escape(message)):
        load_flow(flow(config, []))


async def test_decoded_fields_reach_topic_patterns_and_the_raw_decoded_format(runtime, load_flow, mosquitto):
    text = f"""
flowhost: 1
id: decoded-topics
connections:
  - id: broker
    connectorId: actility-mqtt-iot
    configuration:
      hostName: 127.0.0.1:{mosquitto.tcp_port}
      protocol: TCP
      uplinkTopicPattern: "rooms/{{payload.temperature}}/{{DevEUI}}"
      sendRawDecodedFormat: true
nodes:
  - id: devices
    type: lorawan-simulator
    config: {{devEUIs: [78AF580300000345], interval: 10ms, payloadHex: {TEMP_HUM_HEX}, limit: 1}}
    wires: {{out: [codec]}}
  - id: codec
    type: codec
    config: {{codecs: {GOOD}, default: temp-hum}}
    wires: {{out: [connector]}}
  - id: connector
    type: mqtt-connector
    config: {{connection: broker}}
"""
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "rooms/#", client_id="codec-sub") as subscriber:
        await runtime.deploy(load_flow(text))
        [message] = await subscriber.wait_for(1)
    assert message.topic == "rooms/23.1/78AF580300000345"
    decoded = json.loads(message.payload)
    assert (decoded["temperature"], decoded["humidity"]) == (23.1, 45)


async def test_uplinks_from_mqtt_in_are_decoded_from_their_bytes_and_relayed(runtime, load_flow, mosquitto):
    """mqtt-in hands over the bytes it received: the codec parses them itself and passes JSON bytes on, with the
    message's lineage (parent id) and topic kept."""
    text = f"""
flowhost: 1
id: relay
connections:
  - id: broker
    connectorId: actility-mqtt-iot
    configuration:
      hostName: 127.0.0.1:{mosquitto.tcp_port}
      protocol: TCP
      uplinkTopicPattern: "decoded/{{payload.humidity}}/{{DevEUI}}"
nodes:
  - id: in
    type: mqtt-in
    config: {{connection: broker, topic: codec-relay/in}}
    wires: {{out: [codec]}}
  - id: codec
    type: codec
    config: {{codecs: {GOOD}, default: temp-hum}}
    wires: {{out: [connector, ok]}}
  - id: connector
    type: mqtt-connector
    config: {{connection: broker}}
  - id: ok
    type: test-collect
"""
    document = uplink("78AF580300000346", Time="2026-12-01T10:00:00.000+00:00", FCntUp="7")
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "decoded/#", client_id="codec-relay") as subscriber:
        await runtime.deploy(load_flow(text))
        await wait_until(lambda: runtime.connections["broker"].connection.state == "OPENED")
        await publish(mosquitto.host, mosquitto.tcp_port, "codec-relay/in", json.dumps(document))
        [message] = await subscriber.wait_for(1)
    assert message.topic == "decoded/45/78AF580300000346"
    relayed = json.loads(message.payload)["DevEUI_uplink"]
    assert relayed["payload"] == {"temperature": 23.1, "humidity": 45, "receivedYear": 2026}
    assert relayed["FCntUp"] == "7"
    [collected] = Collector.received["ok"]
    assert collected.source_bytes is not None and collected.topic == "codec-relay/in"
    assert collected.parent_id is not None
    assert collected.payload["DevEUI_uplink"]["payload"]["humidity"] == 45


async def test_a_downlink_from_the_broker_is_encoded_on_its_way_back(runtime, load_flow, mosquitto):
    text = f"""
flowhost: 1
id: downlinks
connections:
  - id: broker
    connectorId: actility-mqtt-iot
    configuration:
      hostName: 127.0.0.1:{mosquitto.tcp_port}
      protocol: TCP
      uplinkTopicPattern: "codec-down/{{DevEUI}}/uplink"
      downlinkTopicPattern: "codec-down/{{DevEUI}}/downlink"
nodes:
  - id: connector
    type: mqtt-connector
    config: {{connection: broker}}
    wires: {{downlink: [codec]}}
  - id: codec
    type: codec
    config: {{codecs: {GOOD}, default: temp-hum}}
    wires: {{out: [ok], error: [bad]}}
  - id: ok
    type: test-collect
  - id: bad
    type: test-collect
"""
    await runtime.deploy(load_flow(text))
    await wait_until(lambda: runtime.connections["broker"].connection.state == "OPENED")
    topic = "codec-down/78AF580300000347/downlink"
    await publish(
        mosquitto.host,
        mosquitto.tcp_port,
        topic,
        json.dumps({"DevEUI_downlink": {"FPort": 9, "payload": {"interval": 60}}}),
    )
    await publish(
        mosquitto.host,
        mosquitto.tcp_port,
        topic,
        json.dumps({"DevEUI_downlink": {"FPort": 9, "payload": {"interval": 0}}}),
    )
    await wait_until(lambda: len(Collector.received["ok"]) == 1 and len(Collector.received["bad"]) == 1)
    [encoded] = fields("ok")
    # The connector needs an FPort on the downlink (or a downlinkPort); a TS013 codec's own fPort wins.
    assert (encoded["DevEUI"], encoded["payload_hex"], encoded["FPort"]) == ("78AF580300000347", "10003c", 2)
    assert fields("bad")[0]["payloadEncodedError"]["errors"] == ["interval must be a number of seconds 1..65535"]


async def test_a_codec_looping_over_large_native_steps_stops_at_its_timeout_and_leaves_the_loop(
    runtime, load_flow, tmp_path
):
    """QuickJS looks at its time limit every 10,000 steps; this codec's steps each fill a megabyte array, so
    alone it would overrun a 100 ms limit by a minute. The watchdog stops it at its timeout; the codec then runs
    on a thread of its own, so its next uplink (which fails the same way) does not hold the loop; the other
    codec decodes."""
    folder = tmp_path / "codecs"
    folder.mkdir()
    (folder / "spin.js").write_text("function decodeUplink(input) { for (;;) new Array(1e6).fill(0); }\n")
    shutil.copy(GOOD / "temp-hum.js", folder / "temp-hum.js")
    config = {"codecs": str(folder), "devices": {"00000000000000E1": "spin"}, "default": "temp-hum"}
    payloads = [uplink("00000000000000E1"), uplink("00000000000000E2"), uplink("00000000000000E1")]
    await run(runtime, load_flow, config, payloads, 3)
    assert [item["payload"] for item in fields("ok")] == [{"temperature": 23.1, "humidity": 45}]
    messages = [item["payloadDecodedError"]["message"] for item in fields("bad")]
    assert messages == ["decodeUplink: the script ran longer than its time limit"] * 2
    node = runtime.node("codecs", "codec")
    assert (node.counters["decode-errors-timeout"], node.counters.get("decode-errors-runaway", 0)) == (2, 0)
    assert node.node.codec_set.codecs["spin"].sandbox.on_thread
    assert not node.node.codec_set.codecs["temp-hum"].sandbox.on_thread
