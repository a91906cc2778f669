"""mqtt-in -> mqtt-connector loses nothing it received: real flowhost processes against real Mosquitto.

Each test publishes numbered QoS 1 uplinks to a source broker, which a flowhost process relays with mqtt-in and
mqtt-connector at its default settings (outboxSize 10,000, a persistent session), and counts the distinct numbers
that reach the destination topic. What the source broker must allow: unlimited queued messages for flowhost's
session (Mosquitto's max_queued_messages 0), as the README's delivery section says.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import orjson
import pytest

from flowhost.mqtt import MQTT_311, MQTTClient, TcpEndpoint
from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import Subscriber, wait_until

SAMPLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "thingpark" / "uplink.json").read_text())
SOURCE_FILTER = "network-server/+/up"


def relay_flow(path: Path, source_port: int, destination_port: int, *, one_connection=False, **destination) -> Path:
    """mqtt-in (connection 'source') -> mqtt-connector (connection 'cloud'), both at their defaults; with
    ``one_connection`` both nodes use 'source', which then receives and publishes on one socket."""
    flow = {
        "flowhost": 1,
        "id": "relay",
        "connections": [
            {
                "id": "source",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": "unused/{DevEUI}",
                    "hostName": f"127.0.0.1:{source_port}",
                    "protocol": "TCP",
                    "reconnectMaxDelay": "1s",
                },
            },
            {
                "id": "cloud",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
                    "hostName": f"127.0.0.1:{destination_port}",
                    "protocol": "TCP",
                    "reconnectMaxDelay": "1s",
                    **destination,
                },
            },
        ],
        "nodes": [
            {
                "id": "from-ns",
                "type": "mqtt-in",
                "config": {"connection": "source", "topic": SOURCE_FILTER},
                "wires": {"out": ["connector"]},
            },
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "cloud"}},
        ],
    }
    if one_connection:
        flow["connections"].pop()
        flow["connections"][0]["configuration"]["uplinkTopicPattern"] = "mqtt/things/{DevEUI}/uplink"
        flow["nodes"][1]["config"]["connection"] = "source"
    path.write_text(json.dumps(flow, indent=2))
    return path


def uplink(number: int) -> bytes:
    return orjson.dumps({"DevEUI_uplink": {**SAMPLE["DevEUI_uplink"], "FCntUp": number}})


async def publish_numbered(port: int, numbers: range, rate: float | None = None) -> None:
    """QoS 1 uplinks numbered by FCntUp, each acknowledged by the source broker; ``rate`` per second, or a burst."""
    client = MQTTClient(TcpEndpoint("127.0.0.1", port), "test-network-server", protocol_version=MQTT_311)
    await client.connect()
    try:
        pending = []
        for number in numbers:
            pending.append(await client.publish(f"network-server/{number % 10}/up", uplink(number), 1))
            if rate is not None:
                await asyncio.sleep(1 / rate)
        await asyncio.wait_for(asyncio.gather(*pending), 120)
    finally:
        await client.disconnect()


def distinct_counters(subscriber: Subscriber) -> set[int]:
    return {int(orjson.loads(message.payload)["DevEUI_uplink"]["FCntUp"]) for message in subscriber.messages}


async def wait_for_all(subscriber: Subscriber, count: int, timeout: float) -> None:
    await wait_until(
        lambda: len(subscriber.messages) >= count and len(distinct_counters(subscriber)) >= count,
        timeout,
        f"{count} distinct uplinks at the destination",
    )


def flowhost_args(flow: Path, tmp_path: Path, loop: str = "asyncio") -> tuple[str, ...]:
    data_dir = str(tmp_path / "data")
    return (str(flow), "--no-broker", "--port", str(free_port()), "--data-dir", data_dir, "--loop", loop)


@pytest.mark.parametrize(
    ("one_connection", "loop"),
    [(False, "asyncio"), (True, "asyncio"), (True, "uvloop")],
    ids=["two connections", "one connection", "one connection, uvloop"],
)
async def test_a_burst_beyond_the_outbox_and_the_inbound_queue_loses_nothing(
    flowhost_process, mosquitto_factory, tmp_path, one_connection, loop
):
    source = mosquitto_factory(max_queued=0)
    destination = source if one_connection else mosquitto_factory(max_queued=0)
    flow = relay_flow(tmp_path / "relay.yaml", source.tcp_port, destination.tcp_port, one_connection=one_connection)
    total = 30_000
    async with Subscriber("127.0.0.1", destination.tcp_port, "mqtt/things/+/uplink") as subscriber:
        process = await flowhost_process(*flowhost_args(flow, tmp_path, loop))
        await process.wait_for_line("connection source: OPENED")
        if not one_connection:
            await process.wait_for_line("connection cloud: OPENED")
        await publish_numbered(source.tcp_port, range(total))
        await wait_for_all(subscriber, total, timeout=180)
        assert distinct_counters(subscriber) == set(range(total))
        # The relay held its source back, never by dropping or disconnecting (one connection: nor by waiting on
        # the acknowledgements of its own publishes, which come behind the messages it holds).
        assert not any("dropped" in line or "Refused" in line for line in process.lines), process.lines[-20:]
        assert not [line for line in process.lines if "UNREACHABLE" in line]


@pytest.mark.parametrize(
    ("total", "rate", "killed_after"),
    # A stream; and a burst, in which the connector takes its inbox in batches (up to its batch_size) and the outbox
    # is full, so that the kill lands while batches are being queued, journaled and acknowledged.
    [(2_000, 400, 300), (15_000, None, 1_000)],
    ids=["mid stream", "mid batched burst"],
)
async def test_kill_9_loses_nothing_the_source_broker_was_told_was_stored(
    flowhost_process, mosquitto_factory, tmp_path, total, rate, killed_after
):
    source = mosquitto_factory(max_queued=0)
    destination = mosquitto_factory(max_queued=0)
    flow = relay_flow(tmp_path / "relay.yaml", source.tcp_port, destination.tcp_port)
    args = flowhost_args(flow, tmp_path)
    async with Subscriber("127.0.0.1", destination.tcp_port, "mqtt/things/+/uplink") as subscriber:
        first = await flowhost_process(*args)
        await first.wait_for_line("connection source: OPENED")
        await first.wait_for_line("connection cloud: OPENED")
        stream = asyncio.create_task(publish_numbered(source.tcp_port, range(total), rate=rate))
        await wait_until(lambda: len(subscriber.messages) >= killed_after, 60, "the relay under way")
        first.process.send_signal(signal.SIGKILL)
        await first.process.wait()
        relayed_before_the_kill = len(distinct_counters(subscriber))
        await stream  # the source broker acknowledged every one of them, to its publisher
        second = await flowhost_process(*args)
        await second.wait_for_line("connection source: OPENED")
        await wait_for_all(subscriber, total, timeout=120)
    assert relayed_before_the_kill < total
    # Each was acknowledged to the source broker only once on disk (or published): none is missing after the kill.
    assert distinct_counters(subscriber) == set(range(total))


async def test_a_destination_down_with_a_small_outbox_holds_the_source_back(
    flowhost_process, mosquitto_factory, tmp_path
):
    source = mosquitto_factory(max_queued=0)
    destination = mosquitto_factory(max_queued=0, persistence=True)
    subscriber = Subscriber(
        "127.0.0.1", destination.tcp_port, "mqtt/things/+/uplink", client_id="cloud-app", persistent=True
    )
    async with subscriber:
        pass  # the destination now keeps the subscriber's session, and queues for it while it is away
    destination.stop()
    flow = relay_flow(tmp_path / "relay.yaml", source.tcp_port, destination.tcp_port, outboxSize=100)
    total = 500
    process = await flowhost_process(*flowhost_args(flow, tmp_path))
    await process.wait_for_line("connection source: OPENED")
    await publish_numbered(source.tcp_port, range(total))
    destination.start()
    # The outbox (100) drains first; the other 400 waited in the flow, unacknowledged at the source, until then.
    async with subscriber:
        await wait_for_all(subscriber, total, timeout=60)
    assert distinct_counters(subscriber) == set(range(total))
    assert not any("dropped" in line or "Refused" in line for line in process.lines), process.lines[-20:]
