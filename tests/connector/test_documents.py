"""What the connector publishes and what it lets through: ThingPark samples, hostile topic values, downlinks."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.sample_nodes import Collector

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "thingpark"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def emitting(*documents) -> dict:
    return {"type": "test-emit", "config": {"payloads": list(documents)}}


def tcp(mosquitto, **extra) -> dict:
    return {"hostName": f"127.0.0.1:{mosquitto.tcp_port}", "protocol": "TCP", **extra}


@pytest.mark.parametrize(
    ("pattern", "document", "expected_topic"),
    [
        ("mqtt/things/{DevEUI}/uplink", "uplink.json", "mqtt/things/0018B20000000B20/uplink"),
        ("lora/{DevEUI}/{FPort}", "uplink.json", "lora/0018B20000000B20/1"),
        ("sites/{CustomerData.name|DevEUI|'None'}/up", "uplink-decoded.json", "sites/Meeting room sensor/up"),
        ("sites/{CustomerData.name|DevEUI|'None'}/up", "uplink-legacy.json", "sites/78AF580300000345/up"),
        ("native/{{ DevEUI | lower }}/{{ FPort }}", "uplink-legacy.json", "native/78af580300000345/2"),
    ],
)
async def test_thingpark_samples_are_published_on_their_rendered_topic(
    mosquitto, deploy, pattern, document, expected_topic
):
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "#", client_id="docs-subscriber") as subscriber:
        connection = await deploy(
            connector_flow(tcp(mosquitto, uplinkTopicPattern=pattern), source=emitting(sample(document)))
        )
        [message] = await subscriber.wait_for(1)
        assert message.topic == expected_topic
        published = orjson.loads(message.payload)
        original = sample(document)
        assert published == (original if "DevEUI_uplink" in original else {"DevEUI_uplink": original})
        # counted on the broker's PUBACK, which may be handled after the subscriber got its copy
        await wait_until(lambda: connection.counters["uplinksPublished"] >= 1, 5, "PUBACKs counted")
        assert connection.counters["uplinksPublished"] == 1


async def test_send_metadata_and_raw_decoded_format(mosquitto, deploy, runtime):
    decoded = sample("uplink-decoded.json")
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "legacy/#", "raw/#", client_id="fmt") as subscriber:
        await deploy(
            connector_flow(
                tcp(mosquitto, uplinkTopicPattern="legacy/{DevEUI}", sendMetadata=True),
                source=emitting(decoded),
                flow_id="legacy",
            )
        )
        [legacy] = await subscriber.wait_for(1)
        assert orjson.loads(legacy.payload) == decoded["DevEUI_uplink"]
        await runtime.remove_flow("legacy")
        await deploy(
            connector_flow(
                tcp(mosquitto, uplinkTopicPattern="raw/{DevEUI}", sendRawDecodedFormat=True),
                source=emitting(decoded),
                flow_id="raw",
            )
        )
        await subscriber.wait_for(2)
        assert orjson.loads(subscriber.messages[1].payload) == {
            "temperature": 25.6,
            "humidity": 40,
            "battery": "ok",
        }


HOSTILE = [
    ({"DevEUI_uplink": {"DevEUI": "78AF5803/0000345", "FPort": 1}}, "DevEUI"),
    ({"DevEUI_uplink": {"DevEUI": "78AF58030000034+", "FPort": 1}}, "DevEUI"),
    ({"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": "1/#"}}, "FPort"),
    ({"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": "a\u0000b"}}, "FPort"),
    ({"DevEUI_uplink": {"DevEUI": "78AF580300000345"}}, "FPort"),
    ({"no": "uplink"}, "DevEUI"),
]


async def test_hostile_topic_values_reject_only_their_uplink(mosquitto, deploy, runtime, caplog):
    good = {"DevEUI_uplink": {"DevEUI": "78af580300000345", "FPort": 3}}
    documents = [document for document, _ in HOSTILE] + [good]
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "hostile/#", client_id="hostile") as subscriber:
        connection = await deploy(
            connector_flow(tcp(mosquitto, uplinkTopicPattern="hostile/{DevEUI}/{FPort}"), source=emitting(*documents))
        )
        [message] = await subscriber.wait_for(1)
        await wait_until(lambda: connection.counters["uplinksRejected"] == len(HOSTILE))
    assert message.topic == "hostile/78AF580300000345/3"
    # counted on the broker's PUBACK, which may be handled after the subscriber got its copy
    await wait_until(lambda: connection.counters["uplinksPublished"] >= 1, 5, "PUBACKs counted")
    assert connection.counters["uplinksPublished"] == 1
    assert runtime.node("c", "connector").counters["rejected"] == len(HOSTILE)
    rejections = [record.getMessage() for record in caplog.records if " not taken: " in record.getMessage()]
    assert len(rejections) == len(HOSTILE)
    for (_, field), text in zip(HOSTILE, rejections, strict=True):
        assert field in text, text


async def test_template_syntax_in_a_value_is_never_executed(mosquitto, deploy):
    injection = "{{ ''.__class__.__mro__ }}"
    document = {"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": 1, "CustomerData": {"name": injection}}}
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "inject/#", client_id="inject") as subscriber:
        await deploy(
            connector_flow(tcp(mosquitto, uplinkTopicPattern="inject/{CustomerData.name}"), source=emitting(document))
        )
        [message] = await subscriber.wait_for(1)
    assert message.topic == f"inject/{injection}"


DOWNLINK_TOPIC = "mqtt/things/{DevEUI}/downlink"


async def test_downlinks_are_normalised_others_forwarded_and_bad_ones_counted(mosquitto, deploy, caplog):
    configuration = tcp(
        mosquitto,
        uplinkTopicPattern="mqtt/things/{DevEUI}/uplink",
        downlinkTopicPattern=DOWNLINK_TOPIC,
        downlinkPort=5,
    )
    connection = await deploy(connector_flow(configuration, source=emitting()))
    await wait_until(lambda: connection.state == "OPENED")
    await wait_until(lambda: "mqtt/things/+/downlink" in connection._client.subscriptions)
    topic = "mqtt/things/A81758FFFE04F27E/downlink"
    host, port = mosquitto.host, mosquitto.tcp_port
    await publish(host, port, topic, (SAMPLES / "downlink.json").read_bytes())
    await publish(host, port, topic, b'{"DevEUI_downlink": {"DevEUI": "A81758FFFE04F27E", "payload_hex": "aa"}}')
    await publish(host, port, topic, b'{"DevEUI_downlink_Sent": {"DevEUI": "A81758FFFE04F27E"}}')
    for bad in (
        b"not json",
        b'{"DevEUI_downlink": {"DevEUI": "78AF580300000345", "FPort": 1, "payload_hex": "00"}}',  # other device
        b'{"DevEUI_downlink": {"DevEUI": "A81758FFFE04F27E", "FPort": 0, "payload_hex": "00"}}',
        b'{"DevEUI_downlink": {"DevEUI": "A81758FFFE04F27E", "FPort": 225, "payload_hex": "00"}}',
        b'{"DevEUI_downlink": {"DevEUI": "A81758FFFE04F27E", "FPort": 1, "payload_hex": "000"}}',
        b'{"DevEUI_downlink": {"DevEUI": "A81758FFFE04F27E", "FPort": 1, "payload_hex": "00", "payload": {}}}',
        b'{"DevEUI_downlink": {"DevEUI": "A81758FFFE04F27E", "FPort": 1, "payload_hex": "00", "Confirmed": 2}}',
    ):
        await publish(host, port, topic, bad)
    await wait_until(lambda: connection.counters["downlinksRejected"] == 7)
    await wait_until(lambda: len(Collector.received["downlinks"]) == 2 and len(Collector.received["others"]) == 1)
    first, second = (message.payload["DevEUI_downlink"] for message in Collector.received["downlinks"])
    assert first["FPort"] == 8 and first["Confirmed"] == 1 and first["FlushDownlinkQueue"] == 1
    assert second["FPort"] == 5  # downlinkPort fills in a missing FPort
    assert Collector.received["others"][0].payload == {"DevEUI_downlink_Sent": {"DevEUI": "A81758FFFE04F27E"}}
    assert connection.counters["downlinksReceived"] == 10
    rejected = [record.getMessage() for record in caplog.records if "downlink on" in record.getMessage()]
    assert len(rejected) == 7
