"""A page on another origin cannot make a browser publish uplinks through ``http-uplink``; network servers can.

A real ``flowhost run`` serves an ``http-uplink`` without a token (the worst case); Chromium opens a page served
from another port of 127.0.0.1 (another origin) that POSTs a forged uplink with ``fetch`` (no-cors, the content
types a page may send without a preflight) and with a ``text/plain`` form whose encoding makes the body JSON.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from playwright.async_api import Browser

from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import wait_until

TOKEN = "cross-site-test-token"
FORGED_EUI = "78AF5803000000EE"
FLOW = """
flowhost: 1
id: inbound
nodes:
  - id: uplinks
    type: http-uplink
    config: {path: /uplinks}
    wires: {out: [console]}
  - id: console
    type: debug
    config: {console: true}  # logged, so that the test reads what was accepted in flowhost's output
"""
ATTACK_PAGE = """<!doctype html>
<html><head><link rel="icon" href="data:,"><title>elsewhere</title></head><body>
<form id="forged" method="POST" action="TARGET" enctype="text/plain" target="sink">
  <input name='{"DevEUI": "FORGED_EUI", "x": "' value='"}'>
</form>
<iframe name="sink"></iframe>
<script>
  const body = JSON.stringify({DevEUI_uplink: {DevEUI: "FORGED_EUI", FPort: 1, payload_hex: "00"}});
  window.attempts = Promise.allSettled(
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"].map((type) =>
      fetch("TARGET", {method: "POST", mode: "no-cors", headers: {"Content-Type": type}, body})
    )
  );
  document.getElementById("forged").submit();
</script>
</body></html>
"""


async def test_a_page_on_another_origin_cannot_post_uplinks_but_a_network_server_can(
    browser: Browser, flowhost_process, aiohttp_server, write_flow, tmp_path
):
    port = free_port()
    process = await flowhost_process(
        "--no-broker",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        str(write_flow(FLOW)),
        env={"FLOWHOST_TOKEN": TOKEN},
    )
    await process.wait_for_line("flow:    inbound")
    target = f"http://127.0.0.1:{port}/uplinks"

    async def attack_page(request: web.Request) -> web.Response:
        html = ATTACK_PAGE.replace("TARGET", target).replace("FORGED_EUI", FORGED_EUI)
        return web.Response(text=html, content_type="text/html")

    elsewhere = web.Application()
    elsewhere.router.add_get("/", attack_page)
    other_origin = await aiohttp_server(elsewhere, host="127.0.0.1")
    assert other_origin.port != port

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as api:

        async def counters() -> dict[str, int]:
            async with api.get(f"http://127.0.0.1:{port}/api/flows/inbound/status") as response:
                return (await response.json())["nodes"]["uplinks"]["counters"]

        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{other_origin.port}/")
            settled = await page.evaluate("window.attempts.then((all) => all.map((one) => one.status))")
            assert settled == ["fulfilled"] * 3  # the requests went out: the browser did send them
            async with asyncio.timeout(10):  # the form's navigation arrives on its own time
                while sum((seen := await counters()).values()) < 4:
                    await asyncio.sleep(0.05)
        finally:
            await context.close()
        assert seen == {"forbidden": 4}, seen  # nothing accepted, nothing published

        # A network server (or curl) sends no Origin: served, whatever its content type.
        uplink = f'{{"DevEUI_uplink": {{"DevEUI": "{FORGED_EUI}", "FPort": 1}}}}'
        for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
            async with aiohttp.ClientSession() as server:
                async with server.post(target, data=uplink, headers={"Content-Type": content_type}) as response:
                    assert response.status == 202, await response.text()
        async with aiohttp.ClientSession() as server:
            async with server.post(target, data=uplink, headers={"Sec-Fetch-Site": "cross-site"}) as response:
                assert response.status == 403 and "cross-site" in (await response.json())["error"]
        assert await counters() == {"forbidden": 5, "accepted": 3}
    await wait_until(lambda: sum(FORGED_EUI in line for line in process.lines) == 3)
    assert await process.stop() == 0
