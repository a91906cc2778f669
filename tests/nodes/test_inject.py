"""``inject``: once, every interval, at cron times (in a time zone), by hand; literal payloads or uplinks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import voluptuous as vol

from flowhost.app import create_web_app
from flowhost_builtins.inject_node import InjectNode
from tests.api.conftest import TOKEN

from .conftest import WALL_START, wait_for


def flow(config: str) -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - {{id: tick, type: inject, config: {config}, wires: {{out: [sink]}}}}
      - {{id: sink, type: test-collect}}
    """


async def test_once_at_start_sends_the_time_in_milliseconds_by_default(harness):
    await harness.deploy(flow("{once: true}"))
    await wait_for(lambda: harness.received("sink"))
    assert harness.payloads("sink") == [int(WALL_START * 1000)]
    assert harness.node("tick").snapshot()["status"] == {"text": "once", "level": "ok"}


async def test_every_interval_on_the_clock_without_waiting(harness):
    await harness.deploy(flow("{interval: 10m, payload: {ping: 1}, topic: pings}"))
    await harness.advance(35 * 60)
    await wait_for(lambda: len(harness.received("sink")) == 3)
    assert [msg.payload for msg in harness.received("sink")] == [{"ping": 1}] * 3
    assert {msg.topic for msg in harness.received("sink")} == {"pings"}
    await harness.advance(5 * 60)
    await wait_for(lambda: len(harness.received("sink")) == 4)
    assert harness.counters("tick")["injected"] == 4


async def test_a_limit_stops_the_timed_messages(harness):
    await harness.deploy(flow("{interval: 1s, limit: 2, once: true}"))
    await harness.advance(10)
    await wait_for(lambda: len(harness.received("sink")) == 3)
    await harness.clock.advance(60)
    await harness.settle()
    assert len(harness.received("sink")) == 3 and harness.clock.sleepers == 0


async def test_cron_times_in_a_time_zone_with_generated_uplinks(harness):
    # 08:00 in Paris on 1 January 2026 is 07:00 UTC (CET, UTC+1); the clock starts at 00:00 UTC.
    await harness.deploy(
        flow("{cron: '0 8 * * *', timezone: Europe/Paris, uplink: {devEUI: 78af580300000345, fPort: 2, seed: 1}}")
    )
    await harness.advance(7 * 3600 - 1)
    await harness.settle()
    assert harness.received("sink") == []
    await harness.advance(1)
    await wait_for(lambda: len(harness.received("sink")) == 1)
    await harness.advance(24 * 3600)
    await wait_for(lambda: len(harness.received("sink")) == 2)
    first, second = (msg.payload["DevEUI_uplink"] for msg in harness.received("sink"))
    assert first["DevEUI"] == "78AF580300000345" and first["FPort"] == "2"
    assert (first["FCntUp"], second["FCntUp"]) == ("0", "1")
    sent_at = datetime.fromisoformat(first["Time"]).astimezone(UTC)
    assert datetime(2026, 1, 1, 6, 59, 59, tzinfo=UTC) < sent_at <= datetime(2026, 1, 1, 7, tzinfo=UTC)


async def test_by_hand_through_the_api(harness, aiohttp_client):
    await harness.deploy(flow("{payload: pressed}"))
    client = await aiohttp_client(create_web_app(harness.runtime, token=TOKEN))
    response = await client.post("/api/flows/t/nodes/tick/inject", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 204
    await wait_for(lambda: harness.received("sink"))
    assert harness.payloads("sink") == ["pressed"]
    body = await (await client.get("/api/node-types", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    [inject] = [item for item in body["nodeTypes"] if item["type"] == "inject"]
    assert inject["triggerable"] is True and inject["inputs"] == 0


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"cron": "61 * * * *"}, "cron", "not a cron expression"),
        ({"cron": "0 0 31 2 *"}, "cron", "never matches"),
        ({"cron": "0 * * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"cron": "0 * * * *", "interval": "1m"}, "cron", "give interval or cron, not both"),
        ({"payload": 1, "uplink": {"devEUI": "78AF580300000345"}}, "uplink", "give payload or uplink"),
        ({"interval": "1ms"}, "interval", "value must be at least 0.01"),
        ({"interval": "often"}, "interval", "'often' is not a duration"),
        ({"uplink": {"devEUI": "78AF58"}}, "uplink.devEUI", "DevEUI must be 16 hexadecimal digits"),
        ({"uplink": {"devEUI": "78AF580300000345", "fPort": 0}}, "uplink.fPort", "at least 1"),
        ({"uplink": {"devEUI": "78AF580300000345", "payloadHex": "abc"}}, "uplink.payloadHex", "even number"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(config, path, message):
    with pytest.raises(vol.Invalid) as caught:
        InjectNode.config_schema(config)
    assert ".".join(str(item) for item in caught.value.path) == path
    assert message in str(caught.value)
