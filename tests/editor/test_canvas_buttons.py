"""The buttons on the canvas, as Node-RED has them, on the demo flow as a newcomer runs it: inject's button sends
the send-downlink node's DevEUI_downlink, which comes back through the broker into the debug panel; debug's
toggle mutes a debug node (its `active: false`, deployed with the flow)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from playwright.async_api import expect

from flowhost.app import create_web_app
from flowhost.resources import demo_flow
from flowhost.runtime import Runtime
from flowhost.store import Store
from flowhost.workspace import Workspace
from tests.support.mqtt_helpers import wait_until

from .conftest import TOKEN, Flowhost, screenshot
from .helpers import deploy, node

DEVICE = "78AF580300000345"


@pytest.fixture
async def flowhost(aiohttp_server, runtime: Runtime, mosquitto, monkeypatch) -> AsyncIterator[Flowhost]:
    """flowhost running the packaged demo flow, its connection on the test Mosquitto (as `flowhost run` points
    it at its embedded broker through FLOWHOST_BROKER_ADDRESS)."""
    monkeypatch.setenv("FLOWHOST_BROKER_ADDRESS", f"{mosquitto.host}:{mosquitto.tcp_port}")
    workspace = Workspace(runtime, Store(runtime.data_dir))
    assert workspace.load_flow_files([], demo=demo_flow()) == []
    app = create_web_app(runtime, workspace=workspace, token=TOKEN)
    await workspace.start()
    server = await aiohttp_server(app, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        yield Flowhost(url, api, runtime)


def counters(flowhost: Flowhost, node_id: str) -> dict[str, int]:
    return flowhost.runtime.flows["demo"].nodes[node_id].snapshot()["counters"]


async def test_the_inject_button_sends_the_demo_downlink_into_the_debug_panel(editor, flowhost):
    inject = node(editor, "send-downlink").locator(".fh-inject")
    await expect(inject).to_be_visible()
    await expect(node(editor, "publish-downlink").locator(".fh-inject")).to_have_count(0)  # mqtt-out has none
    box, node_box = await inject.bounding_box(), await node(editor, "send-downlink").bounding_box()
    assert box["x"] + box["width"] <= node_box["x"] + 1  # on the left side, as Node-RED's
    downlinks = editor.locator(".debug-entry", has=editor.locator(".debug-node", has_text=re.compile("^console$")))
    await expect(downlinks).to_have_count(0)
    await inject.click()
    await expect(editor.locator(".toast.level-ok", has_text="Injected send-downlink")).to_be_visible()
    await expect(downlinks).to_have_count(1, timeout=5000)
    await expect(downlinks.first).to_contain_text("DevEUI_downlink")
    await expect(downlinks.first.locator(".debug-topic")).to_have_text(f"mqtt/things/{DEVICE}/downlink")
    await inject.click()
    await expect(downlinks).to_have_count(2, timeout=5000)
    await expect(editor.locator("#deploy")).to_be_disabled()  # pressing the button is not an edit
    await screenshot(editor, "inject-button")


async def test_an_undeployed_inject_node_says_deploy_first(editor, flowhost):
    dialog_opened = node(editor, "send-downlink").locator(".fh-node-label")
    await dialog_opened.dblclick()
    dialog = editor.locator("dialog.node-dialog")
    await dialog.locator("#node-name").fill("Send one downlink")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await node(editor, "send-downlink").locator(".fh-inject").click()
    await expect(editor.locator(".toast.level-error")).to_contain_text("Send one downlink is not deployed")
    await expect(editor.locator(".toast.level-error")).to_contain_text("deploy first")
    assert counters(flowhost, "connector").get("downlinks", 0) == 0
    await deploy(editor)
    await node(editor, "send-downlink").locator(".fh-inject").click()
    await expect(editor.locator(".toast.level-ok", has_text="Injected Send one downlink")).to_be_visible()


async def test_a_failed_inject_is_a_toast_naming_the_node(editor, flowhost, page_errors):
    page_errors.expect_status(404)
    await flowhost.runtime.remove_flow("demo")  # stopped behind the editor's back
    await node(editor, "send-downlink").locator(".fh-inject").click()
    toast = editor.locator(".toast.level-error")
    await expect(toast).to_contain_text("Inject send-downlink failed")
    await expect(toast).to_contain_text("no deployed flow 'demo'")


async def test_the_debug_toggle_mutes_a_debug_node_at_once_and_on_the_server_once_deployed(editor, flowhost):
    toggle = node(editor, "console").locator(".fh-toggle")
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    box, node_box = await toggle.bounding_box(), await node(editor, "console").bounding_box()
    assert box["x"] >= node_box["x"] + node_box["width"] - 1  # on the right side, as Node-RED's
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await expect(toggle).to_have_class(re.compile(r"\boff\b"))
    await screenshot(editor, "debug-toggle-off")

    # Muted here at once: before the deploy the server's node still sends, and the panel drops its messages.
    uplinks = editor.locator(".debug-entry", has=editor.locator(".debug-node", has_text=re.compile("^uplinks$")))
    await node(editor, "send-downlink").locator(".fh-inject").click()
    await wait_until(lambda: counters(flowhost, "console").get("seen", 0) == 1, timeout=5)
    shown = await uplinks.count()
    await expect(uplinks).not_to_have_count(shown, timeout=5000)  # a later event came through the same stream
    await expect(editor.locator(".debug-entry", has_text="DevEUI_downlink")).to_have_count(0)

    await deploy(editor)
    saved = await flowhost.get("/flows/demo")
    assert next(n for n in saved["nodes"] if n["id"] == "console")["config"] == {"active": False}

    await node(editor, "send-downlink").locator(".fh-inject").click()
    # The second downlink reached the connector (not restarted: only the debug node changed) and so the debug
    # node, restarted with active: false, which counted and showed nothing.
    await wait_until(lambda: counters(flowhost, "connector").get("downlinks", 0) == 2, timeout=5)
    assert counters(flowhost, "console").get("seen", 0) == 0
    await expect(uplinks.first).to_be_visible(timeout=5000)  # the other debug node still shows its messages
    await expect(editor.locator(".debug-entry", has_text="DevEUI_downlink")).to_have_count(0)

    await toggle.click()  # on again: a change to deploy, then the downlink shows
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await deploy(editor)
    saved = await flowhost.get("/flows/demo")
    assert "active" not in next(n for n in saved["nodes"] if n["id"] == "console").get("config", {})
    await node(editor, "send-downlink").locator(".fh-inject").click()
    await expect(editor.locator(".debug-entry", has_text="DevEUI_downlink")).to_have_count(1, timeout=5000)
