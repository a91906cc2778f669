"""Issue 13, "one request freezes everything", against a real ``flowhost run`` process, real HTTP and a real
Mosquitto: YAML alias bombs and template bombs are refused with a clear error, an uplink that makes a valid
template too expensive is rejected alone, and meanwhile the API answers and uplinks keep flowing.

The freezes lasted from seconds to for ever; a probe must answer within PROBE_TIMEOUT, loose enough for a
loaded CI machine (the target, and what was measured here, is well under 100 ms).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.api.conftest import thingpark_body
from tests.support.bombs import ISSUE_TEMPLATE_BOMBS, alias_bomb, merge_key_bomb
from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import Subscriber
from tests.support.processes import run_command

TOKEN = "request-bombs-token"
PROBE_TIMEOUT = 1.0
DEV_EUI = "0018B20000000B20"
# Valid for the probe uplink; for FCntUp 5000 the loops pass 100,000 iterations, for 100000 the range is too long.
EXPENSIVE_FOR_SOME = (
    "mqtt/things/{DevEUI}/{% for i in range(FCntUp) %}{% for j in range(FCntUp) %}{% endfor %}{% endfor %}"
    "{{ 'x' * FCntUp }}"
)


def flow_file(path: Path, broker, pattern: str = "mqtt/things/{DevEUI}/uplink") -> Path:
    flow = {
        "flowhost": 1,
        "id": "bombs",
        "connections": [
            {
                "id": "broker",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": pattern,
                    "hostName": f"127.0.0.1:{broker.tcp_port}",
                    "protocol": "TCP",
                },
            }
        ],
        "nodes": [
            {"id": "http", "type": "http-uplink", "config": {"path": "/uplinks"}, "wires": {"out": ["connector"]}},
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
        ],
    }
    path.write_text(json.dumps(flow, indent=2))
    return path


class Server:
    def __init__(self, process, url: str, session: aiohttp.ClientSession) -> None:
        self.process, self.url, self.session = process, url, session

    async def probe(self) -> None:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with self.session.get(f"{self.url}/api/flows") as response:
                assert response.status == 200

    async def while_probing(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        """Send one request while probing the API every 20 ms; every probe must be answered in time."""

        async def request() -> tuple[int, dict]:
            async with self.session.request(method, f"{self.url}{path}", **kwargs) as response:
                return response.status, await response.json()

        sent = asyncio.create_task(request())
        try:
            for _ in range(500):  # 10 s at most
                await self.probe()
                if sent.done():
                    break
                await asyncio.sleep(0.02)
            async with asyncio.timeout(10):
                return await sent
        finally:
            sent.cancel()

    async def uplink(self, **fields) -> tuple[int, dict]:
        document = {"DevEUI_uplink": {"DevEUI": DEV_EUI, "FPort": 1, "FCntUp": 1, "payload_hex": "00", **fields}}
        return await self.while_probing("POST", "/uplinks", json=document)


async def accepted(server: Server, **fields) -> None:
    status, body = await server.uplink(**fields)
    assert status == 202 and body["durable"] is True, body


@pytest.fixture
async def serve(flowhost_process, tmp_path):
    sessions: list[aiohttp.ClientSession] = []

    async def start(flow: Path) -> Server:
        port = free_port()
        process = await flowhost_process(
            str(flow), "--no-broker", "--port", str(port), "--data-dir", str(tmp_path / "data"),
            env={"FLOWHOST_TOKEN": TOKEN},
        )  # fmt: skip
        await process.wait_for_line("connection broker: OPENED")
        session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})
        sessions.append(session)
        return Server(process, f"http://127.0.0.1:{port}", session)

    yield start
    for session in sessions:
        await session.close()


async def test_yaml_bombs_posted_to_the_api_are_refused_with_their_line(serve, mosquitto, tmp_path):
    server = await serve(flow_file(tmp_path / "flow.yaml", mosquitto))
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/things/#") as subscriber:
        headers = {"Content-Type": "text/yaml"}
        status, body = await server.while_probing("POST", "/api/flows/import", data=alias_bomb(), headers=headers)
        assert status == 400, body
        (error,) = body["errors"]
        assert "aliases expand to more than 10000 nodes (at alias *a3)" in error["message"]
        assert error["line"] == 7

        status, body = await server.while_probing("POST", "/api/flows/import", data=merge_key_bomb(), headers=headers)
        assert status == 400 and "aliases expand to more than 10000 nodes" in body["errors"][0]["message"], body

        await accepted(server)  # ingestion goes on
        (message,) = await subscriber.wait_for(1)
        assert message.topic == f"mqtt/things/{DEV_EUI}/uplink"
    async with server.session.get(f"{server.url}/api/flows") as response:
        assert [flow["id"] for flow in (await response.json())["flows"]] == ["bombs"]  # nothing was stored


async def test_flowhost_validate_and_run_refuse_a_yaml_bomb_with_file_and_line(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    code, _, stderr = await run_command("validate", str(bomb))
    assert code == 1
    assert f"{bomb}:7:" in stderr and "aliases expand to more than 10000 nodes" in stderr

    port = str(free_port())
    code, _, stderr = await run_command("run", str(bomb), "--no-broker", "--port", port, "--data-dir", str(tmp_path))
    assert code != 0
    assert f"{bomb}:7:" in stderr and "aliases expand to more than 10000 nodes" in stderr


async def test_template_bombs_are_refused_at_validation_while_the_server_answers(serve, mosquitto, tmp_path):
    server = await serve(flow_file(tmp_path / "flow.yaml", mosquitto))
    for case, (pattern, problem) in ISSUE_TEMPLATE_BOMBS.items():
        body = thingpark_body(mosquitto, uplinkTopicPattern=pattern)
        status, answer = await server.while_probing("POST", "/api/connections", json=body)
        assert status == 400, (case, answer)
        (error,) = answer["errors"]
        assert error["path"] == "configuration.uplinkTopicPattern", (case, error)
        assert problem in error["message"], (case, error)
    await accepted(server)


async def test_an_uplink_that_makes_a_valid_template_too_expensive_is_rejected_alone(serve, mosquitto, tmp_path):
    server = await serve(flow_file(tmp_path / "flow.yaml", mosquitto, EXPENSIVE_FOR_SOME))
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/things/#") as subscriber:
        await accepted(server, FCntUp=3)
        status, body = await server.uplink(FCntUp=5000)
        assert status == 422 and "loops ran more than 100000 times" in body["error"], body
        status, body = await server.uplink(FCntUp=100_000)
        assert status == 422 and "range of 100000 items; the limit is 10000" in body["error"], body
        await accepted(server, FCntUp=4)
        messages = await subscriber.wait_for(2)
        assert [message.topic for message in messages] == [f"mqtt/things/{DEV_EUI}/xxx", f"mqtt/things/{DEV_EUI}/xxxx"]
    async with server.session.get(f"{server.url}/api/connections/broker") as response:
        counters = (await response.json())["counters"]
    assert counters["uplinksRejected"] == 2 and counters["uplinksPublished"] == 2, counters
