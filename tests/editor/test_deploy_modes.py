"""Deploy all flows with changes, or only the one shown (the choice next to Deploy): edits of a flow are kept
while another is shown (its tab has a dot), and deployed with the others or on their own."""

from __future__ import annotations

import re

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import drop_node, node
from .test_flows import import_by_api

DIRTY = re.compile(r"\bdirty\b")


def flow_text(flow_id: str) -> str:
    return f"flowhost: 1\nid: {flow_id}\nlabel: Flow {flow_id}\nnodes:\n  - {{id: d, type: debug}}\n"


async def node_ids(flowhost, flow_id: str) -> list[str]:
    return [n["id"] for n in (await flowhost.get(f"/flows/{flow_id}"))["nodes"]]


async def edit_both(editor) -> None:
    """Drop a node into flow a, go to flow b (a keeps its edit) and drop one there."""
    await editor.locator('.flow-tab[data-flow="a"]').click()
    await expect(editor.locator(".flow-tab.active")).to_have_attribute("data-flow", "a")
    await drop_node(editor, "debug", 400, 300)
    await editor.locator('.flow-tab[data-flow="b"]').click()
    await expect(editor.locator(".flow-tab.active")).to_have_attribute("data-flow", "b")
    await expect(editor.locator('.flow-tab[data-flow="a"]')).to_have_class(DIRTY)  # its edit is kept
    await drop_node(editor, "debug", 400, 300)


async def choose(editor, mode: str) -> None:
    await editor.locator("#deploy-mode").click()
    menu = editor.locator("#deploy-menu")
    await expect(menu).to_be_visible()
    await menu.locator(f'[data-mode="{mode}"]').click()
    await expect(menu).to_be_hidden()


async def test_deploy_all_flows_with_changes_or_only_this_one(editor, flowhost):
    for flow_id in ("a", "b"):
        await import_by_api(flowhost, flow_text(flow_id))
    await editor.reload()
    await editor.wait_for_selector("body.ready")

    await edit_both(editor)
    await expect(editor.locator("#deploy")).to_have_text("Deploy 2 flows")  # the default: all with changes
    await editor.locator("#deploy-mode").click()
    await expect(editor.locator('#deploy-menu [data-mode="changed"]')).to_have_attribute("aria-checked", "true")
    await screenshot(editor, "deploy-modes")
    await editor.locator("#deploy-mode").click()
    await editor.locator("#deploy").click()
    await expect(editor.locator("#deploy")).to_have_text("Deployed")
    assert await node_ids(flowhost, "a") == ["d", "debug-1"]
    assert await node_ids(flowhost, "b") == ["d", "debug-1"]
    await expect(editor.locator(".flow-tab.active")).to_have_attribute("data-flow", "b")  # back where it began
    await expect(editor.locator(".flow-tab.dirty")).to_have_count(0)

    await choose(editor, "flow")
    await edit_both(editor)
    await expect(editor.locator("#deploy")).to_have_text("Deploy")
    await editor.locator("#deploy").click()
    await expect(editor.locator("#deploy")).to_have_text("Deployed")
    assert await node_ids(flowhost, "b") == ["d", "debug-1", "debug-2"]
    assert await node_ids(flowhost, "a") == ["d", "debug-1"]  # not deployed: still an edit here
    await expect(editor.locator('.flow-tab[data-flow="a"]')).to_have_class(DIRTY)
    await editor.locator('.flow-tab[data-flow="a"]').click()
    await expect(node(editor, "debug-2")).to_be_visible()  # the kept edit
    await expect(editor.locator("#undo")).to_be_enabled()  # with its undo history
    await expect(editor.locator("#deploy")).to_have_text("Deploy")
    await editor.locator("#deploy").click()
    await expect(editor.locator("#deploy")).to_have_text("Deployed")
    assert await node_ids(flowhost, "a") == ["d", "debug-1", "debug-2"]
