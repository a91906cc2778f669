"""Flow-file validation, check by check: the exact error text (file:line:col, path, what to do) for connections,
node fields, output ports, layout and the document's shape, and what a valid document becomes."""

from __future__ import annotations

from typing import ClassVar

import pytest
import voluptuous as vol

from flowhost import Node
from flowhost.flowfile import FlowValidationError, read_flow_file, validate_connection, validate_flow
from flowhost.secrets import SecretRef, SecretResolver


def errors_of(load_flow, text: str) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        load_flow(text)
    return [str(error) for error in caught.value.errors]


def plain_errors(document, registry, **kwargs) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(document, registry, **kwargs)
    return [str(error) for error in caught.value.errors]


async def test_an_invalid_connection_entry_still_reports_its_configuration_errors(load_flow, tmp_path):
    errors = errors_of(
        load_flow,
        """
        flowhost: 1
        id: x
        connections:
          - {id: c, connectorId: test-loopback, nme: x, configuration: {labl: y}}
          - {id: c, connectorId: test-loopback}
          - {id: d, connectorId: zzzz}
          - {id: e, connectorId: test-loopbak, configuration: {labl: y}}
        """,
    )
    file = tmp_path / "flow.yaml"
    assert errors == [
        f"{file}:4:41: connections[0].nme: unknown key 'nme' (did you mean 'name'?); valid keys: active, "
        "configuration, connectorId, id, name",
        f"{file}:4:65: connections[0].configuration.labl: unknown key 'labl' (did you mean 'label'?); "
        "valid keys: label",
        f"{file}:5:10: connections[1].id: connection id 'c' is defined twice",
        f"{file}:6:26: connections[2].connectorId: unknown connector 'zzzz'; installed: actility-mqtt-iot, "
        "test-dormant, test-loopback",
        f"{file}:7:26: connections[3].connectorId: unknown connector 'test-loopbak' (did you mean "
        "'test-loopback'?); installed: actility-mqtt-iot, test-dormant, test-loopback",
    ]


async def test_a_valid_connection_becomes_its_spec(load_flow):
    flow = load_flow("""
    flowhost: 1
    id: x
    description: Two connections
    connections:
      - {id: a, connectorId: test-loopback, name: First, active: false, configuration: {label: one}}
      - {id: b, connectorId: test-loopback}
    """)
    first, second = flow.connections
    assert (first.id, first.connector_id, first.name, first.active) == ("a", "test-loopback", "First", False)
    assert first.configuration == {"label": "one"} and first.raw_configuration == {"label": "one"}
    assert (second.name, second.active, second.configuration) == ("b", True, {"label": ""})
    assert flow.description == "Two connections" and flow.label == "x" and flow.nodes == []


def test_one_connection_is_validated_with_the_messages_of_flow_files(runtime):
    registry = runtime.registry
    spec = validate_connection({"id": "c", "connectorId": "test-loopback", "configuration": {"label": "l"}}, registry)
    assert (spec.id, spec.name, spec.active, spec.configuration) == ("c", "c", True, {"label": "l"})
    with pytest.raises(FlowValidationError) as caught:
        validate_connection({"id": "c", "connectorId": "test-loopback", "configuration": {"label": 5}}, registry)
    assert [str(error) for error in caught.value.errors] == ["configuration.label: expected str"]
    secret = {"id": "c", "connectorId": "test-loopback", "configuration": {"label": SecretRef("broker_label")}}
    with pytest.raises(FlowValidationError) as caught:
        validate_connection(secret, registry)
    assert [str(error) for error in caught.value.errors] == [
        "configuration.label: secret 'broker_label' cannot be resolved here"
    ]


def test_a_redeploy_keeps_a_connection_only_when_its_setup_is_the_same(runtime):
    def spec(**changes):
        entry = {"id": "c", "connectorId": "test-loopback", "configuration": {"label": "l"}, **changes}
        return validate_connection(entry, runtime.registry)

    assert spec().same_setup(spec(name="renamed"))
    assert not spec().same_setup(spec(active=False))
    assert not spec().same_setup(spec(configuration={"label": "other"}))
    assert not spec().same_setup(spec(connectorId="test-dormant", configuration={}))


async def test_node_errors_name_the_field_and_where_it_is(load_flow, tmp_path):
    errors = errors_of(
        load_flow,
        """
        flowhost: 1
        id: x
        nodes:
          - {id: a, type: catch, config: {nodes: [a, ghost]}}
          - {id: b, type: debug, name: 5, config: 5}
          - {id: c, type: test-collect, config: {connection: remote, inbox: many}}
          - {id: d, type: zzzzzz}
          - {id: e, type: test-collect, wires: {out: [a]}}
          - {id: f, type: test-emit, config: {payloads: [1]}, wires: {out: [a, c], second: g}}
          - {id: g, type: test-collect, disabled: true, config: {unfinished: true}}
        """,
    )
    file = tmp_path / "flow.yaml"
    assert errors[:5] == [
        f"{file}:4:46: nodes[0].config.nodes[1]: unknown node 'ghost' (known: a, b, c, d, e, f, g)",
        f"{file}:5:32: nodes[1].name: expected str",
        f"{file}:5:43: nodes[1].config: expected a mapping",
        f"{file}:6:54: nodes[2].config.connection: unknown connection 'remote' (defined: none)",
        f"{file}:6:69: nodes[2].config.inbox: expected int",
    ]
    assert errors[5].startswith(
        f"{file}:7:19: nodes[3].type: unknown node type 'zzzzzz'; installed: batch, catch, change, codec, debug, "
    )
    # A disabled node may be wired to (g): its wires carry nothing.
    assert errors[6:] == [
        f"{file}:8:41: nodes[4].wires.out: node type 'test-collect' has no output 'out' (outputs: none)",
        f"{file}:9:69: nodes[5].wires.out: node 'a' (catch) has no input",
    ]


async def test_a_single_target_and_a_node_field_given_as_text(load_flow, tmp_path):
    errors = errors_of(
        load_flow,
        """
        flowhost: 1
        id: x
        nodes:
          - {id: a, type: test-emit, config: {payloads: [1]}, wires: {out: sink}}
          - {id: b, type: status, config: {nodes: ghost}}
        """,
    )
    file = tmp_path / "flow.yaml"
    assert errors == [
        f"{file}:4:68: nodes[0].wires.out: unknown node 'sink' (known: a, b)",
        f"{file}:5:43: nodes[1].config.nodes: expected a list",
        f"{file}:5:43: nodes[1].config.nodes: unknown node 'ghost' (known: a, b)",
    ]


async def test_disabled_nodes_are_not_checked_but_the_nodes_after_them_are(load_flow, tmp_path):
    text = """
    flowhost: 1
    id: x
    nodes:
      - {id: a, type: test-collect, disabled: true, config: {unfinished: true}}
      - {id: b, type: test-collect, config: {inbox: many}}
    """
    assert errors_of(load_flow, text) == [f"{tmp_path / 'flow.yaml'}:5:49: nodes[1].config.inbox: expected int"]
    flow = load_flow(text.replace("inbox: many", "inbox: 5"))
    assert [(node.id, node.config["inbox"], node.raw_config) for node in flow.nodes] == [("b", 5, {"inbox": 5})]


async def test_an_invalid_node_entry_still_counts_as_defined(load_flow, tmp_path):
    errors = errors_of(
        load_flow,
        """
        flowhost: 1
        id: x
        nodes:
          - {id: a, type: test-emit, config: {payloads: [1]}, wires: {out: [b]}}
          - {id: b, type: test-collect, colour: red}
        """,
    )
    assert errors == [
        f"{tmp_path / 'flow.yaml'}:5:33: nodes[1].colour: unknown key 'colour'; valid keys: config, disabled, "
        "id, name, type, wires"
    ]


async def test_switch_ports_come_from_its_rules(load_flow, tmp_path):
    text = """
    flowhost: 1
    id: x
    nodes:
      - id: route
        type: switch
        config:
          rules: [{name: hot, operator: ">", value: 30}]
        wires: {hot: [sink], otherwise: [sink], cold: [sink]}
      - {id: sink, type: test-collect}
    """
    file = tmp_path / "flow.yaml"
    assert errors_of(load_flow, text) == [
        f"{file}:8:45: nodes[0].wires.cold: node type 'switch' has no output 'cold' (outputs: hot, otherwise)"
    ]
    # Rules that cannot be read: their error alone, no guess at the ports.
    broken = text.replace('operator: ">"', "operatr: x")
    assert errors_of(load_flow, broken) == [
        f"{file}:7:15: nodes[0].config.rules[0].operator: required key not provided",
        f"{file}:7:27: nodes[0].config.rules[0].operatr: unknown key 'operatr' (did you mean 'operator'?); "
        "valid keys: expression, name, operator, property, value",
    ]
    flow = load_flow(text.replace(", cold: [sink]", ""))
    assert flow.node("route").wires == {"hot": ["sink"], "otherwise": ["sink"]}


class _Ports(Node):
    """Output ports from the config, possibly wrong, as a buggy plugin's might be."""

    type = "test-ports"
    outputs: ClassVar = ("out",)
    config_schema = vol.Schema({vol.Required("ports"): str})

    @classmethod
    def output_ports(cls, config):
        ports = config["ports"]
        if ports == "crash":
            raise RuntimeError("no table")
        if ports == "a list":
            return ["a"]
        if ports == "a number":
            return ("a", 1)
        return tuple(ports.split(","))


@pytest.mark.parametrize(
    ("ports", "reason"),
    [
        ("crash", "the output ports cannot be made: RuntimeError: no table"),
        ("a list", "the output ports must be distinct names, got ['a']"),
        ("a,a", "the output ports must be distinct names, got ('a', 'a')"),
        ("a,", "the output ports must be distinct names, got ('a', '')"),
        ("a number", "the output ports must be distinct names, got ('a', 1)"),
    ],
)
def test_output_ports_a_plugin_gets_wrong_are_reported(runtime, ports, reason):
    runtime.registry.register_node_type(_Ports, "tests")
    document = {"flowhost": 1, "id": "x", "nodes": [{"id": "a", "type": "test-ports", "config": {"ports": ports}}]}
    assert plain_errors(document, runtime.registry) == [f"nodes[0].config: {reason}"]


def test_output_ports_that_are_right_are_wired(runtime):
    runtime.registry.register_node_type(_Ports, "tests")
    nodes = [
        {"id": "a", "type": "test-ports", "config": {"ports": "left,right"}, "wires": {"right": "b"}},
        {"id": "b", "type": "test-collect"},
    ]
    flow = validate_flow({"flowhost": 1, "id": "x", "nodes": nodes}, runtime.registry)
    assert flow.node("a").wires == {"right": ["b"]}


async def test_layout_errors_and_the_layout_kept(load_flow, tmp_path):
    text = """
    flowhost: 1
    id: x
    nodes: [{id: a, type: debug}]
    layout: {a: {x: 1}, b: {x: one, y: 2}}
    """
    file = tmp_path / "flow.yaml"
    assert errors_of(load_flow, text) == [
        f"{file}:4:13: layout.a.y: required key not provided",
        f"{file}:4:28: layout.b.x: expected float",
    ]
    flow = load_flow(text.replace("{x: 1}", "{x: 1, y: '2.5'}").replace("x: one", "x: 3"))
    assert flow.layout == {"a": {"x": 1.0, "y": 2.5}}


def test_the_document_shape_errors_and_the_checks_that_still_run(runtime):
    registry = runtime.registry
    assert plain_errors(["a list"], registry) == ["a flow file must be a mapping with the keys flowhost, id, nodes..."]
    assert plain_errors({"flowhost": 1, "id": 7, "nodes": "many", "connections": 3, "lable": 1}, registry) == [
        "id: id must start with a letter or digit and hold only letters, digits, '_', '.', '-', got 7",
        "nodes: expected a list",
        "connections: expected a list",
        "lable: unknown key 'lable' (did you mean 'label'?); valid keys: connections, description, flowhost, id, "
        "label, layout, nodes",
    ]
    # A mistake at the top does not hide those in the nodes, connections and layout.
    document = {
        "flowhost": 1,
        "id": "x",
        "lable": "typo",
        "connections": [{"id": "c", "connectorId": "test-loopback"}],
        "nodes": [{"id": "a", "type": "test-collect", "config": {"connection": "c", "inbox": "x"}}],
        "layout": {"a": {"x": "left", "y": 1}},
    }
    assert sorted(plain_errors(document, registry)) == [
        "lable: unknown key 'lable' (did you mean 'label'?); valid keys: connections, description, flowhost, id, "
        "label, layout, nodes",
        "layout.a.x: expected float",
        "nodes[0].config.inbox: expected int",
    ]


def test_connections_defined_elsewhere_may_be_used(runtime):
    nodes = [{"id": "a", "type": "test-collect", "config": {"connection": "api-made"}}]
    document = {"flowhost": 1, "id": "x", "nodes": nodes}
    assert plain_errors(document, runtime.registry) == [
        "nodes[0].config.connection: unknown connection 'api-made' (defined: none)"
    ]
    flow = validate_flow(document, runtime.registry, external_connections=["api-made"])
    assert flow.node("a").config["connection"] == "api-made"


def test_a_flow_file_that_cannot_be_read(tmp_path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(FlowValidationError) as caught:
        read_flow_file(missing)
    [error] = caught.value.errors
    assert str(error).startswith(f"{missing}: cannot read flow file: [Errno 2] No such file or directory")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("flowhost: 1\nid: caf\xe9\n".encode("latin-1"))
    with pytest.raises(FlowValidationError) as caught:
        read_flow_file(latin)
    [error] = caught.value.errors
    assert str(error).startswith(f"{latin}: cannot read flow file: 'utf-8' codec can't decode byte 0xe9")


def test_one_connection_resolves_its_secrets_with_the_resolver_given(runtime):
    entry = {"id": "c", "connectorId": "test-loopback", "configuration": {"label": SecretRef("broker_label")}}
    resolver = SecretResolver(None, {"FLOWHOST_SECRET_BROKER_LABEL": "from-env"})
    assert validate_connection(entry, runtime.registry, resolver=resolver).configuration == {"label": "from-env"}


def test_connection_entries_of_the_wrong_shape(runtime):
    document = {
        "flowhost": 1,
        "id": "x",
        "connections": ["just text", {"id": "c", "connectorId": ["list"], "configuration": {"label": "l"}}],
    }
    assert plain_errors(document, runtime.registry) == [
        "connections[0]: expected a dictionary",
        "connections[1].connectorId: expected str",
    ]


async def test_an_unknown_key_where_any_name_is_allowed_lists_no_valid_keys(load_flow, tmp_path):
    text = """
    flowhost: 1
    id: x
    nodes: [{id: a, type: debug}]
    layout: {a: {x: 1, y: 2, z: 3}}
    """
    assert errors_of(load_flow, text) == [f"{tmp_path / 'flow.yaml'}:4:26: layout.a.z: unknown key 'z'"]


def test_a_redeploy_keeps_a_node_only_when_its_setup_is_the_same(runtime):
    def spec(**changes):
        node = {"id": "a", "type": "test-collect", "name": "A", "config": {"inbox": 5}, **changes}
        return validate_flow({"flowhost": 1, "id": "x", "nodes": [node]}, runtime.registry).node("a")

    assert spec().same_setup(spec(wires={}))
    assert not spec().same_setup(spec(name="B"))
    assert not spec().same_setup(spec(config={"inbox": 6}))
    assert not spec().same_setup(spec(type="test-relay", config={}))


class _Fragile(Node):
    """A node type whose validator crashes on a value of the wrong type, as a plugin's might."""

    type = "test-fragile"
    config_schema = vol.Schema({vol.Required("count"): lambda value: value + 1})


def test_a_validator_that_crashes_is_reported_as_the_nodes_error(runtime):
    runtime.registry.register_node_type(_Fragile, "tests")
    document = {"flowhost": 1, "id": "x", "nodes": [{"id": "a", "type": "test-fragile", "config": {"count": "3"}}]}
    assert plain_errors(document, runtime.registry) == [
        'nodes[0].config: cannot be checked: a validator failed with TypeError: can only concatenate str (not "int") '
        "to str; check the types of the values"
    ]


async def test_every_bad_wire_of_a_node_is_reported_and_the_flow_knows_its_file(load_flow, tmp_path):
    text = """
    flowhost: 1
    id: x
    nodes:
      - {id: a, type: test-emit, config: {payloads: [1]}, wires: {sideways: [b], out: [ghost, b, phantom]}}
      - {id: b, type: test-collect}
    """
    file = tmp_path / "flow.yaml"
    assert errors_of(load_flow, text) == [
        f"{file}:4:63: nodes[0].wires.sideways: node type 'test-emit' has no output 'sideways' (outputs: out, second)",
        f"{file}:4:84: nodes[0].wires.out: unknown node 'ghost' (known: a, b)",
        f"{file}:4:94: nodes[0].wires.out: unknown node 'phantom' (known: a, b)",
    ]
    flow = load_flow(text.replace("sideways: [b], out: [ghost, b, phantom]", "out: [b]"))
    assert flow.source == file and flow.node("a").wires == {"out": ["b"]}
