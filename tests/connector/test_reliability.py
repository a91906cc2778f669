"""Mosquitto restarted under a stream of uplinks: none lost, order kept, exactly the expired ones dropped."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import orjson

from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import MosquittoSub, wait_until

DEVICES = [f"70B3D5E75E00{index:04X}" for index in range(5)]


async def persistent_subscriber(broker, topic_filter: str) -> MosquittoSub:
    """mosquitto_sub with a persistent QoS 1 session: it reconnects by itself and gets what was queued. Returned
    once its subscription is in place (a probe came back); its ``lines`` are "topic payload" (``-v``)."""
    options = ("-i", "reliability-subscriber", "-c", "-q", "1", "-v")
    return await MosquittoSub(broker.host, broker.tcp_port, topic_filter, "mqtt/things/probe/uplink", *options).start()


def frame_counters(lines: list[str]) -> dict[str, list[int]]:
    per_device: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        topic, payload = line.split(" ", 1)
        fields = orjson.loads(payload)["DevEUI_uplink"]
        assert topic == f"mqtt/things/{fields['DevEUI']}/uplink"
        per_device[fields["DevEUI"]].append(int(fields["FCntUp"]))
    return per_device


async def run_outage(mosquitto_factory, deploy, *, total: int, outage: float, validity: str | None):
    broker = mosquitto_factory(persistence=True)
    configuration = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{broker.tcp_port}",
        "protocol": "TCP",
        "reconnectMaxDelay": "1s",
    }
    if validity:
        configuration["uplinkTimeValidity"] = validity
    subscriber = await persistent_subscriber(broker, "mqtt/things/+/uplink")
    lines = subscriber.lines
    try:
        source = {
            "type": "lorawan-simulator",
            "config": {"devEUIs": DEVICES, "interval": "100ms", "limit": total},
        }  # 50 uplinks/s
        connection = await deploy(connector_flow(configuration, source=source))
        await wait_until(lambda: connection.counters["uplinksPublished"] >= 20)
        broker.stop()
        await wait_until(lambda: connection.state == "UNREACHABLE", timeout=5)
        await asyncio.sleep(outage)  # the behaviour under test: an outage of this length under the stream
        broker.start()
        await wait_until(
            lambda: connection.counters["uplinksPublished"] + connection.counters["uplinksExpired"] >= total,
            timeout=30,
        )
        await wait_until(lambda: len(lines) >= connection.counters["uplinksPublished"], timeout=15)
        return connection, frame_counters(lines)
    finally:
        await subscriber.stop()


async def test_a_broker_restart_loses_nothing_and_keeps_order(mosquitto_factory, deploy):
    total = 200
    connection, per_device = await run_outage(mosquitto_factory, deploy, total=total, outage=2.0, validity=None)
    for dev_eui in DEVICES:
        received = per_device[dev_eui]
        deduplicated = list(dict.fromkeys(received))  # at-least-once: a resend may repeat one
        assert deduplicated == list(range(total // len(DEVICES))), f"{dev_eui}: {received}"
    assert connection.counters["uplinksExpired"] == 0
    assert connection.counters["reconnections"] >= 1


async def test_uplinks_that_expire_during_an_outage_are_dropped_and_counted(mosquitto_factory, deploy):
    total = 200
    connection, per_device = await run_outage(mosquitto_factory, deploy, total=total, outage=3.0, validity="1s")
    received = {(dev_eui, counter) for dev_eui, counters in per_device.items() for counter in counters}
    expired = connection.counters["uplinksExpired"]
    assert expired > 0
    assert len(received) + expired == total
    for counters in per_device.values():
        deduplicated = list(dict.fromkeys(counters))
        assert deduplicated == sorted(deduplicated)  # whatever was published went out in order
