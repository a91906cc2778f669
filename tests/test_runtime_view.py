"""The read-only runtime view that hooks and plugin routes get (docs/plugins.md, "What hooks see of the runtime")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aiohttp import web

import flowhost
from flowhost import hookimpl
from flowhost.app import create_runtime, create_web_app
from flowhost.flowfile import load_flow_file
from flowhost.plugins import load_plugins
from flowhost.runtime_view import NodeView
from tests.api.conftest import TOKEN
from tests.support import sample_nodes

FLOW = """
flowhost: 1
id: t
label: Two users
connections:
  - {id: link, connectorId: test-loopback}
  - {id: spare, connectorId: test-loopback}
nodes:
  - {id: b, type: test-collect, config: {connection: link}}
  - {id: a, type: test-collect, config: {connection: link}}
  - {id: alone, type: test-collect}
  - {id: webhook, type: http-uplink, config: {path: /uplinks, token: a-long-secret-token}}
"""


async def test_the_view_shows_connections_their_users_and_flows(runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    view = runtime.view
    assert view.connection_ids() == ["link", "spare"]
    assert view.connection("link") is runtime.connections["link"].connection
    assert view.connection("nowhere") is None
    assert [(node.flow_id, node.node_id, node.type) for node in view.nodes_using("link")] == [
        ("t", "a", "test-collect"),
        ("t", "b", "test-collect"),
    ]
    assert view.nodes_using("spare") == []
    [flow] = view.flows().values()
    assert flow.id == "t" and flow.label == "Two users"
    assert {node.node_id for node in flow.nodes} == {"a", "b", "alone", "webhook"}
    assert view.data_dir == runtime.data_dir
    await runtime.remove_flow("t")
    assert view.flows() == {} and view.nodes_using("link") == []  # read when asked: no stale copy


async def test_the_view_hands_out_no_secret_and_nothing_to_change(runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    [webhook] = [node for node in runtime.view.flows()["t"].nodes if node.node_id == "webhook"]
    assert dict(webhook.config) == {"path": "/uplinks"}  # token is one of http-uplink's secret_fields
    [user, _] = runtime.view.nodes_using("link")
    with pytest.raises(TypeError):
        user.config["connection"] = "elsewhere"  # type: ignore[index]
    with pytest.raises(AttributeError):
        user.node_id = "other"  # type: ignore[misc]
    assert isinstance(user, NodeView)
    assert runtime.node("t", "a").spec.config["connection"] == "link"


class ViewPlugin:
    """Takes only ``view`` (no ``runtime``), as docs/plugins.md tells plugins to."""

    def __init__(self) -> None:
        self.views: list = []

    @hookimpl
    def flowhost_startup(self, view):
        self.views.append(("startup", view))

    @hookimpl
    def flowhost_shutdown(self, view):
        self.views.append(("shutdown", view))

    @hookimpl
    def flowhost_web_routes(self, view):
        async def users(request: web.Request) -> web.Response:
            nodes = view.nodes_using(request.match_info["id"])
            return web.json_response([f"{node.flow_id}/{node.node_id}" for node in nodes])

        return [web.get("/plugins/test-view/users/{id}", users)]


async def test_hooks_get_the_view_and_a_route_reads_it(tmp_path, aiohttp_client, write_flow):
    plugin = ViewPlugin()
    runtime = create_runtime(tmp_path / "data", load_plugins(extra=[("test-nodes", sample_nodes), ("v", plugin)]))
    await runtime.start()
    client = await aiohttp_client(create_web_app(runtime, token=TOKEN))
    await runtime.deploy(load_flow_file(write_flow(FLOW), runtime.registry))
    response = await client.get("/plugins/test-view/users/link", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200 and await response.json() == ["t/a", "t/b"]
    await runtime.stop()
    assert plugin.views == [("startup", runtime.view), ("shutdown", runtime.view)]


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, including under ``if TYPE_CHECKING:``, as absolute names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = "flowhost." * bool(node.level) + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}".replace("..", ".") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", ["hookspecs.py", "runtime_view.py"])
def test_the_hook_specifications_do_not_import_the_runtime(module):
    imported = _imported_modules(Path(flowhost.__file__).parent / module)
    assert not {name for name in imported if name == "flowhost.runtime" or name.startswith("flowhost.runtime.")}
    assert "flowhost.node" in imported or "flowhost.runtime_view" in imported  # the scan reads relative imports


async def test_the_view_gives_one_node_and_a_plugin_its_own_node_objects(runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    runtime.node("t", "a").status("listening", "ok")
    node = runtime.view.node("t", "a")
    assert (node.node_id, node.type, node.status) == ("a", "test-collect", "listening")
    assert runtime.view.node("t", "alone").status is None
    assert runtime.view.node("t", "nowhere") is None and runtime.view.node("elsewhere", "a") is None
    own = runtime.view.node_object("t", "a", sample_nodes.Collector)
    assert own is runtime.node("t", "a").node
    assert runtime.view.node_object("t", "webhook", sample_nodes.Collector) is None  # not of the class asked for
    assert runtime.view.node_object("t", "nowhere", sample_nodes.Collector) is None
