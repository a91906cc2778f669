"""Health for orchestrators: ``GET /healthz`` without a token, ``GET /api/status`` behind it.

``/healthz`` says only whether the process answers (``live``) and whether it serves its flows (``ready``: the
stored connections and the flows were started and it is not stopping), so that it can be open to a load
balancer or a Kubernetes probe without telling anyone what runs. ``/api/status`` is the summary an operator
reads: each flow, each connection's state and how many uplinks wait in its outbox.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import __version__, keys
from ..workspace import Workspace
from .responses import json_response

OUTBOX_COUNTER = "uplinksQueued"
"""The snapshot counter in which a connection reports the uplinks waiting in its outbox (docs/api.md)."""


async def healthz(request: web.Request) -> web.Response:
    ready = request.app[keys.WORKSPACE].ready
    return json_response({"live": True, "ready": ready}, 200 if ready else 503, {"Cache-Control": "no-store"})


async def status(request: web.Request) -> web.Response:
    return json_response(status_document(request.app[keys.WORKSPACE]))


def status_document(workspace: Workspace) -> dict[str, Any]:
    runtime = workspace.runtime
    flows = []
    for record in workspace.flows.values():
        running = runtime.flows.get(record.id)
        flows.append(
            {
                "id": record.id,
                "label": record.spec.label,
                "file": str(record.path),
                "origin": record.origin,
                "deployed": running is not None,
                "nodes": len(record.spec.nodes),
                "errors": sum(runner.counters.get("errors", 0) for runner in running.nodes.values()) if running else 0,
            }
        )
    connections = []
    for connection_id, runner in sorted(runtime.connections.items()):
        snapshot = runner.connection.snapshot()
        counters = snapshot.get("counters") or {}
        connections.append(
            {
                "id": connection_id,
                "connectorId": runner.connection.connector_id,
                "state": snapshot.get("state"),
                "lastError": snapshot.get("lastError"),
                "outbox": counters.get(OUTBOX_COUNTER),
            }
        )
    return {"version": __version__, "ready": workspace.ready, "flows": flows, "connections": connections}
