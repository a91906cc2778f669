"""ThingPark's ``downlinkAsKey`` is a secret: masked in API answers, never in the data directory in clear, and
still given to the downlinks the connection receives (``AS_KEY``)."""

from __future__ import annotations

from flowhost.workspace import MASK
from tests.api.conftest import thingpark_body
from tests.support.mqtt_helpers import wait_until

AS_ID, AS_KEY = "TWA_199983788.1972.AS", "9311e22d7d44fc52215b0dc154aa1d22"


async def test_downlink_as_key_is_masked_and_not_stored_in_clear(api, mosquitto, runtime):
    body = thingpark_body(mosquitto, downlinkAsId=AS_ID, downlinkAsKey=AS_KEY)
    response = await api.post("/api/connections", json=body)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["configuration"]["downlinkAsKey"] == MASK
    assert created["configuration"]["downlinkAsId"] == AS_ID
    shown = await (await api.get(f"/api/connections/{created['id']}")).text()
    assert AS_KEY not in shown
    stored = [path.read_bytes() for path in runtime.data_dir.rglob("*") if path.is_file()]
    assert stored and not any(AS_KEY.encode() in content for content in stored)
    connection = runtime.connections[created["id"]].connection
    await wait_until(lambda: connection.state == "OPENED")
    assert connection.settings.downlink_application_server == {"AS_ID": AS_ID, "AS_KEY": AS_KEY}
