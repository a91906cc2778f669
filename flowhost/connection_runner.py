"""Running one connection: its context, owned tasks, state announcements, start and stop under a time limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import RuntimeEvent
from .node import Connection, ConnectionContext
from .owned_tasks import OwnedTasks
from .permissions import make_private_directory

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from .flowfile import ConnectionSpec

__all__ = ["ConnectionRunner"]


class ConnectionRunner(ConnectionContext):
    """Runs one connection; it is the connection's :class:`flowhost.ConnectionContext`."""

    def __init__(
        self,
        spec: ConnectionSpec,
        connection_class: type[Connection],
        templates: SandboxedEnvironment,
        data_dir: Path,
        emit: Callable[[RuntimeEvent], None],
    ) -> None:
        self.connection_id = spec.id
        self.spec = spec
        self.connection_class = connection_class
        self.log = logging.getLogger("flowhost.connection").getChild(spec.id)
        self._tasks = OwnedTasks(f"connection {spec.id}", self._task_failed)
        self._emit = emit
        self.templates = templates
        self.data_dir = data_dir
        self.active = spec.active
        self.connection = connection_class(spec.id, spec.name, spec.configuration, self)

    def state_changed(self, state: str, error: str | None = None) -> None:
        self.connection.state = state
        self.connection.last_error = error
        if error:
            self.log.warning("connection %s: %s (%s)", self.connection_id, state, error)
        else:
            self.log.info("connection %s: %s", self.connection_id, state)
        self._emit(
            RuntimeEvent("connection_state", connection_id=self.connection_id, data={"state": state, "error": error})
        )

    def create_task(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        return self._tasks.create(coro, name)

    def _task_failed(self, error: BaseException) -> None:
        self.log.error("connection %s: task failed: %s", self.connection_id, error, exc_info=error)
        self.state_changed(self.connection.state, f"{type(error).__name__}: {error}")

    async def start(self) -> None:
        make_private_directory(self.data_dir)
        await self.connection.start()

    def nodes_started(self) -> None:
        try:
            self.connection.nodes_started()
        except Exception as exc:
            self.log.error("connection %s: nodes_started failed: %s", self.connection_id, exc, exc_info=exc)

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.connection.stop(), self.connection_class.stop_timeout)
        except TimeoutError:
            self.log.error(
                "connection %s did not stop within %gs",
                self.connection_id,
                self.connection_class.stop_timeout,
            )
        except Exception as exc:
            self.log.error("connection %s failed to stop: %s", self.connection_id, exc, exc_info=exc)
        await self._tasks.cancel_all()
