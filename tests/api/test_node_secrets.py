"""A node type may declare ``secret_fields`` like a connection type: masked, kept, encrypted, referenced."""

from __future__ import annotations

import sys

import orjson
import pytest
import voluptuous as vol

from flowhost import Node, hookimpl
from flowhost.plugins import load_plugins
from flowhost.workspace import MASK
from tests.support import sample_nodes


class TokenNode(Node):
    type = "test-token-node"
    outputs = ()
    secret_fields = frozenset({"token"})
    config_schema = vol.Schema({vol.Required("token"): str, vol.Optional("label"): str})


@hookimpl
def flowhost_register_node_types(register):
    register(TokenNode)


@pytest.fixture
def plugins():
    return load_plugins(extra=[("test-nodes", sample_nodes), ("token-nodes", sys.modules[__name__])])


FLOW = {"flowhost": 1, "id": "tokens", "nodes": [{"id": "t", "type": "test-token-node", "config": {"token": "tok-1"}}]}


async def test_a_node_secret_is_masked_kept_and_stored_encrypted(api, runtime):
    response = await api.post("/api/flows", json=FLOW)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["nodes"][0]["config"] == {"token": MASK}
    assert runtime.node("tokens", "t").node.config["token"] == "tok-1"
    text = (runtime.data_dir / "flows" / "tokens.yaml").read_text()
    assert "token: !secret tokens_node_t_token" in text and "tok-1" not in text
    assert "tok-1" not in (runtime.data_dir / "secrets.json").read_text()

    created["nodes"][0]["config"]["label"] = "kept token"
    response = await api.put("/api/flows/tokens", json=created)
    assert response.status == 200, await response.text()
    assert runtime.node("tokens", "t").node.config == {"token": "tok-1", "label": "kept token"}

    bad = {**FLOW, "id": "masked-new"}
    bad["nodes"] = [{"id": "t", "type": "test-token-node", "config": {"token": MASK}}]
    response = await api.post("/api/flows", json=bad)
    assert response.status == 400
    assert (await response.json())["errors"][0]["path"] == "nodes[0].config.token"


async def test_secrets_leave_the_store_with_the_nodes_and_flows_that_held_them(api, runtime):
    def stored_names() -> set[str]:
        return set(orjson.loads((runtime.data_dir / "secrets.json").read_bytes())["secrets"])

    two = {**FLOW, "nodes": [*FLOW["nodes"], {"id": "u", "type": "test-token-node", "config": {"token": "tok-2"}}]}
    created = await (await api.post("/api/flows", json=two)).json()
    assert {"tokens_node_t_token", "tokens_node_u_token"} <= stored_names()
    created["nodes"] = created["nodes"][:1]  # node u removed
    response = await api.put("/api/flows/tokens", json=created)
    assert response.status == 200, await response.text()
    assert "tokens_node_u_token" not in stored_names() and "tokens_node_t_token" in stored_names()
    assert runtime.node("tokens", "t").node.config["token"] == "tok-1"
    assert (await api.delete("/api/flows/tokens")).status == 204
    assert not {name for name in stored_names() if name.startswith("tokens_")}


async def test_node_types_show_a_nodes_secret_fields(api):
    described = await (await api.get("/api/node-types")).json()
    [entry] = [entry for entry in described["nodeTypes"] if entry["type"] == "test-token-node"]
    assert entry["secretFields"] == ["token"]
    assert entry["fields"][0] == {
        "name": "token",
        "type": "string",
        "format": "password",
        "secret": True,
        "required": True,
    }
