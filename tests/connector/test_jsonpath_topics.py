"""JsonPath placeholders through the connector and a real Mosquitto: the topic ThingPark's documentation example
makes, a fallback when nothing matches, and an uplink rejected alone when its level would be empty.

The example pattern is from ThingPark X IoT Flow's documentation (About connections, "Pattern expression"); the
uplink is Actility's sample (tests/data/thingpark/uplink.json) with its CustomerData tags replaced."""

from __future__ import annotations

import json
from pathlib import Path

from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import Subscriber, wait_until

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "thingpark" / "uplink.json"
EXAMPLE = "iot/devices/{DevEUI}/tags/{$..CustomerData.tags[?(@ =~ /Paris:.*/)]}"


def tagged(*tags: str) -> dict:
    document = json.loads(SAMPLE.read_text())
    document["DevEUI_uplink"]["CustomerData"]["tags"] = list(tags)
    return document


def emitting(*documents) -> dict:
    return {"type": "test-emit", "config": {"payloads": list(documents)}}


def tcp(mosquitto, **extra) -> dict:
    return {"hostName": f"127.0.0.1:{mosquitto.tcp_port}", "protocol": "TCP", **extra}


async def test_thingpark_jsonpath_example_through_the_connector(mosquitto, deploy, runtime):
    documents = [tagged("Lyon:depot", "Paris:Office3"), tagged("Lyon:depot"), tagged("Paris:Office4", "Paris:Hall")]
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "iot/#", client_id="jsonpath") as subscriber:
        connection = await deploy(
            connector_flow(tcp(mosquitto, uplinkTopicPattern=EXAMPLE), source=emitting(*documents))
        )
        messages = await subscriber.wait_for(2)
        await wait_until(lambda: connection.counters["uplinksRejected"] == 1)
    assert [message.topic for message in messages] == [
        "iot/devices/0018B20000000B20/tags/Paris:Office3",
        "iot/devices/0018B20000000B20/tags/Paris:Office4",
    ]
    # counted on the broker's PUBACK, which may be handled after the subscriber got its copy
    await wait_until(lambda: connection.counters["uplinksPublished"] >= 2, 5, "PUBACKs counted")
    assert connection.counters["uplinksPublished"] == 2
    assert runtime.node("c", "connector").counters["rejected"] == 1


async def test_jsonpath_with_a_fallback_through_the_connector(mosquitto, deploy):
    pattern = "sites/{$..CustomerData.tags[?(@ =~ /^site=/)]|'untagged'}/{DevEUI}"
    documents = [tagged("site=Paris"), tagged("floor=2")]
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "sites/#", client_id="jsonpath-fallback") as subscriber:
        await deploy(connector_flow(tcp(mosquitto, uplinkTopicPattern=pattern), source=emitting(*documents)))
        messages = await subscriber.wait_for(2)
    assert sorted(message.topic for message in messages) == [
        "sites/site=Paris/0018B20000000B20",
        "sites/untagged/0018B20000000B20",
    ]
