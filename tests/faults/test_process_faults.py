"""Fault injection with real processes: flowhost run against a real Mosquitto, counting what arrives."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import aiohttp
import orjson

from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import MosquittoSub

SAMPLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "thingpark" / "uplink.json").read_text())


HTTP_SOURCE = {"id": "http", "type": "http-uplink", "config": {"path": "/uplinks"}, "wires": {"out": ["connector"]}}


def write_flow(path: Path, broker_address: str, source: dict = HTTP_SOURCE, **configuration) -> Path:
    """A flow file (JSON is YAML too): source -> mqtt-connector on a TCP connection to ``broker_address``."""
    flow = {
        "flowhost": 1,
        "id": "faults",
        "connections": [
            {
                "id": "broker",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
                    "hostName": broker_address,
                    "protocol": "TCP",
                    "reconnectMaxDelay": "1s",
                    **configuration,
                },
            }
        ],
        "nodes": [source, {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}}],
    }
    path.write_text(json.dumps(flow, indent=2))
    return path


async def persistent_subscriber(broker, client_id: str) -> tuple[MosquittoSub, list[str]]:
    """mosquitto_sub with a kept QoS 1 session, returned once its subscription is in place (a probe came back)."""
    args = ("-i", client_id, "-c", "-q", "1")
    subscriber = MosquittoSub(broker.host, broker.tcp_port, "mqtt/things/+/uplink", "mqtt/things/probe/uplink", *args)
    await subscriber.start()
    return subscriber, subscriber.lines


async def stop_subscriber(subscriber: MosquittoSub) -> None:
    await subscriber.stop()


async def wait_for_count(lines: list[str], count: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while len({line for line in lines}) < count:
            await asyncio.sleep(0.05)


async def test_kill_9_during_a_broker_outage_loses_nothing(flowhost_process, mosquitto_factory, tmp_path):
    broker = mosquitto_factory(persistence=True)
    subscriber, lines = await persistent_subscriber(broker, "kill9-subscriber")  # session kept while down
    await stop_subscriber(subscriber)
    broker.stop()
    flow = write_flow(tmp_path / "faults.yaml", f"127.0.0.1:{broker.tcp_port}")
    port, data_dir = free_port(), tmp_path / "data"
    args = (str(flow), "--no-broker", "--port", str(port), "--data-dir", str(data_dir))
    first = await flowhost_process(*args)
    await first.wait_for_line("ready in")
    async with aiohttp.ClientSession() as session:
        for counter in range(50):
            document = {"DevEUI_uplink": {**SAMPLE["DevEUI_uplink"], "FCntUp": counter}}
            async with session.post(f"http://127.0.0.1:{port}/uplinks", json=document) as response:
                body = await response.json()
                assert response.status == 202 and body["durable"] is True, body
    first.process.send_signal(signal.SIGKILL)
    await first.process.wait()

    broker.start()
    subscriber, lines = await persistent_subscriber(broker, "kill9-subscriber")
    try:
        second = await flowhost_process(*args)
        await second.wait_for_line("50 uplinks pending from the last run")
        await wait_for_count(lines, 50, timeout=20)
    finally:
        await stop_subscriber(subscriber)
    counters = sorted({int(orjson.loads(line)["DevEUI_uplink"]["FCntUp"]) for line in lines})
    assert counters == list(range(50))


async def test_a_ten_second_broker_outage_under_a_steady_stream(flowhost_process, mosquitto_factory, tmp_path):
    broker = mosquitto_factory(persistence=True)
    devices = [f"70B3D5E75E10{index:04X}" for index in range(10)]
    source = {
        "id": "devices",
        "type": "lorawan-simulator",
        "config": {"devEUIs": devices, "interval": "500ms", "limit": 400},
        "wires": {"out": ["connector"]},
    }
    flow = write_flow(tmp_path / "faults.yaml", f"127.0.0.1:{broker.tcp_port}", source=source)
    subscriber, lines = await persistent_subscriber(broker, "steady-subscriber")
    try:
        process = await flowhost_process(
            str(flow), "--no-broker", "--port", str(free_port()), "--data-dir", str(tmp_path / "data")
        )
        await process.wait_for_line("connection broker: OPENED")
        await asyncio.sleep(2)  # the behaviour under test: two seconds of the stream reach the broker
        broker.stop()
        await process.wait_for_line("UNREACHABLE")
        await asyncio.sleep(10)  # the behaviour under test: a ten-second outage while the stream goes on
        broker.start()
        await wait_for_count(lines, 400, timeout=30)
    finally:
        await stop_subscriber(subscriber)
    per_device: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        fields = orjson.loads(line)["DevEUI_uplink"]
        per_device[fields["DevEUI"]].append(int(fields["FCntUp"]))
    for dev_eui in devices:
        assert list(dict.fromkeys(per_device[dev_eui])) == list(range(40)), dev_eui


async def test_a_broker_that_never_answers_connack_backs_off(flowhost_process, silent_listener, tmp_path):
    host, port = silent_listener
    flow = write_flow(tmp_path / "faults.yaml", f"{host}:{port}", connectionTimeout=300, reconnectMaxDelay="4s")
    process = await flowhost_process(
        str(flow), "--no-broker", "--port", str(free_port()), "--data-dir", str(tmp_path / "data")
    )
    await process.wait_for_line("ready in")
    async with asyncio.timeout(25):
        while sum("connection broker: OPENING" in line for line in process.lines) < 5:
            await asyncio.sleep(0.1)
    moments = [_time_of(line) for line in process.lines if "connection broker: OPENING" in line]
    unreachable = [line for line in process.lines if "connection broker: UNREACHABLE" in line]
    assert len(unreachable) >= 4 and all("ConnectTimeoutError" in line for line in unreachable)
    waits = [later - earlier for earlier, later in itertools.pairwise(moments)]
    # each wait: connectionTimeout (0.3 s) + back-off of 1, 2, 4, 4 s with ±20 % jitter. The lower bounds hold
    # however busy the machine (timers fire late, never early); the upper ones are generous (1.5 s of slack)
    # but still tell the cap of 4 s from a doubling to 8 s (at least 6.4 + 0.3 s with jitter).
    for wait, backoff in zip(waits, [1, 2, 4, 4], strict=False):
        assert 0.3 + backoff * 0.8 - 0.1 <= wait <= 0.3 + backoff * 1.2 + 1.5, waits


def _time_of(line: str) -> float:
    moment = datetime.strptime(line.split(" ", 1)[0], "%H:%M:%S.%f")
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
