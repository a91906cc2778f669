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
