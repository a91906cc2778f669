"""Dead letters: what Mosquitto refuses is kept, listed, replayed once the ACL allows it, and deleted.

Mosquitto refuses a publish its ACL does not allow with an MQTT 5 PUBACK 0x87 (Not authorized), and announces
its ``max_packet_size`` in CONNACK, so that the client refuses a bigger uplink itself (0x95). Such an uplink would
be refused again however often it were sent: it must neither be answered as retryable (503) nor be lost.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from flowhost.app import create_web_app
from flowhost.flowfile import validate_flow
from flowhost_builtins import mqtt_connection
from tests.support.brokers import PASSWORD, USER
from tests.support.mqtt_helpers import Subscriber, wait_until

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "thingpark"
TOKEN = "dead-letter-test-token"
DEV_EUI = "0018B20000000B20"  # the DevEUI of tests/data/thingpark/uplink.json
# Lines before the first "user" line apply to anonymous clients: the test's subscriber may read everything.
ACL_DENYING = f"topic read #\nuser {USER}\ntopic write allowed/#\n"
ACL_ALLOWING = f"topic read #\nuser {USER}\ntopic write allowed/#\ntopic write denied/#\n"


def http_to_broker_flow(broker, **configuration) -> dict:
    connection = {
        "uplinkTopicPattern": "denied/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{broker.tcp_port}",
        "protocol": "TCP",
        "username": USER,
        "password": PASSWORD,
        "mqttVersion": "5",
        **configuration,
    }
    return {
        "flowhost": 1,
        "id": "http",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": connection}],
        "nodes": [
            {"id": "http", "type": "http-uplink", "config": {"path": "/uplinks"}, "wires": {"out": ["connector"]}},
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
        ],
    }


@pytest.fixture
async def client(runtime, aiohttp_client):
    client = await aiohttp_client(create_web_app(runtime, token=TOKEN))
    client.session.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


async def deploy(runtime, broker, **configuration):
    await runtime.deploy(validate_flow(http_to_broker_flow(broker, **configuration), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection.state == "OPENED", message=f"OPENED (is {connection.state})")
    return connection


async def dead_letters(client, connection_id: str = "broker", **query) -> list[dict]:
    response = await client.get(f"/api/connections/{connection_id}/dead-letters", params=query)
    assert response.status == 200, await response.text()
    return (await response.json())["deadLetters"]


async def restart_with_acl(broker, connection, acl: str) -> None:
    """Fix the ACL as an operator would: Mosquitto restarted with the new file, the connection back."""
    broker.stop()
    (broker.directory / "acl").write_text(acl)
    broker.start()
    await wait_until(lambda: connection.counters["reconnections"] == 1 and connection.state == "OPENED", timeout=20)


async def test_a_refused_uplink_is_a_422_kept_as_a_dead_letter_and_replayed_after_the_acl_is_fixed(
    runtime, client, mosquitto_factory, monkeypatch
):
    # While connected, the outbox writes uplinks 5 ms after they came (those acknowledged meanwhile are never
    # written). Waiting longer here makes sure the refusal arrives before the write, as it does on a LAN.
    monkeypatch.setattr(mqtt_connection, "OUTBOX_COMMIT_DELAY", 2.0)
    broker = mosquitto_factory(users={USER: PASSWORD}, acl=ACL_DENYING)
    connection = await deploy(runtime, broker)
    body = (SAMPLES / "uplink.json").read_bytes()

    response = await client.post("/uplinks", data=body)
    answer = await response.json()
    assert response.status == 422, answer
    assert "0x87 not authorized" in answer["error"] and "kept as dead letter 1" in answer["error"]
    assert connection.counters["uplinksDeadLettered"] == 1 and connection.counters["publishFailures"] == 0
    [letter] = await dead_letters(client)
    assert letter["id"] == 1 and letter["topic"] == f"denied/{DEV_EUI}/uplink"
    published = base64.b64decode(letter["payload"])
    assert json.loads(published) == json.loads(body) and letter["payloadBytes"] == len(published)
    assert letter["reasonCode"] == 0x87 and "not authorized" in letter["reason"] and letter["time"].endswith("+00:00")
    store = runtime.data_dir / "connections" / "broker" / "dead-letters.jsonl"
    assert store.stat().st_mode & 0o777 == 0o600

    await restart_with_acl(broker, connection, ACL_ALLOWING)
    async with Subscriber(broker.host, broker.tcp_port, "denied/#", client_id="observer") as observer:
        response = await client.post("/api/connections/broker/dead-letters/replay")
        assert response.status == 200
        assert await response.json() == {"replayed": 1, "notReplayed": 0, "remaining": 0}
        [message] = await observer.wait_for(1)
    assert message.topic == f"denied/{DEV_EUI}/uplink" and message.payload == published
    assert await dead_letters(client) == []
    await wait_until(lambda: connection.counters["uplinksPublished"] == 1, message="the replay acknowledged")
    assert connection.counters["deadLettersReplayed"] == 1
    assert connection.snapshot()["counters"]["deadLetters"] == 0


async def test_an_uplink_refused_after_it_was_accepted_is_kept_listed_page_by_page_and_deleted(
    runtime, client, mosquitto_factory
):
    broker = mosquitto_factory(users={USER: PASSWORD}, acl=ACL_DENYING)
    broker.stop()
    await runtime.deploy(validate_flow(http_to_broker_flow(broker), runtime.registry))
    connection = runtime.connections["broker"].connection
    document = json.loads((SAMPLES / "uplink.json").read_text())
    for counter in range(3):  # stored in the outbox while the broker is down: accepted, durable
        document["DevEUI_uplink"]["FCntUp"] = counter
        response = await client.post("/uplinks", json=document)
        assert response.status == 202 and (await response.json())["durable"] is True
    broker.start()
    await wait_until(lambda: connection.counters["uplinksDeadLettered"] == 3, timeout=20, message="3 dead letters")

    first = await client.get("/api/connections/broker/dead-letters", params={"limit": "2"})
    page = await first.json()
    assert [letter["id"] for letter in page["deadLetters"]] == [1, 2] and page["next"] == 2
    assert [
        json.loads(base64.b64decode(letter["payload"]))["DevEUI_uplink"]["FCntUp"] for letter in page["deadLetters"]
    ] == [0, 1]
    assert [letter["id"] for letter in await dead_letters(client, after="2")] == [3]

    assert (await client.delete("/api/connections/broker/dead-letters/2")).status == 204
    assert (await client.delete("/api/connections/broker/dead-letters/2")).status == 404
    assert [letter["id"] for letter in await dead_letters(client)] == [1, 3]
    response = await client.delete("/api/connections/broker/dead-letters")
    assert await response.json() == {"deleted": 2}
    assert await dead_letters(client) == [] and connection.counters["publishFailures"] == 0


async def test_an_uplink_over_the_brokers_maximum_packet_size_is_a_422(runtime, client, mosquitto_factory):
    broker = mosquitto_factory(users={USER: PASSWORD}, extra_config="max_packet_size 2048")
    connection = await deploy(runtime, broker, uplinkTopicPattern="allowed/{DevEUI}/uplink")
    document = json.loads((SAMPLES / "uplink.json").read_text())
    document["DevEUI_uplink"]["payload_hex"] = "00" * 2048

    response = await client.post("/uplinks", json=document)
    answer = await response.json()
    assert response.status == 422, answer
    assert "0x95" in answer["error"]
    [letter] = await dead_letters(client)
    assert letter["reasonCode"] == 0x95 and letter["topic"] == f"allowed/{DEV_EUI}/uplink"
    assert connection.counters["uplinksDeadLettered"] == 1


async def test_replayed_letters_refused_again_come_back_as_new_dead_letters(runtime, client, mosquitto_factory):
    broker = mosquitto_factory(users={USER: PASSWORD}, acl=ACL_DENYING)
    connection = await deploy(runtime, broker)
    response = await client.post("/uplinks", data=(SAMPLES / "uplink.json").read_bytes())
    assert response.status in (202, 422)  # whether the refusal came before the outbox's write does not matter here
    await wait_until(lambda: connection.counters["uplinksDeadLettered"] == 1, message="the first dead letter")

    response = await client.post("/api/connections/broker/dead-letters/replay", json={"ids": [1]})
    assert (await response.json())["replayed"] == 1
    await wait_until(lambda: connection.counters["uplinksDeadLettered"] == 2, message="refused again")
    assert [letter["id"] for letter in await dead_letters(client)] == [2]


async def test_dead_letter_requests_are_checked(runtime, client, mosquitto_factory):
    broker = mosquitto_factory(users={USER: PASSWORD}, acl=ACL_DENYING)
    await deploy(runtime, broker)
    for query, name in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"after": "-1"}, "after")):
        response = await client.get("/api/connections/broker/dead-letters", params=query)
        assert response.status == 400
        assert (await response.json())["errors"][0]["path"] == name
    response = await client.post("/api/connections/broker/dead-letters/replay", json={"ids": ["1"]})
    assert response.status == 400 and "ids" in (await response.json())["errors"][0]["message"]
    assert (await client.get("/api/connections/nowhere/dead-letters")).status == 404

    loopback = {"flowhost": 1, "id": "loop", "connections": [{"id": "loop", "connectorId": "test-loopback"}]}
    await runtime.deploy(validate_flow(loopback, runtime.registry))
    response = await client.get("/api/connections/loop/dead-letters")
    assert response.status == 409
    assert "test-loopback keep no dead letters" in (await response.json())["errors"][0]["message"]


async def test_an_uplink_the_connection_itself_refuses_is_a_422_and_no_dead_letter(runtime, client, mosquitto_factory):
    broker = mosquitto_factory(users={USER: PASSWORD}, acl=ACL_DENYING)
    connection = await deploy(runtime, broker, uplinkTopicPattern="allowed/{CustomerData.building}/uplink")
    response = await client.post("/uplinks", data=(SAMPLES / "uplink.json").read_bytes())
    answer = await response.json()
    assert response.status == 422, answer
    assert "CustomerData.building" in answer["error"]
    assert connection.counters["uplinksRejected"] == 1 and await dead_letters(client) == []
