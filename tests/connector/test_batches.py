"""mqtt-connector takes its inbox in batches (``batch_size``): each uplink of a batch keeps its own receipt and
outcome, the accepted ones go to the outbox in one submission, and an outbox that fills in the middle of a batch
holds a patient source back without losing, reordering or duplicating anything."""

from __future__ import annotations

import contextlib

import orjson
import pytest

from flowhost.message import Message, Receipt
from tests.connector.conftest import DEVICES, connector_flow
from tests.support.mqtt_helpers import Subscriber, wait_until

NO_UPLINKS = {"type": "test-emit", "config": {"payloads": []}}
TOPIC = "batches/{DevEUI}/uplink"


def uplink(number: int) -> dict:
    return {"DevEUI_uplink": {"DevEUI": DEVICES[0], "FPort": 1, "FCntUp": number}}


def put_batch(runner, documents: list[dict], receipts: list[Receipt]) -> None:
    """Put the messages straight into the connector's inbox, before its worker runs again: they are one batch."""
    for document, receipt in zip(documents, receipts, strict=True):
        runner.inbox.put_nowait(Message.from_bytes(orjson.dumps(document), receipt=receipt))
        receipt.hold()  # what a wire holds for the inbox it enters
        receipt.release()  # the source's own hold


def counters_published(subscriber: Subscriber) -> list[int]:
    return [document["DevEUI_uplink"]["FCntUp"] for document in subscriber.documents()]


def configuration(port: int, **extra) -> dict:
    return {"uplinkTopicPattern": TOPIC, "hostName": f"127.0.0.1:{port}", "protocol": "TCP", **extra}


@contextlib.asynccontextmanager
async def connector_on_a_silent_broker(mosquitto_factory, deploy, runtime, outbox_size: int):
    """A connector with ``outboxSize`` whose broker is paused once the connection opened: nothing it publishes is
    acknowledged until ``broker.resume()``. Yields (connection, the connector's runner, broker, subscriber)."""
    broker = mosquitto_factory()
    async with Subscriber("127.0.0.1", broker.tcp_port, "batches/+/uplink", client_id="batch-silent") as sub:
        settings = configuration(broker.tcp_port, outboxSize=outbox_size)
        connection = await deploy(connector_flow(settings, source=NO_UPLINKS))
        await wait_until(lambda: connection.state == "OPENED")
        broker.pause()
        yield connection, runtime.node("c", "connector"), broker, sub


async def test_a_rejected_uplink_in_the_middle_of_a_batch_is_refused_alone(mosquitto, deploy, runtime):
    async with Subscriber("127.0.0.1", mosquitto.tcp_port, "batches/+/uplink", client_id="batch-rejected") as sub:
        connection = await deploy(connector_flow(configuration(mosquitto.tcp_port), source=NO_UPLINKS))
        await wait_until(lambda: connection.state == "OPENED")
        submissions = []
        add_many = connection._outbox.add_many
        connection._outbox.add_many = lambda uplinks: submissions.append(len(uplinks)) or add_many(uplinks)
        receipts = [Receipt() for _ in range(5)]
        documents = [uplink(0), uplink(1), {"DevEUI_uplink": {"DevEUI": "not a DevEUI"}}, uplink(3), uplink(4)]
        put_batch(runtime.node("c", "connector"), documents, receipts)
        refusals = [await receipt.wait(timeout=5) for receipt in receipts]
        await sub.wait_for(4)
    rejected = refusals.pop(2)
    assert not rejected.retryable and "DevEUI" in rejected.reason and rejected.node_id == "connector"
    assert refusals == [None] * 4 and [receipt.durable for receipt in receipts] == [True, True, False, True, True]
    assert counters_published(sub) == [0, 1, 3, 4]
    assert submissions == [4]  # the accepted four, in one submission
    counters = runtime.node("c", "connector").counters
    assert counters["uplinks"] == 4 and counters["rejected"] == 1 and counters["processed"] == 5


async def test_a_full_outbox_in_the_middle_of_a_batch_holds_a_patient_source_until_there_is_room(
    mosquitto_factory, deploy, runtime
):
    relay = connector_on_a_silent_broker(mosquitto_factory, deploy, runtime, outbox_size=3)
    async with relay as (connection, connector, broker, sub):
        receipts = [Receipt(patient=True) for _ in range(5)]  # as mqtt-in's: the source can wait
        settled = []
        for receipt in receipts:
            receipt.when_settled(settled.append)
        put_batch(connector, [uplink(number) for number in range(5)], receipts)
        await wait_until(lambda: connector.counters["waitedForRoom"] == 1, 5, "the connector waiting for room")
        # The batch waits for room for the two it could not queue; none of its receipts settles before it is done.
        assert connection.queued == 3 and settled == []
        broker.resume()
        assert [await receipt.wait(timeout=30) for receipt in receipts] == [None] * 5
        await sub.wait_for(5, timeout=30)
    assert all(receipt.durable for receipt in receipts)
    assert sorted(set(counters_published(sub))) == counters_published(sub) == [0, 1, 2, 3, 4]
    assert connector.counters["uplinks"] == 5 and not connector.counters["refused"]


async def test_in_a_batch_a_source_that_cannot_wait_is_refused_while_a_patient_one_waits(
    mosquitto_factory, deploy, runtime
):
    relay = connector_on_a_silent_broker(mosquitto_factory, deploy, runtime, outbox_size=1)
    async with relay as (connection, connector, broker, sub):
        receipts = [Receipt(patient=True), Receipt(), Receipt(patient=True)]  # mqtt-in, http-uplink, mqtt-in
        put_batch(connector, [uplink(number) for number in range(3)], receipts)
        await wait_until(lambda: connector.counters["waitedForRoom"] == 1, 5, "the connector waiting for room")
        assert connection.queued == 1 and connector.counters["refused"] == 1
        broker.resume()
        refusals = [await receipt.wait(timeout=30) for receipt in receipts]
        await sub.wait_for(2, timeout=30)
    refused = refusals.pop(1)
    assert refused.retryable and "holds 1 uplinks" in refused.reason
    assert refusals == [None, None] and counters_published(sub) == [0, 2]


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "volatile"])
async def test_a_batch_larger_than_the_outbox_goes_through_in_order(mosquitto, deploy, runtime, durable):
    async with Subscriber("127.0.0.1", mosquitto.tcp_port, "batches/+/uplink", client_id="batch-large") as sub:
        settings = configuration(mosquitto.tcp_port, outboxSize=7, durableOutbox=durable)
        connection = await deploy(connector_flow(settings, source=NO_UPLINKS))
        await wait_until(lambda: connection.state == "OPENED")
        receipts = [Receipt(patient=True) for _ in range(40)]
        put_batch(runtime.node("c", "connector"), [uplink(number) for number in range(40)], receipts)
        assert [await receipt.wait(timeout=30) for receipt in receipts] == [None] * 40
        await sub.wait_for(40, timeout=30)
    assert counters_published(sub) == list(range(40))
