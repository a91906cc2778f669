"""Ports from the config: a switch has one output port per rule plus `otherwise`, drawn from the server's answer
(`outputs` of a running node, `POST /api/node-types/switch/outputs` after an edit), named on hover, wired by
mouse; editing the rules redraws them, and the wires of a port that is gone are removed, with an undo."""

from __future__ import annotations

import json
import textwrap

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import deploy, drop_node, field, node, open_node, wire, wires
from .test_flows import import_by_api

ROUTED = textwrap.dedent(
    """\
    flowhost: 1
    id: routed
    nodes:
      - id: devices
        type: lorawan-simulator
        config: {devEUIs: [78AF580300000345], interval: 1h}
        wires: {out: [route]}
      - id: route
        type: switch
        config:
          property: payload.DevEUI_uplink.FPort
          rules:
            - {name: port-1, operator: ==, value: 1}
            - {name: port-2, operator: ==, value: 2}
        wires: {port-1: [first], port-2: [second], otherwise: [rest]}
      - id: first
        type: debug
      - id: second
        type: debug
      - id: rest
        type: debug
    """
)


def ports(page, node_id: str):
    return node(page, node_id).locator(".outputs .output")


async def test_a_switch_has_a_port_per_rule_and_editing_the_rules_redraws_them(editor, flowhost):
    await import_by_api(flowhost, ROUTED)
    await editor.goto(f"{flowhost.url}/#flow=routed")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    route_ports = ports(editor, "route")
    await expect(route_ports).to_have_count(3)
    assert [await p.get_attribute("data-port") for p in await route_ports.all()] == ["port-1", "port-2", "otherwise"]
    await expect(route_ports.nth(1)).to_have_attribute("title", "port-2")  # the name on hover
    await expect(wires(editor)).to_have_count(4)
    await expect(editor.locator("#deploy")).to_be_disabled()

    dialog = await open_node(editor, "route")
    rules = field(dialog, "rules").locator("textarea")
    assert json.loads(await rules.input_value())[1]["name"] == "port-2"
    new_rules = [
        {"name": "port-1", "operator": "==", "value": 1},
        {"name": "port-3", "operator": "==", "value": 3},
        {"name": "port-4", "operator": "==", "value": 4},
    ]
    await rules.fill(json.dumps(new_rules))
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await expect(route_ports).to_have_count(4)
    assert [await p.get_attribute("data-port") for p in await route_ports.all()] == [
        "port-1",
        "port-3",
        "port-4",
        "otherwise",
    ]
    await expect(wires(editor)).to_have_count(3)  # port-2's wire is gone
    notice = editor.locator(".toast", has_text="Removed the wires of “port-2”")
    await expect(notice).to_be_visible()
    await screenshot(editor, "switch-ports")
    await notice.click(position={"x": 8, "y": 8})  # a click dismisses it (it covers the ports)
    await expect(notice).to_have_count(0)

    await wire(editor, "route", "port-3", "second")  # a new port takes a wire
    await expect(wires(editor)).to_have_count(4)
    await deploy(editor)
    saved = next(n for n in (await flowhost.get("/flows/routed"))["nodes"] if n["id"] == "route")
    assert saved["wires"] == {"port-1": ["first"], "port-3": ["second"], "otherwise": ["rest"]}
    status = await flowhost.get("/flows/routed/status")
    assert status["nodes"]["route"]["outputs"] == ["port-1", "port-3", "port-4", "otherwise"]

    await editor.locator("#undo").click()  # the new wire
    await editor.locator("#undo").click()  # the rules edit: port-2 and its wire are back
    await expect(route_ports).to_have_count(3)
    await expect(node(editor, "route").locator('.output[data-port="port-2"]')).to_be_attached()
    await expect(wires(editor)).to_have_count(4)


async def test_the_undo_of_the_notice_brings_the_wire_back(editor, flowhost):
    await import_by_api(flowhost, ROUTED)
    await editor.goto(f"{flowhost.url}/#flow=routed")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    dialog = await open_node(editor, "route")
    await field(dialog, "rules").locator("textarea").fill('[{"name": "port-1", "operator": "==", "value": 1}]')
    await dialog.locator('[data-action="done"]').click()
    await expect(ports(editor, "route")).to_have_count(2)
    await expect(wires(editor)).to_have_count(3)
    await editor.locator(".toast .toast-undo").click()
    await expect(ports(editor, "route")).to_have_count(3)
    await expect(wires(editor)).to_have_count(4)
    await expect(editor.locator("#deploy")).to_be_disabled()  # back to what is deployed


async def test_a_dropped_switch_gets_its_rule_ports_once_it_has_rules(editor, flowhost):
    await drop_node(editor, "switch", 300, 200)
    switch_id = await editor.locator('.drawflow-node[data-type="switch"]').get_attribute("data-node-id")
    await expect(ports(editor, switch_id)).to_have_count(1)  # no rules yet: otherwise only
    await drop_node(editor, "debug", 700, 200)
    debug_id = await editor.locator('.drawflow-node[data-type="debug"]').get_attribute("data-node-id")
    await wire(editor, switch_id, "otherwise", debug_id)
    await expect(wires(editor)).to_have_count(1)
    dialog = await open_node(editor, switch_id)
    await field(dialog, "rules").locator("textarea").fill('[{"name": "hot", "operator": ">", "value": 30}]')
    await dialog.locator('[data-action="done"]').click()
    await expect(dialog).to_be_hidden()
    await expect(ports(editor, switch_id)).to_have_count(2)
    await expect(wires(editor)).to_have_count(1)  # otherwise is still there, and so is its wire
    await wire(editor, switch_id, "hot", debug_id)
    await expect(wires(editor)).to_have_count(2)
