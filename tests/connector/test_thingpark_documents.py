"""The connector publishes every ThingPark document on its pattern ({DocumentType} names the kind) and refuses,
with the reason, a network server's own document that reached it unconverted."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from flowhost.app import create_web_app
from flowhost.flowfile import validate_flow
from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import Subscriber, publish, wait_until

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "thingpark"
NAMES = [
    "uplink.json",
    "location.json",
    "notification.json",
    "alarm.json",
    "base-station-alarm.json",
    "multicast-summary.json",
    "downlink-sent.json",
    "downlink-rejected.json",
]
CHIRPSTACK = Path(__file__).resolve().parents[1] / "data" / "chirpstack"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def tcp(mosquitto, **extra) -> dict:
    return {"hostName": f"127.0.0.1:{mosquitto.tcp_port}", "protocol": "TCP", **extra}


async def test_every_document_goes_out_on_the_topic_of_its_kind(mosquitto, deploy):
    documents = [sample(name) for name in NAMES]
    pattern = "tp/{DevEUI|LrrID}/{DocumentType}"
    source = {"type": "test-emit", "config": {"payloads": documents}}
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "tp/#", client_id="kinds-sub") as subscriber:
        connection = await deploy(connector_flow(tcp(mosquitto, uplinkTopicPattern=pattern), source=source))
        messages = await subscriber.wait_for(len(documents))
    assert [message.topic for message in messages] == [
        "tp/0018B20000000B20/DevEUI_uplink",
        "tp/000000000F1D8693/DevEUI_location",
        "tp/000000000F1D8693/DevEUI_notification",
        "tp/0018B20000001156/DevEUI_alarm",
        "tp/100001C2/BS_alarm",
        "tp/000000000F1D8693/DevEUI_multicast_summary",
        "tp/0018B20000000D48/DevEUI_downlink_Sent",
        "tp/0018B20000000D48/DevEUI_downlink_Rejected",
    ]
    assert [orjson.loads(message.payload) for message in messages] == documents  # roots kept, nothing added
    # counted on the broker's PUBACK, which may be handled after the subscriber got its copy
    await wait_until(lambda: connection.counters["uplinksPublished"] >= len(documents), 5, "PUBACKs counted")
    assert connection.counters["uplinksPublished"] == len(documents)


async def test_other_documents_keep_their_root_under_send_metadata(mosquitto, deploy):
    source = {"type": "test-emit", "config": {"payloads": [sample("location.json"), sample("uplink.json")]}}
    configuration = tcp(mosquitto, uplinkTopicPattern="meta/{DocumentType}", sendMetadata=True)
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "meta/#", client_id="meta-sub") as subscriber:
        await deploy(connector_flow(configuration, source=source))
        location, uplink = await subscriber.wait_for(2)
    assert orjson.loads(location.payload) == sample("location.json")
    assert orjson.loads(uplink.payload) == sample("uplink.json")["DevEUI_uplink"]


async def test_http_uplink_accepts_a_location_and_the_connector_publishes_it(runtime, aiohttp_client, mosquitto):
    flow = {
        "flowhost": 1,
        "id": "http",
        "connections": [
            {
                "id": "broker",
                "connectorId": "actility-mqtt-iot",
                "configuration": tcp(mosquitto, uplinkTopicPattern="tp/{DevEUI}/{DocumentType}"),
            }
        ],
        "nodes": [
            {"id": "http", "type": "http-uplink", "config": {"path": "/tp"}, "wires": {"out": ["connector"]}},
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
        ],
    }
    await runtime.deploy(validate_flow(flow, runtime.registry))
    client = await aiohttp_client(create_web_app(runtime))
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "tp/#", client_id="http-kinds") as subscriber:
        response = await client.post("/tp", data=(SAMPLES / "location.json").read_bytes())
        assert response.status == 202, await response.text()
        [message] = await subscriber.wait_for(1)
    assert message.topic == "tp/000000000F1D8693/DevEUI_location"
    bad = await client.post("/tp", data=b'{"DevEUI_location": {"DevLAT": 1}}')
    assert bad.status == 400 and (await bad.json())["error"] == "DevEUI_location has no DevEUI"


async def test_a_chirpstack_uplink_reaching_the_connector_is_refused_with_the_reason(runtime, mosquitto, caplog):
    flow = {
        "flowhost": 1,
        "id": "raw",
        "connections": [
            {
                "id": "broker",
                "connectorId": "actility-mqtt-iot",
                "configuration": tcp(mosquitto, uplinkTopicPattern="mqtt/things/{DevEUI}/uplink"),
            }
        ],
        "nodes": [
            {
                "id": "chirpstack",
                "type": "mqtt-in",
                "config": {"connection": "broker", "topic": "application/+/device/+/event/up"},
                "wires": {"out": ["connector"]},
            },
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
        ],
    }
    await runtime.deploy(validate_flow(flow, runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: "application/+/device/+/event/up" in connection._client.subscriptions)
    event = (CHIRPSTACK / "up.json").read_bytes()
    topic = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010101/event/up"
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/#", client_id="raw-sub") as subscriber:
        await publish(mosquitto.host, mosquitto.tcp_port, topic, event)
        await wait_until(lambda: runtime.node("raw", "connector").counters.get("rejected") == 1)
        assert subscriber.messages == []
    assert connection.counters["uplinksRejected"] == 1
    assert "not a ThingPark document" in caplog.text and "convert it with a from-chirpstack node first" in caplog.text


async def test_jinja_patterns_read_the_fields_and_kind_of_every_root(mosquitto, deploy):
    source = {"type": "test-emit", "config": {"payloads": [sample("location.json"), sample("alarm.json")]}}
    pattern = "geo/{{ DocumentType | lower }}/{{ DevEUI }}/{{ DevLAT | default('none') }}"
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "geo/#", client_id="jinja-kinds") as subscriber:
        await deploy(connector_flow(tcp(mosquitto, uplinkTopicPattern=pattern), source=source))
        location, alarm = await subscriber.wait_for(2)
    assert location.topic == "geo/deveui_location/000000000F1D8693/10.11212"
    assert alarm.topic == "geo/deveui_alarm/0018B20000001156/none"
