"""Plugins' routes under ``/plugins/`` need the API token as ``/api/`` does, unless marked ``public_route``.

Tests ``flowhost_web_routes`` (docs/plugins.md) with a plugin of the test's own, served over real HTTP.
"""

from __future__ import annotations

import pytest
from aiohttp import web

from flowhost import hookimpl, public_route
from flowhost.app import create_runtime, create_web_app
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
