"""The object a node gets as ``self.context``: the documented :class:`flowhost.NodeContext` and nothing more.

It forwards to the node's runner, which it keeps private: the node reaches sending, status, counters, owned
tasks, connections, HTTP routes and shared state, never the runtime, its flows or the other nodes' runners.
Sending and counting, done for every message, go straight to the node's ports and counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .node import NodeContext, StatusLevel
from .node_links import Ports

if TYPE_CHECKING:
    from .context_store import ContextScope
    from .http_endpoints import Handler
    from .message import Message
    from .node import Connection

__all__ = ["RunnerContext"]


class RunnerContext:
    """One node's context (a :class:`flowhost.NodeContext`), built by the runtime for each node it starts."""

    __slots__ = ("_counters", "_ports", "_runner", "clock", "flow_dir", "flow_id", "log", "node_id", "templates")

    def __init__(self, runner: NodeContext, ports: Ports, counters: Counter[str]) -> None:
        self._runner = runner
        self._ports = ports
        self._counters = counters
        self.node_id = runner.node_id
        self.flow_id = runner.flow_id
        self.log = runner.log
        self.templates = runner.templates
        self.clock = runner.clock
        self.flow_dir = runner.flow_dir

    def __repr__(self) -> str:
        return f"<NodeContext of {self.flow_id}/{self.node_id}>"

    def send(self, msg: Message, port: str = "out") -> Awaitable[None]:
        return self._ports.send(msg, port)  # the ports' coroutine itself: no second one per message

    def send_nowait(self, msg: Message, port: str = "out") -> bool:
        return self._ports.send_nowait(msg, port)

    def send_many_nowait(self, msgs: Sequence[Message], port: str = "out") -> int:
        return self._ports.send_many_nowait(msgs, port)

    def status(self, text: str, level: StatusLevel = "info") -> None:
        self._runner.status(text, level)

    def count(self, name: str, amount: int = 1) -> None:
        self._counters[name] += amount

    def alarm(self, state: Literal["raised", "cleared"], data: Mapping[str, Any]) -> None:
        self._runner.alarm(state, data)

    def create_task(self, coro: Awaitable[Any], name: str) -> Any:
        return self._runner.create_task(coro, name)

    def connection(self, connection_id: str) -> Connection:
        return self._runner.connection(connection_id)

    def add_http_route(self, method: str, path: str, handler: Handler, *, unauthenticated: bool = False) -> None:
        self._runner.add_http_route(method, path, handler, unauthenticated=unauthenticated)

    def report_error(self, error: BaseException | str, msg: Message | None = None) -> None:
        self._runner.report_error(error, msg)

    def show_debug(self, msg: Message, text: str) -> None:
        self._runner.show_debug(msg, text)

    def store(self, scope: Literal["node", "flow", "global"] = "node") -> ContextScope:
        return self._runner.store(scope)

    def deliver(self, address: str, msg: Message) -> Awaitable[None]:
        return self._runner.deliver(address, msg)

    def find_nodes(self, node_type: str) -> Mapping[str, Mapping[str, Any]]:
        return self._runner.find_nodes(node_type)
