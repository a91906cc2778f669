"""The redeploy planner: which nodes start, restart, stop or only get new wires, from two flows alone."""

from __future__ import annotations

from flowhost.flowfile import FlowSpec, NodeSpec
from flowhost.redeploy_plan import RedeployPlan, plan


def node(node_id: str, config: dict | None = None, wires: dict | None = None, **fields) -> NodeSpec:
    config = config or {}
    return NodeSpec(node_id, fields.get("type", "test-collect"), config, dict(config), wires or {}, fields.get("name"))


def flow(*nodes: NodeSpec, layout: dict | None = None) -> FlowSpec:
    return FlowSpec("f", "F", list(nodes), [], layout or {})


def test_a_first_deploy_adds_every_node_in_order():
    assert plan(None, flow(node("b"), node("a"))) == RedeployPlan(("b", "a"), (), (), (), ("b", "a"))


def test_the_same_flow_changes_nothing():
    old = flow(node("a", {"x": 1}, {"out": ["b"]}), node("b"))
    new = flow(node("a", {"x": 1}, {"out": ["b"]}), node("b"), layout={"a": {"x": 10.0, "y": 20.0}})
    assert plan(old, new) == RedeployPlan((), (), (), (), ())


def test_a_wiring_change_rewires_without_a_restart():
    old = flow(node("a", wires={"out": ["b"]}), node("b"), node("c"))
    new = flow(node("a", wires={"out": ["c"]}), node("b"), node("c"))
    result = plan(old, new)
    assert result.rewired == ("a",) and result.started == () and result.changed == ()


def test_config_type_and_name_changes_restart_the_node():
    old = flow(node("a", {"x": 1}), node("b"), node("c"), node("d"))
    new = flow(node("a", {"x": 2}), node("b", type="test-emit"), node("c", name="renamed"), node("d"))
    result = plan(old, new)
    assert result.changed == ("a", "b", "c") and result.started == ("a", "b", "c")
    assert result.added == () and result.removed == ()


def test_added_and_removed_nodes():
    old = flow(node("a"), node("gone"), node("also-gone"))
    new = flow(node("new"), node("a"), node("late"))
    result = plan(old, new)
    assert result.added == ("new", "late") and result.removed == ("gone", "also-gone")
    assert result.started == ("new", "late")


def test_started_keeps_the_new_flow_order_across_added_and_changed():
    old = flow(node("b", {"x": 1}), node("d"))
    new = flow(node("a"), node("b", {"x": 2}), node("c"), node("d"))
    result = plan(old, new)
    assert result.started == ("a", "b", "c") and result.added == ("a", "c") and result.changed == ("b",)


def test_a_kept_node_restarts_when_a_connection_it_uses_changed():
    old = flow(node("user", {"connection": "link"}), node("other", {"connection": "spare"}), node("plain"))
    new = flow(node("user", {"connection": "link"}), node("other", {"connection": "spare"}), node("plain"))

    def connections_of(spec: NodeSpec) -> set[str]:
        return {spec.config["connection"]} if "connection" in spec.config else set()

    result = plan(old, new, changed_connections={"link"}, connections_of=connections_of)
    assert result.changed == ("user",) and result.started == ("user",)
    assert plan(old, new, changed_connections={"link"}).changed == ()  # names no connection: nothing to restart
    assert plan(old, new, connections_of=connections_of).changed == ()  # no connection changed


def test_a_changed_node_with_new_wires_counts_as_changed_only():
    old = flow(node("a", {"x": 1}, {"out": ["b"]}), node("b"))
    new = flow(node("a", {"x": 2}, {}), node("b"))
    result = plan(old, new)
    assert result.changed == ("a",) and result.rewired == ()
