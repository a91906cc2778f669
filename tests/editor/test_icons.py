"""An icon per node type, on the canvas and in the palette: inline SVG chosen by type, family or category."""

from __future__ import annotations

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import drop_node, node


async def test_each_node_type_has_its_icon_on_the_canvas_and_in_the_palette(editor, flowhost):
    expected = {"inject": "inject", "switch": "switch", "debug": "debug", "mqtt-out": "mqtt", "http-uplink": "http"}
    for index, node_type in enumerate(expected):
        await drop_node(editor, node_type, 160 + 260 * (index % 3), 120 + 140 * (index // 3))
    for node_type, icon in expected.items():
        drawn = node(editor, f"{node_type}-1").locator(".fh-node-icon svg")
        await expect(drawn).to_have_attribute("data-icon", icon)
        await expect(drawn).to_be_visible()
        listed = editor.locator(f'.palette-node[data-type="{node_type}"] .palette-icon svg')
        await expect(listed).to_have_attribute("data-icon", icon)
    # A plugin's type this editor knows nothing about gets its category's icon (the test plugin's relay).
    await expect(editor.locator('.palette-node[data-type="test-relay"] svg')).to_have_attribute("data-icon", "function")
    names = await editor.locator(".palette-node svg").evaluate_all("svgs => svgs.map(s => s.dataset.icon)")
    assert len(names) == await editor.locator(".palette-node").count() and all(names)
    # Every icon draws something: a path with a real box, not an empty one.
    sizes = await editor.locator(".palette-node svg path").evaluate_all(
        "paths => paths.map(p => { const b = p.getBBox(); return b.width * b.height; })"
    )
    assert all(size > 4 for size in sizes), sizes
    await screenshot(editor, "icons")
