"""The help of a node type, from its schema and docstring: in the info panel for a type picked in the palette and
below a selected node's live figures."""

from __future__ import annotations

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import drop_node, node


async def test_the_palette_and_a_selected_node_show_the_type_s_help(editor, flowhost):
    await editor.click('.palette-node[data-type="lorawan-simulator"]')
    info = editor.locator("#info-panel")
    await expect(info).to_be_visible()
    help_pane = info.locator('.type-help[data-type="lorawan-simulator"]')
    await expect(help_pane).to_be_visible()
    await expect(info.locator(".info-description")).to_contain_text("DevEUI_uplink")
    interval = help_pane.locator('dt[data-field="interval"]')
    await expect(interval).to_contain_text("interval")
    await expect(interval.locator("xpath=following-sibling::dd[1]")).to_have_text("duration, ≥ 0.001 s · default 10s")
    fport = help_pane.locator('dt[data-field="fPort"] + dd')
    await expect(fport).to_have_text("integer, 1\u2013223 · default 1")
    await expect(help_pane.locator('dt[data-field="devEUIs"] + dd')).to_contain_text("list of dev eui")
    await expect(help_pane.locator(".info-table")).to_contain_text("out")
    await screenshot(editor, "type-help-palette")

    await editor.click('.palette-node[data-type="test-emit"]')  # a type with a docstring
    await expect(info.locator(".help-text")).to_have_text(
        "Sends the configured payloads once, as fast as the receivers allow."
    )
    await expect(info.locator('.type-help dt[data-field="payloads"] + dd')).to_contain_text("required")

    await drop_node(editor, "debug", 300, 200)
    await node(editor, "debug-1").locator(".fh-node-label").click()
    await expect(info.locator(".info-title")).to_contain_text("debug")
    node_help = info.locator('.info-help .type-help[data-type="debug"]')
    await expect(node_help).to_be_visible()
    await expect(node_help.locator('dt[data-field="console"] + dd')).to_have_text("boolean · default false")
    await screenshot(editor, "type-help-node")
