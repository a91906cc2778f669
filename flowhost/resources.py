"""Where the demo flows and the editor's static files are, in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``flows`` or ``web``: beside the package in a checkout (editable install), inside it in a wheel."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"flowhost's '{name}' directory is missing from this installation")


def demo_flow() -> Path:
    return resource_dir("flows") / "demo.yaml"
