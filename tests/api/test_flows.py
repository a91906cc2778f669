"""``/api/flows``: create, read, deploy with rev, YAML written back with comments, secrets as references."""

from __future__ import annotations

import pytest

from flowhost.flowfile import read_flow_file
from flowhost.secrets import SecretRef
from flowhost.workspace import MASK
from tests.support.mqtt_helpers import wait_until
from tests.support.sample_nodes import Collector

SIMPLE = {
    "flowhost": 1,
    "id": "simple",
    "label": "Simple",
    "nodes": [
        {
            "id": "source",
            "type": "test-emit",
            "config": {"payloads": ["a", "b"]},
            "wires": {"out": ["sink"]},
        },
        {"id": "sink", "type": "test-collect"},
    ],
    "layout": {"source": {"x": 10, "y": 20}},
}

FILE_FLOW = """\
# A flow kept in git: these comments must survive saving from the editor.
flowhost: 1
id: filed
label: From a file   # the label
nodes:
  - id: source   # emits twice
    type: test-emit
    config: {payloads: [x, y]}
    wires: {out: [sink]}
  # the sink keeps what it gets
  - id: sink
    type: test-collect
    config:
      delay: 0s
"""


@pytest.fixture(autouse=True)
def _clean_collectors():
    Collector.received.clear()
    yield
    Collector.received.clear()


async def create(api, body: dict) -> dict:
    response = await api.post("/api/flows", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def load_file_flow(workspace, tmp_path, text: str = FILE_FLOW):
    path = tmp_path / "filed.yaml"
    path.write_text(text)
    assert workspace.load_flow_files([path]) == []
    await workspace.start()
    return path


async def test_post_creates_deploys_and_writes_the_flow_to_the_data_dir(api, runtime):
    created = await create(api, SIMPLE)
    assert created["id"] == "simple" and created["rev"]
    assert {key: value for key, value in created.items() if key != "rev"} == SIMPLE
    await wait_until(lambda: len(Collector.received["sink"]) == 2)
    path = runtime.data_dir / "flows" / "simple.yaml"
    assert read_flow_file(path)["nodes"][0]["config"]["payloads"] == ["a", "b"]
    listing = await (await api.get("/api/flows")).json()
    [summary] = listing["flows"]
    assert summary["id"] == "simple" and summary["rev"] == created["rev"] and summary["file"] == str(path)
    assert summary["origin"] == "api" and summary["deployed"] is True and summary["nodes"] == 2
    assert await (await api.get("/api/flows/simple")).json() == created


async def test_post_conflicts_and_errors(api):
    await create(api, SIMPLE)
    response = await api.post("/api/flows", json=SIMPLE)
    assert response.status == 409
    bad = {**SIMPLE, "id": "bad", "lable": "typo", "nodes": [{"id": "a", "type": "debugg"}]}
    response = await api.post("/api/flows", json=bad)
    assert response.status == 400
    assert (await response.json())["errors"] == [
        {
            "path": "lable",
            "message": "unknown key 'lable' (did you mean 'label'?); valid keys: "
            "connections, description, flowhost, id, label, layout, nodes",
        },
        {
            "path": "nodes[0].type",
            "message": "unknown node type 'debugg' (did you mean 'debug'?); installed: " + (await _installed(api)),
        },
    ]
    assert (await api.get("/api/flows/bad")).status == 404


async def _installed(api) -> str:
    types = (await (await api.get("/api/node-types")).json())["nodeTypes"]
    return ", ".join(sorted(t["type"] for t in types))


async def test_put_deploys_restarting_only_changed_nodes_and_checks_rev(api, runtime):
    created = await create(api, SIMPLE)
    sink = runtime.node("simple", "sink")
    changed = {**created, "nodes": [{**SIMPLE["nodes"][0], "config": {"payloads": ["c"]}}, SIMPLE["nodes"][1]]}
    changed["layout"] = {"source": {"x": 99, "y": 20}}
    response = await api.put("/api/flows/simple", json=changed)
    assert response.status == 200, await response.text()
    saved = await response.json()
    assert saved["rev"] != created["rev"] and saved["nodes"][0]["config"] == {"payloads": ["c"]}
    assert runtime.node("simple", "sink") is sink  # unchanged node kept running
    await wait_until(lambda: [m.payload for m in Collector.received["sink"]] == ["a", "b", "c"])

    stale = await api.put("/api/flows/simple", json=changed)  # the old rev again
    assert stale.status == 409
    [error] = (await stale.json())["errors"]
    assert error["path"] == "rev" and saved["rev"] in error["message"]

    no_rev = {key: value for key, value in saved.items() if key != "rev"}
    response = await api.put("/api/flows/simple", json=no_rev)
    assert response.status == 400 and (await response.json())["errors"][0]["path"] == "rev"


async def test_an_invalid_put_changes_nothing(api, runtime):
    created = await create(api, SIMPLE)
    path = runtime.data_dir / "flows" / "simple.yaml"
    before = path.read_text()
    source = runtime.node("simple", "source")
    broken = {**created, "nodes": [*created["nodes"], {"id": "x", "type": "filter"}, {"id": "sink", "type": "debug"}]}
    response = await api.put("/api/flows/simple", json=broken)
    assert response.status == 400
    paths = [error["path"] for error in (await response.json())["errors"]]
    assert paths == ["nodes[2].config", "nodes[3].id"]
    assert path.read_text() == before and runtime.node("simple", "source") is source
    assert (await (await api.get("/api/flows/simple")).json())["rev"] == created["rev"]


async def test_put_checks_id_and_existence(api):
    created = await create(api, SIMPLE)
    response = await api.put("/api/flows/simple", json={**created, "id": "other"})
    assert response.status == 400 and (await response.json())["errors"][0]["path"] == "id"
    assert (await api.put("/api/flows/nope", json=created)).status == 404


async def test_a_file_flow_is_written_back_with_its_comments_and_key_order(api, workspace, tmp_path):
    path = await load_file_flow(workspace, tmp_path)
    shown = await (await api.get("/api/flows/filed")).json()
    assert shown["label"] == "From a file"
    shown["nodes"][1]["config"]["delay"] = "1ms"
    shown["layout"] = {"sink": {"x": 1, "y": 2}}
    response = await api.put("/api/flows/filed", json=shown)
    assert response.status == 200, await response.text()
    assert path.read_text() == FILE_FLOW.replace("delay: 0s", "delay: 1ms") + "layout:\n  sink:\n    x: 1\n    y: 2\n"
    summary = (await (await api.get("/api/flows")).json())["flows"][0]
    assert summary["origin"] == "command-line"
    response = await api.delete("/api/flows/filed")
    assert response.status == 409 and "command line" in (await response.json())["errors"][0]["message"]


async def test_delete_stops_the_flow_and_removes_its_file(api, runtime):
    await create(api, SIMPLE)
    path = runtime.data_dir / "flows" / "simple.yaml"
    assert path.exists()
    assert (await api.delete("/api/flows/simple")).status == 204
    assert "simple" not in runtime.flows and not path.exists()
    assert (await api.delete("/api/flows/simple")).status == 404


SECRET_FLOW = """\
flowhost: 1
id: secretive
connections:
  - id: broker
    connectorId: actility-mqtt-iot
    configuration:
      uplinkTopicPattern: up/{DevEUI}
      hostName: !env_var TEST_BROKER_ADDRESS 127.0.0.1:1
      protocol: TCP
      username: flowhost
      password: !secret broker_password   # from secrets.yaml
nodes:
  - id: connector
    type: mqtt-connector
    config: {connection: broker}
"""


async def test_secrets_stay_references_masked_kept_and_new_ones_encrypted(api, workspace, tmp_path, runtime):
    (tmp_path / "secrets.yaml").write_text("broker_password: from-secrets-yaml\n")
    path = tmp_path / "filed.yaml"
    path.write_text(SECRET_FLOW)
    assert workspace.load_flow_files([path]) == []
    await workspace.start()
    shown = await (await api.get("/api/flows/secretive")).json()
    configuration = shown["connections"][0]["configuration"]
    assert configuration["password"] == MASK
    assert configuration["hostName"] == {"$env": "TEST_BROKER_ADDRESS", "default": "127.0.0.1:1"}

    configuration["uplinkTopicPattern"] = "up2/{DevEUI}"  # the mask keeps !secret broker_password
    response = await api.put("/api/flows/secretive", json=shown)
    assert response.status == 200, await response.text()
    assert path.read_text() == SECRET_FLOW.replace("up/{DevEUI}", "up2/{DevEUI}")
    assert runtime.connections["broker"].connection.settings.password == "from-secrets-yaml"

    shown = await response.json()
    shown["connections"][0]["configuration"]["password"] = "typed-in-the-editor"
    response = await api.put("/api/flows/secretive", json=shown)
    assert response.status == 200, await response.text()
    text = path.read_text()
    assert "typed-in-the-editor" not in text
    assert "password: !secret secretive_broker_password" in text
    assert read_flow_file(path)["connections"][0]["configuration"]["password"] == SecretRef("secretive_broker_password")
    assert runtime.connections["broker"].connection.settings.password == "typed-in-the-editor"
    stored = (runtime.data_dir / "secrets.json").read_text()
    assert "secretive_broker_password" in stored and "typed-in-the-editor" not in stored
    export = await (await api.get("/api/flows/secretive/yaml")).text()
    assert "!secret secretive_broker_password" in export and "!env_var TEST_BROKER_ADDRESS 127.0.0.1:1" in export


async def test_a_secret_written_as_text_in_a_file_is_masked_in_every_answer(api, workspace, tmp_path):
    text = SECRET_FLOW.replace("!secret broker_password   # from secrets.yaml", "plain-text-password")
    await load_file_flow(workspace, tmp_path, text)
    for path in ("/api/flows/secretive", "/api/flows/secretive/yaml", "/api/connections/broker", "/api/connections"):
        body = await (await api.get(path)).text()
        assert "plain-text-password" not in body and MASK in body, path


async def test_validate_without_deploying(api, runtime):
    response = await api.post("/api/flows/validate", json=SIMPLE)
    assert await response.json() == {"valid": True, "errors": []}
    response = await api.post("/api/flows/validate", json={**SIMPLE, "nodes": [{"id": "a", "type": "filter"}]})
    assert await response.json() == {
        "valid": False,
        "errors": [{"path": "nodes[0].config", "message": "give at least one of devEUIs, fPorts, tags, documentTypes"}],
    }
    assert "simple" not in runtime.flows
    created = await create(api, SIMPLE)
    response = await api.post("/api/flows/simple/validate", json={**created, "label": 3})
    assert await response.json() == {"valid": False, "errors": [{"path": "label", "message": "expected str"}]}
    assert (await api.post("/api/flows/nope/validate", json=SIMPLE)).status == 404


async def test_export_and_import_keep_comments(api, runtime):
    text = FILE_FLOW.replace("id: filed", "id: imported")
    response = await api.post("/api/flows/import", data=text, headers={"Content-Type": "text/yaml"})
    assert response.status == 201, await response.text()
    assert response.headers["Location"] == "/api/flows/imported"
    assert (runtime.data_dir / "flows" / "imported.yaml").read_text() == text
    response = await api.get("/api/flows/imported/yaml")
    assert response.content_type == "text/yaml" and await response.text() == text
    response = await api.post("/api/flows/import", data="flowhost: 1\nid: [unclosed\n")
    assert response.status == 400
    [error] = (await response.json())["errors"]
    assert error == {
        "path": "",
        "message": "invalid YAML: expected ',' or ']', but got '<stream end>'",
        "line": 3,
        "column": 1,
    }


async def test_import_refuses_yaml_its_parser_cannot_build_with_a_reason(api):
    for text, reason in [
        ("flowhost: 1\nid: x\na: {? [[x]]: 0}\n", "a mapping key holds a list or mapping inside it"),
        ("flowhost: 1\nid: x\nport: !!int abc\n", "a value cannot be read"),
    ]:
        response = await api.post("/api/flows/import", data=text, headers={"Content-Type": "text/yaml"})
        assert response.status == 400, await response.text()
        [error] = (await response.json())["errors"]
        assert error["message"].startswith(f"invalid YAML: {reason}"), error


async def test_status_shows_each_nodes_counters(api):
    await create(api, SIMPLE)
    await wait_until(lambda: len(Collector.received["sink"]) == 2)
    status = await (await api.get("/api/flows/simple/status")).json()
    assert status["deployed"] is True
    assert status["nodes"]["sink"]["counters"] == {"processed": 2}
    assert set(status["nodes"]) == {"source", "sink"}
    assert (await api.get("/api/flows/nope/status")).status == 404


async def test_a_flow_cannot_define_an_api_connections_id(api, mosquitto):
    from tests.api.conftest import thingpark_body

    assert (await api.post("/api/connections", json={**thingpark_body(mosquitto), "id": "shared"})).status == 201
    flow = {
        **SIMPLE,
        "connections": [
            {
                "id": "shared",
                "connectorId": "actility-mqtt-iot",
                **{"configuration": {"uplinkTopicPattern": "x/{DevEUI}", "hostName": "127.0.0.1:1", "protocol": "TCP"}},
            }
        ],
    }
    response = await api.post("/api/flows", json=flow)
    assert response.status == 400
    assert (await response.json())["errors"] == [
        {"path": "connections[0].id", "message": "connection id 'shared' is already defined through the API"}
    ]


async def test_the_demo_flow_is_saved_into_the_data_dir_never_into_the_package(api, workspace, runtime):
    from flowhost.resources import demo_flow

    packaged = demo_flow().read_text()
    assert workspace.load_flow_files([], demo=demo_flow()) == []
    await workspace.start()
    summary = (await (await api.get("/api/flows")).json())["flows"][0]
    assert summary["origin"] == "demo" and summary["file"] == str(runtime.data_dir / "flows" / "demo.yaml")
    shown = await (await api.get("/api/flows/demo")).json()
    shown["label"] = "My demo"
    assert (await api.put("/api/flows/demo", json=shown)).status == 200
    assert demo_flow().read_text() == packaged
    saved = (runtime.data_dir / "flows" / "demo.yaml").read_text()
    assert saved == packaged.replace(
        "label: Simulated LoRaWAN devices through the local broker and back", "label: My demo"
    )


ZERO_OFFSET_FLOW = """\
flowhost: 1
id: filed
nodes:
- id: source
  type: test-emit
  config:
    payloads:
    - x
  wires:
    out:
    - sink
- id: sink    # four-space indents elsewhere would be wrong here
  type: test-collect
"""


async def test_the_files_own_indentation_is_kept(api, workspace, tmp_path):
    path = await load_file_flow(workspace, tmp_path, ZERO_OFFSET_FLOW)
    shown = await (await api.get("/api/flows/filed")).json()
    shown["nodes"][0]["config"]["payloads"] = ["x", "y"]
    assert (await api.put("/api/flows/filed", json=shown)).status == 200
    assert path.read_text() == ZERO_OFFSET_FLOW.replace("    - x\n", "    - x\n    - y\n")


async def test_a_file_changed_on_disk_is_not_overwritten(api, workspace, tmp_path, runtime):
    path = await load_file_flow(workspace, tmp_path)
    shown = await (await api.get("/api/flows/filed")).json()
    edited_by_hand = FILE_FLOW.replace("label: From a file", "label: Edited in vim")
    path.write_text(edited_by_hand)
    shown["label"] = "Edited in the editor"
    response = await api.put("/api/flows/filed", json=shown)
    assert response.status == 409
    assert "changed on disk since flowhost read it" in (await response.json())["errors"][0]["message"]
    assert path.read_text() == edited_by_hand
    assert (await (await api.get("/api/flows/filed")).json())["label"] == "From a file"
