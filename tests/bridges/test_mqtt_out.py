"""mqtt-out on a real Mosquitto: topic from a pattern or the message, QoS and retain kept, and a message that
cannot be published is counted and refused alone."""

from __future__ import annotations

import orjson

from flowhost.flowfile import validate_flow
from tests.support.brokers import free_port
from tests.support.mqtt_helpers import Subscriber, wait_until


def out_flow(port: int, payloads: list, config: dict) -> dict:
    configuration = {"hostName": f"127.0.0.1:{port}", "protocol": "TCP", "uplinkTopicPattern": "unused/{DevEUI}"}
    return {
        "flowhost": 1,
        "id": "out",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {"id": "source", "type": "test-emit", "config": {"payloads": payloads}, "wires": {"out": ["out"]}},
            {"id": "out", "type": "mqtt-out", "config": {"connection": "broker", **config}},
        ],
    }


async def test_topic_from_the_pattern_at_qos_2_retained(mosquitto_factory, runtime):
    mosquitto = mosquitto_factory()  # its own broker: the retained message must not reach other tests
    location = {"DevEUI_location": {"DevEUI": "000000000F1D8693", "DevLAT": 10.11212}}
    flow = out_flow(
        mosquitto.tcp_port, [location], {"topic": "sites/{DevEUI}/{DocumentType}", "qos": 2, "retain": True}
    )
    await runtime.deploy(validate_flow(flow, runtime.registry))
    await wait_until(lambda: runtime.node("out", "out").counters.get("published") == 1)
    # Retained: a subscriber that comes afterwards still gets it.
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "sites/#", client_id="late") as subscriber:
        [message] = await subscriber.wait_for(1)
    assert message.topic == "sites/000000000F1D8693/DevEUI_location" and message.retain
    assert orjson.loads(message.payload) == location


async def test_a_message_without_a_topic_is_refused_and_the_next_one_goes_out(mosquitto, runtime):
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "plain/#", client_id="plain") as subscriber:
        flow = out_flow(mosquitto.tcp_port, [{"a": 1}, {"DevEUI": "0018B20000000B20"}], {"topic": "plain/{DevEUI}"})
        await runtime.deploy(validate_flow(flow, runtime.registry))
        [message] = await subscriber.wait_for(1)
    assert message.topic == "plain/0018B20000000B20"
    counters = runtime.node("out", "out").counters
    # counted on the broker's PUBACK, which may be handled after the subscriber got its copy
    await wait_until(lambda: counters.get("published", 0) >= 1, 5, "PUBACKs counted")
    assert (counters["failed"], counters["published"]) == (1, 1)


async def test_an_unreachable_broker_is_retried_for_the_timeout_then_counted(runtime):
    flow = out_flow(free_port(), [b"\x01\x02"], {"topic": "anything", "timeout": "300ms"})
    await runtime.deploy(validate_flow(flow, runtime.registry))
    await wait_until(lambda: runtime.node("out", "out").counters.get("failed") == 1)
    assert runtime.node("out", "out").counters["retries"] >= 1


async def test_a_broker_refusal_is_final_not_retried(mosquitto_factory, runtime, caplog):
    # Mosquitto refuses a publish its ACL does not allow; an MQTT 5 client gets PUBACK 0x87 (not authorized).
    broker = mosquitto_factory(
        users={"writer": "secret-pw"}, allow_anonymous=False, acl="user writer\ntopic write allowed/#\n"
    )
    flow = out_flow(broker.tcp_port, [b"first", b"second"], {"topic": "denied/here", "timeout": "5s"})
    flow["connections"][0]["configuration"].update(username="writer", password="secret-pw", mqttVersion="5")
    await runtime.deploy(validate_flow(flow, runtime.registry))
    await wait_until(lambda: runtime.node("out", "out").counters.get("failed") == 2)
    refusals = [record.getMessage() for record in caplog.records if "not published" in record.getMessage()]
    assert len(refusals) == 2
    # Retried, a refusal would end as "gave up after 5s"; final, it ends as the broker's reason.
    assert all(reason.endswith("refused (0x87 not authorized)") for reason in refusals), refusals


async def test_a_broker_that_stops_answering_bounds_the_wait_to_the_timeout(mosquitto_factory, runtime, caplog):
    broker = mosquitto_factory()
    flow = out_flow(broker.tcp_port, [], {"topic": "sim/{DevEUI}", "timeout": "300ms"})
    flow["nodes"][0] = {
        "id": "source",
        "type": "lorawan-simulator",
        "config": {"devEUIs": ["78AF580300000345"], "interval": "50ms", "limit": 200},
        "wires": {"out": ["out"]},
    }
    await runtime.deploy(validate_flow(flow, runtime.registry))
    await wait_until(lambda: runtime.node("out", "out").counters.get("published", 0) >= 1)
    broker.pause()  # connected, silent: no PUBACK comes
    try:
        await wait_until(lambda: runtime.node("out", "out").counters.get("failed", 0) >= 1)
    finally:
        broker.resume()
    reasons = [record.getMessage() for record in caplog.records if "not published" in record.getMessage()]
    assert reasons[0].endswith("not acknowledged within 0.3s")
