"""Broker restarts: unacknowledged publishes are resent on a resumed session and handed back on a lost one."""

from __future__ import annotations

import asyncio

import pytest

from flowhost.mqtt import MQTT_5, MQTT_311, ConnectionLostError, MQTTClient, TcpEndpoint
from tests.support.mqtt_helpers import wait_until

from .helpers import Inbox

VERSIONS = [pytest.param(MQTT_311, id="mqtt311"), pytest.param(MQTT_5, id="mqtt5")]
COUNT = 50  # more than Mosquitto's window of 20: some wait in the client's backlog during the outage


def persistent_client(endpoint: TcpEndpoint, name: str, version: int, **options) -> MQTTClient:
    return MQTTClient(
        endpoint, name, protocol_version=version, clean_start=False, session_expiry_interval=300, **options
    )


async def publish_into_a_frozen_broker(
    broker, publisher: MQTTClient, topic: str
) -> tuple[list[bytes], list[asyncio.Future]]:
    """Publish COUNT QoS 1 messages while the broker is frozen, then stop it; return the payloads that were
    not acknowledged and their futures, still pending: with a kept session their outcome waits for the next
    connection. Woken to stop, Mosquitto may still acknowledge a first batch, never the backlog sent after
    those acknowledgements."""
    broker.pause()
    futures = [publisher.publish_nowait(topic, b"%d" % i, qos=1) for i in range(COUNT)]
    await wait_until(lambda: publisher.inflight_count == 20, 5, "20 in flight")
    assert publisher.backlog_count == COUNT - 20
    broker.stop()
    assert isinstance(await asyncio.wait_for(publisher.wait_closed(), 10), ConnectionLostError)
    unacknowledged, pending = [], []
    for i, future in enumerate(futures):
        if not future.done():
            unacknowledged.append(b"%d" % i)
            pending.append(future)
        else:
            assert future.exception() is None
    assert unacknowledged
    return unacknowledged, pending


@pytest.mark.parametrize("version", VERSIONS)
async def test_resumed_session_resends_unacknowledged_messages_with_dup(mosquitto_factory, version: int) -> None:
    broker = mosquitto_factory(persistence=True, log_packets=True)
    endpoint = TcpEndpoint(broker.host, broker.tcp_port)
    inbox = Inbox()
    subscriber = persistent_client(endpoint, f"resume-sub-{version}", version, on_message=inbox)
    publisher = persistent_client(endpoint, f"resume-pub-{version}", version)
    await subscriber.connect()
    await subscriber.subscribe("resume/#", 1)
    await publisher.connect()

    unacknowledged, pending = await publish_into_a_frozen_broker(broker, publisher, "resume/t")
    await asyncio.wait_for(subscriber.wait_closed(), 10)
    broker.start()

    assert (await subscriber.connect()).session_present
    result = await publisher.connect()
    assert result.session_present
    assert result.undelivered == []
    await asyncio.wait_for(asyncio.gather(*pending), 20)  # settled by the PUBACKs of the resent messages
    async with asyncio.timeout(20):
        while len(set(inbox.payloads)) < COUNT or publisher.inflight_count:
            await asyncio.sleep(0.05)
    await publisher.disconnect()
    await subscriber.disconnect()

    assert sorted(set(inbox.payloads), key=int) == [b"%d" % i for i in range(COUNT)]
    resent = broker.log_text().count(f"Received PUBLISH from resume-pub-{version} (d1, q1")
    # Messages sent for the first time after the restart (the backlog) carry no DUP flag.
    assert 1 <= resent <= len(unacknowledged)


@pytest.mark.parametrize("version", VERSIONS)
async def test_lost_session_hands_back_every_unacknowledged_message(mosquitto_factory, version: int) -> None:
    broker = mosquitto_factory(persistence=False)
    endpoint = TcpEndpoint(broker.host, broker.tcp_port)
    inbox = Inbox()
    subscriber = persistent_client(endpoint, f"lost-sub-{version}", version, on_message=inbox)
    publisher = persistent_client(endpoint, f"lost-pub-{version}", version)
    await subscriber.connect()
    await subscriber.subscribe("lost/#", 1)
    await publisher.connect()

    unacknowledged, pending = await publish_into_a_frozen_broker(broker, publisher, "lost/t")
    await asyncio.wait_for(subscriber.wait_closed(), 10)
    broker.start()

    assert not (await subscriber.connect()).session_present  # and the client subscribed again
    result = await publisher.connect()
    assert not result.session_present
    assert [(m.topic, m.payload, m.qos) for m in result.undelivered] == [
        ("lost/t", payload, 1) for payload in unacknowledged
    ]
    assert publisher.inflight_count == publisher.backlog_count == 0
    assert all(isinstance(future.exception(), ConnectionLostError) for future in pending)  # publish them again
    futures = [await publisher.publish(m.topic, m.payload, m.qos) for m in result.undelivered]
    await asyncio.wait_for(asyncio.gather(*futures), 20)
    async with asyncio.timeout(10):
        while not set(unacknowledged) <= set(inbox.payloads):
            await asyncio.sleep(0.05)
    await publisher.disconnect()
    await subscriber.disconnect()
