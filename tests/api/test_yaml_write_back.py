"""Saved YAML stays as the user wrote it: what the editor sends for every node (``config: {}``, ``wires: {}``)
adds nothing to an untouched node, and what is new takes the style of what stands beside it."""

from __future__ import annotations

from flowhost.flow_yaml import read_yaml

WRITTEN = """\
flowhost: 1
id: as-written
nodes:
  # the devices
  - id: devices
    type: test-emit
    config: {payloads: [a]}
    wires: {out: [sink]}
  - id: sink
    type: test-collect
layout:
  devices: {x: 120, y: 80}
  sink: {x: 400, y: 80}
"""


def as_the_editor_sends(flow: dict) -> dict:
    """The editor's model (web/js/flow-model.js normalise): a label, connections, and every node with config and
    wires, even where the file had none."""
    nodes = [{**node, "config": node.get("config") or {}, "wires": node.get("wires") or {}} for node in flow["nodes"]]
    return {
        **flow,
        "label": flow.get("label") or flow["id"],
        "connections": flow.get("connections") or [],
        "nodes": nodes,
    }


async def test_an_untouched_node_gains_nothing_and_a_new_one_is_written_like_its_neighbours(api, workspace, tmp_path):
    path = tmp_path / "as-written.yaml"
    path.write_text(WRITTEN)
    assert workspace.load_flow_files([path]) == []
    await workspace.start()
    flow = as_the_editor_sends(await (await api.get("/api/flows/as-written")).json())
    flow["nodes"][0]["wires"]["out"].append("more")
    flow["nodes"].append({"id": "more", "type": "test-collect", "config": {"delay": "0s"}, "wires": {}})
    flow["layout"]["more"] = {"x": 400, "y": 200}
    response = await api.put("/api/flows/as-written", json=flow)
    assert response.status == 200, await response.text()
    assert path.read_text() == (
        WRITTEN.replace("wires: {out: [sink]}", "wires: {out: [sink, more]}").replace(
            "    type: test-collect\nlayout:",
            "    type: test-collect\n  - id: more\n    type: test-collect\n    config: {delay: 0s}\nlayout:",
        )
        + "  more: {x: 400, y: 200}\n"
    )

    flow = as_the_editor_sends(await (await api.get("/api/flows/as-written")).json())
    flow["layout"]["sink"] = {"x": 420, "y": 90}  # a move: one line changes
    assert (await api.put("/api/flows/as-written", json=flow)).status == 200
    assert "  sink: {x: 420, y: 90}\n" in path.read_text() and "config: {}" not in path.read_text()


async def test_a_node_whose_file_wrote_an_empty_config_keeps_it(api, workspace, tmp_path):
    path = tmp_path / "explicit.yaml"
    path.write_text("flowhost: 1\nid: explicit\nnodes:\n  - id: sink\n    type: test-collect\n    config: {}\n")
    assert workspace.load_flow_files([path]) == []
    await workspace.start()
    flow = as_the_editor_sends(await (await api.get("/api/flows/explicit")).json())
    assert (await api.put("/api/flows/explicit", json={**flow, "label": "Explicit"})).status == 200
    assert path.read_text() == (
        "flowhost: 1\nid: explicit\nnodes:\n  - id: sink\n    type: test-collect\n    config: {}\nlabel: Explicit\n"
    )


async def test_a_flow_made_in_the_editor_is_written_compactly_without_empty_sections(api, runtime):
    body = {
        "flowhost": 1,
        "id": "fresh",
        "nodes": [
            {"id": "source", "type": "test-emit", "config": {"payloads": ["a"]}, "wires": {"out": ["sink"]}},
            {"id": "sink", "type": "test-collect", "config": {}, "wires": {}},
        ],
        "layout": {"source": {"x": 10, "y": 20}, "sink": {"x": 300, "y": 20}},
    }
    assert (await api.post("/api/flows", json=body)).status == 201
    text = (runtime.data_dir / "flows" / "fresh.yaml").read_text()
    assert "  source: {x: 10, y: 20}\n  sink: {x: 300, y: 20}\n" in text
    assert "    wires: {out: [sink]}\n" in text
    assert "config: {}" not in text and "wires: {}" not in text
    sink = read_yaml(text, "fresh")["nodes"][1]
    assert dict(sink) == {"id": "sink", "type": "test-collect"}


async def test_a_new_value_with_several_lines_is_never_squeezed_onto_one(api, workspace, tmp_path):
    path = tmp_path / "as-written.yaml"
    path.write_text(WRITTEN)
    assert workspace.load_flow_files([path]) == []
    await workspace.start()
    flow = as_the_editor_sends(await (await api.get("/api/flows/as-written")).json())
    flow["nodes"][0]["config"] = {"payloads": ["first line\nsecond line"]}
    flow["nodes"].append({"id": "note", "type": "test-emit", "config": {"payloads": ["one\ntwo"]}, "wires": {}})
    response = await api.put("/api/flows/as-written", json=flow)
    assert response.status == 200, await response.text()
    text = path.read_text()
    note = text[text.index("  - id: note") : text.index("layout:")]
    assert "config:\n" in note and "{payloads" not in note, text
    assert read_yaml(text, "x")["nodes"][2]["config"]["payloads"] == ["one\ntwo"]
