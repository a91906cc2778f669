"""``device-watchdog``: per-device silences (interval given or learnt), returns, restarts, and its bounds."""

from __future__ import annotations

import pytest
import voluptuous as vol

from flowhost.app import create_runtime
from flowhost.clock import ManualClock
from flowhost.flowfile import load_flow_file
from flowhost.message import Message
from flowhost_builtins.watchdog_node import DeviceWatchdogNode

from .conftest import WALL_START, wait_for

A, B = "78AF580300000345", "0018B20000000B20"


def flow(config: str) -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - {{id: watch, type: device-watchdog, config: {config}, wires: {{silent: [silent], back: [back]}}}}
      - {{id: silent, type: test-collect}}
      - {{id: back, type: test-collect}}
    """


def uplink(dev_eui: str) -> dict:
    return {"DevEUI_uplink": {"DevEUI": dev_eui, "FPort": 2}}


async def uplinks(harness, *dev_euis: str) -> None:
    for dev_eui in dev_euis:
        await harness.send("watch", uplink(dev_eui))
    await harness.settle()


async def test_a_device_that_misses_its_interval_by_the_factor_is_silent_then_back(harness):
    await harness.deploy(flow("{interval: 10m, factor: 2, checkEvery: 1m}"))
    await uplinks(harness, A, B)
    await harness.advance(10 * 60)
    await uplinks(harness, B)  # B keeps time; A does not
    await harness.advance(10 * 60 + 1)
    assert harness.payloads("silent") == []  # A: 20 min 1 s would be over 2 x 10 min; the next check sees it
    await harness.advance(60)
    [silence] = harness.payloads("silent")
    assert silence == {
        "event": "silent",
        "DevEUI": A,
        "lastSeen": "2026-01-01T00:00:00Z",
        "expectedInterval": 600.0,
        "silentFor": 21 * 60.0,
    }
    await harness.advance(30 * 60)
    assert [p["DevEUI"] for p in harness.payloads("silent")] == [A, B]  # once each, not at every check
    await uplinks(harness, A)
    [back] = harness.payloads("back")
    assert back["event"] == "back" and back["DevEUI"] == A and back["silentFor"] == 51 * 60.0 + 1
    counters = harness.counters("watch")
    assert (counters["silent"], counters["back"], counters["uplinks"]) == (2, 1, 4)


async def test_the_interval_is_learnt_from_the_last_uplinks_and_a_device_seen_once_is_never_silent(harness):
    await harness.deploy(flow("{factor: 3, learnFrom: 3, checkEvery: 1m}"))
    await uplinks(harness, A, B)
    for _ in range(3):  # A every 5 min: three gaps, its interval is learnt
        await harness.advance(5 * 60)
        await uplinks(harness, A)
    await harness.advance(14 * 60)
    assert harness.payloads("silent") == []
    await harness.advance(2 * 60)
    assert [(p["DevEUI"], p["expectedInterval"]) for p in harness.payloads("silent")] == [(A, 300.0)]
    await harness.advance(24 * 3600)
    assert len(harness.payloads("silent")) == 1  # B sent one uplink: nothing learnt, nothing expected


async def test_what_it_knows_survives_a_restart_and_a_silence_during_it_is_reported(harness, plugins):
    await harness.deploy(flow("{interval: 10m, checkEvery: 1m}"))
    await uplinks(harness, A)
    await harness.runtime.stop()  # writes the node's context

    later = ManualClock(wall_start=WALL_START + 3600)  # flowhost was stopped for an hour
    runtime = create_runtime(harness.runtime.data_dir, plugins, clock=later)
    await runtime.start()
    try:
        await runtime.deploy(load_flow_file(harness._tmp_path / "flow.yaml", runtime.registry))
        await wait_for(lambda: later.sleepers >= 1)
        await later.advance(60)
        [silence] = harness.payloads("silent")
        assert silence["DevEUI"] == A and silence["silentFor"] == 3660.0
        await runtime.node("t", "watch").inbox.put(Message.create(uplink(A)))
        await wait_for(lambda: harness.payloads("back"))
        stored = runtime.context.scope("node", "t", "watch").get(A)
        assert stored["silent"] is False and stored["lastSeen"] == WALL_START + 3660
    finally:
        await runtime.stop()


async def test_devices_are_bounded_and_messages_without_a_dev_eui_are_counted(harness):
    await harness.deploy(flow("{interval: 1h, maxDevices: 1}"))
    await uplinks(harness, A, B)
    await harness.send("watch", {"not": "an uplink"})
    await harness.settle()
    counters = harness.counters("watch")
    assert (counters["uplinks"], counters["overflow"], counters["unkeyed"]) == (1, 1, 1)
    assert harness.node("watch").snapshot()["status"]["level"] == "warning"


def test_the_schema_names_what_is_wrong():
    with pytest.raises(vol.Invalid, match="value must be at least 1"):
        DeviceWatchdogNode.config_schema({"factor": 0.5})
    with pytest.raises(vol.Invalid, match="must be between 1s and"):
        DeviceWatchdogNode.config_schema({"interval": "10ms"})
    assert DeviceWatchdogNode.config_schema({})["learnFrom"] == 3
