"""The URL table of the REST API: nothing but routes."""

from __future__ import annotations

from aiohttp import web

from . import connections, context, dead_letters, events, flows, health, metrics, node_types, nodes, openapi

ROUTES = [
    web.get("/api/connections", connections.list_connections),
    web.post("/api/connections", connections.create_connection),
    web.get("/api/connections/{id}", connections.get_connection),
    web.put("/api/connections/{id}", connections.replace_connection),
    web.delete("/api/connections/{id}", connections.delete_connection),
    web.get("/api/connections/{id}/dead-letters", dead_letters.list_dead_letters),
    web.post("/api/connections/{id}/dead-letters/replay", dead_letters.replay_dead_letters),
    web.delete("/api/connections/{id}/dead-letters", dead_letters.delete_dead_letters),
    web.delete("/api/connections/{id}/dead-letters/{letter}", dead_letters.delete_dead_letter),
    web.get("/api/flows", flows.list_flows),
    web.post("/api/flows", flows.create_flow),
    web.post("/api/flows/import", flows.import_flow),
    web.post("/api/flows/validate", flows.validate_new_flow),
    web.get("/api/flows/{id}", flows.get_flow),
    web.put("/api/flows/{id}", flows.replace_flow),
    web.delete("/api/flows/{id}", flows.delete_flow),
    web.post("/api/flows/{id}/validate", flows.validate_flow_change),
    web.get("/api/flows/{id}/yaml", flows.export_flow),
    web.get("/api/flows/{id}/status", flows.flow_status),
    web.post("/api/flows/{id}/nodes/{node}/inject", nodes.trigger_node),
    web.get("/api/context/global", context.global_context),
    web.get("/api/flows/{id}/context", context.flow_context),
    web.get("/api/flows/{id}/nodes/{node}/context", context.node_context),
    web.get("/api/node-types", node_types.list_node_types),
    web.post("/api/node-types/{type}/outputs", node_types.node_outputs),
    web.get("/api/openapi.json", openapi.openapi),
    web.get("/api/events", events.events),
    web.get("/api/metrics", metrics.metrics),
    web.get("/api/status", health.status),
    web.get("/healthz", health.healthz),  # no token: outside /api
]
