"""Paths into the shared context for ``change``: ``flow.counter`` (the flow's context, key ``counter``),
``global.sites.grenoble`` (inside the global key ``sites``). The first name after the root is the context key;
what follows reads and writes inside its value, as a message path does inside a payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from flowhost import Message, NodeContext

from .message_paths import MISSING, MessageDraft, MessagePath, message_path, parse_path, thawed

CONTEXT_ROOTS = ("flow", "global")


@dataclass(frozen=True, slots=True)
class ContextPath:
    text: str
    scope: str
    key: str
    inner: MessagePath
    """The rest of the path, inside the key's value (rooted at ``payload`` of a scratch draft)."""

    @property
    def segments(self) -> tuple[str | int, ...]:
        return (self.key, *self.inner.segments)

    def get(self, context: NodeContext) -> Any:
        """The value, as a mutable copy (later changes of the same message may write inside it), or MISSING."""
        value = context.store(self.scope).get(self.key, MISSING)
        if value is not MISSING and self.inner.segments:
            value = self.inner.get_in(value)
        return value if value is MISSING else thawed(value)

    def set(self, context: NodeContext, value: Any) -> None:
        store = context.store(self.scope)
        if not self.inner.segments:
            store.set(self.key, value)
            return
        current = store.get(self.key)
        draft = MessageDraft(Message.create(current if current is not None else {}))
        draft.set(self.inner, value)
        store.set(self.key, draft.parts["payload"])

    def delete(self, context: NodeContext) -> bool:
        store = context.store(self.scope)
        if not self.inner.segments:
            return store.delete(self.key)
        current = store.get(self.key, MISSING)
        if current is MISSING:
            return False
        draft = MessageDraft(Message.create(current))
        deleted = draft.delete(self.inner)
        if deleted:
            store.set(self.key, draft.parts["payload"])
        return deleted

    def __str__(self) -> str:
        return self.text


def is_context_path(text: Any) -> bool:
    return isinstance(text, str) and text.partition(".")[0] in CONTEXT_ROOTS


def parse_change_path(text: Any) -> MessagePath | ContextPath:
    """A message path, or a context path (``flow.key...``, ``global.key...``); ValueError naming the problem."""
    if not is_context_path(text):
        return parse_path(text)
    root, _, rest = text.partition(".")
    try:
        inner = parse_path(f"payload.{rest}")  # the same syntax and bounds as message paths
    except ValueError:
        inner = None
    if inner is None or not rest or not isinstance(inner.segments[0], str):
        raise ValueError(
            f"path {text!r}: after {root}. give the context key, then any fields inside it "
            f"({root}.counter, {root}.sites.grenoble, {root}.readings[0])"
        )
    rest_text = "payload" + rest[len(str(inner.segments[0])) :]
    return ContextPath(text, root, inner.segments[0], MessagePath(rest_text, "payload", inner.segments[1:]))


def change_path(value: Any) -> str:
    """Voluptuous validator: a message path or a context path (``flow.x``, ``global.x``)."""
    if not is_context_path(value):
        return message_path(value)
    try:
        return parse_change_path(value).text
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


change_path.form = {"type": "string", "format": "message-path"}  # type: ignore[attr-defined]
