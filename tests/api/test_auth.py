"""Every ``/api`` route refuses a request without the token; the cookie works with proof of origin."""

from __future__ import annotations

import re

import pytest

from flowhost.api.auth import Authenticator
from tests.api.conftest import TOKEN

REFUSED = {"errors": [{"path": "", "message": "authentication required"}]}


def api_routes(app) -> list[tuple[str, str]]:
    routes = []
    for route in app.router.routes():
        resource = route.resource
        path = resource.canonical if resource is not None else ""
        if path == "/api" or path.startswith("/api/"):
            routes.append((route.method, re.sub(r"\{[^}]+\}", "some-id", path)))
    return routes


async def test_the_route_table_is_what_the_api_serves(app):
    paths = {path for _, path in api_routes(app)}
    assert {"/api/connections", "/api/flows", "/api/node-types", "/api/events", "/api/openapi.json"} <= paths
    assert len(api_routes(app)) >= 20  # GET routes come with HEAD


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
        {"Cookie": "flowhost-token-0=wrong"},
    ],
    ids=["none", "wrong", "basic", "longer", "empty", "wrong-cookie"],
)
async def test_every_api_route_refuses_requests_without_the_right_token(app, anonymous, headers):
    for method, path in api_routes(app):
        response = await anonymous.request(method, path, headers=headers, json={"id": "x"})
        assert response.status == 401, (method, path)
        if method != "HEAD":
            assert await response.json() == REFUSED, (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_unknown_api_paths_and_methods_are_refused_before_they_are_found_missing(anonymous):
    assert (await anonymous.get("/api/nothing-here")).status == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    response = await anonymous.get("/api/nothing-here", headers=bearer)
    assert response.status == 404
    assert await response.json() == {"errors": [{"path": "", "message": "Not Found"}]}
    assert (await anonymous.patch("/api/flows")).status == 401
    response = await anonymous.patch("/api/flows", headers=bearer)
    assert response.status == 405 and response.content_type == "application/json"
    assert set(response.headers["Allow"].split(",")) == {"GET", "POST", "HEAD"}
    [error] = (await response.json())["errors"]
    assert error["message"].startswith("method not allowed; allowed: ") and "POST" in error["message"]
    response = await anonymous.delete("/api/node-types", headers=bearer)
    assert response.status == 405 and "GET" in response.headers["Allow"]


async def test_the_token_query_parameter_only_opens_the_event_socket(anonymous):
    assert (await anonymous.get(f"/api/flows?token={TOKEN}")).status == 401
    socket = await anonymous.ws_connect(f"/api/events?token={TOKEN}")
    await socket.close()
    with pytest.raises(Exception, match="401"):
        await anonymous.ws_connect("/api/events?token=wrong")


async def test_login_sets_the_cookie_and_redirects_and_the_cookie_authenticates(anonymous):
    response = await anonymous.get(f"/?token={TOKEN}", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/"
    set_cookie = response.headers["Set-Cookie"]
    cookie_name = f"flowhost-token-{anonymous.server.port}"  # per port: two flowhosts on one host
    assert f"{cookie_name}={TOKEN}" in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    anonymous.session.cookie_jar.clear()  # from here on, only the cookies each request names
    cookie = {"Cookie": f"{cookie_name}={TOKEN}"}
    assert (await anonymous.get("/api/flows", headers={"Cookie": f"flowhost-token-1={TOKEN}"})).status == 401
    assert (await anonymous.get("/api/flows", headers=cookie)).status == 200
    body = {"flowhost": 1, "id": "f", "nodes": []}
    assert (await anonymous.post("/api/flows", json=body, headers=cookie)).status == 403
    foreign = {**cookie, "Origin": "http://attacker.example"}
    response = await anonymous.post("/api/flows", json=body, headers=foreign)
    assert response.status == 403
    assert await response.json() == {"errors": [{"path": "", "message": "cross-site request refused"}]}
    own = {**cookie, "Origin": f"http://{anonymous.server.host}:{anonymous.server.port}"}
    assert (await anonymous.post("/api/flows", json=body, headers=own)).status == 201
    editor = {**cookie, "X-Flowhost-Client": "editor"}
    assert (await anonymous.delete("/api/flows/f", headers=editor)).status == 204
    with pytest.raises(Exception, match="403"):
        await anonymous.ws_connect("/api/events", headers=foreign)
    socket = await anonymous.ws_connect("/api/events", headers=cookie)
    await socket.close()


async def test_a_wrong_login_token_is_refused_without_a_cookie(anonymous):
    response = await anonymous.get("/?token=nope", allow_redirects=False)
    assert response.status == 401 and "Set-Cookie" not in response.headers
    assert (await anonymous.get("/")).status == 200  # the editor page itself is public


def test_the_authenticator_compares_whole_tokens():
    authenticator = Authenticator("abc")
    assert authenticator.check("abc")
    assert not any(authenticator.check(candidate) for candidate in (None, "", "ab", "abcd", "ABC", "äbc"))
    with pytest.raises(ValueError):
        Authenticator("")
