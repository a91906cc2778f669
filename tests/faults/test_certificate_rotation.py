"""A client certificate rotated with PUT /api/connections/{id} while uplinks flow: new certificate, none lost."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
from cryptography.hazmat.primitives import serialization

from tests.faults.test_process_faults import persistent_subscriber, stop_subscriber, wait_for_count
from tests.support.flowhost_fixtures import free_port

TOKEN = "rotation-test-token-0123456789"


def pkcs8(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def connection_body(broker, pki, certificate: str, private_key: str) -> dict:
    return {
        "id": "aws-like",
        "connectorId": "actility-mqtt-iot",
        "name": "Broker with client certificates",
        "configuration": {
            "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
            "hostName": f"localhost:{broker.mtls_port}",
            "protocol": "SSL",
            "trustedCaCertficate": pki.ca.cert_pem,
            "certificate": certificate,
            "privateKey": private_key,
            "reconnectMaxDelay": "1s",
        },
    }


FLOW = {
    "flowhost": 1,
    "id": "rotation",
    "nodes": [
        {"id": "http", "type": "http-uplink", "config": {"path": "/uplinks"}, "wires": {"out": ["connector"]}},
        {"id": "connector", "type": "mqtt-connector", "config": {"connection": "aws-like"}},
    ],
}


async def test_rotating_the_client_certificate_loses_nothing(flowhost_process, mosquitto_factory, pki, tmp_path):
    broker = mosquitto_factory(log_packets=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await flowhost_process(
        "--no-broker", "--port", str(port), "--data-dir", str(tmp_path / "data"), env={"FLOWHOST_TOKEN": TOKEN}
    )
    await process.wait_for_line("ready in")
    subscriber, lines = await persistent_subscriber(broker, "rotation-subscriber")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as api:
            first = connection_body(broker, pki, pki.client.cert_pem, pki.client.key_pem)
            async with api.post(f"{base}/api/connections", json=first) as response:
                assert response.status == 201, await response.text()
            async with api.post(f"{base}/api/flows", json=FLOW) as response:
                assert response.status == 201, await response.text()

            async def send(counter: int) -> None:
                uplink = {"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": 1, "FCntUp": counter}}
                async with api.post(f"{base}/uplinks", json=uplink) as response:
                    assert response.status == 202, await response.text()

            for counter in range(50):
                await send(counter)
            rotated = connection_body(broker, pki, pki.client_rsa_pkcs1.cert_pem, pkcs8(pki.client_rsa_pkcs1.key_pem))
            rotate = asyncio.create_task(api.put(f"{base}/api/connections/aws-like", json=rotated))
            for counter in range(50, 100):
                await send(counter)
            response = await rotate
            assert response.status == 200, await response.text()
            await wait_for_count(lines, 100, timeout=20)
            async with api.get(f"{base}/api/connections/aws-like") as response:
                connection = await response.json()
        assert connection["state"] == "OPENED"
        assert connection["configuration"]["privateKey"] == "********"
    finally:
        await stop_subscriber(subscriber)
    received = {int(orjson.loads(line)["DevEUI_uplink"]["FCntUp"]) for line in lines}
    assert received == set(range(100))
    log = broker.log_text()
    assert "u'flowhost-test-client'" in log and "u'flowhost-test-client-rsa'" in log  # both identities used
