"""`flowhost sub` and `flowhost pub` as processes, through a flow's connection to a real Mosquitto that wants a
client certificate (the connection's TLS settings are used; nothing is copied around)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.processes import FLOWHOST, run_command


def tls_flow(path: Path, mosquitto, pki, flow_id: str = "site") -> Path:
    flow = {
        "flowhost": 1,
        "id": flow_id,
        "connections": [
            {
                "id": "cloud",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
                    "hostName": f"localhost:{mosquitto.mtls_port}",
                    "protocol": "SSL",
                    "trustedCaCertificate": pki.ca.cert_pem,
                    "certificate": pki.client.cert_pem,
                    "privateKey": pki.client.key_pem,
                },
            }
        ],
        "nodes": [{"id": "connector", "type": "mqtt-connector", "config": {"connection": "cloud"}}],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(flow))
    return path


async def start_sub(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    process = await asyncio.create_subprocess_exec(
        *FLOWHOST, "sub", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    ready = await asyncio.wait_for(process.stderr.readline(), 20)
    assert b"subscribed to" in ready, ready
    return process, []


async def test_sub_prints_what_arrives_through_the_flows_tls_connection(mosquitto, pki, tmp_path):
    flow = tls_flow(tmp_path / "site.yaml", mosquitto, pki)
    process, _ = await start_sub("mqtt/things/+/uplink", str(flow), "-C", "2", "-W", "20")
    await publish(mosquitto.host, mosquitto.tcp_port, "mqtt/things/78AF580300000345/uplink", '{"n": 1}')
    await publish(mosquitto.host, mosquitto.tcp_port, "mqtt/things/78AF580300000346/uplink", '{"n": 2}')
    stdout, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    assert stdout.decode().splitlines() == [
        'mqtt/things/78AF580300000345/uplink {"n": 1}',
        'mqtt/things/78AF580300000346/uplink {"n": 2}',
    ]


async def test_pub_publishes_through_a_connection_of_the_data_dir(mosquitto, pki, tmp_path):
    data_dir = tmp_path / "data"
    tls_flow(data_dir / "flows" / "site.yaml", mosquitto, pki)  # as the editor saves a flow
    topic = "mqtt/things/78AF580300000345/downlink"
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, topic, client_id="pub-check") as subscriber:
        code, _, stderr = await run_command("pub", topic, '{"DevEUI_downlink": {}}', "--data-dir", str(data_dir))
        assert code == 0, stderr
        await wait_until(lambda: subscriber.messages, 10, "the published message")
    assert subscriber.messages[0].payload == b'{"DevEUI_downlink": {}}'
    assert "connection cloud: published on" in stderr


async def test_errors_name_what_is_wrong(mosquitto, pki, tmp_path):
    flow = tls_flow(tmp_path / "site.yaml", mosquitto, pki)
    code, _, stderr = await run_command("sub", "a/#", str(flow), "--connection", "nope")
    assert code == 2 and "no actility-mqtt-iot connection 'nope' (there are: cloud)" in stderr
    code, _, stderr = await run_command("sub", "a/#/b", str(flow))
    assert code == 2 and "TOPIC: '#' must be a whole level and the last one" in stderr
    code, _, stderr = await run_command("pub", "a/+/b", "x", str(flow))
    assert code == 2 and "no wildcards" in stderr
    mosquitto_port_closed = tls_flow(tmp_path / "closed.yaml", mosquitto, pki, flow_id="closed")
    text = mosquitto_port_closed.read_text().replace(f"localhost:{mosquitto.mtls_port}", "localhost:1")
    mosquitto_port_closed.write_text(text)
    code, _, stderr = await run_command("pub", "a/b", "x", str(mosquitto_port_closed))
    assert code == 3 and "connection cloud:" in stderr
