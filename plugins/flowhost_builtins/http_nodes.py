"""``http-uplink`` receives uplinks POSTed by a network server; ``http-downlink`` POSTs downlinks to a URL."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import voluptuous as vol
from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from flowhost import Message, Node, Receipt, hookimpl
from flowhost.validation import duration, with_form

from .thingpark import DocumentError, parse_posted_uplink

MAX_UPLINK_BYTES = 256 * 1024
ACCEPT_TIMEOUT = 30.0
"""How long a POST waits for the flow to take its uplink (written to a connector's outbox) before a 503."""


@with_form(type="string", format="path")
def _endpoint_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("/api/") or " " in value:
        raise vol.Invalid(f"path must start with '/', contain no spaces and not be under /api/, got {value!r}")
    return value


@with_form(type="string", format="url")
def _http_url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise vol.Invalid(f"url must start with http:// or https://, got {value!r}")
    return value


class HttpUplink(Node):
    type = "http-uplink"
    category = "input"
    description = (
        "Receives ThingPark uplink documents POSTed by a network server at 'path' on flowhost's web server "
        "(wrapped DevEUI_uplink or legacy). Answers 202 once the flow took it (an MQTT connector wrote it to "
        "its durable outbox), 400 with the reason when it is invalid, 413 beyond 256 KiB, 422 with the reason when "
        "it can never be taken (the broker refused it), 503 when it cannot be taken now, 403 to a browser's request "
        "from another site's page."
    )
    has_input = False
    outputs = ("out",)
    secret_fields = frozenset({"token"})
    config_schema = vol.Schema(
        {
            vol.Required("path"): _endpoint_path,
            vol.Optional("token"): vol.All(str, vol.Length(min=8, msg="token must be at least 8 characters")),
        }
    )

    async def start(self) -> None:
        token = self.config.get("token")
        self._expected_authorization = f"Bearer {token}".encode() if token else None
        self.context.add_http_route("POST", self.config["path"], self._receive, unauthenticated=not token)
        self.context.status(f"POST {self.config['path']}", "ok")

    async def _receive(self, request: web.Request) -> web.Response:
        cross_site = _cross_site_origin(request)
        if cross_site is not None:
            self.context.count("forbidden")
            return _json_response(403, {"error": f"cross-site request from {cross_site} refused"})
        if self._expected_authorization is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, self._expected_authorization):
                self.context.count("unauthorized")
                return _json_response(401, {"error": "missing or wrong bearer token"})
        try:
            body = await self._read_body(request)
            document, as_sent = parse_posted_uplink(body)
        except _BodyRefused as exc:
            self.context.count("rejected")
            return _json_response(exc.status, {"error": exc.reason})
        except DocumentError as exc:
            self.context.count("rejected")
            return _json_response(400, {"error": str(exc)})
        receipt = Receipt(holders=0)
        meta = {"remote": request.remote or ""}
        if as_sent:  # the connector then publishes the very bytes posted, as it does for mqtt-in
            msg = Message.from_bytes(body, meta=meta, receipt=receipt)
        else:
            msg = Message.create(document, meta=meta, receipt=receipt)
        with receipt.holding():  # until it is sent: a node done early must not settle it before the others got it
            await self.context.send(msg)
        try:
            refusal = await receipt.wait(ACCEPT_TIMEOUT)
        except TimeoutError:
            self.context.count("refused")
            return _json_response(503, {"error": f"not accepted within {ACCEPT_TIMEOUT:g}s"}, retry_after=5)
        if refusal is not None:
            if refusal.retryable:
                self.context.count("refused")
                return _json_response(503, {"error": refusal.reason}, retry_after=5)
            self.context.count("rejected")  # a valid document the flow cannot take (the broker refused it...)
            return _json_response(422, {"error": refusal.reason})
        self.context.count("accepted")
        return _accepted(msg.id, receipt.durable)

    async def _read_body(self, request: web.Request) -> bytes:
        """At most MAX_UPLINK_BYTES, whether the client sent a Content-Length or chunks (decompressed size)."""
        if request.content_length is not None and request.content_length > MAX_UPLINK_BYTES:
            raise _too_large()
        content = request.content
        try:
            if content.is_eof():
                # The usual uplink: the whole body came with the headers (decompressed, if it was compressed)
                # and is taken at once, without the reads and waits of a stream still arriving.
                body = content.read_nowait()
            else:
                body = await _read_arriving(content)
        except (web.RequestPayloadError, HttpProcessingError) as exc:  # a corrupt gzip or deflate body
            cause = exc.__cause__ if isinstance(exc.__cause__, HttpProcessingError) else exc
            problem = " ".join(getattr(cause, "message", str(cause)).split()) or type(cause).__name__
            raise _BodyRefused(400, f"the body cannot be read: {problem}") from None
        except ConnectionResetError:
            self.context.count("dropped")  # the web server logs one line for it
            raise
        if len(body) > MAX_UPLINK_BYTES:
            raise _too_large()
        return body


async def _read_arriving(content: aiohttp.StreamReader) -> bytes:
    """A body still arriving, read until its end or until it is known to be too large."""
    body = bytearray()
    async for chunk in content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_UPLINK_BYTES:
            raise _too_large()
    return bytes(body)


class _BodyRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _too_large() -> _BodyRefused:
    return _BodyRefused(413, f"uplink larger than {MAX_UPLINK_BYTES} bytes")


def _cross_site_origin(request: web.Request) -> str | None:
    """The origin of a browser's request from another site's page, else None.

    Browsers send ``Origin`` with every cross-origin POST, and ``Sec-Fetch-Site``; network servers and curl send
    neither, so they are not affected, whatever content type they use.
    """
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
        return origin
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return origin or "another site"
    return None


_JSON_HEADERS = {hdrs.CONTENT_TYPE: "application/json"}


def _json_response(status: int, body: dict, retry_after: int | None = None) -> web.Response:
    headers = {**_JSON_HEADERS, hdrs.RETRY_AFTER: str(retry_after)} if retry_after else _JSON_HEADERS
    return web.Response(status=status, body=orjson.dumps(body), headers=headers)


def _accepted(msg_id: str, durable: bool) -> web.Response:
    """The 202 of every uplink taken, ``{"accepted": true, "id": ..., "durable": ...}``: its constant parts are
    bytes already, and the Content-Type is given as a header (aiohttp parses a ``content_type`` argument)."""
    body = b'{"accepted":true,"id":' + orjson.dumps(msg_id) + (b',"durable":true}' if durable else b',"durable":false}')
    return web.Response(status=202, body=body, headers=_JSON_HEADERS)


class HttpDownlink(Node):
    type = "http-downlink"
    category = "output"
    description = "POSTs each downlink document as JSON to 'url', with a timeout and bounded retries."
    outputs = ()
    config_schema = vol.Schema(
        {
            vol.Required("url"): _http_url,
            vol.Optional("timeout", default="5s"): vol.All(duration, vol.Range(min=0.01, max=300)),
            vol.Optional("retries", default=3): vol.All(int, vol.Range(min=0, max=20)),
            vol.Optional("retryDelay", default="1s"): vol.All(duration, vol.Range(min=0, max=600)),
            vol.Optional("headers", default=dict): {str: str},
        }
    )

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config["timeout"]),
            headers={"Content-Type": "application/json", **self.config["headers"]},
        )

    async def on_input(self, msg: Message) -> None:
        body = msg.payload if isinstance(msg.payload, bytes) else orjson.dumps(msg.payload)
        attempts = self.config["retries"] + 1
        last_problem = ""
        for attempt in range(attempts):
            if attempt:
                self.context.count("retries")
                await asyncio.sleep(self.config["retryDelay"] * attempt)
            try:
                async with self._session.post(self.config["url"], data=body) as response:
                    if response.status < 400:
                        self.context.count("sent")
                        return
                    last_problem = f"HTTP {response.status}"
                    if response.status < 500 and response.status not in (408, 429):
                        break  # the sink refused this document; sending it again will not help
            except (aiohttp.ClientError, TimeoutError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self.context.count("failed")
        self.context.report_error(f"downlink not delivered to {self.config['url']}: {last_problem}", msg)

    async def close(self) -> None:
        session = getattr(self, "_session", None)
        if session is not None:
            await session.close()


@hookimpl
def flowhost_register_node_types(register):
    register(HttpUplink)
    register(HttpDownlink)
