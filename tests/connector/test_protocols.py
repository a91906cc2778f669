"""Each protocol end to end against a real Mosquitto: uplinks out (topic and payload), a downlink back."""

from __future__ import annotations

import pytest

from tests.connector.conftest import DEVICES, connector_flow
from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.sample_nodes import Collector

PATTERNS = {
    "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
    "downlinkTopicPattern": "mqtt/things/{DevEUI}/downlink",
}


def configurations(mosquitto, pki):
    return {
        "TCP": {"hostName": f"127.0.0.1:{mosquitto.tcp_port}", "protocol": "TCP"},
        "SSL": {
            "hostName": f"127.0.0.1:{mosquitto.tls_port}",
            "protocol": "SSL",
            "trustedCaCertficate": pki.ca.cert_pem,
        },
        "SSL with client certificate": {
            "hostName": f"localhost:{mosquitto.mtls_port}",
            "protocol": "SSL",
            "trustedCaCertificate": pki.ca.cert_pem,
            "certificate": pki.client.cert_pem,
            "privateKey": pki.client.key_pem,
        },
        "WSS": {
            "hostName": f"127.0.0.1:{mosquitto.wss_port}",
            "protocol": "WSS",
            "trustedCaCertficate": pki.ca.cert_pem,
        },
        "WSS, one packet per frame": {
            "hostName": f"127.0.0.1:{mosquitto.wss_port}",
            "protocol": "WSS",
            "trustedCaCertficate": pki.ca.cert_pem,
            "wsOnePacketPerFrame": True,
        },
    }


@pytest.mark.parametrize("protocol", ["TCP", "SSL", "SSL with client certificate", "WSS", "WSS, one packet per frame"])
async def test_uplinks_out_and_a_downlink_back(protocol, mosquitto, pki, deploy, runtime):
    configuration = {**PATTERNS, **configurations(mosquitto, pki)[protocol]}
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/things/+/uplink") as subscriber:
        connection = await deploy(connector_flow(configuration))
        await wait_until(lambda: connection.state == "OPENED", message=f"OPENED (is {connection.state})")
        framing = getattr(connection._client.endpoint, "one_packet_per_frame", False)
        assert framing == (protocol == "WSS, one packet per frame")
        messages = await subscriber.wait_for(4)
        assert sorted(message.topic for message in messages) == sorted(
            f"mqtt/things/{dev_eui}/uplink" for dev_eui in DEVICES for _ in range(2)
        )
        for message, document in zip(messages, subscriber.documents(), strict=True):
            fields = document["DevEUI_uplink"]
            assert message.topic == f"mqtt/things/{fields['DevEUI']}/uplink" and message.qos == 1
            assert {"Time", "FCntUp", "FPort", "payload_hex", "LrrRSSI"} <= set(fields)

        downlink = b'{"DevEUI_downlink": {"DevEUI": "78af580300000345", "FPort": "8", "payload_hex": "0100"}}'
        await publish(mosquitto.host, mosquitto.tcp_port, "mqtt/things/78AF580300000345/downlink", downlink)
        await wait_until(lambda: Collector.received["downlinks"])
        [received] = Collector.received["downlinks"]
        assert received.payload == {
            "DevEUI_downlink": {"DevEUI": "78AF580300000345", "FPort": 8, "payload_hex": "0100"}
        }
        assert connection.counters["uplinksPublished"] == 4
        assert connection.counters["downlinksReceived"] == 1
