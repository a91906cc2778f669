"""Every hook is documented with its exact signature and exercised by a test (as Datasette's suite checks)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from flowhost import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("flowhost_"))


def signature(name: str) -> str:
    parameters = inspect.signature(getattr(hookspecs, name)).parameters
    return f"{name}({', '.join(parameters)})"


def test_there_are_hooks():
    assert len(HOOKS) >= 7


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_docstring(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc) > 80, f"{name} needs a docstring saying what it is for and what each parameter is"
    for parameter in inspect.signature(getattr(hookspecs, name)).parameters:
        assert f":param {parameter}:" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented_with_its_signature(name):
    headings = re.findall(r"^### (.+)$", (ROOT / "docs" / "plugins.md").read_text(), flags=re.MULTILINE)
    assert signature(name) in headings


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_tested(name):
    this_file = Path(__file__).name
    sources = [path.read_text() for path in (ROOT / "tests").rglob("*.py") if path.name != this_file]
    assert any(name in text for text in sources), f"no test or example exercises {name}"
