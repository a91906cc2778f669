"""``GET /api/context/global``, ``/api/flows/{id}/context`` and ``/api/flows/{id}/nodes/{node}/context``."""

from __future__ import annotations

FLOW = {"flowhost": 1, "id": "site", "nodes": [{"id": "watch", "type": "debug"}]}


async def test_each_scope_reads_what_the_nodes_keep(api, runtime):
    response = await api.post("/api/flows", json=FLOW)
    assert response.status == 201, await response.text()
    watch = runtime.node("site", "watch")
    watch.store("node").set("devices", {"78AF580300000345": {"silent": False}})
    watch.store("flow").set("mode", "night")
    watch.store("global").set("sites", ["grenoble"])
    answers = [
        await (await api.get(path)).json()
        for path in ("/api/context/global", "/api/flows/site/context", "/api/flows/site/nodes/watch/context")
    ]
    assert answers == [
        {"scope": "global", "values": {"sites": ["grenoble"]}},
        {"scope": "flow", "values": {"mode": "night"}},
        {"scope": "node", "values": {"devices": {"78AF580300000345": {"silent": False}}}},
    ]


async def test_unknown_flows_and_nodes_answer_404_and_a_broken_file_409(api, runtime):
    assert (await api.post("/api/flows", json=FLOW)).status == 201
    assert (await api.get("/api/flows/nothing/context")).status == 404
    missing = await api.get("/api/flows/site/nodes/nothing/context")
    assert missing.status == 404
    assert (await missing.json())["errors"][0]["message"] == "flow 'site' has no node 'nothing'"
    broken = runtime.data_dir / "context" / "flows" / "site.json"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{oops")
    response = await api.get("/api/flows/site/context")
    assert response.status == 409 and "move it away" in (await response.json())["errors"][0]["message"]


async def test_context_needs_the_token(anonymous):
    assert (await anonymous.get("/api/context/global")).status == 401
