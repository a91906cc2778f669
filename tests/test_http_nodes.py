"""http-uplink and http-downlink over real HTTP; http-uplink answers only once the connector stored the uplink."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from flowhost.app import create_web_app
from flowhost.flowfile import validate_flow
from tests.support.mqtt_helpers import Subscriber, wait_until
from tests.support.sample_nodes import Collector

SAMPLES = Path(__file__).resolve().parent / "data" / "thingpark"


@pytest.fixture(autouse=True)
def _clean():
    Collector.received.clear()


def uplink_flow(connection: dict | None = None, token: str | None = None) -> dict:
    config = {"path": "/uplinks/thingpark", **({"token": token} if token else {})}
    target = "connector" if connection else "sink"
    nodes = [{"id": "http", "type": "http-uplink", "config": config, "wires": {"out": [target]}}]
    if connection:
        nodes.append({"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}})
    else:
        nodes.append({"id": "sink", "type": "test-collect"})
    flow = {"flowhost": 1, "id": "http", "nodes": nodes}
    if connection:
        flow["connections"] = [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": connection}]
    return flow


@pytest.fixture
async def client(runtime, aiohttp_client):
    return await aiohttp_client(create_web_app(runtime))


async def test_uplinks_are_accepted_once_written_to_the_outbox(runtime, client, mosquitto, tmp_path):
    connection = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
    }
    await runtime.deploy(validate_flow(uplink_flow(connection), runtime.registry))
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/things/+/uplink", client_id="http") as sub:
        for name in ("uplink.json", "uplink-legacy.json"):
            response = await client.post("/uplinks/thingpark", data=(SAMPLES / name).read_bytes())
            body = await response.json()
            assert response.status == 202, body
            assert body["accepted"] is True and body["durable"] is True
        messages = await sub.wait_for(2)
    assert [message.topic for message in messages] == [
        "mqtt/things/0018B20000000B20/uplink",
        "mqtt/things/78AF580300000345/uplink",
    ]
    assert list((runtime.data_dir / "connections" / "broker" / "outbox").glob("*.journal"))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "object"),
        (b'{"DevEUI_uplink": {"FPort": 1}}', "DevEUI"),
        (b'{"DevEUI_uplink": {"DevEUI": "12345"}}', "16 hexadecimal digits"),
        (b'{"DevEUI": "ZZAF580300000345"}', "16 hexadecimal digits"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
async def test_bad_uplinks_get_400_with_the_reason(runtime, client, body, reason):
    await runtime.deploy(validate_flow(uplink_flow(), runtime.registry))
    response = await client.post("/uplinks/thingpark", data=body)
    assert response.status == 400
    assert reason in (await response.json())["error"]
    assert runtime.node("http", "http").counters["rejected"] == 1
    assert not Collector.received["sink"]


async def test_a_token_is_required_when_configured(runtime, client):
    await runtime.deploy(validate_flow(uplink_flow(token="s3cret-token"), runtime.registry))
    document = (SAMPLES / "uplink.json").read_bytes()
    assert (await client.post("/uplinks/thingpark", data=document)).status == 401
    wrong = {"Authorization": "Bearer wrong-token"}
    assert (await client.post("/uplinks/thingpark", data=document, headers=wrong)).status == 401
    right = {"Authorization": "Bearer s3cret-token"}
    assert (await client.post("/uplinks/thingpark", data=document, headers=right)).status == 202
    assert len(Collector.received["sink"]) == 1


async def test_a_full_outbox_answers_503_and_keeps_what_it_has(runtime, client, silent_listener):
    host, port = silent_listener
    connection = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"{host}:{port}",
        "protocol": "TCP",
        "outboxSize": 2,
    }
    await runtime.deploy(validate_flow(uplink_flow(connection), runtime.registry))
    document = json.loads((SAMPLES / "uplink.json").read_text())
    statuses = []
    for counter in range(3):
        document["DevEUI_uplink"]["FCntUp"] = counter
        response = await client.post("/uplinks/thingpark", json=document)
        statuses.append(response.status)
    assert statuses == [202, 202, 503]
    assert response.headers["Retry-After"]
    assert "outbox holds 2 uplinks" in (await response.json())["error"]
    broker = runtime.connections["broker"].connection
    assert broker.counters["uplinksRefused"] == 1 and broker.queued == 2


async def test_an_unknown_path_is_404_and_a_wrong_method_405(runtime, client):
    await runtime.deploy(validate_flow(uplink_flow(), runtime.registry))
    assert (await client.post("/uplinks/elsewhere", data=b"{}")).status == 404
    assert (await client.get("/uplinks/thingpark")).status == 405


class Sink:
    """A local HTTP endpoint standing in for an application server that receives downlinks."""

    def __init__(self, failures: int = 0, status: int = 500) -> None:
        self.failures, self.status = failures, status
        self.received: list[dict] = []
        self.attempts = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return web.Response(status=self.status)
        self.received.append(await request.json())
        return web.Response(status=204)


def downlink_flow(url: str, **config) -> dict:
    return {
        "flowhost": 1,
        "id": "down",
        "nodes": [
            {
                "id": "source",
                "type": "test-emit",
                "config": {"payloads": [{"DevEUI_downlink": {"n": 1}}]},
                "wires": {"out": ["post"]},
            },
            {"id": "post", "type": "http-downlink", "config": {"url": url, "retryDelay": "10ms", **config}},
        ],
    }


async def serve(aiohttp_server, sink: Sink):
    app = web.Application()
    app.router.add_post("/downlinks", sink.handle)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}/downlinks"


async def test_downlinks_are_posted_and_retried(runtime, aiohttp_server):
    sink = Sink(failures=2)
    await runtime.deploy(validate_flow(downlink_flow(await serve(aiohttp_server, sink)), runtime.registry))
    await wait_until(lambda: sink.received)
    assert sink.received == [{"DevEUI_downlink": {"n": 1}}] and sink.attempts == 3
    counters = runtime.node("down", "post").counters
    assert counters["sent"] == 1 and counters["retries"] == 2


@pytest.mark.expect_node_errors
async def test_a_sink_that_stays_down_is_counted_as_failed(runtime, aiohttp_server):
    sink = Sink(failures=100)
    url = await serve(aiohttp_server, sink)
    await runtime.deploy(validate_flow(downlink_flow(url, retries=2), runtime.registry))
    node = runtime.node("down", "post")
    await wait_until(lambda: node.counters["failed"] == 1)
    assert sink.attempts == 3 and not sink.received


@pytest.mark.expect_node_errors
async def test_a_refusing_sink_is_not_retried(runtime, aiohttp_server):
    sink = Sink(failures=100, status=422)
    url = await serve(aiohttp_server, sink)
    await runtime.deploy(validate_flow(downlink_flow(url, retries=5), runtime.registry))
    node = runtime.node("down", "post")
    await wait_until(lambda: node.counters["failed"] == 1)
    await asyncio.sleep(0.1)  # the behaviour under test: no retry comes after the refusal
    assert sink.attempts == 1


async def test_browser_requests_from_another_origin_are_refused_and_from_this_one_served(runtime, client):
    await runtime.deploy(validate_flow(uplink_flow(), runtime.registry))
    document = (SAMPLES / "uplink.json").read_bytes()
    own = f"http://{client.server.host}:{client.server.port}"
    for headers in ({"Origin": "http://127.0.0.1:1"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await client.post("/uplinks/thingpark", data=document, headers=headers)
        assert response.status == 403, headers
        assert "cross-site request" in (await response.json())["error"]
    response = await client.post(
        "/uplinks/thingpark", data=document, headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}
    )
    assert response.status == 202
    assert runtime.node("http", "http").counters == {"forbidden": 3, "accepted": 1}
    assert len(Collector.received["sink"]) == 1


async def test_a_posted_uplink_is_published_as_the_bytes_that_came_in(runtime, client, mosquitto):
    connection = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
    }
    await runtime.deploy(validate_flow(uplink_flow(connection), runtime.registry))
    posted = (
        b'{ "DevEUI_uplink" : {\n  "DevEUI": "78AF580300000345", "Frequency": 868.10, "LrrRSSI": -80.000000,\n'
        b'  "FCntUp": 18446744073709551616, "payload_hex": "0102" } }'
    )
    lower_case = b'{"DevEUI_uplink": {"DevEUI": "78af580300000346", "Frequency": 868.10}}'
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/things/+/uplink", client_id="bytes") as sub:
        for body in (posted, lower_case):
            response = await client.post("/uplinks/thingpark", data=body)
            assert response.status == 202, await response.text()
        messages = await sub.wait_for(2)
    assert messages[0].payload == posted  # whitespace, 868.10, -80.000000 and 2^64 as they were
    # A DevEUI that had to be upper-cased is a changed document: it goes out re-serialised, upper-cased.
    assert messages[1].topic == "mqtt/things/78AF580300000346/uplink"
    assert json.loads(messages[1].payload)["DevEUI_uplink"]["DevEUI"] == "78AF580300000346"
