"""Hook flowhost_connection_warnings: plugins' warnings about valid connections, as ``flowhost validate`` reports
them; a failing plugin is reported and the others still answer."""

from __future__ import annotations

import voluptuous as vol

from flowhost import Connection, hookimpl
from flowhost.cli import _connection_warnings
from flowhost.flowfile import load_flow_file
from flowhost.plugins import load_plugins
from flowhost.registry import Registry


class LegacyCloud(Connection):
    connector_id = "legacy-cloud"
    config_schema = vol.Schema({vol.Required("region"): str, vol.Optional("apiKey", default="k"): str})


class WarningPlugin:
    @hookimpl
    def flowhost_register_connection_types(self, register):
        register(LegacyCloud)

    @hookimpl
    def flowhost_connection_warnings(self, connector_id, connection_id, configuration):
        if connector_id == "legacy-cloud" and configuration["region"] == "old":
            return [f"region 'old' of {connection_id} closes in 2027", f"apiKey default is {configuration['apiKey']}"]
        return None


class TextPlugin:
    @hookimpl
    def flowhost_connection_warnings(self, connector_id):
        return "one message as a string" if connector_id == "legacy-cloud" else None


class FailingPlugin:
    @hookimpl
    def flowhost_connection_warnings(self, configuration):
        raise RuntimeError(f"cannot read {sorted(configuration)}")


FLOW = """\
flowhost: 1
id: f
connections:
  - {id: a, connectorId: legacy-cloud, configuration: {region: old}}
  - {id: b, connectorId: legacy-cloud, configuration: {region: eu}}
nodes: []
"""


def test_flowhost_connection_warnings_are_collected_per_connection(tmp_path):
    plugins = load_plugins(
        only=[], extra=[("legacy", WarningPlugin()), ("text", TextPlugin()), ("failing", FailingPlugin())]
    )
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW)
    flow = load_flow_file(path, Registry.from_plugins(plugins))
    warnings = _connection_warnings(plugins, [flow])
    assert f"{path}: connection 'a': region 'old' of a closes in 2027" in warnings
    assert f"{path}: connection 'a': apiKey default is k" in warnings  # the configuration has its defaults
    assert f"{path}: connection 'a': one message as a string" in warnings
    assert f"{path}: connection 'b': one message as a string" in warnings
    assert not any("connection 'b': region" in warning for warning in warnings)
    failure = (
        "plugin 'failing': hook flowhost_connection_warnings failed: RuntimeError: cannot read ['apiKey', 'region']"
    )
    assert [warning for warning in warnings if "failing" in warning] == [failure, failure]
