"""A connection's low-rate ``alarms`` end to end: uplinks through the connector to real Mosquitto, the runtime on a
manual clock, the alarm raised and cleared as messages on the connector's ``alarm`` port, a counter on node and
connection, the node's status, and an ``alarm`` runtime event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowhost.app import create_runtime
from flowhost.clock import ManualClock
from flowhost.flowfile import validate_flow
from flowhost.message import Message
from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import Subscriber, wait_until
from tests.support.sample_nodes import Collector

THURSDAY = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
UPLINK = json.loads((Path(__file__).parents[1] / "data" / "thingpark" / "uplink.json").read_text())
DEV_EUI = UPLINK["DevEUI_uplink"]["DevEUI"]
ALARM = {  # ThingPark X 1.3's alarm object; the clock starts on Thursday 2026-01-01 at 01:00 in Paris
    "startTime": "2025-12-25T01:30:00+01:00",
    "endTime": "2025-12-25T07:00:00+01:00",
    "timezone": "Europe/Paris",
    "recurrence": [{"frequency": "weekly", "byDays": ["thursday"]}],
    "uplinkRateMinPerHour": 2,
    "message": "Low rate at night",
}


@pytest.fixture
async def manual_runtime(plugins, tmp_path):
    clock = ManualClock(wall_start=THURSDAY)
    runtime = create_runtime(tmp_path / "data", plugins, clock=clock)
    await runtime.start()
    yield runtime, clock
    await runtime.stop()


async def test_the_alarm_is_raised_and_cleared_on_the_alarm_port(manual_runtime, mosquitto) -> None:
    runtime, clock = manual_runtime
    statuses, alarm_events = [], []
    runtime.add_listener(lambda event: statuses.append(event.data) if event.kind == "status" else None)
    runtime.add_listener(lambda event: alarm_events.append(event) if event.kind == "alarm" else None)
    flow = connector_flow(
        {
            "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
            "protocol": "TCP",
            "uplinkTopicPattern": "alarms-test/{DevEUI}/uplink",
            "alarms": [ALARM],
        },
        source={"type": "test-emit", "config": {"payloads": []}},
    )
    flow["nodes"][1]["wires"]["alarm"] = ["alarms"]
    flow["nodes"].append({"id": "alarms", "type": "test-collect"})
    async with Subscriber("127.0.0.1", mosquitto.tcp_port, "alarms-test/#", client_id="alarms-test") as received:
        await runtime.deploy(validate_flow(flow, runtime.registry))
        connection = runtime.connections["broker"].connection
        await wait_until(lambda: connection.state == "OPENED", message="connected")
        connector = runtime.node("c", "connector")
        await wait_until(lambda: clock.sleepers >= 1, message="the watch waits")
        await connector.inbox.put(Message.create(UPLINK))  # 01:00: before the window, not counted
        await received.wait_for(1)
        await clock.advance(1800 + 60)  # 01:31: the window opened a minute ago
        await connector.inbox.put(Message.create(UPLINK))
        await received.wait_for(2)
        await clock.advance(3600 - 60)  # 02:30: the first hour is over with one uplink of the two wanted
        await wait_until(lambda: len(Collector.received["alarms"]) == 1, message="the alarm raised")
        raised = Collector.received["alarms"][0]
        assert raised.topic == "alarm"
        assert raised.payload["state"] == "raised" and raised.payload["reason"] == "rateBelowMinimum"
        assert raised.payload["uplinksLastHour"] == 1 and raised.payload["message"] == "Low rate at night"
        assert raised.payload["windowStart"] == "2026-01-01T01:30:00+01:00"
        assert raised.payload["windowEnd"] == "2026-01-01T07:00:00+01:00"
        assert raised.payload["time"] == "2026-01-01T02:30:00+01:00"
        assert raised.payload["connection"] == "broker"
        assert statuses[-1]["level"] == "warning" and "alarm 0 raised" in statuses[-1]["text"]

        await connector.inbox.put(Message.create(UPLINK))
        await received.wait_for(3)
        await wait_until(lambda: len(Collector.received["alarms"]) == 2, message="the alarm cleared")
        cleared = Collector.received["alarms"][1].payload
        assert (cleared["state"], cleared["reason"], cleared["uplinksLastHour"]) == ("cleared", "rateRestored", 2)
        assert statuses[-1]["level"] == "ok"
        assert connection.counters["alarmsRaised"] == 1 and connection.counters["alarmsCleared"] == 1
        assert connector.counters["alarms"] == 1 and connector.counters["alarmsCleared"] == 1
        assert [message.topic for message in received.messages] == [f"alarms-test/{DEV_EUI}/uplink"] * 3
        # Each change is also a runtime event of kind "alarm" (the API's event stream, plugins' hook), of the node.
        assert [(event.flow_id, event.node_id, event.data["state"]) for event in alarm_events] == [
            ("c", "connector", "raised"),
            ("c", "connector", "cleared"),
        ]
        assert alarm_events[0].data["reason"] == "rateBelowMinimum" and alarm_events[0].data["type"] == "mqtt-connector"
