"""ChirpStack v4 through flowhost to ThingPark and back, on a real Mosquitto: an uplink event on ChirpStack's topic
comes out as a DevEUI_uplink on the connector's topic, and a DevEUI_downlink on the ThingPark downlink topic comes
out on ChirpStack's command/down topic, acknowledged by the broker."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import orjson

from flowhost.flowfile import validate_flow
from tests.support.mqtt_helpers import Subscriber, publish, wait_until

CHIRPSTACK = Path(__file__).resolve().parents[1] / "data" / "chirpstack"
APPLICATION = "17c82e96-be03-4f38-aef3-f83d48582d97"
DEVICE = "0101010101010101"


def round_trip_flow(mosquitto) -> dict:
    configuration = {
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
        "uplinkTopicPattern": "tp/{DevEUI}/up/{DocumentType}",
        "downlinkTopicPattern": "tp/{DevEUI}/downlink",
    }
    return {
        "flowhost": 1,
        "id": "chirpstack",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {
                "id": "events",
                "type": "mqtt-in",
                "config": {"connection": "broker", "topic": "application/+/device/+/event/+"},
                "wires": {"out": ["from-chirpstack"]},
            },
            {"id": "from-chirpstack", "type": "from-chirpstack", "wires": {"out": ["connector"]}},
            {
                "id": "connector",
                "type": "mqtt-connector",
                "config": {"connection": "broker"},
                "wires": {"downlink": ["to-chirpstack"]},
            },
            {
                "id": "to-chirpstack",
                "type": "to-chirpstack",
                "config": {"applicationId": APPLICATION},
                "wires": {"out": ["command"]},
            },
            {"id": "command", "type": "mqtt-out", "config": {"connection": "broker", "qos": 1}},
        ],
    }


async def test_uplink_event_to_thingpark_and_downlink_back_to_chirpstack(mosquitto, runtime):
    await runtime.deploy(validate_flow(round_trip_flow(mosquitto), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection._client is not None and connection._client.is_connected)
    await wait_until(lambda: "application/+/device/+/event/+" in connection._client.subscriptions)
    await wait_until(lambda: "tp/+/downlink" in connection._client.subscriptions)
    host, port = mosquitto.host, mosquitto.tcp_port
    # The documentation's up event, with the frame counter and decoded object a device profile's codec adds.
    event = {**json.loads((CHIRPSTACK / "up.json").read_text()), "fCnt": 10, "object": {"temperature": 21.5}}
    events = f"application/{APPLICATION}/device/{DEVICE}/event"
    async with Subscriber(host, port, "tp/+/up/+", "application/+/device/+/command/down", client_id="ns") as network:
        await publish(host, port, f"{events}/up", orjson.dumps(event))
        await publish(host, port, f"{events}/join", (CHIRPSTACK / "join.json").read_bytes())
        uplink, join = await network.wait_for(2)
        assert (uplink.topic, join.topic) == (f"tp/{DEVICE}/up/DevEUI_uplink", f"tp/{DEVICE}/up/DevEUI_notification")
        fields = orjson.loads(uplink.payload)["DevEUI_uplink"]
        assert fields["DevEUI"] == DEVICE and fields["FPort"] == 1 and fields["FCntUp"] == 10
        assert fields["payload_hex"] == "aa" and fields["payload"] == {"temperature": 21.5}
        assert (fields["Lrrid"], fields["LrrRSSI"], fields["LrrSNR"]) == ("0016C001F153A14C", -36, 10.5)
        assert fields["Frequency"] == 867.1 and fields["SpFact"] == 11
        assert fields["CustomerData"] == {"name": "Test device", "tags": ["key=value"]}
        assert fields["chirpstack"]["deduplicationId"] == event["deduplicationId"]
        assert orjson.loads(join.payload)["DevEUI_notification"]["Type"] == "join"

        downlink = {"DevEUI_downlink": {"DevEUI": DEVICE, "FPort": 10, "payload_hex": "0102ff", "Confirmed": 1}}
        await publish(host, port, f"tp/{DEVICE}/downlink", orjson.dumps(downlink))
        *_, command = await network.wait_for(3)
    assert command.topic == f"application/{APPLICATION}/device/{DEVICE.lower()}/command/down"
    assert command.qos == 1
    assert orjson.loads(command.payload) == {
        "devEui": DEVICE.lower(),
        "confirmed": True,
        "fPort": 10,
        "data": base64.b64encode(bytes([1, 2, 255])).decode(),
    }
    assert runtime.node("chirpstack", "command").counters["published"] == 1
    counters = runtime.node("chirpstack", "from-chirpstack").counters
    assert (counters["up"], counters["join"], counters.get("rejected", 0)) == (1, 1, 0)


async def test_events_that_cannot_be_converted_are_refused_alone(mosquitto, runtime, caplog):
    await runtime.deploy(validate_flow(round_trip_flow(mosquitto), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection._client is not None and connection._client.is_connected)
    await wait_until(lambda: "application/+/device/+/event/+" in connection._client.subscriptions)
    host, port = mosquitto.host, mosquitto.tcp_port
    events = f"application/{APPLICATION}/device"
    up = (CHIRPSTACK / "up.json").read_bytes()
    async with Subscriber(host, port, "tp/+/up/+", client_id="refusals") as thingpark:
        await publish(host, port, f"{events}/{DEVICE}/event/integration", b'{"deviceInfo": {}}')
        await publish(host, port, f"{events}/0202020202020202/event/up", up)  # not the device of the event
        await publish(host, port, f"{events}/{DEVICE}/event/up", b"\x00 not JSON")
        await publish(host, port, f"{events}/{DEVICE}/event/up", up)
        [uplink] = await thingpark.wait_for(1)
    assert uplink.topic == f"tp/{DEVICE}/up/DevEUI_uplink"
    assert runtime.node("chirpstack", "from-chirpstack").counters["rejected"] == 3
    reasons = [record.getMessage() for record in caplog.records if "not converted" in record.getMessage()]
    assert "ChirpStack event 'integration' is not one of up, join, status, ack, txack, log, location" in reasons[0]
    assert "does not match 0202020202020202 in the topic" in reasons[1]
    assert "a ChirpStack up event must be a JSON object" in reasons[2]
