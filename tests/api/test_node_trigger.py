"""``POST /api/flows/{id}/nodes/{node}/inject``: a running node's ``trigger()`` by hand, behind the token."""

from __future__ import annotations

FLOW = """
flowhost: 1
id: t
nodes:
  - {id: route, type: switch, config: {rules: [{name: a, operator: "==", value: 1}]}}
"""


async def test_a_node_type_that_cannot_be_triggered_answers_409(api, runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    response = await api.post("/api/flows/t/nodes/route/inject")
    assert response.status == 409
    assert (await response.json())["errors"][0]["message"] == "node 'route' (switch) cannot be triggered"


async def test_an_unknown_flow_or_node_answers_404(api, runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    missing_node = await api.post("/api/flows/t/nodes/nothing/inject")
    assert missing_node.status == 404
    assert (await missing_node.json())["errors"][0]["message"] == "flow 't' has no node 'nothing'"
    missing_flow = await api.post("/api/flows/other/nodes/route/inject")
    assert missing_flow.status == 404


async def test_triggering_needs_the_token(anonymous, runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    response = await anonymous.post("/api/flows/t/nodes/route/inject")
    assert response.status == 401


async def test_node_types_say_whether_they_can_be_triggered_and_whether_their_ports_come_from_the_config(api):
    body = await (await api.get("/api/node-types")).json()
    types = {item["type"]: item for item in body["nodeTypes"]}
    assert types["switch"]["outputsFromConfig"] is True and types["switch"]["triggerable"] is False
    assert types["debug"]["outputsFromConfig"] is False


async def test_the_ports_of_a_config_are_answered_before_deploying(api):
    config = {"rules": [{"name": "cold", "operator": "<", "value": 5}, {"name": "hot", "operator": ">", "value": 30}]}
    response = await api.post("/api/node-types/switch/outputs", json=config)
    assert response.status == 200 and await response.json() == {"outputs": ["cold", "hot", "otherwise"]}
    fixed = await api.post("/api/node-types/filter/outputs", json={"fPorts": [2]})
    assert await fixed.json() == {"outputs": ["out", "unmatched"]}


async def test_an_invalid_config_gets_every_error_and_an_unknown_type_404(api):
    config = {"rules": [{"name": "a", "operator": "between", "value": [3, 1]}], "mode": "some"}
    response = await api.post("/api/node-types/switch/outputs", json=config)
    assert response.status == 400
    errors = {error["path"]: error["message"] for error in (await response.json())["errors"]}
    assert "low must not be above high" in errors["config.rules[0].value"]
    assert "value must be one of" in errors["config.mode"]
    unknown = await api.post("/api/node-types/swich/outputs", json={})
    assert unknown.status == 404
