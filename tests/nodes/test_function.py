"""``function``: Node-RED function bodies in the JavaScript sandbox: messages, outputs, node.*, context, limits."""

from __future__ import annotations

import json
import logging

import pytest

from flowhost import Message
from flowhost.flowfile import FlowValidationError
from flowhost_builtins import function_context
from flowhost_builtins.function_context import MemoryScope

from .conftest import wait_for

FLOW = """
flowhost: 1
id: {flow_id}
nodes:
  - id: fn
    type: function
    config: {config}
    wires: {wires}
  - {{id: a, type: test-collect}}
  - {{id: b, type: test-collect}}
  - {{id: c, type: test-collect}}
"""


def scope(harness, name: str):
    """The store the node uses: the runtime's shared-state store, or the in-memory one without it."""
    return harness.node("fn").node._scope(name)


async def deploy(harness, func: str, flow_id: str = "t", outputs: int = 1, **config) -> None:
    config = {"func": func, **config}
    if outputs == 1:
        wires = {"out": ["a"]}
    else:
        config["outputs"] = outputs
        wires = {f"out{index}": [name] for index, name in zip(range(1, outputs + 1), "abc", strict=False)}
    await harness.deploy(FLOW.format(flow_id=flow_id, config=json.dumps(config), wires=json.dumps(wires)))


async def test_a_node_red_function_body_works_unchanged(harness):
    await deploy(harness, "msg.payload = msg.payload * 2;\nreturn msg;")
    sent = await harness.send("fn", 21, topic="sensors/t1")
    await harness.settle()
    [out] = harness.received("a")
    assert (out.payload, out.topic, out.parent_id) == (42, "sensors/t1", sent.id)
    assert harness.counters("fn")["to out"] == 1


async def test_msg_carries_payload_topic_and_meta_and_a_new_message_can_be_returned(harness):
    body = """
    const uplink = msg.payload.DevEUI_uplink;
    return {payload: {dev: uplink.DevEUI, hot: uplink.payload.temperature > 30}, topic: "alarms/" + uplink.DevEUI,
            meta: {seen: msg.meta.source, id: typeof msg._msgid}};
    """
    await deploy(harness, body)
    document = {"DevEUI_uplink": {"DevEUI": "78AF580300000345", "payload": {"temperature": 31.5}}}
    await harness.node("fn").inbox.put(Message.create(document, meta={"source": "mqtt"}))
    await harness.settle()
    [out] = harness.received("a")
    assert out.payload == {"dev": "78AF580300000345", "hot": True}
    assert out.topic == "alarms/78AF580300000345"
    assert out.meta == {"seen": "mqtt", "id": "string"}


async def test_an_array_sends_one_entry_per_output_null_skips_and_nested_arrays_send_several(harness):
    body = """
    if (msg.payload === "none") return null;
    if (msg.payload === "split") return [{payload: 1}, null, [{payload: 3}, {payload: 4}]];
    return [null, msg];
    """
    await deploy(harness, body, outputs=3)
    for payload in ("none", "split", "second"):
        await harness.send("fn", payload)
    await harness.settle()
    assert harness.payloads("a") == [1]
    assert harness.payloads("b") == ["second"]
    assert harness.payloads("c") == [3, 4]
    counters = harness.counters("fn")
    assert (counters["no output"], counters["to out1"], counters["to out2"], counters["to out3"]) == (1, 1, 1, 2)


def test_ports_are_out_for_one_output_and_out1_to_outn_for_more():
    from flowhost_builtins.function_node import FunctionNode

    assert FunctionNode.output_ports({"outputs": 1}) == ("out",)
    assert FunctionNode.output_ports({"outputs": 3}) == ("out1", "out2", "out3")


async def test_a_wire_from_a_port_the_node_does_not_have_is_refused(harness):
    with pytest.raises(FlowValidationError, match="out4"):
        await harness.deploy(
            FLOW.format(
                flow_id="t",
                config=json.dumps({"func": "return msg;", "outputs": 3}),
                wires=json.dumps({"out4": ["a"]}),
            )
        )


@pytest.mark.expect_node_errors
async def test_node_warn_error_status_and_send_are_applied_after_the_call(harness, caplog):
    body = """
    node.warn("low battery on " + msg.payload);
    node.status({fill: "yellow", shape: "dot", text: "last: " + msg.payload});
    node.send({payload: "early"});
    if (msg.payload === "bad") node.error("cannot parse " + msg.payload);
    return msg;
    """
    await deploy(harness, body)
    with caplog.at_level(logging.WARNING):
        await harness.send("fn", "dev1")
        await harness.send("fn", "bad")
        await harness.settle()
    assert harness.payloads("a") == ["early", "dev1", "early", "bad"]
    runner = harness.runtime.flows["t"].nodes["fn"]
    assert (runner.status_text, runner.status_level) == ("last: bad", "warning")
    counters = harness.counters("fn")
    assert (counters["node.warn"], counters["node.error"], counters["errors"]) == (2, 1, 1)
    assert "low battery on dev1" in caplog.text and "cannot parse bad" in caplog.text


async def test_context_flow_and_global_keep_values_between_messages_and_nodes(harness):
    body = """
    const count = (context.get("count") || 0) + 1;
    context.set("count", count);
    flow.set("last", msg.payload);
    global.set("test-function-shared", (global.get("test-function-shared") || 0) + 10);
    return {payload: {count, keys: context.keys(), shared: global.get("test-function-shared")}};
    """
    await deploy(harness, body)
    scope(harness, "global").delete("test-function-shared")  # in memory, global is shared by the process
    for payload in ("x", "y", "z"):
        await harness.send("fn", payload)
    await harness.settle()
    assert harness.payloads("a") == [
        {"count": 1, "keys": ("count",), "shared": 10},  # payloads are frozen: arrays become tuples
        {"count": 2, "keys": ("count",), "shared": 20},
        {"count": 3, "keys": ("count",), "shared": 30},
    ]
    assert scope(harness, "flow").get("last") == "z"
    assert scope(harness, "node").get("count") == 3


async def test_a_value_written_by_another_node_is_seen_by_the_next_call(harness):
    await deploy(harness, "return {payload: flow.get('setting')};", flow_id="t-seen")
    await harness.send("fn", 1)
    await harness.settle()
    scope(harness, "flow").set("setting", {"threshold": 30})  # as another node of the flow would
    await harness.send("fn", 2)
    await harness.settle()
    scope(harness, "flow").delete("setting")
    await harness.send("fn", 3)
    await harness.settle()
    assert harness.payloads("a") == [None, {"threshold": 30}, None]


@pytest.mark.expect_node_errors
async def test_exceptions_and_malformed_returns_are_errors_and_the_next_message_goes_on(harness):
    body = """
    switch (msg.payload) {
      case "throw": throw new Error("no good");
      case "number": return 42;
      case "topic": return {payload: 1, topic: 5};
      case "too many": return [msg, msg];
      default: return msg;
    }
    """
    await deploy(harness, body)
    for payload in ("throw", "number", "topic", "too many", "fine"):
        await harness.send("fn", payload)
    await harness.settle()
    assert harness.payloads("a") == ["fine"]
    counters = harness.counters("fn")
    assert (counters["errors"], counters["errors-exception"], counters["errors-malformed"]) == (4, 1, 3)


@pytest.mark.expect_node_errors
async def test_an_endless_loop_and_an_allocation_bomb_are_stopped_and_the_next_message_goes_on(harness):
    body = """
    if (msg.payload === "loop") { for (;;) {} }
    if (msg.payload === "bomb") { const hoard = []; for (;;) hoard.push(new Array(100000).fill(1)); }
    return msg;
    """
    await deploy(harness, body, timeout="50ms", memoryLimit="8MB")
    for payload in ("loop", "ok1", "bomb"):
        await harness.send("fn", payload)
    await harness.settle()
    # Freeing what the bomb hoarded can take long on a busy machine: then the call ran away and later messages fail
    # at once until the sandbox's thread is free (a bounded wait: QuickJS stops it).
    await wait_for(lambda: not harness.node("fn").node.sandbox.busy, timeout=60)
    await harness.send("fn", "ok2")
    await harness.settle()
    assert harness.payloads("a") == ["ok1", "ok2"]
    counters = harness.counters("fn")
    assert counters["errors"] == 2
    by_reason = {reason: counters.get(f"errors-{reason}", 0) for reason in ("timeout", "runaway", "memory")}
    assert by_reason["timeout"] + by_reason["runaway"] >= 1, counters  # the loop
    assert sum(by_reason.values()) == 2, counters


@pytest.mark.expect_node_errors
async def test_the_host_is_out_of_reach(harness):
    body = """
    const seen = {};
    for (const name of ["require", "process", "std", "os", "fetch", "XMLHttpRequest", "setTimeout"]) {
      seen[name] = typeof globalThis[name];
    }
    if (msg.payload === "require") return {payload: require("fs")};
    return {payload: seen};
    """
    await deploy(harness, body)
    await harness.send("fn", "look")
    await harness.send("fn", "require")
    await harness.settle()
    [seen] = harness.payloads("a")
    assert set(seen.values()) == {"undefined"}, seen
    assert harness.counters("fn")["errors-exception"] == 1


@pytest.mark.expect_node_errors
async def test_a_body_that_does_not_compile_fails_the_node_start_with_the_reason(harness, caplog):
    with caplog.at_level(logging.ERROR):
        await deploy(harness, "return msg.payload +;")
    assert "function fn: SyntaxError: unexpected token in expression" in caplog.text


@pytest.mark.expect_node_errors
async def test_a_store_is_bounded_and_a_refused_write_does_not_linger_in_the_sandbox(harness, monkeypatch):
    body = """
    if (msg.payload !== "look") context.set(msg.payload, true);
    return {payload: context.keys()};
    """
    await deploy(harness, body, flow_id="t-bounded")
    node_scope = scope(harness, "node")
    if isinstance(node_scope, MemoryScope):  # room for two keys of {"kN": true} and not three, in either store
        monkeypatch.setattr(function_context, "MAX_BYTES", 15)
    else:
        monkeypatch.setattr(node_scope._store, "max_bytes", 30)
    for payload in ("k1", "k2", "k3", "look"):
        await harness.send("fn", payload)
    await harness.settle()
    assert harness.payloads("a") == [("k1",), ("k1", "k2"), ("k1", "k2")]
    assert harness.counters("fn")["errors-context"] == 1
    assert sorted(node_scope.keys()) == ["k1", "k2"]


def test_only_the_scopes_a_body_names_are_copied_into_its_sandbox():
    from flowhost_builtins.function_context import used_scopes

    assert used_scopes("msg.payload *= 2; return msg;") == ()
    assert used_scopes("flow.set('a', 1); return msg;") == ("flow",)
    assert used_scopes("context.get('n'); global.get('g')") == ("node", "global")
    assert used_scopes("return arguments[2].get('n');") == ("node", "flow", "global")
