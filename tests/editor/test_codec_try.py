"""The codec node's form has a box for hex bytes and an FPort that shows the decoded result, or the error, at once."""

from __future__ import annotations

from playwright.async_api import expect

from .helpers import drop_node, field, open_node

DECODER = (
    "function decodeUplink(input) { if (input.fPort !== 1) return {errors: ['only FPort 1']}; "
    "return {data: {first: input.bytes[0], count: input.bytes.length}}; }"
)


async def test_the_codec_form_decodes_hex_bytes_with_its_inline_source(editor):
    await drop_node(editor, "codec", 300, 200)
    dialog = await open_node(editor, "codec-1")  # a dropped node is numbered by its type
    await field(dialog, "source").locator("textarea").fill(DECODER)
    await dialog.locator("#codec-try-bytes").fill("2a 00 01")
    await dialog.locator("#codec-try-decode").click()
    result = dialog.locator("#codec-try-result")
    await expect(result).to_contain_text('"first": 42')
    await expect(result).to_contain_text('"count": 3')
    await expect(result).not_to_have_class("codec-try-result failed")

    await dialog.locator("#codec-try-fport").fill("2")
    await dialog.locator("#codec-try-fport").press("Enter")
    await expect(result).to_contain_text("only FPort 1")
    await expect(result).to_have_class("codec-try-result failed")


async def test_the_box_shows_why_a_codec_does_not_load(editor, page_errors):
    page_errors.expect_status(422)
    await drop_node(editor, "codec", 300, 200)
    dialog = await open_node(editor, "codec-1")  # a dropped node is numbered by its type
    await field(dialog, "source").locator("textarea").fill("function decodeUplink(input) { return {data: ")
    await dialog.locator("#codec-try-bytes").fill("00")
    await dialog.locator("#codec-try-decode").click()
    await expect(dialog.locator("#codec-try-result")).to_contain_text("SyntaxError")
