"""The connections a command works on: those of flow files, or of the data directory, secrets resolved.

For plugin commands that act on one connection as ``flowhost run`` would (``flowhost sub``/``pub``,
``flowhost aws policy``): they get each connection's validated ``ConnectionSpec``, its configuration with the
secrets it refers to (``!secret`` from the environment or ``secrets.yaml``; the data dir's encrypted store)
already in place, without starting anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .app import create_runtime
from .flowfile import ConnectionSpec
from .plugins import PluginHost
from .store import Store
from .workspace import Workspace


class ConnectionLookupError(Exception):
    """The flows could not be read (every error is in ``errors``), or the connection asked for is not there."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def connection_specs(flow_files: Iterable[Path], data_dir: Path, plugins: PluginHost) -> dict[str, ConnectionSpec]:
    """Every connection of ``flow_files``, or, when none is given, of the flows and API connections stored in
    ``data_dir``, by id. Raises ConnectionLookupError with every error of the flows."""
    paths = [Path(path) for path in flow_files]
    workspace = Workspace(create_runtime(data_dir, plugins), Store(data_dir))
    errors = workspace.load_flow_files(paths, include_stored=not paths)
    if errors:
        raise ConnectionLookupError(errors)
    specs = {connection_id: connection.spec for connection_id, connection in workspace.connections.items()}
    for record in workspace.flows.values():
        specs.update((spec.id, spec) for spec in record.spec.connections)
    return specs


def choose_connection(specs: dict[str, ConnectionSpec], wanted: str | None, connector_id: str) -> ConnectionSpec:
    """The connection ``wanted`` (an id), or the only one of type ``connector_id``; errors say what there is."""
    of_type = {spec.id: spec for spec in specs.values() if spec.connector_id == connector_id}
    ids = ", ".join(sorted(of_type)) or "none"
    if wanted is not None:
        if wanted not in of_type:
            raise ConnectionLookupError([f"no {connector_id} connection {wanted!r} (there are: {ids})"])
        return of_type[wanted]
    if len(of_type) == 1:
        return next(iter(of_type.values()))
    if not of_type:
        raise ConnectionLookupError([f"no {connector_id} connection in these flows"])
    raise ConnectionLookupError([f"several {connector_id} connections ({ids}): choose one with --connection"])
