"""Flow-file validation: every error class, reported as FILE:LINE:COL: path: message, all at once."""

from __future__ import annotations

import pytest

from flowhost.flowfile import FlowValidationError, load_flow_file
from flowhost.secrets import Secret


def errors_of(load_flow, text: str, **kwargs) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        load_flow(text, **kwargs)
    return [str(error) for error in caught.value.errors]


VALID = """
flowhost: 1
id: demo
label: Two devices
nodes:
  - id: devices
    type: lorawan-simulator
    config: {devEUIs: [78af580300000345, 78AF580300000346], interval: 2s}
    wires: {out: [pick]}
  - id: pick
    type: filter
    config: {fPorts: [1]}
    wires: {out: [console], unmatched: [console]}
  - id: console
    type: debug
layout: {devices: {x: 120, y: 80}, gone: {x: 1, y: 2}}
"""


async def test_a_valid_flow_is_parsed_with_validated_configs(load_flow):
    flow = load_flow(VALID)
    assert flow.id == "demo" and flow.label == "Two devices"
    assert [node.id for node in flow.nodes] == ["devices", "pick", "console"]
    devices = flow.node("devices")
    assert devices.config["interval"] == 2.0
    assert devices.config["devEUIs"] == ["78AF580300000345", "78AF580300000346"]
    assert flow.node("pick").wires == {"out": ["console"], "unmatched": ["console"]}
    assert flow.layout == {"devices": {"x": 120.0, "y": 80.0}}  # stale layout entries are dropped


async def test_unknown_wire_target_names_file_line_column_and_known_nodes(load_flow, tmp_path):
    text = VALID.replace("unmatched: [console]", "unmatched: [sink2]")
    [error] = errors_of(load_flow, text)
    assert error == (
        f"{tmp_path / 'flow.yaml'}:12:41: nodes[1].wires.unmatched: unknown node 'sink2' "
        "(known: console, devices, pick)"
    )


async def test_every_error_is_reported_at_once(load_flow):
    text = """
    flowhost: 1
    id: broken
    lable: typo
    nodes:
      - id: a
        type: lorawan-simulatr
      - id: b
        type: lorawan-simulator
        config: {count: 3, interval: 5 minutes}
        wires: {out: [a], sideways: [a]}
      - id: b
        type: debug
      - id: c
        type: filter
        config: {fport: [1]}
    """
    errors = errors_of(load_flow, text)
    joined = "\n".join(errors)
    assert "3:1: lable: unknown key 'lable' (did you mean 'label'?)" in joined
    assert (
        "6:11: nodes[0].type: unknown node type 'lorawan-simulatr' (did you mean 'lorawan-simulator'?); installed:"
        in joined
    )
    assert "nodes[1].config.interval: '5 minutes' is not a duration; use a number and a unit" in joined
    assert "nodes[1].wires.sideways: node type 'lorawan-simulator' has no output 'sideways' (outputs: out)" in joined
    assert "11:9: nodes[2].id: node id 'b' is used twice" in joined
    assert "15:14: nodes[3].config.fport: unknown key 'fport' (did you mean 'fPorts'?)" in joined
    assert len(errors) == 6, joined


async def test_yaml_syntax_errors_carry_their_position(load_flow):
    [error] = errors_of(load_flow, "flowhost: 1\nid: x\nnodes: [\n  {id: a, type: debug\n")
    assert ":5:1: invalid YAML" in error


async def test_duplicate_yaml_keys_are_errors(load_flow):
    [error] = errors_of(load_flow, "flowhost: 1\nid: x\nid: y\n")
    assert ":3:1: invalid YAML: found duplicate key" in error


async def test_wiring_into_a_node_without_input_is_an_error(load_flow):
    text = """
    flowhost: 1
    id: x
    nodes:
      - {id: a, type: lorawan-simulator, config: {count: 1}, wires: {out: [b]}}
      - {id: b, type: lorawan-simulator, config: {count: 1}}
    """
    [error] = errors_of(load_flow, text)
    assert "nodes[0].wires.out: node 'b' (lorawan-simulator) has no input" in error


async def test_unknown_connector_and_connection_ids_are_named(load_flow):
    text = """
    flowhost: 1
    id: x
    connections:
      - {id: local, connectorId: test-loopbak}
      - {id: other, connectorId: test-loopback, configuration: {labl: x}}
    nodes:
      - {id: a, type: test-collect, config: {connection: remote}}
    """
    errors = errors_of(load_flow, text)
    joined = "\n".join(errors)
    assert "connections[0].connectorId: unknown connector 'test-loopbak' (did you mean 'test-loopback'?)" in joined
    assert "connections[1].configuration.labl: unknown key 'labl' (did you mean 'label'?)" in joined
    assert "7:54: nodes[0].config.connection: unknown connection 'remote' (defined: local, other)" in joined


async def test_unsupported_format_version_and_missing_id(load_flow):
    errors = errors_of(load_flow, "flowhost: 2\nnodes: []\n")
    assert any("flowhost: unsupported format version" in error for error in errors)
    assert any("id: required key not provided" in error for error in errors)


async def test_secrets_come_from_the_environment_then_secrets_yaml(write_flow, runtime, tmp_path):
    text = """
    flowhost: 1
    id: x
    connections:
      - id: local
        connectorId: test-loopback
        configuration: {label: !secret broker_label}
    nodes: []
    """
    path = write_flow(text)
    with pytest.raises(FlowValidationError) as caught:
        load_flow_file(path, runtime.registry, environ={})
    [error] = caught.value.errors
    assert str(error).endswith(
        "connections[0].configuration.label: secret 'broker_label' is not set: define the environment variable "
        f"FLOWHOST_SECRET_BROKER_LABEL or add 'broker_label: ...' to {tmp_path / 'secrets.yaml'}"
    )

    (tmp_path / "secrets.yaml").write_text("broker_label: from-file\n")
    flow = load_flow_file(path, runtime.registry, environ={})
    label = flow.connections[0].configuration["label"]
    assert label == "from-file" and isinstance(label, Secret) and "from-file" not in repr(label)

    flow = load_flow_file(path, runtime.registry, environ={"FLOWHOST_SECRET_BROKER_LABEL": "from-env"})
    assert flow.connections[0].configuration["label"] == "from-env"


@pytest.mark.parametrize("value", ["5", "5 sec", "-1s", "1w", "s", "1.5.2m"])
async def test_bad_durations_are_refused(load_flow, value):
    text = f"""
    flowhost: 1
    id: x
    nodes:
      - {{id: a, type: lorawan-simulator, config: {{count: 1, interval: "{value}"}}}}
    """
    [error] = errors_of(load_flow, text)
    assert "nodes[0].config.interval:" in error and "duration" in error


@pytest.mark.parametrize(
    ("value", "seconds"), [("500ms", 0.5), ("30s", 30), ("10m", 600), ("72h", 259200), ("1d", 86400)]
)
async def test_durations(load_flow, value, seconds):
    text = f"flowhost: 1\nid: x\nnodes: [{{id: a, type: lorawan-simulator, config: {{count: 1, interval: {value}}}}}]\n"
    assert load_flow(text).node("a").config["interval"] == seconds


async def test_a_file_that_is_not_a_mapping(load_flow):
    [error] = errors_of(load_flow, "- just\n- a list\n")
    assert "a flow file must be a mapping" in error


async def test_env_var_takes_a_value_from_the_environment_or_its_default(write_flow, runtime):
    path = write_flow("""
    flowhost: 1
    id: x
    connections:
      - {id: local, connectorId: test-loopback, configuration: {label: !env_var BROKER_LABEL fallback}}
      - {id: other, connectorId: test-loopback, configuration: {label: !env_var NOT_SET_ANYWHERE}}
    """)
    with pytest.raises(FlowValidationError) as caught:
        load_flow_file(path, runtime.registry, environ={"BROKER_LABEL": "from-env"})
    [error] = caught.value.errors
    assert "5:68: connections[1].configuration.label: environment variable NOT_SET_ANYWHERE is not set" in str(error)
    path.write_text(path.read_text().replace(" !env_var NOT_SET_ANYWHERE", " plain"))
    flow = load_flow_file(path, runtime.registry, environ={"BROKER_LABEL": "from-env"})
    assert flow.connections[0].configuration["label"] == "from-env"
    flow = load_flow_file(path, runtime.registry, environ={})
    assert flow.connections[0].configuration["label"] == "fallback"
