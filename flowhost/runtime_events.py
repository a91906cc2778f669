"""Where runtime events go: the observing nodes of the flow (``catch``, ``status``), the listeners (the API's
WebSocket, ``flowhost test``) and the plugins' ``flowhost_runtime_event``, resolved once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from .events import RuntimeEvent
from .message import Message
from .node import Node
from .plugins import ResolvedHook

__all__ = ["EventDispatcher", "EventListener", "observers_by_kind"]

log = logging.getLogger("flowhost.runtime")

EventListener = Callable[[RuntimeEvent], None]


class Observer(Protocol):
    """A running node as the events of its flow reach it."""

    flow_id: str
    node_id: str
    node: Node
    node_class: type[Node]


class _ObservedFlow(Protocol):
    observers: Mapping[str, list[Observer]]


def observers_by_kind(nodes: Iterable[Observer]) -> dict[str, list[Observer]]:
    """By event kind, the nodes that receive the events of their flow's other nodes (``Node.observes``)."""
    observers: dict[str, list[Observer]] = {}
    for runner in nodes:
        for kind in runner.node_class.observes:
            observers.setdefault(kind, []).append(runner)
    return observers


class EventDispatcher:
    """Tells each event to observers, listeners and plugins, none of them able to stop the others hearing it."""

    def __init__(self, flows: Mapping[str, _ObservedFlow], plugin_hook: ResolvedHook) -> None:
        self._flows = flows
        self._plugin_hook = plugin_hook
        self._listeners: set[EventListener] = set()

    def add_listener(self, listener: EventListener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: EventListener) -> None:
        self._listeners.discard(listener)

    def emit(self, event: RuntimeEvent, message: Message | None = None) -> None:
        """Tell listeners, plugins and the flow's observing nodes (``message``: what the node was handling)."""
        self._notify_observers(event, message)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
        for _ in self._plugin_hook.each(event=event):
            pass

    def _notify_observers(self, event: RuntimeEvent, message: Message | None) -> None:
        running = self._flows.get(event.flow_id) if event.flow_id is not None else None
        for runner in running.observers.get(event.kind, ()) if running is not None else ():
            if runner.node_id == event.node_id:
                continue  # a node's own failures never come back to it: one loop the runtime rules out
            try:
                runner.node.on_event(event, message)
            except Exception:  # not reported as a node error: that would be an event for it again
                log.exception("node %s/%s failed on an event", runner.flow_id, runner.node_id)
