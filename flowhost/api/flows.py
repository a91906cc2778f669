"""``/api/flows``: flows as JSON (the flow-file structure plus ``rev``), YAML import/export, validation, status."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .. import keys
from ..flow_yaml import FlowValidationError, YamlStyle, guess_style, read_yaml, to_json_document
from ..workspace import Invalid
from .responses import json_response, read_json, read_text


async def list_flows(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    return json_response({"flows": [workspace.flow_summary(record) for record in workspace.flows.values()]})


async def get_flow(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    return json_response(workspace.flow_view(workspace.flow(request.match_info["id"])))


async def create_flow(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    record = await workspace.create_flow(await read_json(request))
    return json_response(workspace.flow_view(record), 201, {"Location": f"/api/flows/{record.id}"})


async def import_flow(request: web.Request) -> web.Response:
    """A flow file's YAML text; its comments are kept in the stored file."""
    workspace = request.app[keys.WORKSPACE]
    text = await read_text(request)
    # The round-trip parser is pure Python and slow (seconds for a large file): a worker thread keeps the
    # event loop answering meanwhile.
    try:
        root, style = await asyncio.to_thread(_parse_flow_text, text)
    except FlowValidationError as exc:
        raise Invalid(exc.errors) from None
    record = await workspace.create_flow(to_json_document(root), root=root, style=style)
    return json_response(workspace.flow_view(record), 201, {"Location": f"/api/flows/{record.id}"})


def _parse_flow_text(text: str) -> tuple[Any, YamlStyle]:
    root = read_yaml(text, "body")
    return root, guess_style(text, root)


async def replace_flow(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    record = await workspace.replace_flow(request.match_info["id"], await read_json(request))
    return json_response(workspace.flow_view(record))


async def delete_flow(request: web.Request) -> web.Response:
    await request.app[keys.WORKSPACE].delete_flow(request.match_info["id"])
    return web.Response(status=204)


async def validate_new_flow(request: web.Request) -> web.Response:
    errors = request.app[keys.WORKSPACE].check_flow(await read_json(request))
    return json_response({"valid": not errors, "errors": errors})


async def validate_flow_change(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    record = workspace.flow(request.match_info["id"])
    errors = workspace.check_flow(await read_json(request), record.id)
    return json_response({"valid": not errors, "errors": errors})


async def export_flow(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    record = workspace.flow(request.match_info["id"])
    return web.Response(
        text=workspace.flow_yaml(record),
        content_type="text/yaml",
        headers={"Content-Disposition": f'attachment; filename="{record.id}.yaml"'},
    )


async def flow_status(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    return json_response(workspace.flow_status(workspace.flow(request.match_info["id"])))
