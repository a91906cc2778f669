"""Nodes that take their inbox in batches (``Node.batch_size``): order, batch bounds, one message failing alone,
a whole batch failing, receipts, the flow-test tap, and what registration refuses."""

from __future__ import annotations

import pytest

from flowhost.input_tap import tapped_batch
from flowhost.message import Message, Receipt
from flowhost.node import Node
from flowhost.registry import RegistrationError, Registry
from tests.support.mqtt_helpers import wait_until
from tests.support.sample_nodes import EVENTS, BatchCollector, Collector, Emitter


@pytest.fixture(autouse=True)
def _clean_batches():
    BatchCollector.batches.clear()
    yield
    BatchCollector.batches.clear()


def batch_flow(payloads: list, collector_config: str = "{}") -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - {{id: source, type: test-emit, config: {{payloads: {payloads}}}, wires: {{out: [sink]}}}}
      - {{id: sink, type: test-batch-collect, config: {collector_config}}}
    """


def received(node_id: str = "sink") -> list:
    return [msg.payload for batch in BatchCollector.batches[node_id] for msg in batch]


async def test_what_waits_in_the_inbox_is_handed_over_in_order_in_bounded_batches(runtime, load_flow):
    payloads = list(range(500))
    await runtime.deploy(load_flow(batch_flow(payloads, "{delay: 2ms}")))
    await wait_until(lambda: len(received()) == 500)
    assert received() == payloads
    sizes = [len(batch) for batch in BatchCollector.batches["sink"]]
    assert max(sizes) == BatchCollector.batch_size  # the emitter outruns a node that sleeps per batch
    assert all(1 <= size <= BatchCollector.batch_size for size in sizes)
    sink = runtime.node("t", "sink")
    assert sink.counters["processed"] == 500 and sink.inbox.qsize() == 0


@pytest.mark.expect_node_errors
async def test_one_message_of_a_batch_fails_alone(runtime, load_flow):
    errors = []
    runtime.add_listener(lambda event: errors.append(event) if event.kind == "error" else None)
    payloads = [str(number) for number in range(40)]
    await runtime.deploy(load_flow(batch_flow(payloads, "{delay: 2ms, fail_on: '7'}")))
    await wait_until(lambda: len(received()) == 39)
    assert received() == [payload for payload in payloads if payload != "7"]
    [event] = errors
    assert event.data["error"] == "ValueError: cannot handle '7'" and event.node_id == "sink"


@pytest.mark.expect_node_errors
async def test_a_batch_that_raises_fails_each_of_its_messages_and_the_next_batch_goes_on(runtime, load_flow):
    errors = []
    runtime.add_listener(lambda event: errors.append(event) if event.kind == "error" else None)
    await runtime.deploy(load_flow(batch_flow([], "{raise_on: boom}")))
    sink = runtime.node("t", "sink")
    receipts = [Receipt() for _ in range(3)]
    # Put straight into the inbox before the worker runs again: the three arrive as one batch.
    for payload, receipt in zip(["a", "boom", "c"], receipts, strict=True):
        sink.inbox.put_nowait(Message.create(payload, receipt=receipt))
        receipt.hold()  # what a wire holds for the inbox it enters
        receipt.release()  # the source's own hold
    refusals = [await receipt.wait(timeout=5) for receipt in receipts]
    assert all(refusal.retryable and "cannot handle a batch of 3" in refusal.reason for refusal in refusals)
    assert len(errors) == 3 and len({event.data["message_id"] for event in errors}) == 3
    assert sink.counters["errors"] == 3 and sink.counters.get("processed", 0) == 0
    await sink.put_input(Message.create("after"))
    await wait_until(lambda: received() == ["after"])


@pytest.mark.expect_node_errors
async def test_a_receipt_settles_once_its_batch_is_handled(runtime, load_flow):
    await runtime.deploy(load_flow(batch_flow([], "{fail_on: bad}")))
    sink = runtime.node("t", "sink")
    good, bad = Receipt(), Receipt()
    for payload, receipt in (("good", good), ("bad", bad)):
        sink.inbox.put_nowait(Message.create(payload, receipt=receipt))
        receipt.hold()
        receipt.release()
    assert await good.wait(timeout=5) is None
    refusal = await bad.wait(timeout=5)
    assert refusal.reason == "refused alone" and not refusal.retryable


async def test_the_flow_test_tap_sees_every_message_of_a_batch_and_holds_each_until_the_batch_is_done():
    seen, in_hand, during = [], [0], []

    async def tap(runner, msg, handle):
        seen.append(msg.payload)
        in_hand[0] += 1
        try:
            await handle(msg)
        finally:
            in_hand[0] -= 1

    async def handle_batch(messages):
        during.append((in_hand[0], [msg.payload for msg in messages]))

    batch = [Message.create(payload) for payload in ("a", "b", "c")]
    await tapped_batch(tap, object(), handle_batch)(batch)
    assert seen == ["a", "b", "c"] and during == [(3, ["a", "b", "c"])] and in_hand == [0]
    assert tapped_batch(None, object(), handle_batch) is handle_batch


def _registry_refusal(node_class: type) -> str:
    with pytest.raises(RegistrationError) as refused:
        Registry().register_node_type(node_class, "a-plugin")
    return str(refused.value)


def test_registration_refuses_a_batch_size_without_a_batch_handler():
    class Greedy(Node):
        type = "greedy"
        batch_size = 8

    assert _registry_refusal(Greedy) == (
        "node type 'greedy': batch_size is 8 but on_input_batch is not overridden: override it to handle several "
        "messages at once, or leave batch_size at 1"
    )


@pytest.mark.parametrize("size", [0, -1, 10_001, 2.5, "8", True])
def test_registration_refuses_a_batch_size_that_is_not_a_bounded_whole_number(size):
    class Odd(Node):
        type = "odd"
        batch_size = size

        async def on_input_batch(self, messages):
            pass

    assert _registry_refusal(Odd) == (
        f"node type 'odd': batch_size must be a whole number from 1 to 10000, got {size!r}"
    )


def test_registration_refuses_a_synchronous_batch_handler():
    class Blocking(Node):
        type = "blocking"
        batch_size = 4

        def on_input_batch(self, messages):
            pass

    assert _registry_refusal(Blocking) == "node type 'blocking': on_input_batch must be an async method"


async def test_messages_sent_many_at_once_go_as_far_as_every_receiver_has_room_in_order_each_held_by_both(
    runtime, load_flow
):
    """``send_many_nowait`` (how mqtt-in hands on what one socket read brought): the first messages, as many as
    the fullest receiver has room for, go at once; each receipt is held by both receivers, so it settles only
    once the slower one has handled its message too."""
    EVENTS.clear()
    Collector.received.clear()
    payloads = [str(number) for number in range(10)]
    Emitter.settled.clear()
    await runtime.deploy(
        load_flow(f"""
        flowhost: 1
        id: t
        nodes:
          - {{id: source, type: test-emit, config: {{payloads: {payloads}, at_once: true}}, wires: {{out: [a, b]}}}}
          - {{id: a, type: test-collect, config: {{inbox: 6}}}}
          - {{id: b, type: test-collect, config: {{inbox: 4, delay: 5ms}}}}
        """)
    )
    await wait_until(lambda: len(Emitter.settled) == 10)
    assert "sent at once 4" in EVENTS  # b's inbox holds 4
    assert [msg.payload for msg in Collector.received["a"]] == payloads
    assert [msg.payload for msg in Collector.received["b"]] == payloads
    assert all(receipt.settled and receipt.refusal is None for receipt in Emitter.receipts["source"])
    for payload, handled in Emitter.settled:  # never before the slower receiver had handled it too
        assert handled["a"] > int(payload) and handled["b"] > int(payload), (payload, handled)
