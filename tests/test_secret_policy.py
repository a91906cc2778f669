"""flowhost.secrets.policy on its own: masking, keeping and naming secrets in JSON documents, without a server."""

from __future__ import annotations

import pytest

from flowhost.plugins import load_plugins
from flowhost.registry import Registry
from flowhost.secrets import MASK, SecretPolicy
from flowhost.secrets.policy import configuration_secrets, own_flow_secrets, referenced_secrets, secret_name

MQTT = "actility-mqtt-iot"


@pytest.fixture(scope="module")
def policy() -> SecretPolicy:
    return SecretPolicy(Registry.from_plugins(load_plugins()))


def _flow(password, token, *, connection_id="broker", node_id="in") -> dict:
    return {
        "flowhost": 1,
        "id": "demo",
        "connections": [
            {"id": connection_id, "connectorId": MQTT, "configuration": {"user": "u", "password": password}},
            "not an object",
        ],
        "nodes": [
            {"id": node_id, "type": "http-uplink", "config": {"path": "/up", "token": token}},
            {"id": "dbg", "type": "debug", "config": {"token": "not a secret of debug"}},
        ],
    }


def test_secret_names_fit_an_environment_variable():
    assert secret_name("my-flow", "node", "a.b", "token") == "my_flow_node_a_b_token"


def test_new_values_become_references_and_pending_secrets(policy):
    protected = policy.protect_flow(_flow("pw", "tk"), {}, "demo")
    assert protected.errors == []
    assert protected.pending == {"demo_broker_password": "pw", "demo_node_in_token": "tk"}
    connection, other = protected.document["connections"]
    assert connection["configuration"] == {"user": "u", "password": {"$secret": "demo_broker_password"}}
    assert other == "not an object"
    uplink, debug = protected.document["nodes"]
    assert uplink["config"] == {"path": "/up", "token": {"$secret": "demo_node_in_token"}}
    assert debug["config"] == {"token": "not a secret of debug"}  # not one of debug's secret fields


def test_the_mask_keeps_what_the_previous_document_held(policy):
    previous = _flow({"$secret": "kept_password"}, {"$env": "TOKEN"})
    protected = policy.protect_flow(_flow(MASK, MASK), previous, "demo")
    assert protected.errors == [] and protected.pending == {}
    assert protected.document["connections"][0]["configuration"]["password"] == {"$secret": "kept_password"}
    assert protected.document["nodes"][0]["config"]["token"] == {"$env": "TOKEN"}


def test_the_mask_without_a_stored_value_is_an_error_naming_the_field(policy):
    previous = _flow({"$secret": "kept_password"}, "tk", node_id="other")
    body = _flow(MASK, MASK, connection_id="new")
    protected = policy.protect_flow(body, previous, "demo")
    assert protected.errors == [
        {
            "path": "connections[0].configuration.password",
            "message": "'********' stands for the stored password, but none is stored; give the value",
        },
        {
            "path": "nodes[0].config.token",
            "message": "'********' stands for the stored token, but none is stored; give the value",
        },
    ]
    # A refused item stays as it came, so that validation does not also report its half-made references.
    assert protected.document["connections"][0] == body["connections"][0]
    assert protected.document["nodes"][0] == body["nodes"][0]


def test_an_item_without_an_id_is_named_by_its_position(policy):
    body = _flow("pw", "tk")
    del body["nodes"][0]["id"]
    assert set(policy.protect_flow(body, {}, "demo").pending) == {"demo_broker_password", "demo_node_0_token"}


def test_masking_hides_values_and_only_values_shows_references(policy):
    document = _flow({"$secret": "s"}, "plain")
    masked = policy.mask_flow(_flow({"$secret": "s"}, "plain"))
    assert masked["connections"][0]["configuration"] == {"user": "u", "password": MASK}
    assert masked["nodes"][0]["config"]["token"] == MASK
    assert masked["nodes"][1] == document["nodes"][1]
    references = policy.mask_flow(_flow({"$secret": "s"}, "plain"), only_values=True)
    assert references["connections"][0]["configuration"]["password"] == {"$secret": "s"}
    assert references["nodes"][0]["config"]["token"] == MASK


def test_an_api_connection_s_secrets_are_named_after_it(policy):
    body = {"id": "c1", "connectorId": MQTT, "name": "C", "configuration": {"password": "pw", "privateKey": MASK}}
    protected = policy.protect_connection(body, {"configuration": {"privateKey": {"$secret": "k"}}}, "c1")
    assert protected.pending == {"connection_c1_password": "pw"}
    assert protected.document["configuration"] == {
        "password": {"$secret": "connection_c1_password"},
        "privateKey": {"$secret": "k"},
    }
    assert policy.mask_connection(MQTT, body["configuration"]) == {"password": MASK, "privateKey": MASK}
    assert configuration_secrets(protected.document) == {"connection_c1_password", "k"}
    assert policy.own_connection_secrets("c1", protected.document) == {"connection_c1_password"}


def test_a_flow_s_own_secrets_are_those_named_after_it():
    document = {"a": [{"$secret": "demo_x"}, {"b": {"$secret": "other_y"}}], "c": {"$secret": "demo2_z"}}
    assert referenced_secrets(document) == {"demo_x", "other_y", "demo2_z"}
    assert own_flow_secrets("demo", document) == {"demo_x"}


def test_an_api_connection_s_mask_without_a_stored_value_names_the_field(policy):
    body = {"id": "c1", "connectorId": MQTT, "name": "C", "configuration": {"password": MASK}}
    assert policy.protect_connection(body, None, "c1").errors == [
        {
            "path": "configuration.password",
            "message": "'********' stands for the stored password, but none is stored; give the value",
        }
    ]


def test_a_connection_shows_no_secret_not_even_a_reference(policy):
    configuration = {"user": "u", "password": {"$secret": "s"}, "privateKey": {"$env": "KEY"}}
    assert policy.mask_connection(MQTT, configuration) == {"user": "u", "password": MASK, "privateKey": MASK}
    assert configuration_secrets({"configuration": configuration}) == {"s"}
    assert configuration_secrets({"configuration": "not an object"}) == set()


def test_odd_documents_are_left_as_they_are(policy):
    assert secret_name("My-Flow", "Node") == "My_Flow_Node"
    assert policy.fields("node_types", "no-such-type") == frozenset()
    assert policy.fields("node_types", ["not", "a", "name"]) == frozenset()
    body = _flow("pw", "tk")
    body["nodes"][0]["config"] = "not an object"
    protected = policy.protect_flow(body, {}, "demo")
    assert protected.document["nodes"][0] == {"id": "in", "type": "http-uplink", "config": "not an object"}
    assert protected.pending == {"demo_broker_password": "pw"}
