"""``change``: sets, deletes, moves and renames fields of a message, in order, at any depth."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import voluptuous as vol

from flowhost import Message, Node

from .context_paths import ContextPath, change_path, parse_change_path
from .message_paths import (
    MISSING,
    Expression,
    MessageDraft,
    MessagePath,
    PathError,
    jinja_expression,
)

MAX_CHANGES = 64
ACTIONS = {
    "set": "set (to value, from another field or an expression)",
    "delete": "delete",
    "move": "move (to another path)",
    "rename": "rename (to a new key beside it)",
}
_SOURCES = ("value", "from", "expression")


def _complete_change(change: dict) -> dict:
    action, given = change["action"], [key for key in _SOURCES if key in change]
    if action == "set":
        if len(given) != 1:
            raise vol.Invalid("set takes exactly one of value, from or expression", path=["value"])
    elif given:
        raise vol.Invalid(f"{action} takes no {given[0]}", path=[given[0]])
    if action in ("move", "rename") and "to" not in change:
        raise vol.Invalid(f"{action} needs to: {'a path' if action == 'move' else 'the new key'}", path=["to"])
    if action in ("set", "delete") and "to" in change:
        raise vol.Invalid(f"{action} takes no to", path=["to"])
    path = parse_change_path(change["path"])
    if action == "move":
        try:
            change["to"] = change_path(change["to"])
        except vol.Invalid as exc:
            raise vol.Invalid(exc.msg, path=["to"]) from None
        if not path.segments:
            raise vol.Invalid(f"move takes a field, not the whole {path.root}", path=["path"])
    if action == "rename":
        _check_rename(path, change["to"])
    return change


_complete_change.form = {}  # type: ignore[attr-defined]


def _check_rename(path: MessagePath | ContextPath, new_key: Any) -> None:
    if not path.segments or not isinstance(path.segments[-1], str):
        raise vol.Invalid("rename takes the path of a key (payload.old), not a list item or a root", path=["path"])
    if not isinstance(new_key, str) or not new_key or "." in new_key or "[" in new_key:
        raise vol.Invalid(f"rename: to is the new key alone (no dots or brackets), got {new_key!r}", path=["to"])


CHANGE_SCHEMA = vol.All(
    {
        vol.Required("action"): vol.In(ACTIONS),
        vol.Required(
            "path", description="the field to change, e.g. payload.DevEUI_uplink.payload.celsius, or flow.x, global.x"
        ): change_path,
        vol.Optional("value", description="set: this JSON value"): object,
        vol.Optional("from", description="set: a copy of this field (or of flow.x, global.x)"): change_path,
        vol.Optional("expression", description="set: the result of this Jinja expression"): jinja_expression,
        vol.Optional("to", description="move: the new path; rename: the new key"): str,
    },
    _complete_change,
)


def _json_value(value: Any, source: str) -> Any:
    """A plain JSON copy of an expression's result (a range, a generator or an object is refused)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        raise PathError(f"{source} gave {type(value).__name__}, which is not a JSON value") from None


class _Change:
    def __init__(self, config: dict, node: ChangeNode) -> None:
        self.action = config["action"]
        self.context = node.context
        self.path = parse_change_path(config["path"])
        self.literal = config.get("value", MISSING)
        self.source = parse_change_path(config["from"]) if "from" in config else None
        self.expression = Expression(config["expression"], node.context.templates) if "expression" in config else None
        to = config.get("to")
        if self.action == "move":
            self.target = parse_change_path(to)
        elif self.action == "rename" and isinstance(self.path, ContextPath):
            self.target = parse_change_path(f"{self.path.text.rpartition('.')[0]}.{to}")
        elif self.action == "rename":
            self.target = MessagePath(f"{self.path.text}->{to}", self.path.root, (*self.path.segments[:-1], to))

    def apply(self, draft: MessageDraft) -> None:
        if self.action == "set":
            self._write(draft, self.path, self._value(draft))
        elif self.action == "delete":
            self._delete(draft, self.path)
        else:
            value = self._read(draft, self.path)
            if value is MISSING:
                return  # nothing to move: as Node-RED does, the message goes on unchanged
            self._delete(draft, self.path)
            self._write(draft, self.target, value)

    def _read(self, draft: MessageDraft, path: MessagePath | ContextPath) -> Any:
        if isinstance(path, ContextPath):
            return path.get(self.context)
        return draft.get(path)

    def _write(self, draft: MessageDraft, path: MessagePath | ContextPath, value: Any) -> None:
        if isinstance(path, ContextPath):
            path.set(self.context, value)
        else:
            draft.set(path, value)

    def _delete(self, draft: MessageDraft, path: MessagePath | ContextPath) -> None:
        if isinstance(path, ContextPath):
            path.delete(self.context)
        else:
            draft.delete(path)

    def _value(self, draft: MessageDraft) -> Any:
        if self.expression is not None:
            return _json_value(self.expression.evaluate_in(draft.context()), f"expression {self.expression.source!r}")
        if self.source is not None:
            value = self._read(draft, self.source)
            if value is MISSING:
                raise PathError(f"set {self.path}: the message has no {self.source} to copy")
            return copy.deepcopy(value)
        return copy.deepcopy(self.literal)  # a later change may alter it inside this message


class ChangeNode(Node):
    """Each change is ``{action, path, ...}``: ``set`` with ``value``, ``from`` (a path) or ``expression``;
    ``delete``; ``move`` with ``to`` (a path); ``rename`` with ``to`` (the new key). Changes apply in order to a
    copy; the message that leaves is new. A change that cannot apply fails that message alone, naming the path."""

    type = "change"
    category = "function"
    description = (
        "Sets (to a value, a copy of another field or a Jinja expression), deletes, moves or renames fields of "
        "each message, in order, at any depth."
    )
    outputs = ("out",)
    config_schema = vol.Schema({vol.Required("changes"): vol.All([CHANGE_SCHEMA], vol.Length(min=1, max=MAX_CHANGES))})

    async def start(self) -> None:
        self._changes = [_Change(change, self) for change in self.config["changes"]]

    async def on_input(self, msg: Message) -> None:
        draft = MessageDraft(msg)
        for change in self._changes:
            change.apply(draft)
        await self.context.send(draft.message())
