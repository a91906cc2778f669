"""What ThingPark's fields mean to flowhost's core: DevEUI's validator, and how its fields appear in topics.

The core's topic engine knows no field; ThingPark's connections give it these rules: ``{DevEUI}`` renders 16
upper-case hex digits (a DevEUI that is not an EUI-64 rejects the uplink), and a Jinja pattern is probed with a
typical uplink when it is compiled.
"""

from __future__ import annotations

import re

from flowhost.templating import FieldRule, TopicFields
from flowhost.validation import eui64, with_form

__all__ = ["THINGPARK_TOPIC_FIELDS", "dev_eui"]

_EUI64 = re.compile(r"[0-9A-Fa-f]{16}").fullmatch

dev_eui = with_form(type="string", format="dev-eui")(eui64("DevEUI"))
"""Voluptuous validator: a DevEUI (EUI-64) -> 16 upper-case hex digits."""


def _dev_eui_in_topic(text: str) -> str:
    if not _EUI64(text):
        raise ValueError("is not 16 hexadecimal digits")
    return text.upper()


PROBE_UPLINK = {
    "Time": "2026-01-01T00:00:00.000+00:00",
    "DevEUI": "0018B20000000B20",
    "FPort": 1,
    "FCntUp": 1,
    "payload_hex": "00",
    "CustomerData": {"name": "probe", "tags": ["probe"]},
}
"""The fields a Jinja pattern is rendered with once while it is validated (a typical uplink's)."""

THINGPARK_TOPIC_FIELDS = TopicFields(
    rules={"DevEUI": FieldRule(_dev_eui_in_topic, values="[0-9A-F]{16}")},
    probe=PROBE_UPLINK,
)
"""The rules of ThingPark's fields in topic patterns, given to ``compile_topic_pattern``,
``subscription_for_pattern`` and ``patterns_overlap``."""
