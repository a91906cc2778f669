"""Flow-file validation at its edges: unknown keys deep in a plugin's schema, secrets that cannot be resolved,
empty and misshapen sections, a registry with nothing installed, and the positions of errors read through each
entry point (``load_flow_file``, ``validate_flow`` with a round-trip document)."""

from __future__ import annotations

import pytest
import voluptuous as vol

from flowhost import Node
from flowhost.flow_yaml import read_yaml
from flowhost.flowfile import FlowValidationError, validate_flow
from flowhost.registry import Registry
from flowhost.secrets import EnvRef, SecretRef, SecretResolver


def errors_of(load_flow, text: str, **kwargs) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        load_flow(text, **kwargs)
    return [str(error) for error in caught.value.errors]


def plain_errors(document, registry, **kwargs) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(document, registry, **kwargs)
    return [str(error) for error in caught.value.errors]


class _Nested(Node):
    """A plugin's config schema in the shapes plugins write: plain string keys, an optional section
    (``vol.Any(None, {...})``), a list of rules holding mappings, a section checked further (``vol.All``)."""

    type = "test-nested"
    config_schema = vol.Schema(
        {
            "tls": vol.Any(None, {"ca": str, "verify": bool}),
            "rules": [{"match": {"topic": str}}],
            "retry": vol.All(vol.Schema({vol.Optional("count"): int}), lambda value: value),
        }
    )


async def test_unknown_keys_deep_in_a_plugins_schema_get_the_keys_valid_there(runtime, load_flow, tmp_path):
    runtime.registry.register_node_type(_Nested, "tests")
    text = """
    flowhost: 1
    id: x
    nodes:
      - id: a
        type: test-nested
        config:
          tls: {ca: x, verfy: true}
          rules: [{match: {topc: t}}]
          retry: {cont: 2}
          tlss: 1
    """
    file = tmp_path / "flow.yaml"
    assert errors_of(load_flow, text) == [
        f"{file}:7:20: nodes[0].config.tls.verfy: unknown key 'verfy' (did you mean 'verify'?); valid keys: ca, verify",
        f"{file}:8:24: nodes[0].config.rules[0].match.topc: unknown key 'topc' (did you mean 'topic'?); valid keys: "
        "topic",
        f"{file}:9:15: nodes[0].config.retry.cont: unknown key 'cont' (did you mean 'count'?); valid keys: count",
        f"{file}:10:7: nodes[0].config.tlss: unknown key 'tlss' (did you mean 'tls'?); valid keys: retry, rules, tls",
    ]


class _Token(Node):
    """Refuses an empty token, user or host: what an unresolved secret is replaced with while checking."""

    type = "test-token"
    config_schema = vol.Schema(
        {
            vol.Required("token"): vol.All(str, vol.Length(min=1)),
            vol.Optional("host"): vol.All(str, vol.Length(min=1)),
        }
    )


def test_a_secret_that_cannot_be_resolved_is_one_error_not_two(runtime):
    runtime.registry.register_node_type(_Token, "tests")
    config = {"token": SecretRef("api_token"), "host": EnvRef("FLOWHOST_TEST_UNSET_HOST", None)}
    document = {"flowhost": 1, "id": "x", "nodes": [{"id": "a", "type": "test-token", "config": config}]}
    unset_host = (
        "nodes[0].config.host: environment variable FLOWHOST_TEST_UNSET_HOST is not set and '!env_var' gives no default"
    )
    # Without a resolver (the REST API checking a connection alone) and with one that lacks the secret: the
    # schema's complaint about the empty value put in its place would only repeat the error.
    assert plain_errors(document, runtime.registry) == [
        "nodes[0].config.token: secret 'api_token' cannot be resolved here",
        unset_host,
    ]
    assert plain_errors(document, runtime.registry, resolver=SecretResolver(None, {})) == [
        "nodes[0].config.token: secret 'api_token' is not set: define the environment variable "
        "FLOWHOST_SECRET_API_TOKEN",
        unset_host,
    ]


async def test_sections_left_empty_are_accepted(load_flow):
    flow = load_flow("""
    flowhost: 1
    id: x
    connections:
    nodes:
    layout:
    """)
    assert (flow.connections, flow.nodes, flow.layout) == ([], [], {})


async def test_sections_of_the_wrong_shape_are_errors_not_crashes(load_flow, tmp_path):
    file = tmp_path / "flow.yaml"
    text = """
    flowhost: 1
    id: x
    nodes:
      - just text
      - {id: a, type: test-collect}
    layout: 5
    """
    assert errors_of(load_flow, text) == [
        f"{file}:4:5: nodes[0]: expected a dictionary",
        f"{file}:6:9: layout: expected a mapping",
    ]
    assert errors_of(load_flow, text.replace("layout: 5", "layout: some text")) == [
        f"{file}:4:5: nodes[0]: expected a dictionary",
        f"{file}:6:9: layout: expected a mapping",
    ]


def test_with_nothing_installed_the_errors_say_none():
    document = {
        "flowhost": 1,
        "id": "x",
        "connections": [{"id": "c", "connectorId": "actility-mqtt-iot"}],
        "nodes": [{"id": "a", "type": "debug"}],
    }
    assert plain_errors(document, Registry()) == [
        "connections[0].connectorId: unknown connector 'actility-mqtt-iot'; installed: none",
        "nodes[0].type: unknown node type 'debug'; installed: none",
    ]


async def test_a_node_field_left_out_or_in_an_invalid_config_is_no_crash(load_flow, tmp_path):
    flow = load_flow("""
    flowhost: 1
    id: x
    nodes:
      - {id: all, type: catch, wires: {out: [sink]}}
      - {id: sink, type: test-collect}
    """)
    assert "nodes" not in flow.node("all").config  # no node named: it catches every node's errors
    text = """
    flowhost: 1
    id: x
    nodes:
      - {id: all, type: catch, config: {maxDepth: 0}}
    """
    assert errors_of(load_flow, text) == [
        f"{tmp_path / 'flow.yaml'}:4:47: nodes[0].config.maxDepth: value must be at least 1"
    ]


PLUGIN_FILTER_PATTERN = '"rooms/{{ payload.temperature | celsius_band }}/{DevEUI}"'  # example plugin's filter


async def test_a_connection_using_a_plugins_filter_is_checked_with_it_even_when_the_entry_is_wrong(load_flow, tmp_path):
    text = f"""
    flowhost: 1
    id: x
    connections:
      - id: broker
        connectorId: actility-mqtt-iot
        nme: typo
        configuration:
          hostName: 127.0.0.1:1883
          protocol: TCP
          uplinkTopicPattern: {PLUGIN_FILTER_PATTERN}
    """
    [error] = errors_of(load_flow, text)
    assert error.startswith(f"{tmp_path / 'flow.yaml'}:6:5: connections[0].nme: unknown key 'nme'"), error
    flow = load_flow(text.replace("        nme: typo\n", ""))
    assert flow.connections[0].configuration["uplinkTopicPattern"] is not None


async def test_load_flow_file_accepts_connections_defined_elsewhere(load_flow):
    text = """
    flowhost: 1
    id: x
    nodes:
      - {id: a, type: test-collect, config: {connection: api-made}}
    """
    assert errors_of(load_flow, text)[0].endswith(
        "nodes[0].config.connection: unknown connection 'api-made' (defined: none)"
    )
    assert load_flow(text, external_connections=["api-made"]).node("a").config["connection"] == "api-made"


async def test_yaml_errors_of_a_flow_file_name_the_file(load_flow, tmp_path):
    assert errors_of(load_flow, "flowhost: 1\nid: x\nid: y\n") == [
        f'{tmp_path / "flow.yaml"}:3:1: invalid YAML: found duplicate key "id" with value "y" (original value: "x")'
    ]


def test_a_round_trip_document_validated_alone_still_has_positions(runtime):
    text = "flowhost: 1\nid: x\nnodes:\n  - {id: a, type: test-colect}\n"
    errors = plain_errors(read_yaml(text, "f.yaml"), runtime.registry, source="f.yaml")
    assert errors == [
        "f.yaml:4:19: nodes[0].type: unknown node type 'test-colect' (did you mean 'test-collect'?); installed: "
        + ", ".join(sorted(runtime.registry.node_types))
    ]
