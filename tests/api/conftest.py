"""An API client on the test runtime: ``api`` sends the bearer token, ``anonymous`` sends none."""

from __future__ import annotations

import pytest

from flowhost.app import create_web_app
from tests.support.brokers import PASSWORD, USER

TOKEN = "test-token-0123456789"


@pytest.fixture
async def app(runtime):
    return create_web_app(runtime, token=TOKEN)


@pytest.fixture
async def anonymous(aiohttp_client, app):
    return await aiohttp_client(app)


@pytest.fixture
def api(anonymous):
    anonymous.session.headers["Authorization"] = f"Bearer {TOKEN}"  # the same client: use one of the two per test
    return anonymous


@pytest.fixture
def workspace(app):
    from flowhost import keys

    return app[keys.WORKSPACE]


def thingpark_body(mosquitto, **configuration) -> dict:
    """The spec's example body ("Creating a Connection With API") pointed at the test Mosquitto over TCP."""
    return {
        "connectorId": "actility-mqtt-iot",
        "name": "Test AWS MQ MQTT (SSL) Connection",
        "configuration": {
            "description": "MQTT (SSL) connection test",
            "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
            "downlinkTopicPattern": "mqtt/things/{DevEUI}/downlink",
            "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
            "protocol": "TCP",
            "username": USER,
            "password": PASSWORD,
            "uplinkTimeValidity": "10m",
            **configuration,
        },
    }


def client_certificate_body(mosquitto, pki) -> dict:
    """A connection to the test Mosquitto's listener that requires a client certificate (PKCS#8 key)."""
    return {
        "connectorId": "actility-mqtt-iot",
        "id": "mtls",
        "name": "client certificate",
        "configuration": {
            "uplinkTopicPattern": "mtls/{DevEUI}/uplink",
            "hostName": f"localhost:{mosquitto.mtls_port}",
            "protocol": "SSL",
            "trustedCaCertficate": pki.ca.cert_pem,
            "certificate": pki.client.cert_pem,
            "privateKey": pki.client.key_pem,
        },
    }
