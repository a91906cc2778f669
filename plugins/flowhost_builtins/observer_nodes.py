"""``catch`` and ``status``: the errors and the status changes of the other nodes of a flow, as messages.

The runtime hands each event to the flow's nodes whose type ``observes`` its kind (``Node.on_event``), with the
message the node was handling. Two bounds keep a flow that fails on what it caught from looping: a caught
message carries its depth (``meta.catchDepth``), and an event on a message already ``maxDepth`` deep is dropped
(``loops``); and each node passes at most ``maxPerSecond`` events a second (``dropped`` past it).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from flowhost import Message, Node
from flowhost.validation import identifier

DEPTH_KEY = "catchDepth"

OBSERVER_SCHEMA = vol.Schema(
    {
        vol.Optional("nodes", description="only these nodes of the flow (default: all the others)"): vol.All(
            [identifier], vol.Length(min=1, max=1000)
        ),
        vol.Optional("maxDepth", default=3, description="how often a caught message may fail and be caught again"): (
            vol.All(int, vol.Range(min=1, max=100))
        ),
        vol.Optional("maxPerSecond", default=100, description="events passed at most, a second"): vol.All(
            int, vol.Range(min=1, max=100_000)
        ),
    }
)


class _Observer(Node):
    has_input = False
    outputs = ("out",)
    config_schema = OBSERVER_SCHEMA
    node_fields = ("nodes",)

    def __init__(self, node_id: str, config: Any, context: Any) -> None:
        super().__init__(node_id, config, context)
        self._only = frozenset(config["nodes"]) if "nodes" in config else None
        self._tokens, self._refilled = float(config["maxPerSecond"]), None

    def on_event(self, event, msg: Message | None) -> None:
        if self._only is not None and event.node_id not in self._only:
            return
        depth = msg.meta.get(DEPTH_KEY, 0) if msg is not None else 0
        if not isinstance(depth, int) or depth >= self.config["maxDepth"]:
            self.context.count("loops")
            return
        if not self._take_token():
            self.context.count("dropped")
            return
        payload = {"node": event.node_id, "type": event.data.get("type"), **self.describe(event, msg)}
        payload["messageId"] = msg.id if msg is not None else None
        out = Message.create(
            payload,
            topic=msg.topic if msg is not None else None,
            meta={**(msg.meta if msg is not None else {}), DEPTH_KEY: depth + 1},
        )
        if self.context.send_nowait(out):
            self.context.count("sent")
        else:
            self.context.count("dropped")  # never wait here: the event happens inside another node's worker

    def describe(self, event, msg: Message | None) -> dict[str, Any]:
        """The payload's fields particular to the event's kind."""
        raise NotImplementedError

    def _take_token(self) -> bool:
        rate = self.config["maxPerSecond"]
        now = self.context.clock.now()
        if self._refilled is not None:
            self._tokens = min(float(rate), self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class CatchNode(_Observer):
    """Each error of another node of the flow (all, or those in ``nodes``) as a message."""

    type = "catch"
    category = "input"
    description = (
        "Sends a message for each error of the flow's other nodes (or those listed): the node, its type, the "
        "error, and the message it failed on (its payload as 'message')."
    )
    observes = frozenset({"error"})

    def describe(self, event, msg: Message | None) -> dict[str, Any]:
        return {"error": event.data.get("error"), "message": msg.payload if msg is not None else None}


class StatusNode(_Observer):
    """Each status change of another node of the flow (all, or those in ``nodes``) as a message."""

    type = "status"
    category = "input"
    description = "Sends a message for each status change of the flow's other nodes (or those listed)."
    observes = frozenset({"status"})

    def describe(self, event, msg: Message | None) -> dict[str, Any]:
        return {"text": event.data.get("text"), "level": event.data.get("level")}
