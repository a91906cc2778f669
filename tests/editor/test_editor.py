"""The editor in a real Chromium: palette, canvas editing, schema forms, connections, deploy, live debug."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .conftest import TOKEN, screenshot
from .helpers import deploy, drop_node, field, node, open_node, wire, wires

DEVICE = "78AF580300000345"


async def test_the_token_url_logs_in_and_the_palette_lists_every_node_type(editor, flowhost):
    assert editor.url == f"{flowhost.url}/" or editor.url.startswith(f"{flowhost.url}/#")
    types = await flowhost.get("/node-types")
    node_types = types["nodeTypes"]
    palette = editor.locator(".palette-node")
    await expect(palette).to_have_count(len(node_types))
    for node_type in node_types:
        group = editor.locator(f'.palette-group[data-category="{node_type["category"]}"]')
        item = group.locator(f'[data-type="{node_type["type"]}"]')
        await expect(item).to_have_count(1)
    await editor.fill(".palette-filter", "simul")
    await expect(palette).to_have_count(1)
    await expect(palette).to_have_attribute("data-type", "lorawan-simulator")
    await editor.fill(".palette-filter", "")
    await expect(palette).to_have_count(len(node_types))
    await screenshot(editor, "empty")


async def test_without_the_token_the_editor_asks_for_it(browser, flowhost, page_errors):
    page_errors.expect_status(401)
    context = await browser.new_context()
    page = await context.new_page()
    page.on("pageerror", page_errors.on_page_error)
    page.on("console", page_errors.on_console)
    await page.goto(f"{flowhost.url}/")
    await expect(page.locator(".login-card")).to_be_visible()
    await screenshot(page, "login")
    await page.fill(".login input[name=token]", TOKEN)
    await page.click(".login button")
    await page.wait_for_selector("body.ready")
    await context.close()
    assert not page_errors.errors, page_errors.errors


async def test_drag_wire_move_delete_undo_redo(editor, flowhost):
    await drop_node(editor, "lorawan-simulator", 160, 160)
    await drop_node(editor, "debug", 480, 200)
    await expect(node(editor, "lorawan-simulator-1")).to_be_visible()
    await expect(node(editor, "debug-1")).to_be_visible()
    await expect(editor.locator("#deploy")).to_be_enabled()

    await wire(editor, "lorawan-simulator-1", "out", "debug-1")
    await expect(wires(editor)).to_have_count(1)

    box = await node(editor, "debug-1").bounding_box()
    await editor.mouse.move(box["x"] + 60, box["y"] + 15)
    await editor.mouse.down()
    await editor.mouse.move(box["x"] + 160, box["y"] + 115, steps=6)
    await editor.mouse.up()
    moved = await node(editor, "debug-1").bounding_box()
    assert (moved["x"] - box["x"], moved["y"] - box["y"]) == pytest.approx((100, 100), abs=1)

    await editor.locator(".drawflow .connection .main-path").click(force=True)
    await editor.keyboard.press("Delete")
    await expect(wires(editor)).to_have_count(0)
    await editor.keyboard.press("Delete")
    await editor.keyboard.press("Control+z")
    await expect(wires(editor)).to_have_count(1)

    await node(editor, "debug-1").locator(".fh-node-label").click()
    await editor.keyboard.press("Delete")
    await expect(node(editor, "debug-1")).to_have_count(0)
    await editor.keyboard.press("Delete")  # nothing is selected any more
    await expect(wires(editor)).to_have_count(0)
    await editor.click("#undo")
    await expect(node(editor, "debug-1")).to_have_count(1)
    await expect(wires(editor)).to_have_count(1)
    await editor.click("#redo")
    await expect(node(editor, "debug-1")).to_have_count(0)
    await editor.click("#undo")
    # A node selected before an undo is not selected after it: Delete then does nothing (and fails nowhere).
    await node(editor, "lorawan-simulator-1").locator(".fh-node-label").click()
    await editor.keyboard.press("Control+z")
    await editor.keyboard.press("Control+y")
    await editor.locator("#canvas").press("Delete")
    await expect(node(editor, "lorawan-simulator-1")).to_have_count(1)

    # Pan by dragging the background; zoom with the buttons and the wheel.
    before = await node(editor, "lorawan-simulator-1").bounding_box()
    canvas = await editor.locator("#canvas").bounding_box()
    await editor.mouse.move(canvas["x"] + canvas["width"] - 60, canvas["y"] + canvas["height"] - 80)
    await editor.mouse.down()
    await editor.mouse.move(canvas["x"] + canvas["width"] - 20, canvas["y"] + canvas["height"] - 40, steps=5)
    await editor.mouse.up()
    after = await node(editor, "lorawan-simulator-1").bounding_box()
    assert (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((40, 40), abs=2)
    await editor.click("#zoom-in")
    await expect(editor.locator("#zoom-level")).to_have_text("110%")
    simulator = await node(editor, "lorawan-simulator-1").bounding_box()
    await editor.mouse.move(simulator["x"] + 20, simulator["y"] + 10)
    await editor.mouse.wheel(0, 120)
    await expect(editor.locator("#zoom-level")).to_have_text("100%")
    await editor.mouse.wheel(0, -120)
    await editor.mouse.wheel(0, -120)
    await expect(editor.locator("#zoom-level")).to_have_text("120%")
    # Zoomed at the pointer: the point under it stays, the node's corner (20, 10) px away moves by 120/110.
    zoomed = await node(editor, "lorawan-simulator-1").bounding_box()
    expected = (simulator["x"] + 20 - 20 * 12 / 11, simulator["y"] + 10 - 10 * 12 / 11)
    assert (zoomed["x"], zoomed["y"]) == pytest.approx(expected, abs=0.6)
    await editor.click("#zoom-out")
    await expect(editor.locator("#zoom-level")).to_have_text("110%")
    # Dropped at a zoom, a node lands under the pointer.
    await drop_node(editor, "filter", 400, 420)
    dropped = await node(editor, "filter-1").bounding_box()
    # (positions snap to a 10-unit grid: 11 pixels at 110 %)
    assert (dropped["x"], dropped["y"]) == pytest.approx((canvas["x"] + 400 - 88, canvas["y"] + 420 - 22), abs=6)
    await node(editor, "filter-1").locator(".fh-node-label").click()
    await editor.keyboard.press("Delete")
    await editor.click("#zoom-reset")
    await expect(editor.locator("#zoom-level")).to_have_text("100%")

    # Deploy saves the layout with the flow.
    simulator = await open_node(editor, "lorawan-simulator-1")
    await field(simulator, "count").locator("input").fill("2")
    await simulator.locator('[data-action="done"]').click()
    await expect(simulator).to_be_hidden()
    await deploy(editor)
    [flow] = (await flowhost.get("/flows"))["flows"]
    saved = await flowhost.get(f"/flows/{flow['id']}")
    assert [n["id"] for n in saved["nodes"]] == ["lorawan-simulator-1", "debug-1"]
    assert saved["nodes"][0]["wires"] == {"out": ["debug-1"]}
    assert set(saved["layout"]) == {"lorawan-simulator-1", "debug-1"}
    shown = await node(editor, "debug-1").evaluate("e => ({x: e.offsetLeft, y: e.offsetTop})")
    assert saved["layout"]["debug-1"] == shown  # where it is drawn, on the 10-unit grid
    assert shown["x"] % 10 == 0 and shown["y"] % 10 == 0


async def test_forms_come_from_the_schema_and_errors_show_at_their_field(editor, flowhost):
    await drop_node(editor, "lorawan-simulator", 200, 200)
    dialog = await open_node(editor, "lorawan-simulator-1")
    interval = field(dialog, "interval")
    await expect(interval.locator("input")).to_have_value("10s")  # the schema's default
    fport = field(dialog, "fPort").locator("input")
    await expect(fport).to_have_attribute("type", "number")
    await expect(fport).to_have_attribute("min", "1")
    await expect(fport).to_have_attribute("max", "223")
    await expect(field(dialog, "devEUIs").locator("textarea")).to_be_visible()

    await field(dialog, "devEUIs").locator("textarea").fill(f"{DEVICE}\nnot-a-deveui")
    await interval.locator("input").fill("soon")
    await dialog.locator('[data-action="done"]').click()
    await expect(interval.locator(".field-error")).to_contain_text("duration")
    await expect(field(dialog, "devEUIs").locator(".field-error")).not_to_be_empty()
    await expect(node(editor, "lorawan-simulator-1")).to_have_class(re.compile(r"\binvalid\b"))
    await expect(editor.locator("#problems")).to_have_text("1 problem")
    await screenshot(editor, "field-errors")

    await interval.locator("input").press("Backspace")
    await interval.locator("input").press("Delete")
    await expect(node(editor, "lorawan-simulator-1")).to_have_count(1)  # keys in a form never delete the node
    await interval.locator("input").fill("2s")
    await field(dialog, "devEUIs").locator("textarea").fill(DEVICE)
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await expect(node(editor, "lorawan-simulator-1")).not_to_have_class(re.compile(r"\binvalid\b"))
    await expect(editor.locator("#problems")).to_be_hidden()


async def test_an_invalid_flow_is_not_deployed_and_undo_takes_back_a_dialog_edit(editor, flowhost, page_errors):
    page_errors.expect_status(400)
    await drop_node(editor, "lorawan-simulator", 200, 200)
    dialog = await open_node(editor, "lorawan-simulator-1")
    await field(dialog, "count").locator("input").fill("3")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await expect(node(editor, "lorawan-simulator-1")).not_to_have_class(re.compile(r"\binvalid\b"))

    dialog = await open_node(editor, "lorawan-simulator-1")
    await field(dialog, "interval").locator("input").fill("now")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog.locator('[data-action="done"]')).to_have_text("Keep anyway")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await expect(node(editor, "lorawan-simulator-1")).to_have_class(re.compile(r"\binvalid\b"))
    await editor.click("#problems")  # opens the node, its error at its field
    dialog = editor.locator("dialog.node-dialog")
    await expect(field(dialog, "interval").locator(".field-error")).to_contain_text("'now' is not a duration")
    await dialog.locator('[data-action="cancel"]').click()

    await editor.click("#deploy")
    problems = editor.locator("dialog.deploy-problems")
    await expect(problems).to_contain_text("Not deployed: 1 problem")
    await expect(problems).to_contain_text("interval: 'now' is not a duration")
    await problems.locator('[data-action="close"]').click()
    assert (await flowhost.get("/flows"))["flows"] == []

    await editor.click("#undo")
    await expect(node(editor, "lorawan-simulator-1")).not_to_have_class(re.compile(r"\binvalid\b"))
    dialog = await open_node(editor, "lorawan-simulator-1")
    await expect(field(dialog, "interval").locator("input")).to_have_value("10s")
    await dialog.locator('[data-action="cancel"]').click()
    await deploy(editor)
    [flow] = (await flowhost.get("/flows"))["flows"]
    assert (await flowhost.get(f"/flows/{flow['id']}"))["nodes"][0]["config"] == {"count": 3}


async def test_copy_paste_and_duplicate_a_node(editor, flowhost):
    await drop_node(editor, "lorawan-simulator", 200, 160)
    dialog = await open_node(editor, "lorawan-simulator-1")
    await field(dialog, "count").locator("input").fill("5")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await node(editor, "lorawan-simulator-1").locator(".fh-node-label").click()
    await editor.keyboard.press("Control+c")
    await editor.keyboard.press("Control+v")
    await expect(node(editor, "lorawan-simulator-2")).to_be_visible()
    original = await node(editor, "lorawan-simulator-1").bounding_box()
    pasted = await node(editor, "lorawan-simulator-2").bounding_box()
    assert (pasted["x"] - original["x"], pasted["y"] - original["y"]) == (40, 40)
    pasted_dialog = await open_node(editor, "lorawan-simulator-2")
    await expect(field(pasted_dialog, "count").locator("input")).to_have_value("5")
    await pasted_dialog.locator('[data-action="cancel"]').click()

    await node(editor, "lorawan-simulator-2").locator(".fh-node-label").click()
    await editor.keyboard.press("Control+d")
    await expect(node(editor, "lorawan-simulator-3")).to_be_visible()
    await editor.keyboard.press("Control+z")
    await expect(node(editor, "lorawan-simulator-3")).to_have_count(0)
    await expect(node(editor, "lorawan-simulator-2")).to_have_count(1)


async def test_several_nodes_selected_together_move_copy_and_delete_as_one(editor, flowhost):
    await drop_node(editor, "lorawan-simulator", 160, 160)
    await drop_node(editor, "temp-hum-decoder", 440, 160)
    await drop_node(editor, "debug", 440, 360)
    await wire(editor, "lorawan-simulator-1", "out", "temp-hum-decoder-1")
    await wire(editor, "temp-hum-decoder-1", "out", "debug-1")
    await expect(wires(editor)).to_have_count(2)
    simulator = await open_node(editor, "lorawan-simulator-1")
    await field(simulator, "count").locator("input").fill("2")
    await simulator.locator('[data-action="done"]').click()
    await expect(simulator).to_be_hidden()

    await node(editor, "lorawan-simulator-1").locator(".fh-node-label").click()
    await node(editor, "temp-hum-decoder-1").locator(".fh-node-label").click(modifiers=["Shift"])
    await expect(editor.locator(".drawflow-node.grouped")).to_have_count(2)
    before = {
        name: await node(editor, name).bounding_box()
        for name in ("lorawan-simulator-1", "temp-hum-decoder-1", "debug-1")
    }
    box = before["temp-hum-decoder-1"]
    await editor.mouse.move(box["x"] + 60, box["y"] + 15)
    await editor.mouse.down()
    await editor.mouse.move(box["x"] + 160, box["y"] + 75, steps=6)
    await editor.mouse.up()
    after = {name: await node(editor, name).bounding_box() for name in before}
    for name in ("lorawan-simulator-1", "temp-hum-decoder-1"):  # both moved by the drag of one
        assert (after[name]["x"] - before[name]["x"], after[name]["y"] - before[name]["y"]) == pytest.approx(
            (100, 60), abs=1
        )
    assert after["debug-1"] == before["debug-1"]  # not selected: stays

    # Copy the two: the wire between them comes along, the one to the node left out does not.
    await editor.keyboard.press("Control+c")
    await editor.keyboard.press("Control+v")
    await expect(node(editor, "lorawan-simulator-2")).to_be_visible()
    await expect(node(editor, "temp-hum-decoder-2")).to_be_visible()
    await expect(wires(editor)).to_have_count(3)
    await expect(editor.locator(".drawflow-node.grouped")).to_have_count(2)  # the pasted ones, now selected
    await expect(editor.locator(".drawflow-node.selected")).to_have_count(0)  # and only they
    await screenshot(editor, "several-selected")
    # Shift+click takes one out again; Delete then removes just the other one.
    await node(editor, "temp-hum-decoder-2").locator(".fh-node-label").click(modifiers=["Shift"])
    await expect(editor.locator(".drawflow-node.grouped")).to_have_count(0)  # one left: a plain selection
    await node(editor, "lorawan-simulator-2").locator(".fh-node-label").click()
    await editor.keyboard.press("Delete")
    await expect(node(editor, "lorawan-simulator-2")).to_have_count(0)
    await expect(node(editor, "temp-hum-decoder-2")).to_have_count(1)
    await editor.keyboard.press("Control+z")
    await expect(node(editor, "lorawan-simulator-2")).to_have_count(1)

    # A click on the background ends the selection; Ctrl+A selects everything; Delete removes it all at once,
    # and one undo brings it all back.
    await editor.locator("#canvas").click(position={"x": 30, "y": 30})
    await expect(editor.locator(".drawflow-node.grouped")).to_have_count(0)
    await editor.keyboard.press("Control+a")
    await expect(editor.locator(".drawflow-node.grouped")).to_have_count(5)
    await editor.keyboard.press("Delete")
    await expect(editor.locator(".drawflow-node")).to_have_count(0)
    await expect(wires(editor)).to_have_count(0)
    await editor.keyboard.press("Control+z")
    await expect(editor.locator(".drawflow-node")).to_have_count(5)
    await expect(wires(editor)).to_have_count(3)
    await deploy(editor)
    [flow] = (await flowhost.get("/flows"))["flows"]
    saved = await flowhost.get(f"/flows/{flow['id']}")
    wired = {
        (item["id"], port, target)
        for item in saved["nodes"]
        for port, targets in item.get("wires", {}).items()  # a node without wires has none written
        for target in targets
    }
    assert wired == {
        ("lorawan-simulator-1", "out", "temp-hum-decoder-1"),
        ("temp-hum-decoder-1", "out", "debug-1"),
        ("lorawan-simulator-2", "out", "temp-hum-decoder-2"),
    }
    moved = await node(editor, "temp-hum-decoder-1").evaluate("e => ({x: e.offsetLeft, y: e.offsetTop})")
    assert saved["layout"]["temp-hum-decoder-1"] == moved  # the group's move reached the flow's layout


async def test_a_wire_released_outside_the_canvas_is_dropped(editor, flowhost):
    await drop_node(editor, "lorawan-simulator", 160, 160)
    port = await node(editor, "lorawan-simulator-1").locator(".output").bounding_box()
    sidebar = await editor.locator(".sidebar").bounding_box()
    await editor.mouse.move(port["x"] + 5, port["y"] + 5)
    await editor.mouse.down()
    await editor.mouse.move(sidebar["x"] + 100, sidebar["y"] + 300, steps=8)
    await editor.mouse.up()
    await expect(wires(editor)).to_have_count(0)
    await drop_node(editor, "debug", 480, 200)
    await wire(editor, "lorawan-simulator-1", "out", "debug-1")
    await expect(wires(editor)).to_have_count(1)
