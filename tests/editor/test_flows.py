"""Flows as files and as pictures: hand-written flows laid out by depth, export and import as YAML, a
conflicting deploy explained instead of overwritten, and the debug panel's filter."""

from __future__ import annotations

import textwrap

import pytest
from playwright.async_api import expect

from .conftest import screenshot
from .helpers import deploy, drop_node, node

HAND_WRITTEN = textwrap.dedent(
    """\
    flowhost: 1
    id: by-hand
    label: Written by hand
    nodes:
      - id: devices
        type: lorawan-simulator
        config: {devEUIs: [78AF580300000345, 78AF580300000346], interval: 200ms}
        wires: {out: [only-345]}
      - id: only-345
        type: filter
        config: {devEUIs: [78AF580300000345]}
        wires: {out: [matched], unmatched: [others]}
      - id: matched
        type: debug
      - id: others
        type: debug
    """
)


async def import_by_api(flowhost, text: str) -> dict:
    async with flowhost.api.post(
        f"{flowhost.url}/api/flows/import", data=text, headers={"Content-Type": "application/yaml"}
    ) as response:
        assert response.status == 201, await response.text()
        return await response.json()


async def test_a_flow_without_layout_opens_in_columns_by_depth_and_debug_filters(editor, flowhost):
    await import_by_api(flowhost, HAND_WRITTEN)
    await editor.goto(f"{flowhost.url}/#flow=by-hand")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    boxes = {n: await node(editor, n).bounding_box() for n in ("devices", "only-345", "matched", "others")}
    assert boxes["devices"]["x"] < boxes["only-345"]["x"] < boxes["matched"]["x"]
    assert boxes["matched"]["x"] == boxes["others"]["x"]
    assert boxes["matched"]["y"] + boxes["matched"]["height"] < boxes["others"]["y"]
    await expect(editor.locator("#deploy")).to_be_disabled()  # laying out is not a change

    entries = editor.locator(".debug-entry")
    await expect(entries.locator(".debug-node", has_text="others")).not_to_have_count(0, timeout=5000)
    await expect(entries.locator(".debug-node", has_text="matched")).not_to_have_count(0, timeout=5000)
    await expect(node(editor, "devices").locator(".fh-node-status")).to_contain_text("2 devices")
    first = entries.first
    await expect(first.locator(".json-children")).to_have_count(0)  # collapsed below the top level
    await first.locator("details.json > summary").first.click()
    await expect(first.locator(".json-children .json-key", has_text="DevEUI:").first).to_be_visible()
    await screenshot(editor, "hand-written-flow")
    await editor.select_option(".debug-filter", "by-hand/others")
    visible_topics = editor.locator(".debug-entry:visible .debug-topic")
    await expect(visible_topics.first).to_be_visible()
    assert set(await visible_topics.all_inner_texts()) == {"78AF580300000346"}
    # Messages keep coming (10 a second): count right after the click, in the page.
    left = await editor.evaluate(
        "() => { document.querySelector('.debug-clear').click();"
        " return document.querySelectorAll('.debug-entry').length; }"
    )
    assert left == 0
    await expect(entries.first).to_be_attached(timeout=5000)  # and new ones come


async def test_export_and_import_yaml(editor, flowhost):
    await import_by_api(flowhost, HAND_WRITTEN)
    await editor.goto(f"{flowhost.url}/#flow=by-hand")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    await editor.click("#export")
    exported = await editor.locator("dialog textarea.yaml").input_value()
    assert "id: by-hand" in exported and "type: lorawan-simulator" in exported
    await screenshot(editor, "export")
    await editor.click('dialog [data-action="close"]')

    await editor.click("#import")
    await editor.fill("#import-text", exported.replace("id: by-hand", "id: copy").replace("Written by hand", "A copy"))
    await editor.click('dialog [data-action="import"]')
    await expect(editor.locator('.flow-tab[data-flow="copy"]')).to_have_class("flow-tab active")
    await expect(node(editor, "only-345")).to_be_visible()
    assert (await flowhost.get("/flows/copy"))["label"] == "A copy"


async def test_a_conflicting_deploy_is_explained_not_overwritten(editor, flowhost, page_errors):
    page_errors.expect_status(409)
    flow = await import_by_api(flowhost, HAND_WRITTEN)
    await editor.goto(f"{flowhost.url}/#flow=by-hand")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    await drop_node(editor, "debug", 700, 420)

    changed = {k: v for k, v in flow.items() if k not in ("rev",)} | {"label": "Changed elsewhere", "rev": flow["rev"]}
    status, _ = await flowhost.send("PUT", "/flows/by-hand", changed)
    assert status == 200

    await editor.click("#deploy")
    dialog = editor.locator("dialog.conflict")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("changed on the server")
    await screenshot(editor, "conflict")
    server = await flowhost.get("/flows/by-hand")
    assert server["label"] == "Changed elsewhere"
    assert [n["id"] for n in server["nodes"]] == ["devices", "only-345", "matched", "others"]

    await dialog.locator('[data-action="reload"]').click()
    await expect(editor.locator(".flow-tab.active")).to_have_text("Changed elsewhere")
    await expect(node(editor, "debug-1")).to_have_count(0)
    await expect(editor.locator("#deploy")).to_be_disabled()


async def test_a_deploy_from_elsewhere_shows_when_nothing_would_be_lost(editor, flowhost):
    flow = await import_by_api(flowhost, HAND_WRITTEN)
    await editor.goto(f"{flowhost.url}/#flow=by-hand")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    changed = {k: v for k, v in flow.items() if k != "rev"} | {"label": "Relabelled by a script", "rev": flow["rev"]}
    status, _ = await flowhost.send("PUT", "/flows/by-hand", changed)
    assert status == 200
    await expect(editor.locator(".flow-tab.active")).to_have_text("Relabelled by a script")
    await expect(editor.locator("#deploy")).to_be_disabled()


async def test_flow_properties_rename_and_delete(editor, flowhost):
    await import_by_api(flowhost, HAND_WRITTEN)
    await editor.goto(f"{flowhost.url}/#flow=by-hand")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    await editor.dblclick(".flow-tab.active")
    await editor.fill("#flow-label", "Sorted by device")
    await editor.fill("#flow-description", "Uplinks of 345 apart from the others")
    await editor.click('dialog [data-action="done"]')
    await expect(editor.locator(".flow-tab.active")).to_have_text("Sorted by device")
    await deploy(editor)
    stored = await flowhost.get("/flows/by-hand")
    assert (stored["label"], stored["description"]) == ("Sorted by device", "Uplinks of 345 apart from the others")

    editor.once("dialog", lambda dialog: dialog.accept())
    await editor.dblclick(".flow-tab.active")
    await editor.click('dialog [data-action="delete-flow"]')
    await expect(editor.locator(".flow-tab.active")).to_have_text("flow-1")
    assert (await flowhost.get("/flows"))["flows"] == []


@pytest.mark.expect_node_errors
async def test_a_node_error_shows_under_the_node_and_in_the_debug_panel(editor, flowhost):
    await editor.click("#import")
    await editor.fill(
        "#import-text",
        textwrap.dedent(
            """\
            flowhost: 1
            id: failing
            nodes:
              - {id: source, type: test-emit, config: {payloads: [fine, bad]}, wires: {out: [picky]}}
              - {id: picky, type: test-collect, config: {delay: 1s, fail_on: bad}}
            """
        ),
    )
    await editor.click('dialog [data-action="import"]')
    await expect(editor.locator('.flow-tab[data-flow="failing"]')).to_have_class("flow-tab active")
    error = editor.locator(".debug-entry.is-error")
    await expect(error).to_contain_text("cannot handle 'bad'", timeout=5000)
    await expect(error.locator(".debug-node")).to_have_text("picky")
    status = node(editor, "picky").locator(".fh-node-status")
    await expect(status).to_have_attribute("data-level", "error")
    await expect(status).to_contain_text("cannot handle 'bad'")
    await screenshot(editor, "node-error")


async def test_an_invalid_import_says_where(editor, flowhost, page_errors):
    page_errors.expect_status(400)
    await editor.click("#import")
    await editor.fill("#import-text", "flowhost: 1\nid: typo\nnodes:\n  - id: a\n    type: lorawan-simulatr\n")
    await editor.click('dialog [data-action="import"]')
    banner = editor.locator("dialog .dialog-banner")
    await expect(banner).to_contain_text("nodes[0].type: unknown node type 'lorawan-simulatr'")
    await expect(banner).to_contain_text("did you mean 'lorawan-simulator'")
    assert (await flowhost.get("/flows"))["flows"] == []


async def test_a_new_flow_can_be_named_before_its_first_deploy(editor, flowhost):
    await editor.dblclick(".flow-tab.active")
    await editor.fill("#flow-id", "gateway-a")
    await editor.fill("#flow-label", "Gateway A")
    await editor.click('dialog [data-action="done"]')
    await expect(editor.locator(".flow-tab.active")).to_have_text("Gateway A")
    await drop_node(editor, "debug", 300, 200)
    await deploy(editor)
    assert (await flowhost.get("/flows/gateway-a"))["label"] == "Gateway A"
    assert editor.url.endswith("#flow=gateway-a")
    await editor.dblclick(".flow-tab.active")
    await expect(editor.locator("#flow-id")).to_have_attribute("readonly", "")


async def test_a_new_flow_whose_id_was_taken_meanwhile_is_not_deployed(editor, flowhost, page_errors):
    page_errors.expect_status(409)
    await drop_node(editor, "debug", 300, 200)
    await import_by_api(flowhost, "flowhost: 1\nid: flow-1\nlabel: Someone else's\nnodes: []\n")
    await editor.click("#deploy")
    await expect(editor.locator(".toast.level-error")).to_contain_text("Give this flow another id")
    assert (await flowhost.get("/flows/flow-1"))["label"] == "Someone else's"
