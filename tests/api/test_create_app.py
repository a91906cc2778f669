"""The whole server from one ``create_app``: runtime, workspace and the embedded broker start with the
application (aiohttp's ``cleanup_ctx``) and stop with it; a flow deployed through the API runs end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flowhost import keys
from flowhost.app import StartupError, create_app
from flowhost.broker import EmbeddedBroker
from flowhost.store import api_token
from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import Subscriber, wait_until

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "thingpark"


def uplink_flow(broker_port: int) -> dict:
    """An HTTP uplink endpoint publishing through the MQTT connector to the embedded broker."""
    connection = {
        "uplinkTopicPattern": "app/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{broker_port}",
        "protocol": "TCP",
    }
    return {
        "flowhost": 1,
        "id": "whole",
        "connections": [{"id": "local", "connectorId": "actility-mqtt-iot", "configuration": connection}],
        "nodes": [
            {"id": "http", "type": "http-uplink", "config": {"path": "/uplinks/whole"}, "wires": {"out": ["up"]}},
            {"id": "up", "type": "mqtt-connector", "config": {"connection": "local"}},
        ],
    }


async def refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_a_flow_deployed_through_the_api_runs_and_closing_the_client_stops_everything(
    aiohttp_client, plugins, tmp_path
):
    broker_port = free_port()
    app = create_app(tmp_path / "data", plugins, broker=EmbeddedBroker("127.0.0.1", broker_port))
    runtime, workspace = app[keys.RUNTIME], app[keys.WORKSPACE]
    assert await refuses_connections(broker_port) and not workspace.ready  # nothing runs before the app starts
    client = await aiohttp_client(app)
    client.session.headers["Authorization"] = f"Bearer {api_token(tmp_path / 'data')[0]}"
    assert workspace.ready and (await client.get("/healthz")).status == 200

    response = await client.post("/api/flows", json=uplink_flow(broker_port))
    assert response.status == 201, await response.text()
    await wait_until(lambda: runtime.connections["local"].connection.state == "OPENED")
    async with Subscriber("127.0.0.1", broker_port, "app/+/uplink", client_id="whole-app") as subscriber:
        response = await client.post("/uplinks/whole", data=(SAMPLES / "uplink.json").read_bytes())
        assert response.status == 202, await response.text()
        [message] = await subscriber.wait_for(1)
    assert message.topic == "app/0018B20000000B20/uplink"
    assert json.loads(message.payload)["DevEUI_uplink"]["DevEUI"] == "0018B20000000B20"
    assert runtime.node("whole", "up").counters["processed"] == 1

    connection = runtime.connections["local"].connection
    await client.close()
    assert runtime.flows == {} and runtime.connections == {} and not workspace.ready
    assert connection.state != "OPENED"
    assert await refuses_connections(broker_port)


async def test_without_a_broker_the_stored_flows_start_with_the_app_and_stop_with_it(
    aiohttp_client, plugins, tmp_path, write_flow
):
    path = write_flow(
        """
        flowhost: 1
        id: stored
        nodes:
          - {id: source, type: test-emit, config: {payloads: [1, 2]}, wires: {out: [sink]}}
          - {id: sink, type: test-collect}
        """
    )
    app = create_app(tmp_path / "data", plugins, flow_files=[path])
    runtime = app[keys.RUNTIME]
    assert runtime.flows == {} and app[keys.BROKER] is None
    client = await aiohttp_client(app)
    await wait_until(lambda: runtime.flows and runtime.node("stored", "sink").counters["processed"] == 2)
    await client.close()
    assert runtime.flows == {}


def test_flow_files_with_errors_start_nothing_and_say_every_error(plugins, tmp_path, write_flow):
    path = write_flow("flowhost: 1\nid: bad\nnodes:\n  - {id: a, type: no-such-type}\n  - {id: b, type: debugg}\n")
    with pytest.raises(StartupError) as caught:
        create_app(tmp_path / "data", plugins, flow_files=[path])
    assert len(caught.value.errors) == 2
    assert "no-such-type" in caught.value.errors[0] and "debugg" in caught.value.errors[1]
