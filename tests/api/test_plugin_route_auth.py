"""Plugins' routes under ``/plugins/`` need the API token as ``/api/`` does, unless marked ``public_route``;
nodes' endpoints need none (the web server's guard hands them to the node), except under ``/plugins/``.

Tests ``flowhost_web_routes`` (docs/plugins.md) with a plugin of the test's own, served over real HTTP.
"""

from __future__ import annotations

import pytest
from aiohttp import web

from flowhost import hookimpl, keys, public_route
from flowhost.app import create_runtime, create_web_app
from flowhost.flowfile import validate_flow
from flowhost.plugins import load_plugins
from tests.api.conftest import TOKEN


class RoutesPlugin:
    @hookimpl
    def flowhost_web_routes(self, runtime):
        async def private(request: web.Request) -> web.Response:
            return web.json_response({"private": True})

        @public_route
        async def webhook(request: web.Request) -> web.Response:
            return web.json_response({"public": True})

        @public_route
        async def not_public_under_api(request: web.Request) -> web.Response:
            return web.json_response({"leaked": True})

        return [
            web.post("/hooks/test-routes", webhook),  # outside /plugins/: anyone may call it
            web.get("/plugins/test-routes/private", private),
            web.post("/plugins/test-routes/private", private),
            web.post("/plugins/test-routes/hook", webhook),
            web.get("/api/test-routes/marked", not_public_under_api),
        ]


@pytest.fixture
async def client(tmp_path, aiohttp_client):
    runtime = create_runtime(tmp_path / "data", load_plugins(extra=[("test-routes", RoutesPlugin())]))
    await runtime.start()
    yield await aiohttp_client(create_web_app(runtime, token=TOKEN))
    await runtime.stop()


async def test_plugin_routes_need_the_token_like_the_api(client):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for method in ("GET", "POST"):
        refused = await client.request(method, "/plugins/test-routes/private")
        assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (
            await client.request(method, "/plugins/test-routes/private", headers={"Authorization": "Bearer x"})
        ).status == 401
        allowed = await client.request(method, "/plugins/test-routes/private", headers=bearer)
        assert allowed.status == 200 and await allowed.json() == {"private": True}
    assert (await client.get("/plugins/test-routes/unknown")).status == 401  # nothing to learn without the token


async def test_a_cookie_needs_proof_of_origin_for_changes_on_plugin_routes(client):
    await client.get(f"/?token={TOKEN}", allow_redirects=False)  # the editor's login: sets the cookie
    assert (await client.get("/plugins/test-routes/private")).status == 200
    assert (await client.post("/plugins/test-routes/private")).status == 403
    assert (await client.post("/plugins/test-routes/private", headers={"X-Flowhost-Client": "editor"})).status == 200


async def test_a_route_marked_public_is_served_without_the_token_but_never_under_api(client):
    response = await client.post("/plugins/test-routes/hook")
    assert response.status == 200 and await response.json() == {"public": True}
    assert (await client.get("/api/test-routes/marked")).status == 401


def endpoints_flow(*paths: str) -> dict:
    nodes = [
        {"id": f"http{index}", "type": "http-uplink", "config": {"path": path}} for index, path in enumerate(paths)
    ]
    return {"flowhost": 1, "id": "endpoints", "nodes": nodes}


async def test_a_node_endpoint_needs_no_token_except_under_plugins(client):
    runtime = client.server.app[keys.RUNTIME]
    await runtime.deploy(validate_flow(endpoints_flow("/uplinks", "/plugins/test-routes/uplinks"), runtime.registry))
    served = await client.post("/uplinks", data=b"[]")
    assert served.status == 400 and "must be a JSON object" in (await served.json())["error"]  # the node's answer
    assert (await client.post("/plugins/test-routes/uplinks", data=b"[]")).status == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.post("/plugins/test-routes/uplinks", data=b"[]", headers=bearer)).status == 400
    assert (await client.get("/uplinks")).status == 405  # the node serves POST only


async def test_a_plugin_route_comes_before_a_node_endpoint_at_the_same_path(client):
    runtime = client.server.app[keys.RUNTIME]
    await runtime.deploy(validate_flow(endpoints_flow("/hooks/test-routes"), runtime.registry))
    response = await client.post("/hooks/test-routes", data=b"[]")
    assert response.status == 200 and await response.json() == {"public": True}
