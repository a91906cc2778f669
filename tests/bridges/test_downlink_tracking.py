"""A downlink that reports back, on a real Mosquitto: in through the connector's downlink topic (the connection's
downlinkAsId / downlinkAsKey added), through downlink-tracker (a CorrelationID added) to the network's topic; the
DevEUI_downlink_Sent the network publishes back (Actility's example, tests/data/thingpark) comes in through an
mqtt-in, is joined to it, and the tracker emits the downlink on 'sent'."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from flowhost.flowfile import validate_flow
from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.sample_nodes import Collector

THINGPARK = Path(__file__).resolve().parents[1] / "data" / "thingpark"
AS_ID, AS_KEY = "TWA_199983788.1972.AS", "9311e22d7d44fc52215b0dc154aa1d22"


def tracking_flow(mosquitto) -> dict:
    configuration = {
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
        "uplinkTopicPattern": "tp/{DevEUI}/up",
        "downlinkTopicPattern": "tp/{DevEUI}/downlink",
        "downlinkAsId": AS_ID,
        "downlinkAsKey": AS_KEY,
    }
    return {
        "flowhost": 1,
        "id": "tracking",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"},
             "wires": {"downlink": ["tracker"]}},
            {"id": "reports", "type": "mqtt-in", "config": {"connection": "broker", "topic": "lrc/report"},
             "wires": {"out": ["tracker"]}},
            {"id": "tracker", "type": "downlink-tracker", "config": {"timeout": "1m"},
             "wires": {"out": ["network"], "sent": ["delivered"], "rejected": ["delivered"], "timeout": ["delivered"]}},
            {"id": "network", "type": "mqtt-out", "config": {"connection": "broker", "topic": "lrc/downlink"}},
            {"id": "delivered", "type": "test-collect"},
        ],
    }  # fmt: skip


async def test_a_downlink_is_followed_until_its_sent_report_comes_back(mosquitto, runtime):
    Collector.received.clear()
    await runtime.deploy(validate_flow(tracking_flow(mosquitto), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection._client is not None and connection._client.is_connected)
    await wait_until(lambda: {"tp/+/downlink", "lrc/report"} <= set(connection._client.subscriptions))
    host, port = mosquitto.host, mosquitto.tcp_port
    report = json.loads((THINGPARK / "downlink-sent.json").read_text())
    device = report["DevEUI_downlink_Sent"]["DevEUI"]
    downlink = {"DevEUI_downlink": {"DevEUI": device, "FPort": 1, "payload_hex": "0100", "Confirmed": "1"}}
    async with Subscriber(host, port, "lrc/downlink", client_id="lrc") as network:
        await publish(host, port, f"tp/{device}/downlink", orjson.dumps(downlink))
        [sent] = await network.wait_for(1)
    command = orjson.loads(sent.payload)["DevEUI_downlink"]
    correlation_id = command.pop("CorrelationID")
    assert len(correlation_id) == 16 and int(correlation_id, 16) >= 0
    assert command == {"DevEUI": device, "FPort": 1, "payload_hex": "0100", "Confirmed": 1, "AS_ID": AS_ID,
                       "AS_KEY": AS_KEY}  # fmt: skip
    # As ThingPark reports it: the example, transmitted this time, with the CorrelationID it was given.
    fields = {**report["DevEUI_downlink_Sent"], "DeliveryStatus": 1, "DeliveryFailedCause1": "00"}
    await publish(
        host, port, "lrc/report", orjson.dumps({"DevEUI_downlink_Sent": {**fields, "CorrelationID": correlation_id}})
    )
    await wait_until(lambda: len(Collector.received["delivered"]) == 1)
    [delivered] = Collector.received["delivered"]
    assert delivered.payload["DevEUI_downlink"]["CorrelationID"] == correlation_id
    outcome = delivered.meta["downlink"]
    assert (outcome["outcome"], outcome["matchedBy"]) == ("sent", "CorrelationID")
    assert outcome["report"]["DevEUI_downlink_Sent"]["FCntDn"] == 47
    counters = runtime.node("tracking", "tracker").counters
    assert (counters["tracked"], counters["sent"], counters.get("unmatched", 0)) == (1, 1, 0)


async def test_actilitys_downlink_with_optional_fields_goes_through_and_a_bad_one_is_refused_alone(
    mosquitto, runtime, caplog
):
    await runtime.deploy(validate_flow(tracking_flow(mosquitto), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection._client is not None and connection._client.is_connected)
    await wait_until(lambda: "tp/+/downlink" in connection._client.subscriptions)
    host, port = mosquitto.host, mosquitto.tcp_port
    example = json.loads((THINGPARK / "downlink-optional.json").read_text())
    device = example["DevEUI_downlink"]["DevEUI"]
    bad = {"DevEUI_downlink": {**example["DevEUI_downlink"], "FCntDn": 2**32}}
    async with Subscriber(host, port, "lrc/downlink", client_id="lrc-optional") as network:
        await publish(host, port, f"tp/{device}/downlink", orjson.dumps(bad))
        await publish(host, port, f"tp/{device}/downlink", (THINGPARK / "downlink-optional.json").read_bytes())
        [sent] = await network.wait_for(1)
    command = orjson.loads(sent.payload)["DevEUI_downlink"]
    # Its own AS_ID and AS_KEY, not the connection's; its CorrelationID kept; "1" strings as numbers.
    assert command == {**example["DevEUI_downlink"], "Confirmed": 1, "FlushDownlinkQueue": 1}
    assert connection.counters["downlinksRejected"] == 1
    reasons = [record.getMessage() for record in caplog.records if "rejected" in record.getMessage()]
    assert any("FCntDn must be a 32-bit unsigned integer" in reason for reason in reasons)
    assert not any(example["DevEUI_downlink"]["AS_KEY"] in record.getMessage() for record in caplog.records)


def test_the_flow_in_the_docs_tracker_section_is_valid(load_flow) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "bridges.md").read_text()
    section = text.split("## `downlink-tracker`", 1)[1]
    spec = load_flow(section.split("```yaml\n", 1)[1].split("```", 1)[0], "tracked.yaml")
    tracker = next(node for node in spec.nodes if node.type == "downlink-tracker")
    assert tracker.config["timeout"] == 600
