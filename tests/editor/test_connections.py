"""The connections panel: ThingPark's form with PEM files uploaded, live state, and server errors at fields."""

from __future__ import annotations

import re

from playwright.async_api import expect

from .conftest import screenshot
from .helpers import field


async def open_new_connection(editor):
    await editor.click('.sidebar-tab[data-tab="connections"]')
    await editor.click('[data-action="add-connection"]')
    dialog = editor.locator("dialog.dialog")
    await expect(dialog).to_be_visible()
    return dialog


async def test_the_form_has_thingparks_fields_and_pem_files_upload(editor, flowhost, mosquitto, pki):
    dialog = await open_new_connection(editor)
    labels = await dialog.locator(".field > label").all_inner_texts()
    for label in (
        "Application Name",
        "Uplink Topic Pattern",
        "Downlink Topic Pattern",
        "Host Name",
        "Protocol",
        "Username",
        "Password",
        "Certificate",
        "Private Key",
        "Description",
    ):
        assert any(text.replace("*", "").strip() == label for text in labels), (label, labels)
    for name in ("Application Name", "Uplink Topic Pattern", "Host Name"):
        assert any(text.startswith(name) and text.endswith("*") for text in labels), name
    await expect(dialog.locator("#conn-password")).to_have_attribute("type", "password")
    await expect(dialog.locator("#conn-protocol option")).to_have_text(["SSL", "WSS", "TCP"])

    await dialog.locator("#conn-name").fill("TLS broker")
    await dialog.locator("#conn-uplinkTopicPattern").fill("tls/{DevEUI}/uplink")
    await dialog.locator("#conn-hostName").fill(f"{mosquitto.host}:{mosquitto.tls_port}")
    ca_field = dialog.locator('.field[data-kind="pem"]').first
    await ca_field.locator('input[type="file"]').set_input_files(str(pki.ca.cert_path))
    await expect(ca_field.locator("textarea")).to_have_value(re.compile("-----BEGIN CERTIFICATE-----"))
    await dialog.locator("details.advanced summary").click()
    await expect(field(dialog, "keepAlive").locator("input")).to_have_value("60s")
    await screenshot(editor, "connection-advanced")
    await dialog.locator('[data-action="save"]').click()
    await expect(dialog).to_be_hidden()
    card = editor.locator('.conn-card[data-id="tls-broker"]')
    await expect(card.locator(".connection-state")).to_have_text("OPENED", timeout=5000)
    await expect(card.locator(".badge")).to_have_text("SSL")


async def test_server_errors_show_at_their_field_and_unreachable_is_red(editor, flowhost, page_errors):
    page_errors.expect_status(400)
    dialog = await open_new_connection(editor)
    await dialog.locator("#conn-name").fill("Nowhere")
    await dialog.locator("#conn-uplinkTopicPattern").fill("a/{DevEUI}")
    await dialog.locator("#conn-hostName").fill("127.0.0.1:notaport")
    await dialog.locator("#conn-protocol").select_option("TCP")
    await dialog.locator('[data-action="save"]').click()
    await expect(field(dialog, "hostName").locator(".field-error")).not_to_be_empty()
    await screenshot(editor, "connection-error")

    await dialog.locator("#conn-hostName").fill("127.0.0.1:9")  # nothing listens on the discard port
    await dialog.locator('[data-action="save"]').click()
    await expect(dialog).to_be_hidden()
    card = editor.locator('.conn-card[data-id="nowhere"]')
    await expect(card.locator(".state-dot")).to_have_class(re.compile("level-error"), timeout=5000)
    await expect(card.locator(".connection-state")).to_have_text("UNREACHABLE")
    await expect(card.locator(".connection-error")).not_to_be_empty()
    await screenshot(editor, "connections")


async def test_editing_a_connection_keeps_its_password_and_shows_its_new_state(editor, flowhost, mosquitto_factory):
    from tests.support.brokers import PASSWORD, USER

    broker = mosquitto_factory(users={USER: PASSWORD}, allow_anonymous=False)
    dialog = await open_new_connection(editor)
    await dialog.locator("#conn-name").fill("With password")
    await dialog.locator("#conn-uplinkTopicPattern").fill("pw/{DevEUI}")
    await dialog.locator("#conn-hostName").fill(f"{broker.host}:{broker.tcp_port}")
    await dialog.locator("#conn-protocol").select_option("TCP")
    await dialog.locator("#conn-username").fill(USER)
    await dialog.locator("#conn-password").fill(PASSWORD)
    await dialog.locator('[data-action="save"]').click()
    card = editor.locator('.conn-card[data-id="with-password"]')
    await expect(card.locator(".connection-state")).to_have_text("OPENED", timeout=5000)
    stored = await flowhost.get("/connections/with-password")
    assert stored["configuration"]["password"] == "********"

    await card.locator('[data-action="edit"]').click()
    dialog = editor.locator("dialog.dialog")
    await expect(dialog.locator("#conn-password")).to_have_value("********")
    await dialog.locator("#conn-description").fill("Mosquitto with a password file")
    await dialog.locator('[data-action="save"]').click()
    await expect(dialog).to_be_hidden()
    await expect(card.locator(".connection-state")).to_have_text("OPENED", timeout=5000)
    stored = await flowhost.get("/connections/with-password")
    assert stored["configuration"]["description"] == "Mosquitto with a password file"

    await card.locator('[data-action="edit"]').click()
    await dialog.locator("#conn-password").fill("wrong")
    await dialog.locator('[data-action="save"]').click()
    await expect(card.locator(".connection-state")).to_have_text("AUTHENTICATION_FAILED", timeout=5000)
    await expect(card.locator(".state-dot")).to_have_class(re.compile("level-error"))
