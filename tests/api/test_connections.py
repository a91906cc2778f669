"""``/api/connections``: ThingPark's create / replace / delete, masked secrets, errors all at once."""

from __future__ import annotations

import orjson
import pytest

from flowhost.workspace import MASK
from tests.api.conftest import thingpark_body
from tests.support.brokers import PASSWORD
from tests.support.mqtt_helpers import Subscriber, wait_until

CONNECTION_ID = "test-aws-mq-mqtt-ssl-connection"


def flow_using(connection_id: str, flow_id: str = "uses", limit: int = 4) -> dict:
    return {
        "flowhost": 1,
        "id": flow_id,
        "nodes": [
            {
                "id": "devices",
                "type": "lorawan-simulator",
                "config": {"devEUIs": ["78AF580300000345", "78AF580300000346"], "interval": "50ms", "limit": limit},
                "wires": {"out": ["connector"]},
            },
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": connection_id}},
        ],
    }


async def create(api, body: dict) -> dict:
    response = await api.post("/api/connections", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def test_the_thingpark_example_creates_a_connection_that_opens_and_publishes_a_flows_uplinks(
    api, mosquitto, runtime
):
    """Done-when: the spec's example body (TCP, the test Mosquitto) -> OPENED -> a POSTed flow's uplinks arrive."""
    response = await api.post("/api/connections", json=thingpark_body(mosquitto))
    assert response.status == 201
    assert response.headers["Location"] == f"/api/connections/{CONNECTION_ID}"
    created = await response.json()
    assert created["id"] == CONNECTION_ID and created["connectorId"] == "actility-mqtt-iot"
    assert created["configuration"]["password"] == MASK and created["definedBy"] == {"api": True}
    await wait_until(lambda: runtime.connections[CONNECTION_ID].connection.state == "OPENED")

    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/things/+/uplink", client_id="done-when") as sub:
        response = await api.post("/api/flows", json=flow_using(CONNECTION_ID))
        assert response.status == 201, await response.text()
        messages = await sub.wait_for(4)
    assert sorted({message.topic for message in messages}) == [
        "mqtt/things/78AF580300000345/uplink",
        "mqtt/things/78AF580300000346/uplink",
    ]
    assert all("DevEUI_uplink" in document for document in sub.documents())

    shown = await (await api.get(f"/api/connections/{CONNECTION_ID}")).json()
    assert shown["state"] == "OPENED" and shown["lastError"] is None
    await wait_until(lambda: runtime.connections[CONNECTION_ID].connection.counters["uplinksPublished"] == 4)
    shown = await (await api.get(f"/api/connections/{CONNECTION_ID}")).json()
    assert shown["counters"]["uplinksPublished"] == 4


async def test_a_client_given_id_is_kept_and_a_taken_id_is_a_conflict(api, mosquitto):
    body = {**thingpark_body(mosquitto), "id": "broker-a"}
    assert (await create(api, body))["id"] == "broker-a"
    response = await api.post("/api/connections", json=body)
    assert response.status == 409
    assert (await response.json())["errors"][0]["message"] == "connection 'broker-a' already exists"
    # without an id, the name gives one, made unique
    first = await create(api, thingpark_body(mosquitto))
    second = await create(api, thingpark_body(mosquitto))
    assert (first["id"], second["id"]) == (CONNECTION_ID, f"{CONNECTION_ID}-2")


async def test_every_error_comes_at_once_with_the_messages_of_flowhost_validate(api, mosquitto):
    body = thingpark_body(mosquitto, protocol="MQTT", connectionTimeout=20000, hostName="mqtt://broker:1883")
    del body["configuration"]["uplinkTopicPattern"]
    response = await api.post("/api/connections", json=body)
    assert response.status == 400
    errors = {error["path"]: error["message"] for error in (await response.json())["errors"]}
    assert errors == {
        "configuration.protocol": "protocol must be SSL, WSS or TCP, got 'MQTT'",
        "configuration.connectionTimeout": "connectionTimeout must be between 100 and 10000 ms, got 20000",
        "configuration.hostName": "hostName is host:port without a scheme; remove mqtt:// from 'mqtt://broker:1883'",
        "configuration.uplinkTopicPattern": "required key not provided",
    }


async def test_missing_top_level_properties_are_named(api):
    response = await api.post("/api/connections", json={"configuration": {}})
    assert response.status == 400
    paths = {error["path"]: error["message"] for error in (await response.json())["errors"]}
    assert paths == {"connectorId": "required key not provided", "name": "required key not provided"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty; send a JSON document"),
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
    ],
)
async def test_bodies_that_are_not_json_objects(api, body, message):
    response = await api.post("/api/connections", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["errors"][0]["message"].startswith(message)


async def test_an_unknown_connector_suggests_the_installed_one(api, mosquitto):
    body = {**thingpark_body(mosquitto), "connectorId": "actility-mqtt-iott"}
    response = await api.post("/api/connections", json=body)
    [error] = (await response.json())["errors"]
    assert error["path"] == "connectorId"
    assert error["message"].startswith("unknown connector 'actility-mqtt-iott' (did you mean 'actility-mqtt-iot'?)")


async def test_get_one_and_all_and_404(api, mosquitto):
    await create(api, thingpark_body(mosquitto))
    listing = await (await api.get("/api/connections")).json()
    assert [connection["id"] for connection in listing["connections"]] == [CONNECTION_ID]
    assert {"state", "lastError", "counters", "configuration"} <= set(listing["connections"][0])
    response = await api.get("/api/connections/nope")
    assert response.status == 404
    assert await response.json() == {"errors": [{"path": "", "message": "no connection 'nope'"}]}


async def test_put_replaces_the_whole_connection_and_restarts_only_its_users(api, mosquitto, runtime):
    created = await create(api, thingpark_body(mosquitto))
    await create(api, {**thingpark_body(mosquitto), "id": "other"})
    await wait_until(lambda: runtime.connections[CONNECTION_ID].connection.state == "OPENED")
    assert (await api.post("/api/flows", json=flow_using(CONNECTION_ID, "a", limit=1))).status == 201
    assert (await api.post("/api/flows", json=flow_using("other", "b", limit=1))).status == 201
    a_connector, b_connector = runtime.node("a", "connector"), runtime.node("b", "connector")
    old_connection = runtime.connections[CONNECTION_ID].connection

    body = {key: created[key] for key in ("connectorId", "name", "configuration")}
    body["configuration"] = {**body["configuration"], "uplinkTopicPattern": "other/{DevEUI}/up"}
    response = await api.put(f"/api/connections/{CONNECTION_ID}", json=body)
    assert response.status == 200, await response.text()
    replaced = await response.json()
    assert replaced["configuration"]["uplinkTopicPattern"] == "other/{DevEUI}/up"
    assert replaced["configuration"]["password"] == MASK
    new_connection = runtime.connections[CONNECTION_ID].connection
    assert new_connection is not old_connection
    assert new_connection.settings.password == PASSWORD  # the mask kept the stored secret
    assert runtime.node("a", "connector") is not a_connector  # its user restarted
    assert runtime.node("b", "connector") is b_connector  # the other flow was not touched
    await wait_until(lambda: new_connection.state == "OPENED")


async def test_put_without_required_properties_is_refused_and_changes_nothing(api, mosquitto, runtime):
    await create(api, thingpark_body(mosquitto))
    running = runtime.connections[CONNECTION_ID].connection
    body = thingpark_body(mosquitto)
    del body["configuration"]["hostName"]
    del body["name"]
    response = await api.put(f"/api/connections/{CONNECTION_ID}", json=body)
    assert response.status == 400
    paths = [error["path"] for error in (await response.json())["errors"]]
    assert sorted(paths) == ["configuration.hostName", "name"]
    assert runtime.connections[CONNECTION_ID].connection is running


async def test_secrets_masked_kept_replaced_and_removed(api, mosquitto, runtime):
    await create(api, thingpark_body(mosquitto))
    body = thingpark_body(mosquitto)
    body["configuration"]["password"] = MASK
    assert (await api.put(f"/api/connections/{CONNECTION_ID}", json=body)).status == 200
    assert runtime.connections[CONNECTION_ID].connection.settings.password == PASSWORD

    body["configuration"]["password"] = "another-password"
    assert (await api.put(f"/api/connections/{CONNECTION_ID}", json=body)).status == 200
    assert runtime.connections[CONNECTION_ID].connection.settings.password == "another-password"

    del body["configuration"]["password"]
    replaced = await (await api.put(f"/api/connections/{CONNECTION_ID}", json=body)).json()
    assert "password" not in replaced["configuration"]
    assert runtime.connections[CONNECTION_ID].connection.settings.password is None

    body["configuration"]["password"] = MASK  # nothing stored any more: the mask stands for nothing
    response = await api.put(f"/api/connections/{CONNECTION_ID}", json=body)
    assert response.status == 400
    [error] = (await response.json())["errors"]
    assert error["path"] == "configuration.password" and "none is stored" in error["message"]


async def test_put_checks_the_id_and_existence(api, mosquitto):
    await create(api, thingpark_body(mosquitto))
    response = await api.put(f"/api/connections/{CONNECTION_ID}", json={**thingpark_body(mosquitto), "id": "x"})
    assert response.status == 400 and (await response.json())["errors"][0]["path"] == "id"
    assert (await api.put("/api/connections/nope", json=thingpark_body(mosquitto))).status == 404


async def test_delete_is_refused_while_a_flow_uses_it_then_allowed(api, mosquitto, runtime):
    await create(api, thingpark_body(mosquitto))
    assert (await api.post("/api/flows", json=flow_using(CONNECTION_ID, "user", limit=1))).status == 201
    response = await api.delete(f"/api/connections/{CONNECTION_ID}")
    assert response.status == 409
    assert "used by flow(s) user" in (await response.json())["errors"][0]["message"]
    assert (await api.delete("/api/flows/user")).status == 204
    response = await api.delete(f"/api/connections/{CONNECTION_ID}")
    assert response.status == 204 and await response.read() == b""
    assert CONNECTION_ID not in runtime.connections
    assert (await api.get(f"/api/connections/{CONNECTION_ID}")).status == 404
    assert (await api.delete(f"/api/connections/{CONNECTION_ID}")).status == 404


async def test_connections_of_flow_files_are_listed_read_only(api, mosquitto, runtime):
    flow = flow_using("in-flow", "owner", limit=1)
    flow["connections"] = [{"id": "in-flow", "connectorId": "actility-mqtt-iot", **thingpark_body(mosquitto)}]
    flow["connections"][0].pop("name")
    assert (await api.post("/api/flows", json=flow)).status == 201, "flow with its own connection"
    shown = await (await api.get("/api/connections/in-flow")).json()
    assert shown["definedBy"] == {"flow": "owner"} and shown["readOnly"] is True
    assert shown["configuration"]["password"] == MASK
    await wait_until(lambda: runtime.connections["in-flow"].connection.state == "OPENED")
    response = await api.put("/api/connections/in-flow", json=thingpark_body(mosquitto))
    assert response.status == 409 and "defined in flow 'owner'" in (await response.json())["errors"][0]["message"]
    assert (await api.delete("/api/connections/in-flow")).status == 409
    response = await api.post("/api/connections", json={**thingpark_body(mosquitto), "id": "in-flow"})
    assert response.status == 409


async def test_inactive_connection_is_deactivated(api, mosquitto, runtime):
    created = await create(api, {**thingpark_body(mosquitto), "active": False})
    assert created["active"] is False and created["state"] == "DEACTIVATED"
    assert orjson.dumps(created).find(PASSWORD.encode()) == -1


async def test_a_secret_reference_in_the_body_is_used_and_never_deleted_with_the_connection(api, mosquitto, runtime):
    from flowhost import keys

    store = api.app[keys.WORKSPACE].store
    store.secrets.update({"shared_password": PASSWORD})
    body = thingpark_body(mosquitto)
    body["configuration"]["password"] = {"$secret": "shared_password"}
    await create(api, body)
    assert runtime.connections[CONNECTION_ID].connection.settings.password == PASSWORD
    del body["configuration"]["password"]
    assert (await api.put(f"/api/connections/{CONNECTION_ID}", json=body)).status == 200
    assert (await api.delete(f"/api/connections/{CONNECTION_ID}")).status == 204
    assert store.secrets.get("shared_password") == PASSWORD
