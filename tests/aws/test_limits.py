"""AWS IoT Core's limits: refused when the configuration is validated, and checked on every uplink."""

from __future__ import annotations

import time

import pytest
import voluptuous as vol

from flowhost.flowfile import validate_flow
from flowhost_builtins.aws_iot import (
    MAX_PAYLOAD_BYTES,
    UplinkLimits,
    configuration_warnings,
    topic_problem,
    uplink_limits_for,
)
from flowhost_builtins.mqtt_connection import UplinkRejected
from flowhost_builtins.mqtt_connection_config import CONFIGURATION_SCHEMA, settings_from_configuration
from tests.aws.conftest import AWS_HOST, aws_configuration, aws_settings
from tests.support.mqtt_helpers import wait_until

DEV_EUI = "78AF580300000345"


def errors_of(configuration: dict) -> dict[str, str]:
    with pytest.raises(vol.MultipleInvalid) as caught:
        CONFIGURATION_SCHEMA(configuration)
    return {str(error.path[0]) if error.path else "": error.msg for error in caught.value.errors}


# ------------------------------------------------------------------------------------------ at validation


@pytest.mark.parametrize(
    ("overrides", "key", "text"),
    [
        ({"protocol": "TCP"}, "protocol", "only TLS"),
        ({"hostName": f"{AWS_HOST}:1883"}, "hostName", "port 8883 or 443"),
        ({"qos": 2}, "qos", "QoS 0 and 1 only"),
        ({"clientId": "c" * 129}, "clientId", "at most 128 bytes, this one has 129"),
        ({"clientId": "é" * 65}, "clientId", "at most 128 bytes, this one has 130"),
        ({"keepAlive": "29s"}, "keepAlive", "between 30 s and 1200 s, got 29 s"),
        ({"keepAlive": "21m"}, "keepAlive", "between 30 s and 1200 s, got 1260 s"),
        ({"keepAlive": "0s"}, "keepAlive", "between 30 s and 1200 s, got 0 s"),
        ({"uplinkTopicPattern": "a/b/c/d/e/f/g/h/{DevEUI}"}, "uplinkTopicPattern", "at most 7 '/'"),
        ({"uplinkTopicPattern": "a/{{ x }}/c/d/e/f/g/h/{DevEUI}"}, "uplinkTopicPattern", "at least 8"),
        ({"uplinkTopicPattern": "x" * 260 + "/{DevEUI}/up"}, "uplinkTopicPattern", "at most 256 bytes"),
        ({"downlinkTopicPattern": "a/b/c/d/e/f/g/h/{DevEUI}"}, "downlinkTopicPattern", "topic filter has at most 7"),
        ({"downlinkTopicPattern": "d" * 257}, "downlinkTopicPattern", "topic filter is at most 256 bytes"),
    ],
)
def test_configuration_aws_iot_core_would_refuse(overrides: dict, key: str, text: str) -> None:
    errors = errors_of(aws_configuration(**overrides))
    assert key in errors, errors
    assert text in errors[key]
    assert "AWS IoT Core" in errors[key]


def test_client_certificate_over_websocket_is_refused(pki) -> None:
    configuration = aws_configuration(
        protocol="WSS", hostName=f"{AWS_HOST}:443", certificate=pki.client.cert_pem, privateKey=pki.client.key_pem
    )
    assert "SigV4" in errors_of(configuration)["protocol"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"hostName": f"{AWS_HOST}:443"},
        {"qos": 0},
        {"clientId": "c" * 128},
        {"keepAlive": "30s"},
        {"keepAlive": "20m"},
        {"uplinkTopicPattern": "a/b/c/d/e/f/g/{DevEUI}"},  # exactly 7 slashes
        {"uplinkTopicPattern": "$aws/rules/lorawan/a/b/c/d/e/{DevEUI}"},  # Basic Ingest: 3 slashes not counted
        {"downlinkTopicPattern": "a/b/c/d/e/f/g/{DevEUI}", "downlinkEnabled": False},
        {"retain": True},
    ],
)
def test_configuration_within_the_limits(overrides: dict) -> None:
    CONFIGURATION_SCHEMA(aws_configuration(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"protocol": "TCP", "hostName": "broker.example.com:1883"},
        {"qos": 2, "hostName": "broker.example.com"},
        {"keepAlive": "0s", "clientId": "c" * 200, "hostName": "broker.example.com"},
        {"uplinkTopicPattern": "a/b/c/d/e/f/g/h/i/{DevEUI}", "hostName": "broker.example.com"},
        # Amazon MQ is a plain broker
        {"qos": 2, "hostName": "b-6a3pom65-375p-0c13-8c99-ce3zg05cp137-1.mq.eu-central-1.amazonaws.com:8883"},
    ],
)
def test_other_hosts_are_not_held_to_aws_limits(overrides: dict) -> None:
    configuration = CONFIGURATION_SCHEMA(aws_configuration(**overrides))
    assert settings_from_configuration("c", configuration).uplink_limits is None


def test_retain_warns_that_the_policy_needs_retain_publish() -> None:
    [warning] = configuration_warnings(aws_settings(retain=True))
    assert "iot:RetainPublish" in warning
    assert configuration_warnings(aws_settings()) == []
    assert configuration_warnings(aws_settings(retain=True, hostName="broker.example.com")) == []


def test_legacy_endpoint_warns_about_ats() -> None:
    [warning] = configuration_warnings(aws_settings(hostName="d4g5d321sd465d.iot.eu-central-1.amazonaws.com"))
    assert "-ats" in warning and "Symantec" in warning


def test_port_443_asks_for_mqtt_by_alpn() -> None:
    assert aws_settings(hostName=f"{AWS_HOST}:443").alpn_protocols == ("x-amzn-mqtt-ca",)
    assert aws_settings().alpn_protocols == ()


# ------------------------------------------------------------------------------------------ per uplink


def test_uplink_limits_only_for_aws_hosts() -> None:
    assert isinstance(uplink_limits_for(AWS_HOST), UplinkLimits)
    assert uplink_limits_for("localhost") is None
    assert isinstance(aws_settings().uplink_limits, UplinkLimits)


@pytest.mark.parametrize(
    ("topic", "payload", "text"),
    [
        ("t" * 257, b"{}", "a topic is at most 256 bytes"),
        ("é" * 129, b"{}", "has 258 bytes"),
        ("a/b/c/d/e/f/g/h/i", b"{}", "a topic has at most 7 '/', 'a/b/c/d/e/f/g/h/i' has 8"),
        ("up", b"x" * (MAX_PAYLOAD_BYTES + 1), "payload is at most 128 KB (131072 bytes), this one has 131073"),
    ],
)
def test_uplink_breaking_a_limit(topic: str, payload: bytes, text: str) -> None:
    problem = UplinkLimits().check(topic, payload)
    assert problem is not None and text in problem and "AWS IoT Core limit" in problem


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("t" * 256, b"x" * MAX_PAYLOAD_BYTES),
        ("a/b/c/d/e/f/g/h", b"{}"),
        ("$aws/rules/lorawan/a/b/c/d/e/f/g", b"{}"),
    ],
)
def test_uplink_within_the_limits(topic: str, payload: bytes) -> None:
    assert UplinkLimits().check(topic, payload) is None
    assert topic_problem(topic) is None


def uplink(**fields) -> dict:
    return {"DevEUI_uplink": {"DevEUI": DEV_EUI, "FPort": 2, "payload_hex": "00", **fields}}


@pytest.fixture
async def aws_connection(runtime):
    """A deployed connection to an AWS IoT host (unreachable here: it keeps reconnecting, which is fine)."""

    async def deploy(**overrides):
        document = {
            "flowhost": 1,
            "id": "aws",
            "connections": [
                {
                    "id": "aws",
                    "connectorId": "actility-mqtt-iot",
                    "configuration": aws_configuration(connectionTimeout=100, **overrides),
                }
            ],
            "nodes": [],
        }
        await runtime.deploy(validate_flow(document, runtime.registry))
        return runtime.connections["aws"].connection

    return deploy


async def test_uplinks_breaking_a_limit_are_rejected_and_counted(aws_connection) -> None:
    connection = await aws_connection(uplinkTopicPattern="lora/{CustomerData.name}/{DevEUI}/uplink")
    with pytest.raises(UplinkRejected, match=r"payload is at most 128 KB \(131072 bytes\)"):
        connection.submit_uplink(uplink(CustomerData={"name": "a"}, big="0" * MAX_PAYLOAD_BYTES), time.time())
    with pytest.raises(UplinkRejected, match="a topic is at most 256 bytes"):
        connection.submit_uplink(uplink(CustomerData={"name": "n" * 240}), time.time())
    connection.submit_uplink(uplink(CustomerData={"name": "n" * 200}), time.time())
    assert connection.counters["uplinksRejected"] == 2
    assert connection.queued == 1


async def test_uplinks_to_other_hosts_are_not_limited(runtime) -> None:
    document = {
        "flowhost": 1,
        "id": "plain",
        "connections": [
            {
                "id": "plain",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "hostName": "127.0.0.1:9",
                    "protocol": "TCP",
                    "uplinkTopicPattern": "up/{DevEUI}",
                    "durableOutbox": False,
                },
            }
        ],
        "nodes": [],
    }
    await runtime.deploy(validate_flow(document, runtime.registry))
    connection = runtime.connections["plain"].connection
    connection.submit_uplink(uplink(big="0" * MAX_PAYLOAD_BYTES), time.time())
    assert connection.counters["uplinksRejected"] == 0


async def test_mqtt_connector_node_rejects_an_uplink_over_a_limit(runtime) -> None:
    small, large = uplink(), uplink(big="0" * MAX_PAYLOAD_BYTES)
    document = {
        "flowhost": 1,
        "id": "flow",
        "connections": [
            {"id": "aws", "connectorId": "actility-mqtt-iot", "configuration": aws_configuration(durableOutbox=False)}
        ],
        "nodes": [
            {"id": "source", "type": "test-emit", "config": {"payloads": [large, small]}, "wires": {"out": ["aws"]}},
            {"id": "aws", "type": "mqtt-connector", "config": {"connection": "aws"}},
        ],
    }
    await runtime.deploy(validate_flow(document, runtime.registry))
    node = runtime.flows["flow"].nodes["aws"]
    await wait_until(lambda: node.counters["uplinks"] + node.counters["rejected"] == 2, message=str(node.counters))
    assert (node.counters["rejected"], node.counters["uplinks"]) == (1, 1)
    connection = runtime.connections["aws"].connection
    assert connection.counters["uplinksRejected"] == 1
    assert connection.queued == 1
