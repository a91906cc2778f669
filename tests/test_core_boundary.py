"""The core (``flowhost/``) names no built-in plugin, no ThingPark document and no ThingPark field: those live in
plugins, which tell the core what it needs (the topic engine's field rules, for instance)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import flowhost

CORE = Path(flowhost.__file__).parent
FORBIDDEN = re.compile(r"flowhost_builtins|DevEUI_")
THINGPARK_FIELD = re.compile(r"\bDevEUI\b")
"""Named in code (comments and docstrings may explain what plugins do with it)."""


def _naming_lines(name: str, text: str) -> list[str]:
    return [
        f"{name}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]


def _docstring_lines(text: str) -> set[int]:
    """Lines of strings that stand alone as statements: docstrings, of modules, classes, functions, attributes."""
    return {
        line
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for line in range(node.lineno, node.end_lineno + 1)
    }


def _field_lines(name: str, text: str) -> list[str]:
    documentation = _docstring_lines(text)
    return [
        f"{name}:{token.start[0]}: {token.line.strip()}"
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)
        and not (token.type == tokenize.STRING and token.start[0] in documentation)
        and THINGPARK_FIELD.search(token.string)
    ]


def _core_modules() -> list[tuple[str, str]]:
    return [(str(path.relative_to(CORE)), path.read_text(encoding="utf-8")) for path in sorted(CORE.rglob("*.py"))]


def test_no_core_module_names_a_builtin_plugin_or_a_thingpark_document():
    offending = [found for name, text in _core_modules() for found in _naming_lines(name, text)]
    assert offending == []


def test_no_core_module_names_thingpark_s_dev_eui_in_code():
    offending = [found for name, text in _core_modules() for found in _field_lines(name, text)]
    assert offending == []


def test_the_check_finds_what_it_looks_for():
    text = 'import os\nfrom flowhost_builtins.mqtt_nodes import x\nROOT = "DevEUI_uplink"\n'
    assert _naming_lines("m.py", text) == [
        "m.py:2: from flowhost_builtins.mqtt_nodes import x",
        'm.py:3: ROOT = "DevEUI_uplink"',
    ]


def test_the_field_check_finds_code_and_spares_documentation():
    text = (
        '"""Renders {DevEUI} topics."""\n'
        "# DevEUI is the plugin's business\n"
        "def f(fields):\n"
        '    """Reads DevEUI."""\n'
        '    return fields["DevEUI"]\n'
        'NAME = f"{DevEUI}"  # DevEUI\n'
        "DevEUI = 1\n"
        "devEUIs = DevEUIs = 2\n"
    )
    assert _field_lines("m.py", text) == [
        'm.py:5: return fields["DevEUI"]',
        'm.py:6: NAME = f"{DevEUI}"  # DevEUI',
        "m.py:7: DevEUI = 1",
    ]
