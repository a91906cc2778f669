"""The plugin host: entry-point loading, restriction, isolation of broken plugins, registration checks."""

from __future__ import annotations

import os
import shutil
import sys
import time
from types import SimpleNamespace

import pytest
import voluptuous as vol

from flowhost import Node, hookimpl
from flowhost.plugins import load_plugins
from flowhost.registry import Registry

BUILT_IN = {"core-nodes", "lorawan-simulator", "http-nodes"}


def test_built_in_and_third_party_plugins_load_through_the_same_entry_point_group():
    host = load_plugins()
    assert host.errors == []
    assert BUILT_IN | {"example-decoder"} <= set(host.plugins)
    assert host.plugins["core-nodes"].distribution == "flowhost"
    assert host.plugins["example-decoder"].distribution == "flowhost-example-decoder"
    registry = Registry.from_plugins(host)
    assert {
        "debug",
        "filter",
        "lorawan-simulator",
        "http-uplink",
        "http-downlink",
        "temp-hum-decoder",
    } <= set(registry.node_types)
    assert registry.provided_by["node:temp-hum-decoder"] == "example-decoder"


def test_flowhost_load_plugins_restricts_loading(monkeypatch):
    monkeypatch.setenv("FLOWHOST_LOAD_PLUGINS", "core-nodes, example-decoder")
    host = load_plugins()
    assert set(host.plugins) == {"core-nodes", "example-decoder"}
    assert set(Registry.from_plugins(host).node_types) == {"debug", "filter", "temp-hum-decoder"}


def test_naming_a_plugin_that_is_not_installed_is_reported(monkeypatch):
    monkeypatch.setenv("FLOWHOST_LOAD_PLUGINS", "core-nodes,nope")
    host = load_plugins()
    assert host.errors == ["FLOWHOST_LOAD_PLUGINS names 'nope', but no such plugin is installed"]


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(tmp_path, monkeypatch):
    dist_info = tmp_path / "broken_sensor_driver-2.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-sensor-driver\nVersion: 2.0\n")
    (dist_info / "entry_points.txt").write_text("[flowhost]\nbroken-driver = broken_sensor_driver\n")
    (tmp_path / "broken_sensor_driver.py").write_text("import a_module_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    host = load_plugins()
    assert host.errors == [
        "plugin 'broken-driver' (distribution broken-sensor-driver 2.0): cannot be imported: "
        "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"
    ]
    assert "broken_sensor_driver" not in sys.modules
    assert "debug" in Registry.from_plugins(host).node_types  # the others still load


def test_a_distribution_installed_or_removed_after_a_scan_is_seen_by_the_next_load(tmp_path, monkeypatch):
    """The entry-point scan is kept between loads (installed_entry_points): a folder on sys.path that gains or
    loses a distribution is scanned again."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "late_sensor.py").write_text("")
    # The folder last changed a while ago, as site-packages has: installing changes its time (the file system's
    # clock is coarse; a change in the same tick as the scan would go unseen here, as by importlib.metadata).
    os.utime(site, ns=(time.time_ns() - 10**9,) * 2)
    monkeypatch.syspath_prepend(str(site))
    assert "late-sensor" not in load_plugins().plugins
    dist_info = site / "late_sensor-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: late-sensor\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[flowhost]\nlate-sensor = late_sensor\n")
    host = load_plugins()
    assert host.errors == []
    assert host.plugins["late-sensor"].describe() == "plugin 'late-sensor' (distribution late-sensor 1.0)"
    shutil.rmtree(dist_info)
    assert "late-sensor" not in load_plugins().plugins


def test_unknown_hooks_are_refused_and_named():
    plugin = SimpleNamespace(flowhost_register_node_typez=hookimpl(lambda register: None))
    host = load_plugins(only=["core-nodes"], extra=[("typo-plugin", plugin)])
    [error] = host.errors
    assert error.startswith("plugin 'typo-plugin': was not loaded:") and "flowhost_register_node_typez" in error


class NotANode:
    type = "not-a-node"


class BadName(Node):
    type = "Bad Name"


class SyncStart(Node):
    type = "sync-start"

    def start(self):  # type: ignore[override]
        return None


class BadSchema(Node):
    type = "bad-schema"
    config_schema = {"a": int}  # type: ignore[assignment]


class DuplicateDebug(Node):
    type = "debug"


class GoodNode(Node):
    type = "good-node"
    config_schema = vol.Schema({})


def test_invalid_and_duplicate_types_are_reported_and_the_rest_registers():
    def register_all(register):
        for node_type in (NotANode, BadName, SyncStart, BadSchema, DuplicateDebug, GoodNode):
            register(node_type)

    plugin = SimpleNamespace(flowhost_register_node_types=hookimpl(register_all))
    host = load_plugins(only=["core-nodes"], extra=[("sloppy", plugin)])
    registry = Registry.from_plugins(host)
    assert "good-node" in registry.node_types and registry.node_types["debug"].__module__.endswith("core_nodes")
    assert host.errors == [
        f"plugin 'sloppy': registered {NotANode!r}, which is not a flowhost.Node subclass",
        "plugin 'sloppy': BadName.type must be lower-case letters, digits and dashes, got 'Bad Name'",
        "plugin 'sloppy': node type 'sync-start': start must be an async method",
        "plugin 'sloppy': node type 'bad-schema': config_schema must be a voluptuous Schema",
        "plugin 'sloppy': node type 'debug' is already registered by plugin 'core-nodes'",
    ]


def test_a_hook_that_raises_does_not_stop_the_others():
    def explode(register):
        raise RuntimeError("boom")

    plugin = SimpleNamespace(flowhost_register_node_types=hookimpl(explode))
    host = load_plugins(only=["core-nodes"], extra=[("explosive", plugin)])
    registry = Registry.from_plugins(host)
    assert "debug" in registry.node_types
    assert host.errors == ["plugin 'explosive': hook flowhost_register_node_types failed: RuntimeError: boom"]


def test_the_example_plugin_is_a_real_installed_distribution():
    from importlib.metadata import distribution

    dist = distribution("flowhost-example-decoder")
    assert dist.entry_points.select(group="flowhost")["example-decoder"].value == "flowhost_example_decoder"
    # installed, not imported from the source tree
    import flowhost_example_decoder

    assert "site-packages" in flowhost_example_decoder.__file__


@pytest.mark.parametrize("hook_name", ["flowhost_startup", "flowhost_shutdown"])
async def test_lifecycle_hooks_may_be_sync_or_async_and_failures_are_isolated(hook_name, tmp_path):
    from flowhost.app import create_runtime

    calls = []

    async def async_hook(runtime):
        calls.append(("async", runtime))

    def failing_hook(runtime):
        raise RuntimeError("nope")

    plugins = [
        ("async-one", SimpleNamespace(**{hook_name: hookimpl(async_hook)})),
        ("failing-one", SimpleNamespace(**{hook_name: hookimpl(failing_hook)})),
    ]
    host = load_plugins(only=[], extra=plugins)
    runtime = create_runtime(tmp_path, host)
    await runtime.start()
    await runtime.stop()
    assert calls == [("async", runtime)]
    assert host.errors == [f"plugin 'failing-one': hook {hook_name} failed: RuntimeError: nope"]
