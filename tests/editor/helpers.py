"""What a user does in the editor, as Playwright steps: drag from the palette, wire ports, fill dialogs."""

from __future__ import annotations

from playwright.async_api import Page, expect


def node(page: Page, node_id: str):
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


async def drop_node(page: Page, node_type: str, x: int, y: int) -> None:
    """Drag a node type from the palette and drop it at (x, y) of the canvas."""
    await page.drag_and_drop(f'.palette-node[data-type="{node_type}"]', "#canvas", target_position={"x": x, "y": y})


async def wire(page: Page, source: str, port: str, target: str) -> None:
    """Drag from an output port to an input port, with the mouse, as a user does."""
    output = node(page, source).locator(f'.output[data-port="{port}"]')
    target_input = node(page, target).locator(".input")
    start = await output.bounding_box()
    end = await target_input.bounding_box()
    assert start and end
    await page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(end["x"] - 20, end["y"] + end["height"] / 2, steps=8)
    await page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=4)
    await page.mouse.up()


def wires(page: Page):
    return page.locator(".drawflow .connection")


async def open_node(page: Page, node_id: str):
    await node(page, node_id).locator(".fh-node-label").dblclick()
    dialog = page.locator("dialog.node-dialog")
    await expect(dialog).to_be_visible()
    return dialog


def field(dialog, name: str):
    return dialog.locator(f'.field[data-field="{name}"]')


async def deploy(page: Page) -> None:
    button = page.locator("#deploy")
    await expect(button).to_be_enabled()
    await button.click()
    await expect(button).to_have_text("Deployed")
    await expect(button).to_be_disabled()
