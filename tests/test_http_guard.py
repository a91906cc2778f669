"""The web server's Host check (against DNS rebinding) over real HTTP, and how a Host header is read."""

from __future__ import annotations

import pytest

from flowhost.app import create_web_app
from flowhost.http_guard import host_name

TOKEN = "host-check-token"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("LocalHost", "localhost"),
        ("flowhost.lan.:8080", "flowhost.lan"),
        ("::1", "::1"),
    ],
)
def test_a_host_header_is_read_without_port_brackets_or_case(header, name):
    assert host_name(header) == name


async def status_for(aiohttp_client, runtime, host: str, allowed_hosts=()) -> int:
    client = await aiohttp_client(create_web_app(runtime, token=TOKEN, allowed_hosts=allowed_hosts))
    response = await client.get("/api/node-types", headers={"Host": host, "Authorization": f"Bearer {TOKEN}"})
    return response.status


@pytest.mark.parametrize("host", ["127.0.0.1:1234", "localhost", "[::1]:8080", "[::ffff:127.0.0.1]:80"])
async def test_loopback_names_are_served_on_any_port(aiohttp_client, runtime, host):
    assert await status_for(aiohttp_client, runtime, host) == 200


@pytest.mark.parametrize("host", ["10.1.2.3", "attacker.example:8080", "localhost.attacker.example", "[::2]:80"])
async def test_other_names_get_421(aiohttp_client, runtime, host):
    assert await status_for(aiohttp_client, runtime, host) == 421


async def test_allowed_hosts_add_names_and_a_star_allows_any(aiohttp_client, runtime):
    assert await status_for(aiohttp_client, runtime, "Flowhost.LAN:8443", ["flowhost.lan"]) == 200
    assert await status_for(aiohttp_client, runtime, "10.1.2.3", ["10.1.2.3"]) == 200
    assert await status_for(aiohttp_client, runtime, "other.lan", ["flowhost.lan"]) == 421
    assert await status_for(aiohttp_client, runtime, "anything.example", ["*"]) == 200


async def test_an_orchestrators_probe_reaches_healthz_under_any_host(aiohttp_client, runtime):
    client = await aiohttp_client(create_web_app(runtime, token=TOKEN))
    probe = await client.get("/healthz", headers={"Host": "10.42.0.17:8080"})  # a pod's IP, as Kubernetes sends
    assert probe.status in (200, 503) and set(await probe.json()) == {"live", "ready"}
    status = await client.get("/api/status", headers={"Host": "10.42.0.17:8080", "Authorization": f"Bearer {TOKEN}"})
    assert status.status == 421  # everything else still refuses a name that is not the server's


async def test_many_different_host_headers_do_not_change_what_is_accepted(aiohttp_client, runtime):
    # The check remembers the Host values it has seen (parsing addresses is its cost); a client sending a new
    # one each time must neither grow that without end nor confuse the answers.
    client = await aiohttp_client(create_web_app(runtime, token=TOKEN, allowed_hosts=["flowhost.lan"]))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for number in range(600):
        host = f"10.0.{number // 256}.{number % 256}"
        refused = await client.get("/api/node-types", headers={**headers, "Host": host})
        assert refused.status == 421
    for host in ("flowhost.lan", "[::ffff:127.0.0.1]:80", "10.0.0.1"):
        response = await client.get("/api/node-types", headers={**headers, "Host": host})
        assert response.status == (421 if host == "10.0.0.1" else 200)
