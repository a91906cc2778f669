"""The generated policy against the topics the connector really uses.

Mosquitto plays AWS IoT Core: TLS on a local port, a client certificate required and its common name used as
the identity (the `mtls_port` listener), and an ACL file translated from the policy flowhost generates: the
connection's identity may do exactly what the policy allows. Uplinks must arrive and a downlink must come
back, so a policy naming other topics than the ones the connector uses fails this test.
"""

from __future__ import annotations

import re

from flowhost.flowfile import validate_flow
from flowhost.mqtt import MQTT_311, MQTTClient, TcpEndpoint
from flowhost_builtins.aws_policy import policy_for_connection
from flowhost_builtins.mqtt_connection_config import CONFIGURATION_SCHEMA, settings_from_configuration
from tests.aws.conftest import ACCOUNT
from tests.connector.conftest import DEVICES, connector_flow
from tests.support.mqtt_helpers import wait_until
from tests.support.sample_nodes import Collector

REGION = "eu-central-1"
OBSERVER, OBSERVER_PASSWORD = "observer", "observer-secret"
_WHOLE_LEVEL_WILDCARDS = re.compile(r"(?:^|/)(?:\*|\?+)(?=/|$)")


def mosquitto_acl(policy: dict, identity: str) -> tuple[str, str]:
    """(ACL file text, the allowed client id): the policy's statements in Mosquitto's terms.

    iot:Publish on topic/X -> 'topic write X'; iot:Subscribe on topicfilter/F and iot:Receive on topic/X ->
    'topic read' (Mosquitto checks a subscription's filter and each delivered topic against 'read' lines);
    a policy '*' or run of '?' that fills one level is MQTT's '+' (wider for '?': a level of any length).
    iot:Connect has no ACL line: its client id is returned.
    """
    prefix = f"arn:aws:iot:{REGION}:{ACCOUNT}:"
    access = {
        "iot:Publish": ("write", "topic/"),
        "iot:Subscribe": ("read", "topicfilter/"),
        "iot:Receive": ("read", "topic/"),
    }
    lines, client_ids = [], []
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            assert resource.startswith(prefix), resource
            body = resource.removeprefix(prefix)
            if statement["Action"] == "iot:Connect":
                client_ids.append(body.removeprefix("client/"))
                continue
            mode, kind = access[statement["Action"]]
            assert body.startswith(kind), resource
            topic = _WHOLE_LEVEL_WILDCARDS.sub(_as_plus, body.removeprefix(kind))
            assert "*" not in topic and "?" not in topic, f"cannot translate {resource} to Mosquitto"
            lines.append(f"topic {mode} {topic}")
    [client_id] = client_ids
    acl = "\n".join([f"user {identity}", *lines, f"user {OBSERVER}", "topic readwrite #", ""])
    return acl, client_id


def _as_plus(match: re.Match) -> str:
    return ("/" if match.group().startswith("/") else "") + "+"


async def test_connector_uses_exactly_the_topics_of_its_policy(mosquitto_factory, pki, runtime) -> None:
    Collector.received.clear()
    configuration = {
        "hostName": "localhost:8883",  # the broker's port is known once the ACL is written
        "protocol": "SSL",
        "trustedCaCertificate": pki.ca.cert_pem,
        "certificate": pki.client.cert_pem,
        "privateKey": pki.client.key_pem,
        "clientId": "thingpark-eu",
        "uplinkTopicPattern": "lorawan/{CustomerData.site|'unassigned'}/{DevEUI}/uplink",
        "downlinkTopicPattern": "lorawan/{site}/{DevEUI}/downlink",
        "durableOutbox": False,
    }
    settings = settings_from_configuration("aws-iot", CONFIGURATION_SCHEMA(configuration))
    policy = policy_for_connection(settings, REGION, ACCOUNT)
    acl, client_id = mosquitto_acl(policy, identity=pki.client_name)
    assert acl.splitlines()[:4] == [
        "user flowhost-test-client",
        "topic write lorawan/+/+/uplink",
        "topic read lorawan/+/+/downlink",
        "topic read lorawan/+/+/downlink",
    ]
    broker = mosquitto_factory(users={OBSERVER: OBSERVER_PASSWORD}, allow_anonymous=False, acl=acl)
    configuration["hostName"] = f"localhost:{broker.mtls_port}"

    seen = []
    observer = MQTTClient(
        TcpEndpoint(broker.host, broker.tcp_port),
        "observer",
        protocol_version=MQTT_311,
        username=OBSERVER,
        password=OBSERVER_PASSWORD,
        on_message=seen.append,
    )
    await observer.connect()
    try:
        await observer.subscribe("#", 1)
        flow = validate_flow(connector_flow(configuration), runtime.registry)
        await runtime.deploy(flow)
        connection = runtime.connections["broker"].connection
        await wait_until(lambda: connection.state == "OPENED", message=f"OPENED (is {connection.state})")
        await wait_until(lambda: len(seen) >= 4, message=f"4 uplinks (have {len(seen)})")
        assert sorted(message.topic for message in seen) == sorted(
            f"lorawan/unassigned/{dev_eui}/uplink" for dev_eui in DEVICES for _ in range(2)
        )
        downlink = b'{"DevEUI_downlink": {"DevEUI": "78AF580300000345", "FPort": 8, "payload_hex": "0100"}}'
        await observer.publish_and_wait("lorawan/unassigned/78AF580300000345/downlink", downlink, 1)
        await wait_until(lambda: Collector.received["downlinks"], message="the downlink")
        assert connection.counters["uplinksPublished"] == 4
        assert connection.counters["downlinksReceived"] == 1
        assert f"as {client_id} " in broker.log_text()
        assert f"u'{pki.client_name}'" in broker.log_text()

        seen.clear()
        await _publish_as_the_connection_identity(broker, pki, "lorawan/site/78AF580300000345/status", b"denied")
        await _publish_as_the_connection_identity(broker, pki, "lorawan/site/78AF580300000345/uplink", b"allowed")
        # One identity publishes the denied message, then the allowed one: had the broker let the first through,
        # it would have arrived first. So nothing to wait for once the allowed one is here.
        await wait_until(lambda: seen, message="the allowed message")
        assert [(message.topic, message.payload) for message in seen] == [
            ("lorawan/site/78AF580300000345/uplink", b"allowed")
        ]
    finally:
        await observer.disconnect()
        Collector.received.clear()


async def _publish_as_the_connection_identity(broker, pki, topic: str, payload: bytes) -> None:
    """The ACL is not allow-all: the same certificate may not publish outside the policy's topics."""
    client = MQTTClient(
        TcpEndpoint("localhost", broker.mtls_port, ssl=pki.client_context(pki.client)),
        "another-client",
        protocol_version=MQTT_311,
    )
    await client.connect()
    try:
        await client.publish_and_wait(topic, payload, 1)
    finally:
        await client.disconnect()
