"""Fixtures for flowhost's own objects: plugins, runtime, flows from YAML text, and the node-error guard."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from flowhost.app import create_runtime
from flowhost.flowfile import FlowSpec, load_flow_file
from flowhost.plugins import PluginHost, load_plugins
from flowhost.runtime import Runtime

from . import sample_nodes
from .ports import free_port  # noqa: F401 (tests import it from here)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "expect_node_errors: the test expects nodes to report errors")


class _NodeErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_node_error(request: pytest.FixtureRequest):
    """Fail a test when a node reported an error it did not expect (Home Assistant's fail_on_log_exception)."""
    collector = _NodeErrorCollector()
    watched = [logging.getLogger("flowhost.node"), logging.getLogger("flowhost.connection")]
    for logger in watched:
        logger.addHandler(collector)
    yield collector
    for logger in watched:
        logger.removeHandler(collector)
    if collector.records and request.node.get_closest_marker("expect_node_errors") is None:
        messages = "\n".join(record.getMessage() for record in collector.records)
        pytest.fail(f"unexpected node errors (mark the test expect_node_errors if intended):\n{messages}")


@pytest.fixture(scope="session")
def loaded_plugins() -> PluginHost:
    """The plugins loaded once for the session: use `plugins`, which gives each test a host of its own."""
    return load_plugins(extra=[("test-nodes", sample_nodes)])


@pytest.fixture
def plugins(loaded_plugins: PluginHost) -> Iterator[PluginHost]:
    """Every installed plugin plus the test node types.

    Registering the plugins with pluggy costs milliseconds, in hundreds of tests: each test gets a host of its own
    (its own `errors`, its own `runtime_event` reporting to it) over the session's plugin manager, which nothing
    changes after loading. The teardown checks that it stayed so: a test that registers or removes plugins
    builds its own host with `load_plugins(extra=...)`.
    """
    shared = loaded_plugins
    host = PluginHost(shared.manager, dict(shared.plugins), list(shared.errors))
    host.runtime_event = host.resolve("flowhost_runtime_event")
    registered = shared.manager.list_name_plugin()
    yield host
    assert shared.manager.list_name_plugin() == registered, "the test changed the shared plugin manager"


@pytest.fixture
async def runtime(plugins: PluginHost, tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = create_runtime(tmp_path / "data", plugins)
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
def write_flow(tmp_path: Path):
    """Write YAML text (dedented) to a flow file and return its path."""

    def write(text: str, name: str = "flow.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_flow(write_flow, runtime: Runtime):
    def load(text: str, name: str = "flow.yaml", **kwargs) -> FlowSpec:
        return load_flow_file(write_flow(text, name), runtime.registry, **kwargs)

    return load
