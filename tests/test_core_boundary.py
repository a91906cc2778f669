"""The core (``flowhost/``) names no built-in plugin and no ThingPark document: those live in plugins."""

from __future__ import annotations

import re
from pathlib import Path

import flowhost

CORE = Path(flowhost.__file__).parent
FORBIDDEN = re.compile(r"flowhost_builtins|DevEUI_")


def _naming_lines(name: str, text: str) -> list[str]:
    return [
        f"{name}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]


def test_no_core_module_names_a_builtin_plugin_or_a_thingpark_document():
    offending = [
        found
        for path in sorted(CORE.rglob("*.py"))
        for found in _naming_lines(str(path.relative_to(CORE)), path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_the_check_finds_what_it_looks_for():
    text = 'import os\nfrom flowhost_builtins.mqtt_nodes import x\nROOT = "DevEUI_uplink"\n'
    assert _naming_lines("m.py", text) == [
        "m.py:2: from flowhost_builtins.mqtt_nodes import x",
        'm.py:3: ROOT = "DevEUI_uplink"',
    ]
