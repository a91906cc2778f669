"""``template``: a new payload (a JSON document, or text) rendered from a sandboxed Jinja template."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import jinja2
import orjson
import voluptuous as vol
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from flowhost import Message, Node
from flowhost.validation import duration_between

from .message_paths import expression_context

MAX_TEMPLATE_LENGTH = 64 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024
_CHECK_EVERY = 256
_EXCERPT = 80
_SYNTAX_CHECKER = SandboxedEnvironment()


class TemplateLimit(ValueError):
    """A rendering that went past the node's size or time limit; that message is dropped."""


_deadline: ContextVar[tuple[float, float, float]] = ContextVar("template_deadline", default=(float("inf"), 0.0, 0.0))
"""The rendering under way: (when to look at the CPU time next, on ``time.monotonic``; the limit; the thread's CPU
time at the start). Rendering is synchronous, so the variable is set around one ``generate()``."""


def _check_time() -> None:
    """The limit is CPU time, so that a rendering descheduled on a busy machine is not dropped; reading it costs a
    system call, so it is read only once the wall clock says the limit could have been used up."""
    deadline, limit, cpu_start = _deadline.get()
    if time.monotonic() > deadline:
        used = time.thread_time() - cpu_start
        if used > limit:
            raise TemplateLimit(f"template took longer than {limit:g}s; message dropped")
        _deadline.set((time.monotonic() + limit - used, limit, cpu_start))  # CPU time never runs ahead of wall


def _checked(items: Iterable[Any]) -> Iterator[Any]:
    for count, item in enumerate(items):
        if count % _CHECK_EVERY == 0:
            _check_time()
        yield item


class _WatchedList(tuple):
    """A list of the message whose loops look at the time limit: a loop that writes nothing (nested loops over
    a long list) gives ``generate()`` no chance to."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        return _checked(tuple.__iter__(self))


class _WatchedDict(dict):
    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        return _checked(dict.__iter__(self))

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        return _checked(dict.items(self))

    def keys(self) -> Iterator[Any]:  # type: ignore[override]
        return _checked(dict.keys(self))

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        return _checked(dict.values(self))


def _watched(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _WatchedDict({key: _watched(item) for key, item in value.items()})
    if isinstance(value, tuple | list):
        return _WatchedList(_watched(item) for item in value)
    return value


def jinja_template(value: Any) -> str:
    """Voluptuous validator: a Jinja template; its syntax is checked here, its filters when the node starts."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid(f"expected a Jinja template (text), got {value!r}")
    if len(value) > MAX_TEMPLATE_LENGTH:
        raise vol.Invalid(f"template is longer than {MAX_TEMPLATE_LENGTH} characters")
    try:
        _SYNTAX_CHECKER.parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise vol.Invalid(f"Jinja syntax error on line {exc.lineno}: {exc.message}") from None
    return value


jinja_template.form = {"type": "string", "format": "jinja-template"}  # type: ignore[attr-defined]


class TemplateNode(Node):
    """The template sees ``payload``, ``topic``, ``meta`` and ``uplink`` (the fields of a ThingPark uplink);
    write values into JSON with ``| tojson``. Output past ``maxBytes`` or rendering past ``timeLimit`` drops the
    message and counts an error."""

    type = "template"
    category = "function"
    description = (
        "Replaces the payload with a document rendered from a sandboxed Jinja template over payload, topic, "
        "meta and uplink: JSON (parsed) or text; bounded in size and time."
    )
    outputs = ("out",)
    config_schema = vol.Schema(
        {
            vol.Required("template"): jinja_template,
            vol.Optional("format", default="json"): vol.In({"json": "a JSON document", "text": "text"}),
            vol.Optional("maxBytes", default=64 * 1024): vol.All(int, vol.Range(min=1, max=MAX_OUTPUT_BYTES)),
            vol.Optional("timeLimit", default="100ms", description="the longest one rendering may take"): (
                duration_between(0.001, 10)
            ),
        }
    )

    async def start(self) -> None:
        try:
            # Template-level globals only: the host's environment is shared and must not change.
            self._template = self.context.templates.from_string(
                self.config["template"], globals={"range": self._bounded_range}
            )
        except jinja2.TemplateError as exc:
            raise ValueError(f"template cannot be compiled: {exc}") from None
        self._json = self.config["format"] == "json"

    def _bounded_range(self, *args: int) -> Iterator[int]:
        """The sandbox's range (at most 100,000 items), also stopped at the time limit."""
        return _checked(self.context.templates.globals["range"](*args))

    def render(self, msg: Message) -> str:
        """Raises TemplateLimit past the size or time limit, ValueError when the template fails."""
        limit, time_limit = self.config["maxBytes"], self.config["timeLimit"]
        # Real time, not context.clock: this bounds CPU spent on one message, which a test clock does not move.
        token = _deadline.set((time.monotonic() + time_limit, time_limit, time.thread_time()))
        pieces, size = [], 0
        try:
            names = {name: _watched(value) for name, value in expression_context(msg).items()}
            for piece in self._template.generate(**names):
                size += len(piece.encode())
                if size > limit:
                    raise TemplateLimit(f"template output is larger than {limit} bytes; message dropped")
                _check_time()
                pieces.append(piece)
        except TemplateLimit:
            raise
        except SecurityError as exc:
            raise ValueError(f"template was refused by the sandbox: {exc}") from None
        except Exception as exc:  # user-written template code can raise anything; only this message fails
            raise ValueError(f"template failed: {type(exc).__name__}: {exc}") from None
        finally:
            _deadline.reset(token)
        return "".join(pieces)

    async def on_input(self, msg: Message) -> None:
        text = self.render(msg)
        if not self._json:
            await self.context.send(msg.derive(payload=text))
            return
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            excerpt = text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")
            raise ValueError(f"template output is not JSON ({exc}): {excerpt!r}; use | tojson for values") from None
        await self.context.send(msg.derive(payload=document))
