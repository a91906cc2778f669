"""The Things Stack v3's documented messages to ThingPark documents, and a ThingPark downlink to down/push, also
through a real Mosquitto from TTS's topics to the connector and back."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from flowhost.flowfile import validate_flow
from flowhost_builtins.bridges import BridgeError, downlink_command
from flowhost_builtins.thingpark_documents import read_document
from flowhost_builtins.tts import thingpark_document, tts_downlink
from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.sample_nodes import Collector

TTS = Path(__file__).resolve().parents[1] / "data" / "tts"
DEVICE = "0004A30B001C0530"


def message(name: str) -> dict:
    document = json.loads((TTS / f"{name}.json").read_text())
    document.pop("_source", None)
    return document


def renamed(name: str, old: str, new: str) -> dict:
    document = message(name)
    document[new] = document.pop(old)
    return document


@pytest.mark.parametrize(
    ("source", "event", "root"),
    [
        (message("up"), "up", "DevEUI_uplink"),
        (message("join"), "join", "DevEUI_notification"),
        (message("down-ack"), "down/ack", "DevEUI_downlink_Sent"),
        (renamed("down-ack", "downlink_ack", "downlink_sent"), "down/sent", "DevEUI_downlink_Sent"),
        (renamed("down-ack", "downlink_ack", "downlink_nack"), "down/nack", "DevEUI_downlink_Rejected"),
        (renamed("down-ack", "downlink_ack", "downlink_queued"), "down/queued", "DevEUI_notification"),
        (message("location-solved"), "location/solved", "DevEUI_location"),
    ],
)
def test_every_documented_message_becomes_a_thingpark_document(source: dict, event: str, root: str) -> None:
    document = thingpark_document(source, event)
    assert read_document(document)[0] == root
    fields = document[root]
    assert fields["DevEUI"] == DEVICE
    assert fields["tts"]["event"] == event
    assert fields["tts"]["correlation_ids"] == source["correlation_ids"]  # nothing dropped


def test_uplink_fields() -> None:
    fields = thingpark_document(message("up"), "up")["DevEUI_uplink"]
    assert fields["FCntUp"] == 1 and "FPort" not in fields  # the example leaves f_port out
    assert fields["payload_hex"] == "8241de" and fields["payload"] == {"temperature": 1.0, "luminosity": 0.64}
    assert (fields["Lrrid"], fields["LrrRSSI"], fields["LrrSNR"]) == ("9C5C8E00001A05C4", -35, 5)
    assert fields["Time"] == "2020-02-12T15:15:45.787Z" and fields["Frequency"] == 868.3 and fields["SpFact"] == 7
    assert fields["DevAddr"] == "00BCB929" and fields["MType"] == 2
    kept = fields["tts"]["uplink_message"]
    assert kept["session_key_id"] == "AXA50tHUGUucuzS/bCGMNw==" and "frm_payload" not in kept


def test_a_failed_downlink_is_rejected_with_the_error_of_the_network_server() -> None:
    with pytest.raises(BridgeError, match=r"^end_device_ids has no dev_eui: a ThingPark document needs the DevEUI$"):
        thingpark_document(message("down-failed"), "down/failed")
    failed = message("down-failed")
    failed["end_device_ids"]["dev_eui"] = DEVICE  # as sent when the device has a DevEUI (empty fields are omitted)
    rejected = thingpark_document(failed, "down/failed")["DevEUI_downlink_Rejected"]
    assert rejected["DownlinkRejectionCause"] == "application downlink payload is too long"
    assert rejected["FPort"] == 15 and rejected["DeliveryStatus"] == 0


def test_downlink_to_down_push() -> None:
    command = downlink_command(
        {
            "DevEUI_downlink": {
                "DevEUI": DEVICE,
                "FPort": 15,
                "payload_hex": "beef",
                "Confirmed": "1",
                "CorrelationID": "4434704901C7450B",
            }
        }
    )
    down = tts_downlink(command, "HIGH")
    documented = message("down-push")["downlinks"][0]
    assert down == {
        "downlinks": [
            {
                "f_port": 15,
                "frm_payload": documented["frm_payload"],  # vu8= is 0xbeef
                "confirmed": True,
                "priority": "HIGH",
                "correlation_ids": ["thingpark:correlation:4434704901C7450B"],
            }
        ]
    }


def tts_flow(mosquitto) -> dict:
    configuration = {
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
        "uplinkTopicPattern": "tp/{DevEUI}/up/{DocumentType}",
        "downlinkTopicPattern": "tp/{DevEUI}/downlink",
    }
    return {
        "flowhost": 1,
        "id": "tts",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {
                "id": "up",
                "type": "mqtt-in",
                "config": {"connection": "broker", "topic": "v3/+/devices/+/up"},
                "wires": {"out": ["from-tts"]},
            },
            {"id": "from-tts", "type": "from-tts", "wires": {"out": ["connector"]}},
            {
                "id": "connector",
                "type": "mqtt-connector",
                "config": {"connection": "broker"},
                "wires": {"downlink": ["to-tts"]},
            },
            {"id": "to-tts", "type": "to-tts", "config": {"application": "app1@ttn"}, "wires": {"out": ["push"]}},
            {"id": "push", "type": "mqtt-out", "config": {"connection": "broker"}},
        ],
    }


async def test_tts_uplink_to_thingpark_and_downlink_back_to_down_push(mosquitto, runtime):
    await runtime.deploy(validate_flow(tts_flow(mosquitto), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection._client is not None and connection._client.is_connected)
    await wait_until(lambda: {"v3/+/devices/+/up", "tp/+/downlink"} <= set(connection._client.subscriptions))
    host, port = mosquitto.host, mosquitto.tcp_port
    async with Subscriber(host, port, "tp/+/up/+", "v3/+/devices/+/down/push", client_id="tts-ns") as network:
        await publish(host, port, "v3/app1@ttn/devices/dev1/up", (TTS / "up.json").read_bytes())
        [uplink] = await network.wait_for(1)
        assert uplink.topic == f"tp/{DEVICE}/up/DevEUI_uplink"
        assert orjson.loads(uplink.payload)["DevEUI_uplink"]["payload_hex"] == "8241de"
        downlink = {"DevEUI_downlink": {"DevEUI": DEVICE, "FPort": 15, "payload_hex": "beef"}}
        await publish(host, port, f"tp/{DEVICE}/downlink", orjson.dumps(downlink))
        _, push = await network.wait_for(2)
    assert push.topic == f"v3/app1@ttn/devices/eui-{DEVICE.lower()}/down/push"
    assert orjson.loads(push.payload) == {
        "downlinks": [{"f_port": 15, "frm_payload": "vu8=", "confirmed": False, "priority": "NORMAL"}]
    }


async def test_without_a_topic_the_message_key_names_the_event(runtime):
    Collector.received.clear()
    payloads = [message("join"), message("location-solved"), {"end_device_ids": {"dev_eui": DEVICE}}]
    flow = {
        "flowhost": 1,
        "id": "keys",
        "nodes": [
            {"id": "source", "type": "test-emit", "config": {"payloads": payloads}, "wires": {"out": ["from-tts"]}},
            {"id": "from-tts", "type": "from-tts", "wires": {"out": ["seen"]}},
            {"id": "seen", "type": "test-collect"},
        ],
    }
    await runtime.deploy(validate_flow(flow, runtime.registry))
    await wait_until(lambda: runtime.node("keys", "from-tts").counters.get("rejected") == 1)
    await wait_until(lambda: len(Collector.received["seen"]) == 2)
    assert [next(iter(msg.payload)) for msg in Collector.received["seen"]] == ["DevEUI_notification", "DevEUI_location"]
