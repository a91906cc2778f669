"""What a node gets as ``self.context``: the documented NodeContext members, with no way to the runtime."""

from __future__ import annotations

import asyncio

import pluggy

from flowhost import NodeContext, hookimpl
from flowhost.app import create_runtime
from flowhost.flowfile import load_flow_file
from flowhost.node_runner import NodeRunner
from flowhost.plugins import load_plugins
from flowhost.runtime import Runtime
from tests.support import sample_nodes
from tests.support.sample_nodes import Collector

FLOW = """
flowhost: 1
id: t
nodes:
  - {id: source, type: test-emit, config: {payloads: [1]}, wires: {out: [sink]}}
  - {id: sink, type: test-collect}
"""


def protocol_members() -> set[str]:
    names = set(NodeContext.__annotations__)
    names |= {name for name, value in vars(NodeContext).items() if callable(value) and not name.startswith("_")}
    return names


def public_members(context: object) -> set[str]:
    return {name for name in dir(context) if not name.startswith("_")}


async def test_a_nodes_context_has_the_documented_members_and_nothing_else(runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    context = runtime.node("t", "sink").node.context
    assert public_members(context) == protocol_members()
    assert {"send", "status", "store", "deliver", "find_nodes", "flow_dir", "clock"} <= public_members(context)
    assert not hasattr(context, "__dict__")  # no attribute can be added to hand a node more


async def test_no_public_member_of_a_context_leads_to_the_runtime_or_a_runner(runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    runner = runtime.node("t", "sink")
    context = runner.node.context
    for name in public_members(context):
        value = getattr(context, name)
        assert value is not runtime and value is not runner and not isinstance(value, Runtime | NodeRunner), name
        if callable(value):
            assert value.__self__ is context, name  # its own methods, not the runner's bound ones
    assert context.node_id == "sink" and context.flow_id == "t" and context.clock is runtime.clock


async def test_the_context_still_sends_counts_and_reports_for_its_node(runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    async with asyncio.timeout(5):
        while not Collector.received["sink"]:
            await asyncio.sleep(0.01)
    context = runtime.node("t", "source").node.context
    context.count("seen", 2)
    context.status("ready", "ok")
    assert runtime.node("t", "source").counters["seen"] == 2
    assert runtime.node("t", "source").status_text == "ready"
    assert repr(context) == "<NodeContext of t/source>"


class EventRecorder:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    @hookimpl
    def flowhost_runtime_event(self, event):
        self.kinds.append(event.kind)


async def test_runtime_event_hooks_are_resolved_once_when_plugins_load(tmp_path, write_flow, monkeypatch):
    recorder = EventRecorder()
    plugins = load_plugins(extra=[("test-nodes", sample_nodes), ("recorder", recorder)])
    assert "recorder" in [name for name, _, _ in plugins.runtime_event.implementations]

    get_hookimpls = pluggy.HookCaller.get_hookimpls

    def looked_up_again(caller):
        assert caller.name != "flowhost_runtime_event", "flowhost_runtime_event was looked up for an event"
        return get_hookimpls(caller)

    # After loading, pluggy is no longer asked which plugins implement the hook.
    monkeypatch.setattr(pluggy.HookCaller, "get_hookimpls", looked_up_again)
    runtime = create_runtime(tmp_path / "data", plugins)
    await runtime.start()
    try:
        await runtime.deploy(load_flow_file(write_flow(FLOW), runtime.registry))
        runtime.node("t", "sink").status("checked", "ok")
    finally:
        await runtime.stop()
    assert recorder.kinds[0] == "deployed" and "status" in recorder.kinds and recorder.kinds[-1] == "stopped"
