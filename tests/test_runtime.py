"""The runtime: order, back-pressure, error isolation, close timeouts, connection lifetimes, redeploys."""

from __future__ import annotations

import asyncio

import pytest

from flowhost.message import FrozenDict, Message, Receipt
from tests.support.sample_nodes import EVENTS, Collector


@pytest.fixture(autouse=True)
def _clean_sample_state():
    EVENTS.clear()
    Collector.received.clear()
    yield
    Collector.received.clear()


async def wait_for(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def flow_text(emit_payloads: list, collector_config: str = "{}", extra_nodes: str = "") -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - {{id: source, type: test-emit, config: {{payloads: {emit_payloads}}}, wires: {{out: [sink]}}}}
      - {{id: sink, type: test-collect, config: {collector_config}}}
    {extra_nodes}
    """


async def test_messages_arrive_in_order(runtime, load_flow):
    payloads = list(range(2000))
    await runtime.deploy(load_flow(flow_text(payloads)))
    await wait_for(lambda: len(Collector.received["sink"]) == 2000)
    assert [msg.payload for msg in Collector.received["sink"]] == payloads


async def test_a_full_inbox_makes_the_sender_wait(runtime, load_flow):
    # 30 messages through an inbox of 2 at 5 ms each: the source is still blocked when the first wait ends
    await runtime.deploy(load_flow(flow_text(list(range(30)), "{inbox: 2, delay: 5ms}")))
    sink = runtime.node("t", "sink")
    await wait_for(lambda: sink.counters["backpressure"] > 0)
    assert sink.inbox.qsize() <= 2 and "emitted source" not in EVENTS
    await wait_for(lambda: len(Collector.received["sink"]) == 30)
    assert [msg.payload for msg in Collector.received["sink"]] == list(range(30))


@pytest.mark.expect_node_errors
async def test_a_failing_message_is_counted_and_the_flow_keeps_running(runtime, load_flow, fail_on_node_error):
    errors = []
    runtime.add_listener(lambda event: errors.append(event) if event.kind == "error" else None)
    await runtime.deploy(load_flow(flow_text(["a", "bad", "c"], "{fail_on: bad}")))
    await wait_for(lambda: len(Collector.received["sink"]) == 2)
    assert [msg.payload for msg in Collector.received["sink"]] == ["a", "c"]
    sink = runtime.node("t", "sink")
    assert sink.counters["errors"] == 1 and sink.counters["processed"] == 2
    [event] = errors
    assert event.node_id == "sink" and event.flow_id == "t"
    assert event.data["error"] == "ValueError: cannot handle 'bad'" and event.data["message_id"]
    [record] = fail_on_node_error.records
    assert "t/sink" in record.getMessage() and event.data["message_id"] in record.getMessage()


async def test_fan_out_shares_one_immutable_message(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    nodes:
      - {id: source, type: test-emit, config: {payloads: [{a: [1, 2]}]}, wires: {out: [one, two]}}
      - {id: one, type: test-collect}
      - {id: two, type: test-collect}
    """
    await runtime.deploy(load_flow(text))
    await wait_for(lambda: Collector.received["one"] and Collector.received["two"])
    [first], [second] = Collector.received["one"], Collector.received["two"]
    assert first is second
    assert isinstance(first.payload, FrozenDict) and first.payload["a"] == (1, 2)
    with pytest.raises(TypeError):
        first.payload["a"] = 3
    with pytest.raises(AttributeError):
        first.topic = "changed"


async def test_derived_messages_point_at_their_parent():
    parent = Message.create({"n": 1}, topic="t")
    child = parent.derive(payload={"n": 2})
    assert child.parent_id == parent.id and child.id != parent.id
    assert child.topic == "t" and child.payload == {"n": 2} and parent.payload == {"n": 1}


async def test_a_message_from_bytes_reads_as_frozen_json_and_keeps_the_bytes_until_changed():
    data = b'{"DevEUI_uplink": {"DevEUI": "0018B20000000B20", "FCntUp": [1, 2]}}'
    msg = Message.from_bytes(data, topic="ns/up", meta={"qos": 1})
    assert msg.source_bytes is data
    assert msg.payload == {"DevEUI_uplink": {"DevEUI": "0018B20000000B20", "FCntUp": (1, 2)}}
    assert isinstance(msg.payload["DevEUI_uplink"], FrozenDict) and msg.payload is msg.payload
    with pytest.raises(TypeError):
        msg.payload["DevEUI_uplink"]["DevEUI"] = "changed"
    with pytest.raises(AttributeError):
        msg.source_bytes = b"{}"
    assert Message.from_bytes(b"\xff not json").payload == b"\xff not json"
    relabelled = msg.derive(topic="other")
    assert relabelled.source_bytes is data and relabelled.payload == msg.payload
    changed = msg.derive(payload={"DevEUI_uplink": {"DevEUI": "0018B20000000B21"}})
    assert changed.source_bytes is None and changed.payload["DevEUI_uplink"]["DevEUI"] == "0018B20000000B21"
    assert msg == Message(msg.payload, "ns/up", msg.meta, msg.id) and msg != changed


async def test_a_message_derived_from_bytes_decodes_them_lazily_and_keeps_its_lineage():
    msg = Message.from_bytes(b'{"a": 1}', topic="ns/up", meta={"qos": 1})
    child = msg.derive_from_bytes(b'{"a": 2, "b": [3]}')
    assert child.source_bytes == b'{"a": 2, "b": [3]}' and child.payload == {"a": 2, "b": (3,)}
    assert isinstance(child.payload, FrozenDict)
    assert (child.parent_id, child.topic, child.meta, child.receipt) == (msg.id, "ns/up", msg.meta, msg.receipt)


@pytest.mark.expect_node_errors
async def test_close_runs_under_a_timeout(runtime, load_flow):
    await runtime.deploy(load_flow("flowhost: 1\nid: t\nnodes: [{id: s, type: test-stubborn}]\n"))
    async with asyncio.timeout(3):
        await runtime.remove_flow("t")
    assert "t" not in runtime.flows


async def test_connections_start_before_their_nodes_and_stop_after(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    connections:
      - {id: link, connectorId: test-loopback}
    nodes:
      - {id: sink, type: test-collect, config: {connection: link}}
    """
    await runtime.deploy(load_flow(text))
    assert runtime.connections["link"].connection.state == "OPENED"
    await runtime.remove_flow("t")
    assert EVENTS == ["connection start link", "start sink", "close sink", "connection stop link"]
    assert "link" not in runtime.connections


async def test_an_inactive_connection_shows_its_type_s_own_inactive_state(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    connections:
      - {id: off, connectorId: test-dormant, active: false}
      - {id: on, connectorId: test-dormant}
    nodes: []
    """
    await runtime.deploy(load_flow(text))
    assert runtime.connections["off"].connection.state == "DORMANT"
    assert runtime.connections["on"].connection.state == "OPENED"


async def test_redeploy_restarts_only_what_changed(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    connections:
      - {id: link, connectorId: test-loopback, configuration: {label: one}}
    nodes:
      - {id: a, type: test-collect, config: {connection: link}}
      - {id: b, type: test-collect}
      - {id: c, type: test-collect, config: {delay: 1ms}}
    layout: {a: {x: 1, y: 1}}
    """
    await runtime.deploy(load_flow(text))
    EVENTS.clear()
    moved = text.replace("{x: 1, y: 1}", "{x: 500, y: 9}")
    assert await runtime.deploy(load_flow(moved)) == []
    changed = moved.replace("delay: 1ms", "delay: 2ms")
    assert await runtime.deploy(load_flow(changed)) == ["c"]
    assert EVENTS == ["close c", "start c"]
    EVENTS.clear()
    relabelled = changed.replace("label: one", "label: two")
    assert await runtime.deploy(load_flow(relabelled)) == ["a"]
    assert EVENTS == ["close a", "connection stop link", "connection start link", "start a"]


async def test_rewiring_does_not_restart_nodes(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    nodes:
      - {id: relay, type: test-relay}
      - {id: one, type: test-collect}
      - {id: two, type: test-collect}
    """
    await runtime.deploy(load_flow(text))
    wired = text.replace("type: test-relay}", "type: test-relay, wires: {out: [two]}}")
    assert await runtime.deploy(load_flow(wired)) == []
    await runtime.node("t", "relay").inbox.put(Message.create("hello"))
    await wait_for(lambda: Collector.received["two"])
    assert not Collector.received["one"]


async def test_status_changes_are_events(runtime, load_flow):
    seen = []
    runtime.add_listener(seen.append)
    await runtime.deploy(load_flow("flowhost: 1\nid: t\nnodes: [{id: a, type: test-collect}]\n"))
    runtime.node("t", "a").status("connected", "ok")
    runtime.node("t", "a").status("connected", "ok")  # unchanged: no second event
    statuses = [event for event in seen if event.kind == "status"]
    assert [(event.node_id, event.data) for event in statuses] == [
        ("a", {"text": "connected", "level": "ok", "type": "test-collect"})
    ]
    assert seen[0].kind == "deployed"


async def test_a_receipt_resolves_when_every_receiver_handled_the_message(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    nodes:
      - {id: relay, type: test-relay, wires: {out: [fast, slow]}}
      - {id: fast, type: test-collect}
      - {id: slow, type: test-collect, config: {delay: 100ms}}
    """
    await runtime.deploy(load_flow(text))
    receipt = Receipt()
    await runtime.node("t", "relay").send(Message.create("hello", receipt=receipt), "out")
    receipt.release()  # the source's own hold
    assert await receipt.wait(timeout=5) is None
    assert Collector.received["slow"] and Collector.received["fast"]


async def test_a_receipt_wait_that_timed_out_can_be_followed_by_another(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    nodes:
      - {id: relay, type: test-relay, wires: {out: [slow]}}
      - {id: slow, type: test-collect, config: {delay: 300ms}}
    """
    await runtime.deploy(load_flow(text))
    receipt = Receipt()
    await runtime.node("t", "relay").send(Message.create("hello", receipt=receipt), "out")
    receipt.release()
    with pytest.raises(TimeoutError):
        await receipt.wait(timeout=0.01)  # the slow node still has it
    assert await receipt.wait(timeout=5) is None
    assert [msg.payload for msg in Collector.received["slow"]] == ["hello"]
    assert await receipt.wait(timeout=0) is None  # settled: answered at once


@pytest.mark.expect_node_errors
async def test_a_receipt_reports_the_first_refusal(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    nodes:
      - {id: relay, type: test-relay, wires: {out: [picky, fine]}}
      - {id: picky, type: test-collect, config: {fail_on: bad}}
      - {id: fine, type: test-collect}
    """
    await runtime.deploy(load_flow(text))
    receipt = Receipt()
    await runtime.node("t", "relay").send(Message.create("bad", receipt=receipt), "out")
    receipt.release()
    refusal = await receipt.wait(timeout=5)
    assert refusal.node_id == "picky" and refusal.retryable and "cannot handle 'bad'" in refusal.reason
    assert Collector.received["fine"]


async def test_a_closing_node_first_handles_what_is_already_in_its_inbox(runtime, load_flow):
    text = flow_text(list(range(20)), "{delay: 5ms}")
    await runtime.deploy(load_flow(text))
    await wait_for(lambda: "emitted source" in EVENTS)
    await runtime.deploy(load_flow(text.replace("delay: 5ms", "delay: 6ms")))  # sink restarts
    assert [msg.payload for msg in Collector.received["sink"]] == list(range(20))


@pytest.mark.expect_node_errors
async def test_a_node_whose_constructor_raises_fails_alone(runtime, load_flow):
    text = """
    flowhost: 1
    id: t
    nodes:
      - {id: source, type: test-emit, config: {payloads: [1, 2]}, wires: {out: [broken, sink]}}
      - {id: broken, type: test-unbuildable}
      - {id: sink, type: test-collect}
    """
    await runtime.deploy(load_flow(text))
    await wait_for(lambda: len(Collector.received["sink"]) == 2)
    broken = runtime.node("t", "broken")
    await wait_for(lambda: broken.counters["errors"] == 3)  # failed to start, then each message refused
    assert broken.status_level == "error" and "missing calibration table" in broken.status_text
