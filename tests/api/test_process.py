"""The API of a real ``flowhost run`` process: token URL, cookie login, CSRF, restart persistence, no secret
anywhere on disk or in the output, and the refusal to listen beyond loopback with a generated token."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path

import aiohttp

from tests.api.conftest import client_certificate_body, thingpark_body
from tests.support.brokers import PASSWORD
from tests.support.flowhost_fixtures import free_port
from tests.support.processes import run_command

TOKEN_LINE = re.compile(r"editor:  (http://127\.0\.0\.1:\d+)/\?token=(\S+)")


async def start(flowhost_process, data_dir: Path, *args: str, env: dict[str, str] | None = None):
    port = free_port()
    process = await flowhost_process(
        "--no-broker",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *args,
        env={"FLOWHOST_TOKEN": "", **(env or {})},
    )
    line = await process.wait_for_line("editor:  ")
    url, token = TOKEN_LINE.search(line).groups()
    return process, url, token


async def wait_for_state(session, url: str, connection_id: str, state: str, timeout: float = 15) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            async with session.get(f"{url}/api/connections/{connection_id}") as response:
                shown = await response.json()
            if shown.get("state") == state:
                return shown
            await asyncio.sleep(0.1)


def key_body(pem: str) -> str:
    """The base64 of a PEM key without its armour lines: what must never appear anywhere."""
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))[:64]


async def test_token_url_logs_the_browser_in_with_a_cookie_and_changes_need_proof_of_origin(flowhost_process, tmp_path):
    process, url, token = await start(flowhost_process, tmp_path / "data")
    token_file = tmp_path / "data" / "api-token"
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(f"{url}/api/flows") as response:
            assert response.status == 401 and await response.json() == {
                "errors": [{"path": "", "message": "authentication required"}]
            }
        async with browser.get(f"{url}/?token=wrong", allow_redirects=False) as response:
            assert response.status == 401
        async with browser.get(f"{url}/?token={token}", allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"] == "/"
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        async with browser.get(f"{url}/api/flows") as response:
            assert response.status == 200  # the cookie is enough for reading
        body = {"flowhost": 1, "id": "from-browser", "nodes": [{"id": "d", "type": "debug"}]}
        async with browser.post(f"{url}/api/flows", json=body) as response:
            assert response.status == 403  # a cookie alone does not prove the request comes from our page
        async with browser.post(f"{url}/api/flows", json=body, headers={"Origin": "http://evil.example"}) as response:
            assert response.status == 403
        async with browser.post(f"{url}/api/flows", json=body, headers={"Origin": url}) as response:
            assert response.status == 201
        async with browser.delete(f"{url}/api/flows/from-browser", headers={"X-Flowhost-Client": "editor"}) as response:
            assert response.status == 204
    assert await process.stop() == 0


async def test_an_api_connection_survives_a_restart_opened_and_no_secret_reaches_disk_or_output(
    flowhost_process,
    tmp_path,
    mosquitto,
    pki,
):
    data_dir = tmp_path / "data"
    process, url, token = await start(flowhost_process, data_dir)
    headers = {"Authorization": f"Bearer {token}"}
    mtls = client_certificate_body(mosquitto, pki)
    flow = {
        "flowhost": 1,
        "id": "persisted",
        "nodes": [
            {
                "id": "devices",
                "type": "lorawan-simulator",
                "config": {"devEUIs": ["78AF580300000345"], "interval": "1s", "limit": 1},
                "wires": {"out": ["connector"]},
            },
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "test-aws-mq-mqtt-ssl-connection"}},
        ],
    }
    async with aiohttp.ClientSession(headers=headers) as api:
        async with api.post(f"{url}/api/connections", json=thingpark_body(mosquitto)) as response:
            assert response.status == 201, await response.text()
        async with api.post(f"{url}/api/connections", json=mtls) as response:
            assert response.status == 201, await response.text()
        async with api.post(f"{url}/api/flows", json=flow) as response:
            assert response.status == 201, await response.text()
        await wait_for_state(api, url, "test-aws-mq-mqtt-ssl-connection", "OPENED")
        await wait_for_state(api, url, "mtls", "OPENED")
    assert await process.stop() == 0

    process, url, second_token = await start(flowhost_process, data_dir)
    assert second_token == token
    await process.wait_for_line("connection: test-aws-mq-mqtt-ssl-connection (created through the API)")
    await process.wait_for_line("flow:    persisted (2 nodes)")
    async with aiohttp.ClientSession(headers=headers) as api:
        shown = await wait_for_state(api, url, "test-aws-mq-mqtt-ssl-connection", "OPENED")
        assert shown["configuration"]["password"] == "********"
        await wait_for_state(api, url, "mtls", "OPENED")
        async with api.get(f"{url}/api/flows/persisted") as response:
            assert (await response.json())["nodes"][1]["config"] == {"connection": "test-aws-mq-mqtt-ssl-connection"}
    assert await process.stop() == 0

    assert (data_dir / "flows" / "persisted.yaml").is_file()
    for name in ("api-token", "secret.key", "secrets.json", "connections.json", "flows/persisted.yaml"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert PASSWORD.encode() not in content, path
            assert key_body(pki.client.key_pem).encode() not in content, path
    output = "\n".join(process.lines)
    assert PASSWORD not in output and key_body(pki.client.key_pem) not in output


async def test_another_host_needs_an_explicit_token(tmp_path):
    code, _, stderr = await run_command(
        "run", "--no-broker", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path)
    )
    assert code == 2
    assert "--host 0.0.0.0 would expose the API" in stderr and "FLOWHOST_TOKEN" in stderr


async def test_an_explicit_token_is_used_and_not_stored(flowhost_process, tmp_path):
    process, url, token = await start(flowhost_process, tmp_path / "data", env={"FLOWHOST_TOKEN": "explicit-token-1"})
    assert token == "explicit-token-1"
    assert not (tmp_path / "data" / "api-token").exists()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api/node-types", headers={"Authorization": "Bearer explicit-token-1"}) as r:
            assert r.status == 200
    assert await process.stop() == 0


async def test_validate_knows_the_connections_and_secrets_the_api_stored(api, tmp_path, mosquitto, runtime):
    assert (await api.post("/api/connections", json={**thingpark_body(mosquitto), "id": "stored"})).status == 201
    flow = tmp_path / "uses-stored.yaml"
    flow.write_text(
        "flowhost: 1\nid: uses-stored\nnodes:\n  - {id: c, type: mqtt-connector, config: {connection: stored}}\n"
    )
    code, _, stderr = await run_command("validate", "--data-dir", str(runtime.data_dir), str(flow))
    assert code == 0, stderr
    code, _, stderr = await run_command("validate", "--data-dir", str(tmp_path / "empty"), str(flow))
    assert code == 1 and "unknown connection 'stored' (defined: none)" in stderr


async def test_a_running_flowhost_answers_healthz_without_a_token_and_status_with_it(flowhost_process, tmp_path):
    process, url, token = await start(flowhost_process, tmp_path / "data")
    await process.wait_for_line("flow:    demo")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 200 and await response.json() == {"live": True, "ready": True}
        async with session.get(f"{url}/api/status") as response:
            assert response.status == 401
        async with session.get(f"{url}/api/status", headers={"Authorization": f"Bearer {token}"}) as response:
            document = await response.json()
    assert document["ready"] is True
    assert [(flow["id"], flow["origin"], flow["deployed"]) for flow in document["flows"]] == [("demo", "demo", True)]
    assert [connection["id"] for connection in document["connections"]] == ["local-broker"]
    assert document["connections"][0]["outbox"] >= 0
    assert await process.stop() == 0
