"""Fixtures for flowhost's own objects: plugins, runtime, flows from YAML text, and the node-error guard."""

from __future__ import annotations

import logging
import socket
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowhost.app import create_runtime
from flowhost.flowfile import FlowSpec, load_flow_file
from flowhost.plugins import PluginHost, load_plugins
from flowhost.runtime import Runtime

from . import sample_nodes


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


@pytest.fixture
def plugins() -> PluginHost:
    """Every installed plugin plus the test node types."""
    return load_plugins(extra=[("test-nodes", sample_nodes)])


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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
