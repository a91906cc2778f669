"""A node's problems in the editor: a cancelled edit leaves no mark, "Keep anyway" becomes "Done" again once the
value is right, and a refused deploy says what is wrong and where, until the user closes it or opens the node."""

from __future__ import annotations

import re

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import drop_node, field, node, open_node
from .test_flows import import_by_api

INVALID = re.compile(r"\binvalid\b")

DEPLOYED = """\
flowhost: 1
id: steady
label: Deployed and unchanged
nodes:
  - id: devices
    type: lorawan-simulator
    config: {devEUIs: [78AF580300000345], interval: 1h}
    wires: {out: [console]}
  - id: console
    type: debug
"""


async def open_flow(editor, flowhost, flow_id: str) -> None:
    await editor.goto(f"{flowhost.url}/#flow={flow_id}")
    await editor.reload()
    await editor.wait_for_selector("body.ready")


async def test_cancel_after_a_refused_done_leaves_the_deployed_flow_unmarked(editor, flowhost):
    await import_by_api(flowhost, DEPLOYED)
    await open_flow(editor, flowhost, "steady")
    await expect(editor.locator("#deploy")).to_have_text("Deployed")
    dialog = await open_node(editor, "devices")
    await field(dialog, "interval").locator("input").fill("soon")
    await dialog.locator('[data-action="done"]').click()
    await expect(field(dialog, "interval").locator(".field-error")).to_contain_text("duration")
    # the candidate is not the flow: the canvas and the bar say nothing while the dialog is open
    await expect(node(editor, "devices")).not_to_have_class(INVALID)
    await expect(editor.locator("#problems")).to_be_hidden()
    await dialog.locator('[data-action="cancel"]').click()
    await expect(dialog).to_be_hidden()
    await expect(node(editor, "devices")).not_to_have_class(INVALID)
    await expect(editor.locator("#problems")).to_be_hidden()
    await expect(editor.locator("#deploy")).to_have_text("Deployed")
    await screenshot(editor, "cancelled-edit-unmarked")


async def test_keep_anyway_turns_back_into_done_once_the_value_is_fixed(editor, flowhost):
    await import_by_api(flowhost, DEPLOYED)
    await open_flow(editor, flowhost, "steady")
    dialog = await open_node(editor, "devices")
    done = dialog.locator('[data-action="done"]')
    interval = field(dialog, "interval")
    await interval.locator("input").fill("soon")
    await done.click()
    await expect(done).to_have_text("Keep anyway")
    await screenshot(editor, "keep-anyway")
    await interval.locator("input").fill("5s")
    await expect(done).to_have_text("Done")
    await expect(done).not_to_have_class(re.compile(r"\bwarn\b"))
    await expect(interval.locator(".field-error")).to_be_empty()  # checked again: the error left its field
    await expect(dialog.locator(".dialog-banner")).to_be_hidden()
    await screenshot(editor, "fixed-done-again")
    await done.click()
    await expect(dialog).to_be_hidden()
    await expect(node(editor, "devices")).not_to_have_class(INVALID)
    await expect(editor.locator("#deploy")).to_have_text("Deploy")

    dialog = await open_node(editor, "devices")  # still invalid after an edit: Done checks again first
    await field(dialog, "interval").locator("input").fill("later")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog.locator('[data-action="done"]')).to_have_text("Keep anyway")
    await field(dialog, "interval").locator("input").fill("laterr")
    await expect(dialog.locator('[data-action="done"]')).to_have_text("Done")
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog.locator('[data-action="done"]')).to_have_text("Keep anyway")
    await expect(field(dialog, "interval").locator(".field-error")).to_contain_text("'laterr'")
    await dialog.locator('[data-action="cancel"]').click()


async def test_a_refused_deploy_names_each_node_and_field_and_opens_the_node(editor, flowhost, page_errors):
    page_errors.expect_status(400)
    await drop_node(editor, "lorawan-simulator", 200, 200)
    await drop_node(editor, "filter", 460, 200)  # unconfigured: a filter needs a matcher
    await drop_node(editor, "debug", 720, 200)
    await editor.click("#deploy")
    problems = editor.locator("dialog.deploy-problems")
    await expect(problems).to_be_visible()
    await screenshot(editor, "deploy-problems")
    await expect(problems.locator("h2")).to_have_text("Not deployed: 2 problems")
    await expect(problems.locator('.problem[data-node="lorawan-simulator-1"]')).to_contain_text("lorawan-simulator")
    entry = problems.locator('.problem[data-node="filter-1"]')
    await expect(entry).to_contain_text("filter")
    await expect(entry.locator(".problem-messages")).to_contain_text("give at least one of devEUIs, fPorts, tags")
    await expect(editor.locator(".toast.level-error")).to_have_count(0)
    assert (await flowhost.get("/flows"))["flows"] == []

    await entry.locator(".problem-node").click()
    await expect(problems).to_be_hidden()
    dialog = editor.locator("dialog.node-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".dialog-banner")).to_contain_text("give at least one of devEUIs, fPorts, tags")
    await dialog.locator('[data-action="cancel"]').click()
    await expect(node(editor, "filter-1")).to_have_class(INVALID)  # the deployed-to-be flow has the problem


async def test_deploy_with_the_invalid_nodes_disabled_and_enable_one_once_fixed(editor, flowhost, page_errors):
    page_errors.expect_status(400)
    await import_by_api(flowhost, DEPLOYED)
    await open_flow(editor, flowhost, "steady")
    await drop_node(editor, "filter", 520, 320)  # unconfigured
    await editor.click("#deploy")
    problems = editor.locator("dialog.deploy-problems")
    offer = problems.locator('[data-action="deploy-disabled"]')
    await expect(offer).to_have_text("Deploy with this node disabled")
    await offer.click()
    await expect(problems).to_be_hidden()
    await expect(editor.locator("#deploy")).to_have_text("Deployed")
    filter_node = node(editor, "filter-1")
    await expect(filter_node).to_have_class(re.compile(r"\bdisabled\b"))
    await expect(filter_node).not_to_have_class(INVALID)
    await expect(filter_node.locator(".fh-node-status")).to_contain_text("disabled: not run")
    await screenshot(editor, "deployed-with-a-node-disabled")
    saved = flowhost.runtime.data_dir / "flows" / "steady.yaml"
    assert "  - id: filter-1\n    type: filter\n    disabled: true\n" in saved.read_text()
    assert set(flowhost.runtime.flows["steady"].nodes) == {"devices", "console"}

    dialog = await open_node(editor, "filter-1")
    await expect(dialog.locator("#node-disabled")).to_be_checked()
    await field(dialog, "tags").locator("textarea").fill("kitchen")
    await dialog.locator("#node-disabled").uncheck()
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await expect(filter_node).not_to_have_class(re.compile(r"\bdisabled\b"))
    await editor.click("#deploy")
    await expect(editor.locator("#deploy")).to_have_text("Deployed")
    assert "disabled" not in saved.read_text()
    assert set(flowhost.runtime.flows["steady"].nodes) == {"devices", "console", "filter-1"}
