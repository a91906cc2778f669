"""What the editor saves keeps the file as its user wrote it: a node dropped, wired and moved changes those lines
only; untouched nodes gain no ``config: {}`` or ``wires: {}``; every layout entry keeps the file's one style."""

from __future__ import annotations

import re

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import deploy, drop_node, node, wire
from .test_flows import import_by_api

WRITTEN = """\
flowhost: 1
id: tidy
label: Written by hand
nodes:
  - id: devices   # two simulated sensors
    type: lorawan-simulator
    config: {devEUIs: [78AF580300000345, 78AF580300000346], interval: 1h}
    wires: {out: [console]}
  - id: console
    type: debug
layout:
  devices: {x: 120, y: 80}
  console: {x: 480, y: 80}
"""
LAYOUT_LINE = re.compile(r"^  [A-Za-z0-9_.-]+: \{x: -?\d+, y: -?\d+\}$")


async def test_a_dropped_wired_node_changes_only_its_lines(editor, flowhost):
    await import_by_api(flowhost, WRITTEN)
    path = flowhost.runtime.data_dir / "flows" / "tidy.yaml"
    assert path.read_text() == WRITTEN
    await editor.goto(f"{flowhost.url}/#flow=tidy")
    await editor.reload()
    await editor.wait_for_selector("body.ready")
    await drop_node(editor, "debug", 520, 320)
    await expect(node(editor, "debug-1")).to_be_visible()
    await wire(editor, "devices", "out", "debug-1")
    await deploy(editor)
    await screenshot(editor, "saved-yaml")

    text = path.read_text()
    lines = text.splitlines()
    assert "config: {}" not in text and "wires: {}" not in text, text
    assert "    wires: {out: [console, debug-1]}" in lines, text
    assert "  - id: console\n    type: debug\n  - id: debug-1\n    type: debug\nlayout:\n" in text, text
    layout = lines[lines.index("layout:") + 1 :]
    assert len(layout) == 3 and all(LAYOUT_LINE.match(line) for line in layout), text
    assert layout[:2] == ["  devices: {x: 120, y: 80}", "  console: {x: 480, y: 80}"]
    assert "  - id: devices   # two simulated sensors" in lines  # the comment stays
