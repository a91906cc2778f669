"""Runtime events: what plugins, the REST API and the editor observe."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "deployed",  # a flow started or was redeployed; data: {"changed": [...node ids]}
    "stopped",  # a flow stopped
    "status",  # a node's status line changed; data: {"text", "level", "type"} (type: the node's type)
    "error",  # a node failed on a message or a task; data: {"error", "message_id", "type"}
    "connection_state",  # a connection changed state; data: {"state", "error"}
    "debug",  # a debug node saw a message; data: {"topic", "payload", "message_id"}
    "alarm",  # a node raised or cleared an alarm; data: {"state": "raised" | "cleared", ...what the node says}
]


@dataclass(frozen=True, slots=True)
class RuntimeEvent:
    kind: EventKind
    flow_id: str | None = None
    node_id: str | None = None
    connection_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "flow": self.flow_id,
            "node": self.node_id,
            "connection": self.connection_id,
            "data": self.data,
            "time": self.time,
        }
