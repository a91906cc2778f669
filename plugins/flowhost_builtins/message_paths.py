"""Dotted paths into a message (``payload.DevEUI_uplink.FPort``, ``payload.items[0]``, ``uplink.FCntUp``) and
sandboxed Jinja expressions over it: what ``switch``, ``change``, ``template``, ``rate-limit``, ``dedupe`` and
``batch`` read their fields with.

A path starts at ``payload``, ``topic``, ``meta`` or ``uplink`` (the fields of a ThingPark uplink: inside
``payload.DevEUI_uplink`` when present, else the payload itself, as topic templates read them), followed by
``.name``, ``[index]`` (a list index, negative from the end) or ``["any key"]``. A number after a dot indexes
a list too (``payload.items.0``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import orjson
import voluptuous as vol
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from flowhost import Message
from flowhost.template_budget import bounded

from .json_kinds import json_kind
from .thingpark_documents import UPLINK_ROOT, uplink_fields

__all__ = [
    "MISSING",
    "MessagePath",
    "PathError",
    "compile_expression",
    "expression_context",
    "jinja_expression",
    "key_of",
    "message_path",
    "parse_path",
]

ROOTS = ("payload", "topic", "meta", "uplink")
MAX_SEGMENTS = 32
MAX_EXPRESSION_LENGTH = 4096
_ROOT = re.compile(r"[A-Za-z_]+")
_SEGMENT = re.compile(r"""\.([^.\[\]"']+)|\[(-?\d{1,9})\]|\["([^"]*)"\]|\['([^']*)'\]""")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""What a path gives where the message has no such field (``None`` is a value: JSON's ``null``)."""


class PathError(ValueError):
    """A path that cannot be read or written in this message; the message says where and why."""


@dataclass(frozen=True, slots=True)
class MessagePath:
    text: str
    root: str
    segments: tuple[str | int, ...]

    def get(self, msg: Message) -> Any:
        """The value at this path in ``msg``, or ``MISSING``."""
        return self.get_in(root_value(msg, self.root))

    def get_in(self, value: Any) -> Any:
        for segment in self.segments:
            value = _child(value, segment)
            if value is MISSING:
                return MISSING
        return value

    def __str__(self) -> str:
        return self.text


def parse_path(text: Any) -> MessagePath:
    """Raises ValueError naming the position of the first problem."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"expected a path such as payload.DevEUI_uplink.FPort, got {text!r}")
    root = _ROOT.match(text)
    if root is None or root.group() not in ROOTS:
        raise ValueError(f"path {text!r} must start with one of {', '.join(ROOTS)}")
    segments: list[str | int] = []
    position = root.end()
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None:
            raise ValueError(
                f"path {text!r}: unexpected {text[position : position + 10]!r} at character {position + 1}; "
                'use .name, [index] or ["key"]'
            )
        name, index, double, single = match.groups()
        if index is not None:
            segments.append(int(index))
        else:
            segments.append(name if name is not None else double if double is not None else single)
        position = match.end()
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"path {text!r} is deeper than {MAX_SEGMENTS} levels")
    if root.group() == "topic" and segments:
        raise ValueError(f"path {text!r}: the topic is text and has no fields")
    return MessagePath(text, root.group(), tuple(segments))


def message_path(value: Any) -> str:
    """Voluptuous validator: a path into a message (kept as text: configs stay JSON; nodes parse it in start)."""
    try:
        return parse_path(value).text
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


message_path.form = {"type": "string", "format": "message-path"}  # type: ignore[attr-defined]


def root_value(msg: Message, root: str) -> Any:
    if root == "payload":
        return msg.payload
    if root == "topic":
        return msg.topic
    if root == "meta":
        return msg.meta
    payload = msg.payload
    return uplink_fields(payload) if isinstance(payload, Mapping) else MISSING


def _child(value: Any, segment: str | int) -> Any:
    if isinstance(value, Mapping):
        return value.get(str(segment), MISSING)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        index = _index(segment)
        if index is None or not -len(value) <= index < len(value):
            return MISSING
        return value[index]
    return MISSING


def _index(segment: str | int) -> int | None:
    if isinstance(segment, int):
        return segment
    return int(segment) if segment.isdigit() else None


def key_of(msg: Message, paths: Sequence[MessagePath]) -> bytes | None:
    """A hashable key made of the values at ``paths`` (None when one is missing): what per-key nodes group by.
    JSON text, so that ``"1"`` and ``1`` stay different keys and nested values work."""
    values = []
    for path in paths:
        value = path.get(msg)
        if value is MISSING or value is None:
            return None
        values.append(value)
    return orjson.dumps(values, default=str)


def key_text(key: bytes) -> Any:
    """The key's values for people and documents: the value itself for a key of one path."""
    values = orjson.loads(key)
    return values[0] if len(values) == 1 else values


# ---- writing: on a mutable copy of the message's parts ---------------------------------------------------------


class MessageDraft:
    """A message's payload, topic and meta, thawed once, for several changes before one ``derive``."""

    def __init__(self, msg: Message) -> None:
        self.original = msg
        payload = msg.payload
        self.parts: dict[str, Any] = {
            "payload": payload.thaw() if hasattr(payload, "thaw") else thawed(payload),
            "topic": msg.topic,
            "meta": thawed(msg.meta),
        }

    def get(self, path: MessagePath) -> Any:
        return path.get_in(self._root(path, create=False))

    def set(self, path: MessagePath, value: Any) -> None:
        if not path.segments:
            self._set_root(path, value)
            return
        parent = self._parent(path, create=True)
        last = path.segments[-1]
        if isinstance(parent, dict):
            parent[str(last)] = value
            return
        index = _list_index(parent, last, path, appending=True)
        if index == len(parent):
            parent.append(value)
        else:
            parent[index] = value

    def delete(self, path: MessagePath) -> bool:
        """Remove the field; False when it was not there."""
        if not path.segments:
            if path.root == "uplink":
                raise PathError("uplink cannot be deleted as a whole; delete payload or a field of it")
            existed = self.parts[path.root] not in (None, {})
            self.parts[path.root] = {} if path.root == "meta" else None
            return existed
        try:
            parent = self._parent(path, create=False)
        except PathError:
            return False
        last = path.segments[-1]
        if isinstance(parent, dict):
            return parent.pop(str(last), MISSING) is not MISSING
        index = _index(last)
        if index is None or not -len(parent) <= index < len(parent):
            return False
        del parent[index]
        return True

    def context(self) -> dict[str, Any]:
        """What an expression sees, as the message is now (after the changes so far)."""
        payload = self.parts["payload"]
        uplink = uplink_fields(payload) if isinstance(payload, Mapping) else None
        return {"payload": payload, "topic": self.parts["topic"], "meta": self.parts["meta"], "uplink": uplink}

    def message(self) -> Message:
        parts = self.parts
        return self.original.derive(payload=parts["payload"], topic=parts["topic"], meta=parts["meta"])

    def _set_root(self, path: MessagePath, value: Any) -> None:
        if path.root == "topic":
            if value is not None and not isinstance(value, str):
                raise PathError(f"topic must be text or null, got {described_kind(value)}")
        elif path.root == "meta" and not isinstance(value, dict):
            raise PathError(f"meta must be an object, got {described_kind(value)}")
        elif path.root == "uplink":
            payload = self.parts["payload"]
            if isinstance(payload, dict) and isinstance(payload.get(UPLINK_ROOT), dict):
                payload[UPLINK_ROOT] = value
                return
            path = MessagePath("payload", "payload", ())
        self.parts[path.root] = value

    def _root(self, path: MessagePath, *, create: bool) -> Any:
        if path.root != "uplink":
            return self.parts[path.root]
        payload = self.parts["payload"]
        if not isinstance(payload, dict):
            if create:
                raise PathError(f"{path}: the payload is {described_kind(payload)}, not an uplink document")
            return MISSING
        inner = payload.get(UPLINK_ROOT)
        return inner if isinstance(inner, dict) else payload

    def _parent(self, path: MessagePath, *, create: bool) -> dict | list:
        container = self._root(path, create=create)
        where = path.root
        for segment in path.segments[:-1]:
            if isinstance(container, dict):
                child = container.get(str(segment), MISSING)
                if child is MISSING or child is None:
                    if not create:
                        raise PathError(f"{where} has no field {segment!r}")
                    child = container[str(segment)] = {}
            elif isinstance(container, list):
                child = container[_list_index(container, segment, path, appending=False)]
            else:
                raise PathError(f"{path}: {where} is {described_kind(container)}, which has no fields")
            where = f"{where}.{segment}" if isinstance(segment, str) else f"{where}[{segment}]"
            container = child
        if not isinstance(container, dict | list):
            raise PathError(f"{path}: {where} is {described_kind(container)}, which has no fields")
        return container


def _list_index(container: list, segment: str | int, path: MessagePath, *, appending: bool) -> int:
    index = _index(segment)
    if index is None:
        raise PathError(f"{path}: {segment!r} is not a list index")
    if index < 0:
        index += len(container)
    if not 0 <= index < len(container) + (1 if appending else 0):
        raise PathError(f"{path}: index {segment} is outside the list of {len(container)}")
    return index


def thawed(value: Any) -> Any:
    """A plain, mutable deep copy of a (frozen) message payload, for building a new document from it; unlike
    ``flowhost.message.thaw`` it copies lists too, so that nothing of the original is shared."""
    if isinstance(value, Mapping):
        return {key: thawed(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thawed(item) for item in value]
    return value


def kind_of(value: Any) -> str:
    """A value's JSON kind: ``missing`` (no value at the path) or what :func:`json_kind` says (``null``,
    ``boolean``, ``number``, ``string``, ``object``, ``array``, ``bytes``...)."""
    return "missing" if value is MISSING else json_kind(value)


_ARTICLES = {"boolean": "a ", "number": "a ", "string": "a ", "object": "an ", "array": "an "}


def described_kind(value: Any) -> str:
    """:func:`kind_of` as an error message says it: "an object", "a string", "null", "bytes"..."""
    kind = kind_of(value)
    return _ARTICLES.get(kind, "") + kind


# ---- Jinja expressions ---------------------------------------------------------------------------------------

_SYNTAX_CHECKER = SandboxedEnvironment()


def jinja_expression(value: Any) -> str:
    """Voluptuous validator: a Jinja expression (``payload.temperature * 1.8 + 32``, no braces); its syntax is
    checked here, its filters when the node starts (they come from the host's environment)."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid(f"expected a Jinja expression such as uplink.FPort == 2, got {value!r}")
    if len(value) > MAX_EXPRESSION_LENGTH:
        raise vol.Invalid(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    if value.lstrip().startswith("{{"):
        raise vol.Invalid(f"write the expression without {{{{ }}}}: {value.strip()[2:-2].strip()!r}")
    try:
        # Only parsed: filters are looked up when compiled, in the host's environment with the plugins' filters.
        parser = Parser(_SYNTAX_CHECKER, value, state="variable")
        parser.parse_expression()
        if not parser.stream.eos:
            parser.fail(f"unexpected {parser.stream.current.value!r} after the expression")
    except jinja2.TemplateSyntaxError as exc:
        raise vol.Invalid(f"Jinja syntax error: {exc.message} in {value!r}") from None
    return value


jinja_expression.form = {"type": "string", "format": "jinja-expression"}  # type: ignore[attr-defined]


class Expression:
    """A compiled expression; :meth:`evaluate` raises ValueError (with the source) for any failure."""

    def __init__(self, source: str, environment: SandboxedEnvironment) -> None:
        self.source = source
        try:
            self._compiled = environment.compile_expression(source, undefined_to_none=True)
        except jinja2.TemplateError as exc:
            raise ValueError(f"expression {source!r} cannot be compiled: {exc}") from None

    def evaluate(self, msg: Message) -> Any:
        return self.evaluate_in(expression_context(msg))

    def evaluate_in(self, context: Mapping[str, Any]) -> Any:
        try:
            with bounded():  # the host's limits on what template code may compute, as for topic templates
                return self._compiled(**context)
        except SecurityError as exc:
            raise ValueError(f"expression {self.source!r} was refused by the sandbox: {exc}") from None
        except Exception as exc:  # user-written code can raise anything; only this message fails
            raise ValueError(f"expression {self.source!r} failed: {type(exc).__name__}: {exc}") from None


def compile_expression(source: str, environment: SandboxedEnvironment) -> Expression:
    return Expression(source, environment)


def expression_context(msg: Message) -> dict[str, Any]:
    """The names an expression or template sees: ``payload``, ``topic``, ``meta`` and ``uplink``."""
    payload = msg.payload
    uplink = uplink_fields(payload) if isinstance(payload, Mapping) else None
    return {"payload": payload, "topic": msg.topic, "meta": msg.meta, "uplink": uplink}


def key_paths(value: Any) -> list[str]:
    """Voluptuous validator: one path or a list of 1 to 8 paths, the fields a per-key node groups by."""
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not 1 <= len(paths) <= 8:
        raise vol.Invalid(f"expected a path or a list of 1 to 8 paths, such as uplink.DevEUI, got {value!r}")
    checked = []
    for index, path in enumerate(paths):
        try:
            checked.append(message_path(path))
        except vol.Invalid as exc:
            raise vol.Invalid(exc.msg, path=[index] if len(paths) > 1 or not isinstance(value, str) else []) from None
    return checked


key_paths.form = {"type": "list", "items": {"type": "string", "format": "message-path"}}  # type: ignore[attr-defined]
