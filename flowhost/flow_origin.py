"""Which flow files ``flowhost run`` runs, and the reason it gives for each at start.

With no FLOW_FILE and no flow saved in the data directory, the demo runs: the current directory's
``flows/demo.yaml`` when it is a flowhost checkout (where the README's one-liner runs, and where a user edits the
demo), else the copy installed with flowhost. A flow saved in the data directory (from the editor or the API)
runs at every start until it is deleted; when it is the demo saved from the editor, the demo file is no longer
read, and the reason says so.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .resources import demo_flow
from .workspace import FlowRecord

DEMO_FLOW_ID = "demo"


def checkout_dir(directory: Path) -> Path | None:
    """``directory`` if it is a flowhost source checkout (its pyproject.toml names the project flowhost)."""
    try:
        project = tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if project.get("name") == "flowhost" and (directory / "flows" / "demo.yaml").is_file():
        return directory
    return None


def default_demo(directory: Path | None = None) -> Path:
    """The demo to run when nothing else is: the checkout's in a checkout, else the installed one."""
    checkout = checkout_dir(directory or Path.cwd())
    return checkout / "flows" / "demo.yaml" if checkout is not None else demo_flow()


def why_it_runs(record: FlowRecord, demo: Path | None, data_dir: Path) -> str:
    """One line: why ``record``'s file is the one that runs (``demo``: the demo file that would run otherwise)."""
    if record.origin == "command-line":
        return "given on the command line"
    if record.origin == "demo":
        kind = "this checkout's demo" if checkout_dir(Path.cwd()) is not None else "the demo installed with flowhost"
        return f"{kind}, as no FLOW_FILE was given and {data_dir / 'flows'} holds no saved flow"
    reason = "saved in the data dir by the editor or the API; it runs at every start until deleted there"
    if demo is not None and record.id == DEMO_FLOW_ID:
        reason += f" (it replaces the demo file {demo}, which is not read while this copy exists)"
    return reason


def demo_left_out(records: list[FlowRecord], demo: Path | None) -> str | None:
    """Why the demo does not run although no FLOW_FILE was given, or None."""
    if demo is None or any(record.origin == "demo" or record.id == DEMO_FLOW_ID for record in records):
        return None
    return f"not run, as the data dir holds saved flows (to run it too: flowhost run {demo})"
