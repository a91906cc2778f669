"""/api/metrics: what a Prometheus scraper with the API token reads."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from flowhost import __version__
from tests.support.mqtt_helpers import Subscriber, wait_until

FLOW = """
flowhost: 1
id: metered
connections:
  - id: broker
    connectorId: actility-mqtt-iot
    configuration:
      hostName: 127.0.0.1:{port}
      protocol: TCP
      uplinkTopicPattern: mqtt/things/{{DevEUI}}/uplink
nodes:
  - id: devices
    type: lorawan-simulator
    config: {{devEUIs: [78AF580300000345, 78AF580300000346], interval: 10ms, limit: 6}}
    wires: {{out: [connector]}}
  - id: connector
    type: mqtt-connector
    config: {{connection: broker}}
"""


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_uplinks_per_node_and_connection_and_show_connection_state(
    api, anonymous, runtime, load_flow, mosquitto
):
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "mqtt/things/+/uplink", client_id="metrics-sub") as sub:
        await runtime.deploy(load_flow(FLOW.format(port=mosquitto.tcp_port)))
        await sub.wait_for(6)
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection.counters.get("uplinksPublished") == 6)

    response = await api.get("/api/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    values = samples(await response.text())
    broker = (("connection", "broker"), ("connector", "actility-mqtt-iot"))
    assert values[("flowhost_connection_up", broker)] == 1
    assert values[("flowhost_connection_state", tuple(sorted((*broker, ("state", "OPENED")))))] == 1
    assert values[("flowhost_connection_events_total", tuple(sorted((*broker, ("event", "uplinksPublished")))))] == 6
    assert values[("flowhost_connection_value", tuple(sorted((*broker, ("name", "uplinksQueued")))))] == 0
    connector = (("flow", "metered"), ("node", "connector"), ("type", "mqtt-connector"))
    assert values[("flowhost_node_events_total", tuple(sorted((*connector, ("event", "uplinks")))))] == 6
    assert values[("flowhost_node_events_total", tuple(sorted((*connector, ("event", "processed")))))] == 6
    assert values[("flowhost_node_queued", connector)] == 0
    assert values[("process_resident_memory_bytes", ())] > 10_000_000
    assert values[("flowhost_info", (("version", __version__),))] == 1

    mosquitto.stop()
    await wait_until(lambda: connection.state != "OPENED", timeout=15)
    values = samples(await (await api.get("/api/metrics")).text())
    assert values[("flowhost_connection_up", broker)] == 0
    mosquitto.start()

    assert (await anonymous.get("/api/metrics", headers={"Authorization": ""})).status == 401
