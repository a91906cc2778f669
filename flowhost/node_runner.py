"""Running one node: its context, inbox, worker, counters, status, errors and close."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .events import RuntimeEvent
from .input_tap import InputTap, tapped, tapped_batch
from .message import Message
from .node import Connection, Node, StatusLevel
from .node_context import RunnerContext
from .node_links import Ports, Receiver, deliver_to
from .owned_tasks import OwnedTasks

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from .clock import Clock
    from .context_store import ContextScope, ContextStore
    from .flowfile import NodeSpec
    from .http_endpoints import Handler, HttpEndpoints

__all__ = ["NodeHost", "NodeRunner"]

node_log = logging.getLogger("flowhost.node")


class NodeHost(Protocol):
    """What a runner uses of the runtime that runs it (the runtime is one; the node never sees it)."""

    templates: SandboxedEnvironment
    clock: Clock
    http: HttpEndpoints
    context: ContextStore
    input_tap: InputTap | None

    def emit(self, event: RuntimeEvent, message: Message | None = None) -> None: ...

    def connection(self, connection_id: str) -> Connection: ...

    def runner_at(self, address: str) -> Receiver: ...

    def nodes_of_type(self, node_type: str) -> Mapping[str, Mapping[str, Any]]: ...


class NodeRunner:
    """Runs one node; its :class:`~flowhost.node_context.RunnerContext` is what the node sees of it."""

    def __init__(
        self, host: NodeHost, flow_id: str, spec: NodeSpec, node_class: type[Node], flow_dir: Path | None
    ) -> None:
        self._host = host
        self.flow_id = flow_id
        self.node_id = spec.id
        self.spec = spec
        self.node_class = node_class
        self.log = node_log.getChild(f"{flow_id}.{spec.id}")
        self.templates = host.templates
        self.clock = host.clock
        self.flow_dir = flow_dir
        self.counters: Counter[str] = Counter()
        self.status_text: str | None = None
        self.status_level: StatusLevel = "info"
        self.replaced_by: NodeRunner | None = None
        """Set when a redeploy restarts this node: messages still on their way go to the new runner."""
        self._tasks = OwnedTasks(f"{flow_id}.{spec.id}", self.report_error)
        self._worker: asyncio.Task | None = None
        self.inbox: asyncio.Queue[Message] | None = None
        self.handling: Message | None = None
        """The message ``on_input`` is handling: an error or status change then names it to observers."""
        self.ports = Ports(spec.id, self._output_ports())
        context = RunnerContext(self, self.ports, self.counters)
        try:
            self.node: Node = node_class(spec.id, spec.config, context)
        except Exception as exc:  # a plugin's constructor failing must not break the deploy of the others
            self.node = _BrokenNode(spec.id, spec.config, context, exc)
        if node_class.has_input:
            self.inbox = asyncio.Queue(self.node.inbox_size)

    @property
    def owner(self) -> str:
        """``flow/node``: the node's address, owning its HTTP routes."""
        return f"{self.flow_id}/{self.node_id}"

    def _output_ports(self) -> tuple[str, ...]:
        try:
            return self.node_class.output_ports(self.spec.config)
        except Exception:  # flow validation already reported it; this node then sends nowhere
            return ()

    # -- what the node's context forwards to --------------------------------------------------------------------
    def send(self, msg: Message, port: str = "out") -> Awaitable[None]:
        return self.ports.send(msg, port)

    def send_nowait(self, msg: Message, port: str = "out") -> bool:
        return self.ports.send_nowait(msg, port)

    def send_many_nowait(self, msgs: Sequence[Message], port: str = "out") -> int:
        return self.ports.send_many_nowait(msgs, port)

    async def put_input(self, msg: Message) -> None:
        """Put ``msg`` into this node's input as a wire does (waits while the inbox is full): how ``flowhost
        test`` sends a test's messages. Raises ValueError for a node without an input."""
        target = self.current()
        if target.inbox is None:
            raise ValueError(f"node '{self.node_id}' ({self.spec.type}) has no input")
        await target.inbox.put(msg)

    def current(self) -> NodeRunner:
        """This runner, or the one that replaced it in a redeploy (messages on their way follow the node)."""
        runner = self
        while runner.replaced_by is not None:
            runner = runner.replaced_by
        return runner

    def status(self, text: str, level: StatusLevel = "info") -> None:
        if (text, level) == (self.status_text, self.status_level):
            return
        self.status_text, self.status_level = text, level
        data = {"text": text, "level": level, "type": self.spec.type}
        self._host.emit(RuntimeEvent("status", self.flow_id, self.node_id, data=data), self.handling)

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] += amount

    def alarm(self, state: Literal["raised", "cleared"], data: Mapping[str, Any]) -> None:
        event = RuntimeEvent("alarm", self.flow_id, self.node_id, data={**data, "state": state, "type": self.spec.type})
        self._host.emit(event, self.handling)

    def create_task(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        return self._tasks.create(coro, name)

    def connection(self, connection_id: str) -> Connection:
        return self._host.connection(connection_id)

    def add_http_route(self, method: str, path: str, handler: Handler, *, unauthenticated: bool = False) -> None:
        self._host.http.add(method, path, handler, owner=self.owner, unauthenticated=unauthenticated)

    def report_error(self, error: BaseException | str, msg: Message | None = None) -> None:
        self.counters["errors"] += 1
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        msg = msg if msg is not None else self.handling
        message_id = msg.id if msg is not None else None
        on_message = f" on message {message_id}" if msg else ""
        exc_info = error if isinstance(error, BaseException) else None
        self.log.error("node %s/%s failed%s: %s", self.flow_id, self.node_id, on_message, text, exc_info=exc_info)
        data = {"error": text, "message_id": message_id, "type": self.spec.type}
        self._host.emit(RuntimeEvent("error", self.flow_id, self.node_id, data=data), msg)

    def show_debug(self, msg: Message, text: str) -> None:
        data = {"topic": msg.topic, "payload": text, "message_id": msg.id}
        self._host.emit(RuntimeEvent("debug", self.flow_id, self.node_id, data=data))

    def store(self, scope: str = "node") -> ContextScope:
        return self._host.context.scope(scope, self.flow_id, self.node_id)

    def deliver(self, address: str, msg: Message) -> Awaitable[None]:
        return deliver_to(self._host.runner_at(address), msg, address)

    def find_nodes(self, node_type: str) -> Mapping[str, Mapping[str, Any]]:
        return self._host.nodes_of_type(node_type)

    # -- lifecycle ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.node.start()
        finally:
            # Even a node that failed to start takes its messages (and counts their errors): an inbox that
            # nobody empties would stall every node upstream.
            if self.inbox is not None:
                self._worker = asyncio.create_task(self._work(), name=f"{self.flow_id}.{self.node_id}:worker")

    async def _work(self) -> None:
        if self.node_class.batch_size > 1:
            return await self._work_in_batches(self.node_class.batch_size)
        inbox, counters = self.inbox, self.counters
        on_input = tapped(self._host.input_tap, self, self.node.on_input)
        while True:
            # get() only to wait for an empty inbox: a coroutine per message costs more than the message.
            msg = inbox.get_nowait() if inbox.qsize() else await inbox.get()
            self.handling = msg
            try:
                await on_input(msg)
            except asyncio.CancelledError:
                self._refuse(msg, "the node stopped")
                raise
            except Exception as exc:
                self._failed(exc, msg)
            else:
                counters["processed"] += 1
            self.handling = None
            if msg.receipt is not None:
                msg.receipt.release()
            inbox.task_done()

    async def _work_in_batches(self, limit: int) -> None:
        """The worker of a batching node: what waits in the inbox, up to ``limit`` messages, in one call."""
        inbox, counters = self.inbox, self.counters
        on_batch = tapped_batch(self._host.input_tap, self, self.node.on_input_batch)
        while True:
            batch = [inbox.get_nowait() if inbox.qsize() else await inbox.get()]
            while len(batch) < limit and inbox.qsize():
                batch.append(inbox.get_nowait())
            try:
                await on_batch(batch)
            except asyncio.CancelledError:
                for msg in batch:
                    self._refuse(msg, "the node stopped")
                raise
            except Exception as exc:
                for msg in batch:
                    self._failed(exc, msg)
            else:
                counters["processed"] += len(batch)
            for msg in batch:
                if msg.receipt is not None:
                    msg.receipt.release()
                inbox.task_done()

    def _failed(self, exc: Exception, msg: Message) -> None:
        self.report_error(exc, msg)
        if msg.receipt is not None:
            msg.receipt.refuse(f"node {self.node_id} failed: {exc}", retryable=True, node_id=self.node_id)

    def _refuse(self, msg: Message, reason: str) -> None:
        if msg.receipt is not None:
            msg.receipt.refuse(reason, retryable=True, node_id=self.node_id)
            msg.receipt.release()

    async def close(self) -> None:
        if self._worker is not None:
            await self._stop_worker()
        try:
            await asyncio.wait_for(self.node.close(), self.node_class.close_timeout)
        except TimeoutError:
            self.report_error(f"close() did not finish within {self.node_class.close_timeout:g}s")
        except Exception as exc:
            self.report_error(exc)
        await self._tasks.cancel_all()
        self._host.http.remove_owner(self.owner)

    async def _stop_worker(self) -> None:
        # What already waits in the inbox is handled first (within drain_timeout), not dropped.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.inbox.join(), self.node.drain_timeout)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        while not self.inbox.empty():
            msg = self.inbox.get_nowait()
            successor = self.replaced_by
            if successor is not None and not successor.inbox.full():
                successor.inbox.put_nowait(msg)  # its successor takes it, in order, once started
            else:
                self._refuse(msg, "the node stopped")

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": {"text": self.status_text, "level": self.status_level} if self.status_text else None,
            "counters": dict(self.counters),
            "queued": self.inbox.qsize() if self.inbox is not None else 0,
            "outputs": list(self.ports.names),
        }


class _BrokenNode(Node):
    """Stands in for a node whose constructor raised: it fails to start and refuses every message, loudly."""

    def __init__(self, node_id: str, config: Any, context: RunnerContext, error: Exception) -> None:
        super().__init__(node_id, config, context)
        self.error = error

    async def start(self) -> None:
        raise self.error

    async def on_input(self, msg: Message) -> None:
        raise RuntimeError(f"the node could not be created: {type(self.error).__name__}: {self.error}")
