"""The whole journey as a user makes it: log in, create a connection to Mosquitto through the form, build a
flow by dragging and wiring, deploy, watch uplinks and a downlink in the debug panel; then a mistake."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from tests.support.mqtt_helpers import Subscriber, publish

from .conftest import screenshot
from .helpers import deploy, drop_node, field, node, open_node, wire, wires

DEVICE = "78AF580300000345"
UPLINKS = "flowhost-editor/{DevEUI}/uplink"
DOWNLINKS = "flowhost-editor/{DevEUI}/downlink"


async def create_tcp_connection(editor, broker) -> None:
    await editor.click('.sidebar-tab[data-tab="connections"]')
    await editor.click('[data-action="add-connection"]')
    dialog = editor.locator("dialog.dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("#conn-name").fill("Test broker")
    await expect(dialog.locator("#conn-id")).to_have_value("test-broker")
    await dialog.locator("#conn-uplinkTopicPattern").fill(UPLINKS)
    await dialog.locator("#conn-downlinkTopicPattern").fill(DOWNLINKS)
    await dialog.locator("#conn-hostName").fill(f"{broker.host}:{broker.tcp_port}")
    for name in ("certificate", "privateKey"):
        await expect(field(dialog, name)).to_be_visible()  # SSL is the default protocol
    await dialog.locator("#conn-protocol").select_option("TCP")
    for name in ("certificate", "privateKey"):
        await expect(field(dialog, name)).to_be_hidden()
    await screenshot(editor, "connection-form")
    await dialog.locator('[data-action="save"]').click()
    await expect(dialog).to_be_hidden()
    card = editor.locator('.conn-card[data-id="test-broker"]')
    await expect(card.locator(".state-dot")).to_have_class(re.compile(r"level-ok"), timeout=5000)
    await expect(card.locator(".connection-state")).to_have_text("OPENED")


async def test_the_whole_journey(editor, flowhost, mosquitto):
    await create_tcp_connection(editor, mosquitto)

    await drop_node(editor, "lorawan-simulator", 140, 140)
    await drop_node(editor, "mqtt-connector", 460, 100)
    await drop_node(editor, "debug", 780, 260)
    await wire(editor, "lorawan-simulator-1", "out", "mqtt-connector-1")
    await wire(editor, "lorawan-simulator-1", "out", "debug-1")
    await wire(editor, "mqtt-connector-1", "downlink", "debug-1")
    await expect(wires(editor)).to_have_count(3)

    dialog = await open_node(editor, "lorawan-simulator-1")
    await field(dialog, "devEUIs").locator("textarea").fill(DEVICE)
    await field(dialog, "interval").locator("input").fill("500ms")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    dialog = await open_node(editor, "mqtt-connector-1")
    await field(dialog, "connection").locator("select").select_option("test-broker")
    await screenshot(editor, "node-dialog")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()

    await editor.click('.sidebar-tab[data-tab="debug"]')
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "flowhost-editor/+/uplink") as subscriber:
        await deploy(editor)
        entries = editor.locator(".debug-entry")
        await expect(entries.first).to_be_visible(timeout=5000)
        await expect(entries.first.locator(".debug-topic")).to_have_text(DEVICE)
        await expect(entries.first).to_contain_text("DevEUI_uplink")
        await subscriber.wait_for(1, timeout=5)
        assert subscriber.messages[0].topic == f"flowhost-editor/{DEVICE}/uplink"
    await expect(node(editor, "lorawan-simulator-1").locator(".fh-node-status")).to_contain_text("1 devices")
    connector_status = node(editor, "mqtt-connector-1").locator(".fh-node-status")
    await expect(connector_status).to_contain_text(re.compile(r"connected · \d+ uplinks"))
    await expect(connector_status).to_have_attribute("data-level", "ok")

    downlink = {"DevEUI_downlink": {"DevEUI": DEVICE, "FPort": 8, "payload_hex": "0100"}}
    await publish(mosquitto.host, mosquitto.tcp_port, f"flowhost-editor/{DEVICE}/downlink", json.dumps(downlink))
    await expect(editor.locator(".debug-entry", has_text="DevEUI_downlink")).to_have_count(1, timeout=5000)
    await screenshot(editor, "journey-debug")
    await editor.click('.sidebar-tab[data-tab="connections"]')
    card = editor.locator('.conn-card[data-id="test-broker"]')
    await expect(card.locator('[data-counter="uplinksPublished"] b')).not_to_have_text("0")
    await expect(card.locator('[data-counter="downlinksReceived"] b')).to_have_text("1")
    await screenshot(editor, "journey-connections")

    await node(editor, "mqtt-connector-1").locator(".fh-node-label").click()
    await editor.click('.sidebar-tab[data-tab="info"]')
    info = editor.locator("#info-panel")
    await expect(info.locator(".info-title")).to_contain_text("mqtt-connector")
    await expect(info.locator('[data-counter="downlinks"]')).to_have_text("1")
    await expect(info.locator('[data-counter="uplinks"]')).not_to_have_text("0")
    await screenshot(editor, "journey-info")

    # A mistake: the error is shown at its field, and the node is marked on the canvas once it is kept.
    dialog = await open_node(editor, "lorawan-simulator-1")
    await field(dialog, "fPort").locator("input").fill("300")
    await dialog.locator('[data-action="done"]').click()
    await expect(field(dialog, "fPort").locator(".field-error")).not_to_be_empty()
    await screenshot(editor, "journey-field-error")
    await expect(node(editor, "lorawan-simulator-1")).not_to_have_class(re.compile(r"\binvalid\b"))
    await dialog.locator('[data-action="done"]').click()  # "Keep anyway"
    await expect(node(editor, "lorawan-simulator-1")).to_have_class(re.compile(r"\binvalid\b"))
