"""Search over the nodes of all flows: by id, name, type or a config value; a result opens its flow with the node
selected in the middle of the view; the flow being edited is searched with its undeployed edits."""

from __future__ import annotations

import re

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import drop_node, node
from .test_flows import import_by_api

KITCHEN = """\
flowhost: 1
id: kitchen
label: Kitchen sensors
nodes:
  - id: devices
    type: lorawan-simulator
    config: {devEUIs: [78AF580300000345], interval: 1h}
    wires: {out: [only-tagged]}
  - id: only-tagged
    name: Tagged kitchen
    type: filter
    config: {tags: [kitchen-north]}
layout:
  devices: {x: 100, y: 80}
  only-tagged: {x: 1400, y: 900}
"""
CELLAR = """\
flowhost: 1
id: cellar
label: Cellar
nodes:
  - id: cellar-devices
    type: lorawan-simulator
    config: {devEUIs: [78AF580300000345, 78AF580300000999], interval: 1h}
"""


async def test_search_finds_nodes_of_every_flow_and_opens_the_one_picked(editor, flowhost):
    await import_by_api(flowhost, CELLAR)
    await import_by_api(flowhost, KITCHEN)
    await editor.goto(f"{flowhost.url}/#flow=cellar")
    await editor.reload()
    await editor.wait_for_selector("body.ready")

    await editor.keyboard.press("Control+f")
    search = editor.locator("dialog.node-search")
    await expect(search).to_be_visible()
    await search.locator("#node-search").fill("78af580300000345")
    results = search.locator(".search-result")
    await expect(results).to_have_count(2)
    await expect(search.locator(".search-summary")).to_have_text("2 nodes in 2 flows")
    await expect(results.first).to_contain_text("config.devEUIs")

    await search.locator("#node-search").fill("north")
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text("Kitchen sensors \u203a Tagged kitchen")
    await expect(results.first).to_contain_text('config.tags: ["kitchen-north"]')
    await screenshot(editor, "search")
    await results.first.locator("button").click()
    await expect(search).to_be_hidden()
    await expect(editor.locator(".flow-tab.active")).to_have_text("Kitchen sensors")
    picked = node(editor, "only-tagged")
    await expect(picked).to_have_class(re.compile(r"\bselected\b"))
    box, canvas = await picked.bounding_box(), await editor.locator("#canvas").bounding_box()
    assert canvas["x"] < box["x"] and box["x"] + box["width"] < canvas["x"] + canvas["width"]  # panned into view
    assert canvas["y"] < box["y"] and box["y"] + box["height"] < canvas["y"] + canvas["height"]
    await drop_node(editor, "debug", 400, 300)  # not deployed: found all the same
    await editor.click("#search")
    await search.locator("#node-search").fill("debug")
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text("Kitchen sensors \u203a debug")
    await search.locator('[data-action="close"]').click()
