"""Random canvas gestures (fixed seeds): no page error, and undo all the way back gives the empty canvas while
redo all the way forward gives back what was drawn."""

from __future__ import annotations

import random

import pytest
from playwright.async_api import expect

from .helpers import drop_node, wire, wires

TYPES = ["lorawan-simulator", "filter", "test-relay", "debug"]
STEPS = 40


async def select(node) -> None:
    """Select a node even when another one overlaps it (drawflow selects on mousedown)."""
    await node.locator(".fh-node-label").dispatch_event("mousedown", {"button": 0})
    await node.locator(".fh-node-label").dispatch_event("mouseup", {"button": 0})


async def drawn(page) -> tuple[int, int]:
    return await page.locator(".drawflow-node").count(), await wires(page).count()


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_gestures_keep_canvas_and_history_in_step(editor, flowhost, seed):
    rng = random.Random(seed)
    canvas = await editor.locator("#canvas").bounding_box()
    for _ in range(STEPS):
        nodes = await editor.locator(".drawflow-node").all()
        action = rng.choice(["drop", "drop", "wire", "wire", "move", "delete", "unwire", "undo", "redo", "paste"])
        if action == "drop" or not nodes:
            await drop_node(editor, rng.choice(TYPES), rng.randint(60, 700), rng.randint(40, 600))
        elif action == "wire":
            sources = [n for n in nodes if await n.locator(".output").count()]
            targets = [n for n in nodes if await n.locator(".input").count()]
            if sources and targets:
                source, target = rng.choice(sources), rng.choice(targets)
                ports = await source.locator(".output").all()
                port = await rng.choice(ports).get_attribute("data-port")
                await wire(
                    editor, await source.get_attribute("data-node-id"), port, await target.get_attribute("data-node-id")
                )
        elif action == "move":
            box = await rng.choice(nodes).bounding_box()
            await editor.mouse.move(box["x"] + 40, box["y"] + 12)
            await editor.mouse.down()
            await editor.mouse.move(box["x"] + rng.randint(-200, 200), box["y"] + rng.randint(-150, 150), steps=4)
            await editor.mouse.up()
        elif action == "delete":
            await select(rng.choice(nodes))
            await editor.locator("#canvas").press("Delete")
        elif action == "unwire" and await wires(editor).count():
            await rng.choice(await editor.locator(".drawflow .connection .main-path").all()).click(force=True)
            await editor.locator("#canvas").press("Delete")
        elif action == "undo":
            await editor.keyboard.press("Control+z")
        elif action == "redo":
            await editor.keyboard.press("Control+Shift+z")
        elif action == "paste":
            await select(rng.choice(nodes))
            await editor.keyboard.press("Control+d")
        assert canvas == await editor.locator("#canvas").bounding_box()

    undo, redo = editor.locator("#undo"), editor.locator("#redo")
    while await redo.is_enabled():  # the gestures may have ended with undos
        await redo.click()
    before = await drawn(editor)
    while await undo.is_enabled():
        await undo.click()
    assert await drawn(editor) == (0, 0)
    while await redo.is_enabled():
        await redo.click()
    assert await drawn(editor) == before
    await expect(editor.locator("#deploy")).to_be_enabled()
