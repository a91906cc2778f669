"""``GET /healthz`` (no token: live and ready, nothing else) and ``GET /api/status`` (flows, connection states,
outbox lengths) on a workspace with one connection to the test Mosquitto and one to a port nobody listens on."""

from __future__ import annotations

import asyncio

from tests.support.flowhost_fixtures import free_port

FLOW = """
flowhost: 1
id: watched
label: Watched
connections:
  - id: up
    connectorId: actility-mqtt-iot
    configuration: {{hostName: "127.0.0.1:{up}", protocol: TCP, uplinkTopicPattern: "health/{{DevEUI}}/up"}}
  - id: down
    connectorId: actility-mqtt-iot
    configuration:
      hostName: "127.0.0.1:{down}"
      protocol: TCP
      uplinkTopicPattern: "health/{{DevEUI}}/up"
      reconnectMaxDelay: 30s
nodes:
  - id: devices
    type: lorawan-simulator
    config: {{devEUIs: [78AF580300000345], interval: 20ms, limit: 5}}
    wires: {{out: [to-up, to-down]}}
  - {{id: to-up, type: mqtt-connector, config: {{connection: up}}}}
  - {{id: to-down, type: mqtt-connector, config: {{connection: down}}}}
"""


async def test_healthz_needs_no_token_and_says_ready_only_once_the_flows_started(anonymous, workspace, write_flow):
    response = await anonymous.get("/healthz")
    assert response.status == 503 and await response.json() == {"live": True, "ready": False}
    path = write_flow("flowhost: 1\nid: tiny\nnodes:\n  - {id: d, type: debug}\n")
    assert workspace.load_flow_files([path]) == []
    await workspace.start()
    response = await anonymous.get("/healthz")
    assert response.status == 200 and await response.json() == {"live": True, "ready": True}
    assert response.headers["Cache-Control"] == "no-store"
    workspace.ready = False  # what `flowhost run` sets when it begins to stop
    assert (await anonymous.get("/healthz")).status == 503


async def test_status_needs_the_token(anonymous):
    response = await anonymous.get("/api/status")
    assert response.status == 401


async def test_status_shows_flows_connection_states_and_outbox_lengths(api, workspace, write_flow, mosquitto):
    path = write_flow(FLOW.format(up=mosquitto.tcp_port, down=free_port()))
    assert workspace.load_flow_files([path]) == []
    await workspace.start()

    async def status() -> dict:
        response = await api.get("/api/status")
        assert response.status == 200
        return await response.json()

    async with asyncio.timeout(15):
        while True:
            document = await status()
            shown = {c["id"]: c for c in document["connections"]}
            if shown["up"]["state"] == "OPENED" and shown["down"]["outbox"] == 5:
                break
            await asyncio.sleep(0.05)
    assert document["ready"] is True
    assert document["flows"] == [
        {
            "id": "watched",
            "label": "Watched",
            "file": str(path),
            "origin": "command-line",
            "deployed": True,
            "nodes": 3,
            "errors": 0,
        }
    ]
    connections = {c["id"]: c for c in document["connections"]}
    assert connections["up"]["state"] == "OPENED" and connections["up"]["outbox"] == 0
    assert connections["down"]["state"] == "UNREACHABLE" and connections["down"]["outbox"] == 5
    assert connections["down"]["lastError"]
    assert connections["up"]["connectorId"] == "actility-mqtt-iot"
