"""The bad-input corpus (tests/corpus/): every input gets its specific error and nothing else is disturbed."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from ruamel.yaml import YAML

from flowhost.app import create_web_app
from flowhost.flowfile import FlowValidationError, load_flow_file, validate_flow
from tests.support.mqtt_helpers import publish, wait_until
from tests.support.sample_nodes import Collector

CORPUS = Path(__file__).resolve().parent / "corpus"
GOOD_UPLINK = b'{"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": 1, "payload_hex": "00"}}'


def entries(name: str) -> list[dict]:
    return YAML(typ="safe").load((CORPUS / name).read_text())


def body_of(entry: dict) -> bytes:
    if "body_hex" in entry:
        return bytes.fromhex(entry["body_hex"])
    if entry.get("generate") == "huge":
        return b'{"DevEUI_uplink": {"DevEUI": "78AF580300000345", "junk": "' + b"x" * 400_000 + b'"}}'
    if entry.get("generate") == "nested":
        depth = entry["depth"]
        return b'{"DevEUI_downlink": ' + b'{"a": ' * depth + b"1" + b"}" * (depth + 1)
    return entry["body"].encode()


UPLINKS = entries("uplinks.yaml")
DOWNLINKS = entries("downlinks.yaml")
FLOWS = sorted((CORPUS / "flows").glob("*.yaml"))


def test_the_corpus_holds_at_least_sixty_bad_inputs():
    assert len(UPLINKS) + len(DOWNLINKS) + len(FLOWS) >= 60


@pytest.fixture(autouse=True)
def _clean():
    Collector.received.clear()


async def test_bad_uplinks_over_http(runtime, aiohttp_client):
    flow = {
        "flowhost": 1,
        "id": "corpus",
        "nodes": [
            {"id": "http", "type": "http-uplink", "config": {"path": "/up"}, "wires": {"out": ["sink"]}},
            {"id": "sink", "type": "test-collect"},
        ],
    }
    await runtime.deploy(validate_flow(flow, runtime.registry))
    client = await aiohttp_client(create_web_app(runtime))
    for entry in UPLINKS:
        response = await client.post("/up", data=body_of(entry))
        text = await response.text()
        assert response.status == entry["status"], (entry["name"], text)
        assert entry["expect"] in text, (entry["name"], text)
    response = await client.post("/up", data=GOOD_UPLINK)
    assert response.status == 202
    assert [msg.payload["DevEUI_uplink"]["DevEUI"] for msg in Collector.received["sink"]] == ["78AF580300000345"]
    counters = runtime.node("corpus", "http").counters
    assert counters["rejected"] == len(UPLINKS) and counters["accepted"] == 1


async def test_bad_downlinks_through_a_real_broker(runtime, mosquitto, caplog):
    configuration = {
        "uplinkTopicPattern": "corpus/{DevEUI}/uplink",
        "downlinkTopicPattern": "corpus/{DevEUI}/downlink",
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
    }
    flow = {
        "flowhost": 1,
        "id": "corpus",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {
                "id": "connector",
                "type": "mqtt-connector",
                "config": {"connection": "broker"},
                "wires": {"downlink": ["sink"], "other": ["sink"]},
            },
            {"id": "sink", "type": "test-collect"},
        ],
    }
    await runtime.deploy(validate_flow(flow, runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: "corpus/+/downlink" in connection._client.subscriptions)
    topic = "corpus/78AF580300000345/downlink"
    for entry in DOWNLINKS:
        await publish(mosquitto.host, mosquitto.tcp_port, topic, body_of(entry))
    good = b'{"DevEUI_downlink": {"FPort": 2, "payload_hex": "0a0b"}}'
    await publish(mosquitto.host, mosquitto.tcp_port, topic, good)
    await wait_until(lambda: Collector.received["sink"], timeout=10)
    assert connection.counters["downlinksRejected"] == len(DOWNLINKS)
    reasons = [record.getMessage() for record in caplog.records if "downlink on corpus/" in record.getMessage()]
    assert len(reasons) == len(DOWNLINKS)
    for entry, reason in zip(DOWNLINKS, reasons, strict=True):
        assert entry["expect"] in reason, (entry["name"], reason)
    [downlink] = Collector.received["sink"]
    assert downlink.payload == {"DevEUI_downlink": {"DevEUI": "78AF580300000345", "FPort": 2, "payload_hex": "0a0b"}}


@pytest.mark.parametrize("path", FLOWS, ids=[path.stem for path in FLOWS])
async def test_bad_flow_files(path, runtime):
    expected = re.findall(r"^# expect: (.+)$", path.read_text(), flags=re.MULTILINE)
    assert expected, f"{path.name} names no expected error"
    with pytest.raises(FlowValidationError) as caught:
        load_flow_file(path, runtime.registry, environ={})
    messages = [str(error) for error in caught.value.errors]
    for text in expected:
        assert any(text in message for message in messages), (text, messages)
    for message in messages:
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", message), message  # every error has file:line:col
    assert "BEGIN PRIVATE KEY" not in "".join(messages)


def test_the_generated_documents_really_are_huge_and_deep():
    assert len(body_of({"generate": "huge"})) > 256 * 1024
    with pytest.raises(orjson.JSONDecodeError):  # deeper than any JSON parser here accepts
        orjson.loads(body_of({"generate": "nested", "depth": 20_000}))
