"""A dropped node gets a readable id, unique in the flow (`switch-1`, `switch-2`), and shows its type line."""

from __future__ import annotations

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import drop_node, node


async def test_dropped_nodes_are_numbered_per_type_and_show_their_type(editor):
    await drop_node(editor, "switch", 200, 160)
    await drop_node(editor, "switch", 200, 300)
    await drop_node(editor, "debug", 520, 160)
    for node_id, node_type in (("switch-1", "switch"), ("switch-2", "switch"), ("debug-1", "debug")):
        await expect(node(editor, node_id).locator(".fh-node-label")).to_have_text(node_id)
        await expect(node(editor, node_id).locator(".fh-node-type")).to_be_visible()
        await expect(node(editor, node_id).locator(".fh-node-type")).to_have_text(node_type)
    await node(editor, "switch-1").locator(".fh-node-label").click()
    await editor.keyboard.press("Delete")
    await expect(node(editor, "switch-1")).to_have_count(0)
    await drop_node(editor, "switch", 200, 440)  # the free number is taken again; never a duplicate
    await expect(node(editor, "switch-1")).to_be_visible()
    await expect(editor.locator('.drawflow-node[data-type="switch"]')).to_have_count(2)
    await screenshot(editor, "readable-ids")
