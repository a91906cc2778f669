"""``/api/flows/{id}/nodes/{node}/...``: acting on one running node (the editor's inject button)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .. import keys
from ..node import NotTriggerable
from ..workspace import Conflict, NotFound

TRIGGER_TIMEOUT = 10.0
"""How long a trigger may wait for the node's receivers to take its message (their inboxes may be full)."""


async def trigger_node(request: web.Request) -> web.Response:
    """Call the running node's ``trigger()``: 204 when done, 404 for no such deployed node, 409 for a node type
    that cannot be triggered (or one that did not finish within ``TRIGGER_TIMEOUT``)."""
    runtime = request.app[keys.RUNTIME]
    flow_id, node_id = request.match_info["id"], request.match_info["node"]
    flow = runtime.flows.get(flow_id)
    if flow is None:
        raise NotFound.one(f"no deployed flow '{flow_id}'")
    runner = flow.nodes.get(node_id)
    if runner is None:
        raise NotFound.one(f"flow '{flow_id}' has no node '{node_id}'")
    if not runner.node_class.can_trigger():
        raise Conflict.one(f"node '{node_id}' ({runner.node_class.type}) cannot be triggered")
    try:
        async with asyncio.timeout(TRIGGER_TIMEOUT):
            await runner.node.trigger()
    except NotTriggerable as exc:
        raise Conflict.one(str(exc)) from None
    except TimeoutError:
        message = f"node '{node_id}' did not finish within {TRIGGER_TIMEOUT:g}s (its receivers are full)"
        raise Conflict.one(message) from None
    return web.Response(status=204)
