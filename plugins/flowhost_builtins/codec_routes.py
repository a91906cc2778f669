"""``POST /api/codecs/decode`` and ``/api/codecs/encode``: try a codec of a running ``codec`` node (or an inline
source) on bytes or data, as the editor's codec form does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from aiohttp import web

from flowhost import hookimpl
from flowhost.runtime_view import RuntimeView

from .codec_apis import Codec, CodecError
from .codec_loader import INLINE_CODEC
from .codec_node import CodecNode
from .js_sandbox import SandboxError
from .thingpark_fields import dev_eui

MAX_HEX_CHARS = 2 * 1024


class RequestError(Exception):
    def __init__(self, status: int, path: str, message: str) -> None:
        super().__init__(message)
        self.status, self.path, self.message = status, path, message


def _error(status: int, path: str, message: str) -> web.Response:
    return web.json_response({"errors": [{"path": path, "message": message}]}, status=status)


async def _body(request: web.Request) -> Mapping[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise RequestError(400, "", "the body must be a JSON object") from None
    if not isinstance(body, Mapping):
        raise RequestError(400, "", "the body must be a JSON object")
    return body


def _codec_of_node(view: RuntimeView, body: Mapping[str, Any]) -> Codec:
    flow_id, node_id = body.get("flow"), body.get("node")
    if not isinstance(flow_id, str) or not isinstance(node_id, str):
        raise RequestError(400, "node", "give flow and node (a running codec node), or source (a codec's code)")
    node = view.node_object(flow_id, node_id, CodecNode)
    if node is None:
        raise RequestError(404, "node", f"no codec node '{node_id}' in flow '{flow_id}'")
    codec_set = getattr(node, "codec_set", None)
    if codec_set is None:
        status = view.node(flow_id, node_id).status
        raise RequestError(409, "node", f"codec node '{node_id}' is not running: {status}")
    name = body.get("codec")
    if name is None and body.get("devEUI") is not None:
        try:
            name = codec_set.name_for({"DevEUI": dev_eui(body["devEUI"])})
        except vol.Invalid as exc:
            raise RequestError(400, "devEUI", str(exc)) from None
    name = codec_set.default if name is None else name
    if not isinstance(name, str) or name not in codec_set.codecs:
        known = ", ".join(sorted(codec_set.codecs)) or "none"
        failure = codec_set.failures.get(name) if isinstance(name, str) else None
        message = f"codec {name} failed to load: {failure}" if failure else f"no codec {name!r} (known: {known})"
        raise RequestError(404, "codec", message)
    return codec_set.codecs[name]


def _codec(view: RuntimeView, body: Mapping[str, Any]) -> Codec:
    source = body.get("source")
    if source is None:
        return _codec_of_node(view, body)
    if not isinstance(source, str) or not source:
        raise RequestError(400, "source", "source must be a codec's JavaScript code")
    try:
        return Codec(INLINE_CODEC, source)
    except SandboxError as exc:
        raise RequestError(422, "source", str(exc)) from None


def _bytes(body: Mapping[str, Any]) -> bytes:
    text = body.get("bytes")
    if not isinstance(text, str) or len(text) > MAX_HEX_CHARS:
        raise RequestError(400, "bytes", f"bytes must be hexadecimal text of at most {MAX_HEX_CHARS} digits")
    try:
        return bytes.fromhex(text.replace(" ", ""))
    except ValueError:
        raise RequestError(400, "bytes", f"bytes must be an even number of hexadecimal digits, got {text!r}") from None


def _fport(body: Mapping[str, Any], required: bool) -> int | None:
    fport = body.get("fPort")
    if fport is None and not required:
        return None
    if type(fport) is not int or not 0 <= fport <= 255:
        raise RequestError(400, "fPort", f"fPort must be an integer 0..255, got {fport!r}")
    return fport


@hookimpl
def flowhost_web_routes(view: RuntimeView):
    async def decode(request: web.Request) -> web.Response:
        """Decode bytes with a codec (TS013 result: data, warnings, errors).

        Body: flow and node (a running codec node; codec names one of its codecs, devEUI picks one as the node
        would, else its default) or source (a codec's code); bytes (hex), fPort, recvTime (optional). 200 with
        codec, data and warnings, or errors when the codec failed; 400 for a bad body, 404 for an unknown node
        or codec."""
        try:
            body = await _body(request)
            codec = _codec(view, body)
            data, fport = _bytes(body), _fport(body, required=True)
        except RequestError as exc:
            return _error(exc.status, exc.path, exc.message)
        recv_time = body.get("recvTime") if isinstance(body.get("recvTime"), str) else None
        try:
            decoded = codec.decode_uplink(data, fport, recv_time)
        except CodecError as exc:
            return web.json_response({"codec": codec.name, "warnings": exc.warnings, "errors": exc.errors})
        result = {"codec": codec.name, "data": decoded.data, "warnings": decoded.warnings, "errors": []}
        if decoded.points is not None:
            result["points"] = decoded.points
        return web.json_response(result)

    async def encode(request: web.Request) -> web.Response:
        """Encode a downlink's data with a codec (bytes as hex, fPort, warnings, errors).

        Body: flow and node, or source, chosen as for /api/codecs/decode; data (the downlink's payload) and
        fPort (optional, for codecs that do not choose one). 200 with codec, bytes and fPort, or errors when the
        codec failed; 400 for a bad body, 404 for an unknown node or codec."""
        try:
            body = await _body(request)
            codec = _codec(view, body)
            fport = _fport(body, required=False)
            if "data" not in body:
                raise RequestError(400, "data", "data (the downlink's payload) is required")
        except RequestError as exc:
            return _error(exc.status, exc.path, exc.message)
        try:
            encoded = codec.encode_downlink(body["data"], fport)
        except CodecError as exc:
            return web.json_response({"codec": codec.name, "warnings": exc.warnings, "errors": exc.errors})
        return web.json_response(
            {
                "codec": codec.name,
                "bytes": bytes(encoded.bytes).hex(),
                "fPort": encoded.fport,
                "warnings": encoded.warnings,
                "errors": [],
            }
        )

    return [web.post("/api/codecs/decode", decode), web.post("/api/codecs/encode", encode)]
