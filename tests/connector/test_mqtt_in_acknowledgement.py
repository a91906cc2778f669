"""mqtt-in acknowledges a QoS 1 message only once the flow took it (the uplink is on disk), and leaves
unacknowledged what the flow cannot take yet (a full outbox), holding it until there is room."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest

from flowhost.flowfile import validate_flow
from flowhost.mqtt import MQTT_311
from flowhost.mqtt import packets as p
from flowhost_builtins.mqtt_nodes import MqttConnector
from flowhost_builtins.uplink_journal import read_journal
from tests.mqtt.helpers import FakeConnection, fake_broker
from tests.support.mqtt_helpers import wait_until


@pytest.fixture(autouse=True)
def _short_drain(monkeypatch):
    """Removing the flow lets the connector finish what it holds for drain_timeout (a second): here the second
    uplink waits for outbox room that never comes, and how long removal waits for it is not the matter here."""
    monkeypatch.setattr(MqttConnector, "drain_timeout", 0.05)


def uplink(counter: int) -> bytes:
    return orjson.dumps({"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": 1, "FCntUp": counter}})


def bridge(port: int, acknowledge: str) -> dict:
    configuration = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{port}",
        "protocol": "TCP",
        "outboxSize": 1,
    }
    return {
        "flowhost": 1,
        "id": "ack",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {
                "id": "in",
                "type": "mqtt-in",
                "wires": {"out": ["connector"]},
                "config": {"connection": "broker", "topic": "ns/+/up", "acknowledge": acknowledge},
            },
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
        ],
    }


async def deliver_two(runtime, acknowledge: str) -> tuple[list[tuple[int, int]], bool]:
    """A fake broker delivers two QoS 1 uplinks and never acknowledges what flowhost publishes, so the outbox
    (room for one) fills. Returns (packet id, uplinks on disk) for each PUBACK, and whether flowhost hung up."""
    outbox = runtime.data_dir / "connections" / "broker" / "outbox"
    acknowledgements: list[tuple[int, int]] = []
    hung_up = asyncio.Event()

    async def script(conn: FakeConnection) -> None:
        if hung_up.is_set():
            return  # the reconnection after a hang-up: not part of this test
        assert isinstance(await conn.receive(), p.Connect)
        await conn.send(p.Connack(False, 0, {}).encode(MQTT_311))
        subscribe = await conn.receive()
        await conn.send(p.Suback(subscribe.packet_id, [1]).encode(MQTT_311))
        await conn.send(p.Message("ns/1/up", uplink(1), 1, packet_id=41).encode(MQTT_311))
        # the first one is stored, and the outbox (room for one) is full
        await wait_until(lambda: outbox.exists() and len(read_journal(outbox)[0]) == 1, 5, "the first uplink stored")
        await conn.send(p.Message("ns/1/up", uplink(2), 1, packet_id=42).encode(MQTT_311))
        try:
            while True:
                packet = await conn.receive(60)
                if isinstance(packet, p.PubAck):
                    acknowledgements.append((packet.packet_id, len(read_journal(outbox)[0])))
        except ConnectionError:
            hung_up.set()

    async with fake_broker(script, version=MQTT_311) as endpoint:
        await runtime.deploy(validate_flow(bridge(endpoint.port, acknowledge), runtime.registry))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                while len(acknowledgements) < 2 and not hung_up.is_set():
                    await asyncio.sleep(0.01)
        hung_up_by_flowhost = hung_up.is_set()  # before the flow is removed, which hangs up too
        await runtime.remove_flow("ack")
    return acknowledgements, hung_up_by_flowhost


@pytest.mark.expect_node_errors
async def test_acknowledged_once_stored_and_not_while_it_cannot_be_taken(runtime):
    acknowledgements, _ = await deliver_two(runtime, "stored")
    assert acknowledgements == [(41, 1)]  # on disk when acknowledged; 42 waits for room, unacknowledged


async def test_acknowledge_received_answers_whatever_becomes_of_the_message(runtime):
    acknowledgements, hung_up = await deliver_two(runtime, "received")
    assert [packet_id for packet_id, _ in acknowledgements] == [41, 42] and not hung_up
