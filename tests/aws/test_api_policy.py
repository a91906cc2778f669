"""GET /api/connections/{id}/aws-policy: the policy of a stored connection, the same as the CLI's."""

from __future__ import annotations

from flowhost.app import create_web_app
from flowhost_builtins.aws_policy import policy_for_connection
from tests.aws.conftest import ACCOUNT, ARN

TOKEN = "aws-policy-test-token-0123"


async def test_the_policy_of_a_stored_connection(runtime, aiohttp_client, mosquitto):
    client = await aiohttp_client(create_web_app(runtime, token=TOKEN))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {
        "id": "lora",
        "connectorId": "actility-mqtt-iot",
        "name": "LoRa",
        "configuration": {
            "uplinkTopicPattern": "lora/{DevEUI}/uplink",
            "downlinkTopicPattern": "lora/{DevEUI}/downlink",
            "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
            "protocol": "TCP",
        },
    }
    assert (await client.post("/api/connections", json=body, headers=headers)).status == 201
    url = f"/api/connections/lora/aws-policy?region=eu-central-1&accountId={ACCOUNT}"
    assert (await client.get(url)).status == 401  # behind the API's authentication like every /api route
    response = await client.get(url, headers=headers)
    assert response.status == 200
    policy = await response.json()
    settings = runtime.connections["lora"].connection.settings
    assert policy == policy_for_connection(settings, "eu-central-1", ACCOUNT)
    resources = {resource for statement in policy["Statement"] for resource in _list(statement["Resource"])}
    assert (
        f"{ARN}:topic/lora/????????????????/uplink" in resources and f"{ARN}:topicfilter/lora/+/downlink" in resources
    )

    bad = await client.get("/api/connections/lora/aws-policy?region=eu-central-1&accountId=12", headers=headers)
    assert bad.status == 400 and "12 digits" in (await bad.json())["errors"][0]["message"]
    missing = await client.get("/api/connections/nope/aws-policy?region=eu-central-1&accountId=1", headers=headers)
    assert missing.status == 404


def _list(value):
    return value if isinstance(value, list) else [value]
