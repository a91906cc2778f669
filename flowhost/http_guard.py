"""What every request to flowhost's web server passes first: a ``Host`` check, quiet handling of clients that
leave mid-request, and a server log that counts the requests aiohttp refuses before any handler runs.
:class:`RequestGuard` is the application's first middleware; it hands a request for a running node's endpoint
(``http-uplink``) straight to the node.

- A browser tricked by DNS rebinding sends the attacker's name as ``Host``; answering only to this server's own
  address, ``localhost`` and the names given with ``--allowed-hosts`` (421 otherwise) keeps such pages out.
- A client that closes the connection before its body arrived is one WARNING line, not an ERROR traceback.
- aiohttp answers malformed requests (bad chunking, a content encoding it cannot decode) with 400 itself, before
  routing; :class:`ServerLog` turns its traceback into one WARNING line and counts the refusal.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from collections.abc import Iterable

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from .http_endpoints import HttpEndpoints

log = logging.getLogger("flowhost.http")

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(host: str) -> str:
    """The name or address in a ``Host`` header, without port or brackets, lower-cased: ``[::1]:8080`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _canonical(name: str) -> str:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


HEALTH_PATH = "/healthz"
_HOST_NAMES_KEPT = 256


class HostCheck:
    """Accepts a ``Host`` that names the address the request arrived on, a loopback name, or an allowed name."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed = frozenset(_canonical(host_name(host)) for host in allowed_hosts) | LOOPBACK_NAMES
        # Host headers seen, as canonical names: clients send the same few again and again, and parsing an
        # address costs more than the rest of the check. Bounded: the header is the client's to choose.
        self._names: dict[str, str] = {}

    def _name(self, given: str) -> str:
        name = self._names.get(given)
        if name is None:
            name = _canonical(host_name(given))
            if len(self._names) >= _HOST_NAMES_KEPT:
                self._names.clear()
            self._names[given] = name
        return name

    def accepts(self, request: web.Request) -> bool:
        given = request.headers.get(hdrs.HOST)
        if given is None or "*" in self.allowed:
            return True  # HTTP/1.0 without Host: no browser sends that
        name = self._name(given)
        if name in self.allowed:
            return True
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        return bool(sockname) and name == _canonical(str(sockname[0]))

    def refusal(self, request: web.Request) -> web.Response:
        name = host_name(request.headers[hdrs.HOST])
        message = (
            f"Host {request.headers[hdrs.HOST]!r} is not this server's address; if it is one of its names, "
            f"start flowhost with --allowed-hosts {name}"
        )
        return web.json_response({"errors": [{"path": "", "message": message}]}, status=421)


class RequestGuard:
    """The application's first middleware: the :class:`HostCheck`, then the handler, with one WARNING line for
    a client that left mid-request and ``Connection: close`` after a body that could not be read (so that the
    client does not send its next request on a connection the server is about to drop).

    A request for a running node's endpoint goes to the node's handler directly. The API's middlewares let such
    requests through unchanged (node endpoints are not under ``/api/``, and those under ``/plugins/`` take the
    long way), and each middleware layer costs at every suspension and resumption of the handler: three layers
    fewer per uplink.
    """

    def __init__(self, hosts: HostCheck, endpoints: HttpEndpoints) -> None:
        self.hosts = hosts
        self.endpoints = endpoints

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        # /healthz says only live/ready and holds nothing a rebinding page could want: orchestrators' probes
        # (Kubernetes sends the pod's IP as Host) reach it whatever name they use.
        if request.path != HEALTH_PATH and not self.hosts.accepts(request):
            return self.hosts.refusal(request)
        try:
            response = await (self.endpoints.handler_for(request) or handler)(request)
        except ConnectionResetError:
            if request.transport is not None and not request.transport.is_closing():
                raise  # not this client: something the handler itself connected to
            log.warning(
                "%s %s: the client %s closed the connection before the end of its request",
                request.method,
                request.path,
                request.remote,
            )
            return web.Response(status=400)  # nobody will read it; aiohttp drops it quietly
        if request.content.exception() is not None and isinstance(response, web.Response):
            response.force_close()
        return response


class ServerLog(logging.LoggerAdapter):
    """The logger given to aiohttp's server: its own 400s are WARNING lines, counted by reason in ``refused``."""

    def __init__(self, refused: Counter[str]) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.refused = refused

    def exception(self, msg, *args, exc_info=True, **kwargs) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.refused[type(exc_info).__name__] += 1
            self.warning("%s: refused with 400: %s", msg % args, body_problem(exc_info))
        elif isinstance(exc_info, web.RequestPayloadError):
            # aiohttp reads a broken body again after the handler answered (and counted) it
            self.warning("a request body could not be read: %s", body_problem(exc_info))
        else:
            super().exception(msg, *args, exc_info=exc_info, **kwargs)


def body_problem(exc: BaseException) -> str:
    """One line saying why aiohttp could not read a request: ``Can not decode content-encoding: gzip``."""
    cause = exc.__cause__ if isinstance(exc, web.RequestPayloadError) and exc.__cause__ else exc
    text = cause.message if isinstance(cause, HttpProcessingError) else str(cause)
    return " ".join(text.split()) or type(cause).__name__
