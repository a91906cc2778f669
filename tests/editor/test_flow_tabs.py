"""The flow tabs: the flow being edited shows its whole label, however long, beside other flows."""

from __future__ import annotations

from playwright.async_api import expect

from .conftest import screenshot
from .test_flows import import_by_api

LONG_LABEL = "Simulated LoRaWAN devices through the local broker and back"


async def test_the_active_tab_shows_its_whole_label(editor, flowhost):
    for flow_id, label in (("first", "A first flow with a rather long label too"), ("demo", LONG_LABEL)):
        await import_by_api(
            flowhost, f"flowhost: 1\nid: {flow_id}\nlabel: {label}\nnodes:\n  - {{id: d, type: debug}}\n"
        )
    await editor.goto(f"{flowhost.url}/#flow=demo")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    tab = editor.locator(".flow-tab.active")
    await expect(tab).to_have_text(LONG_LABEL)
    widths = await tab.evaluate("tab => [tab.scrollWidth, tab.clientWidth]")
    assert widths[0] <= widths[1], widths  # nothing cut off
    await expect(tab).to_have_attribute("title", f"{LONG_LABEL} (demo) · double-click for its properties")
    other = editor.locator('.flow-tab[data-flow="first"]')
    await expect(other).to_be_visible()
    await expect(other).to_have_attribute(
        "title", "A first flow with a rather long label too (first) · double-click for its properties"
    )
    await screenshot(editor, "flow-tabs")
