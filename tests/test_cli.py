"""The flowhost command, run as a real process: run, validate, broker, plugins."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from tests.support.flowhost_fixtures import free_port
from tests.support.processes import FLOWHOST, run_command

ROOT = Path(__file__).resolve().parents[1]


async def test_run_serves_the_demo_flow_and_stops_on_sigterm(flowhost_process, tmp_path):
    port, broker_port = free_port(), free_port()
    process = await flowhost_process(
        "--port", str(port), "--broker-port", str(broker_port), "--data-dir", str(tmp_path / "data")
    )
    ready = await process.wait_for_line("ready in")
    await process.wait_for_line(f"editor:  http://127.0.0.1:{port}/")
    await process.wait_for_line(f"broker:  mqtt://127.0.0.1:{broker_port}")
    await process.wait_for_line("flow:    demo (4 nodes)")
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as response:
        assert response.status == 200 and "flowhost" in await response.text()
    # the demo round trip: uplinks on the embedded broker, a downlink back into the debug output
    subscriber = await asyncio.create_subprocess_exec(
        "mosquitto_sub",
        "-h",
        "127.0.0.1",
        "-p",
        str(broker_port),
        "-t",
        "mqtt/things/+/uplink",
        "-v",
        "-C",
        "2",
        "-W",
        "15",
        stdout=asyncio.subprocess.PIPE,
    )
    uplinks, _ = await asyncio.wait_for(subscriber.communicate(), 20)
    for line in uplinks.decode().splitlines():
        topic, document = line.split(" ", 1)
        assert topic.startswith("mqtt/things/78AF58030000034") and '"DevEUI_uplink"' in document
        assert '"payload":{"temperature":' in document  # decoded by the demo's codec
    downlink = '{"DevEUI_downlink": {"DevEUI": "78AF580300000346", "FPort": 2, "payload_hex": "01ff"}}'
    publisher = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        str(broker_port),
        "-q",
        "1",
        "-t",
        "mqtt/things/78AF580300000346/downlink",
        "-m",
        downlink,
    )
    assert await publisher.wait() == 0
    line = await process.wait_for_line("[console] mqtt/things/78AF580300000346/downlink")
    assert '"payload_hex":"01ff"' in line and '"FPort":2' in line
    stopping_at = time.monotonic()
    assert await process.stop(timeout=10) == 0
    assert time.monotonic() - stopping_at < 5, "Ctrl-C / SIGTERM must stop everything within 5 s"
    assert float(ready.split("ready in ")[1].rstrip("s")) > 0


async def test_run_refuses_an_invalid_flow_with_every_error(tmp_path):
    flow = tmp_path / "bad.yaml"
    flow.write_text("flowhost: 1\nid: bad\nnodes:\n  - {id: a, type: debugg}\n  - {id: b, type: filter}\n")
    code, _, stderr = await run_command("run", str(flow), "--no-broker", "--port", str(free_port()))
    assert code == 1
    assert f"{flow}:4:19: nodes[0].type: unknown node type 'debugg' (did you mean 'debug'?)" in stderr
    assert f"{flow}:5:5: nodes[1].config: give at least one of devEUIs, fPorts, tags" in stderr
    assert "not started: 2 error(s)" in stderr


async def test_validate_reports_errors_with_file_and_line(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text((ROOT / "flows" / "demo.yaml").read_text())
    bad.write_text(
        "flowhost: 1\nid: x\nnodes:\n  - id: a\n    type: lorawan-simulator\n    config: {count: 0}\n"
    )
    assert (await run_command("validate", str(good)))[0] == 0
    code, _, stderr = await run_command("validate", str(good), str(bad))
    assert code == 1
    assert f"{bad}:6:21: nodes[0].config.count: value must be at least 1" in stderr


async def test_every_example_flow_is_valid():
    flows = sorted(str(path) for path in (ROOT / "flows").glob("*.yaml"))
    code, _, stderr = await run_command("validate", *flows)
    assert code == 0, stderr


async def test_plugins_lists_distributions_and_types():
    code, stdout, _ = await run_command("plugins")
    assert code == 0
    assert "example-decoder  [flowhost-example-decoder 1.0.0]" in stdout
    assert "    node type: temp-hum-decoder" in stdout
    assert "core-nodes  [flowhost " in stdout and "    node type: debug" in stdout


async def test_broker_command_relays_messages(tmp_path):
    port = free_port()
    broker = await asyncio.create_subprocess_exec(
        *FLOWHOST,
        "broker",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(broker.stdout.readline(), 20)
        assert f"mqtt://127.0.0.1:{port}" in line.decode()
        subscriber = await asyncio.create_subprocess_exec(
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-t",
            "mqtt/things/+/uplink",
            "-C",
            "1",
            "-W",
            "10",
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(0.5)
        publish = await asyncio.create_subprocess_exec(
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-t",
            "mqtt/things/78AF580300000345/uplink",
            "-m",
            '{"DevEUI_uplink": {}}',
            "-q",
            "1",
        )
        assert await publish.wait() == 0
        received, _ = await asyncio.wait_for(subscriber.communicate(), 15)
        assert received.decode().strip() == '{"DevEUI_uplink": {}}'
    finally:
        broker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(broker.wait(), 10) == 0


async def test_flowhost_register_commands_adds_the_example_plugins_command():
    code, stdout, _ = await run_command("decode-temp-hum", "0100e7022d")
    assert code == 0 and stdout.strip() == '{"temperature": 23.1, "humidity": 45}'
    code, _, stderr = await run_command("decode-temp-hum", "ffff")
    assert code == 1 and "not a temperature/humidity frame" in stderr
