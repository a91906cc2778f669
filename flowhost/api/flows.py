"""``/api/flows``: flows as JSON (the flow-file structure plus ``rev``), YAML import/export, validation, status."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .. import keys
from ..flow_yaml import FlowValidationError, YamlStyle, guess_style, read_yaml, to_json_document
from ..workspace import Invalid
from .responses import MAX_JSON_DEPTH, json_response, nested_deeper, read_json, read_text


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
    # The round-trip parser is pure Python and slow (seconds for a large file or deeply nested flow sequences):
    # a worker thread keeps the event loop answering meanwhile.
    document, root, style = await asyncio.to_thread(_parsed_import, await read_text(request))
    record = await workspace.create_flow(document, root=root, style=style)
    return json_response(workspace.flow_view(record), 201, {"Location": f"/api/flows/{record.id}"})


def _parsed_import(text: str) -> tuple[Any, Any, YamlStyle]:
    too_deep = Invalid.one(f"the body is nested deeper than {MAX_JSON_DEPTH} levels of lists and mappings")
    try:
        root = read_yaml(text, "body")  # refuses alias bombs, too deep nesting and too much text, with the line
    except FlowValidationError as exc:
        raise Invalid(exc.errors) from None
    except RecursionError:
        raise too_deep from None
    document = to_json_document(root)
    if nested_deeper(document, MAX_JSON_DEPTH):
        raise too_deep
    return document, root, guess_style(text, root)


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
