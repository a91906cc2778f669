"""Running flow tests (``flowhost test``): each test gets a fresh runtime on a manual clock, a fresh data dir and,
unless the file names another, a fresh embedded broker; what reaches each node is recorded through the
runtime's input tap and compared with what the test expects. The format: docs/flow-tests.md."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from .app import create_runtime
from .broker import EmbeddedBroker
from .clock import ManualClock
from .events import RuntimeEvent
from .flowfile import FlowSpec, FlowValidationError
from .flowtest_file import EMBEDDED, NO_BROKER, AdvanceStep, Expectation, FlowTest, SendStep, TestFile, TriggerStep
from .flowtest_match import excerpt, mismatch
from .input_tap import InputHandler
from .message import Message
from .node_runner import NodeRunner
from .plugins import PluginHost
from .runtime import Runtime

QUIET_TURNS = 5
"""Event-loop turns in a row with every inbox empty and no node handling a message: the runtime is idle."""
BUSY_TURNS = 50
"""Turns the idle wait yields with ``sleep(0)`` before it polls every millisecond (a node awaiting the network)."""
OPEN_STATE = "OPENED"


@dataclass(frozen=True)
class TestResult:
    file: Path
    name: str
    line: int | None
    failure: str | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.failure is None


class _Recorder:
    """The runtime's input tap: every message that reached each node, in order, and how many are in hand."""

    def __init__(self) -> None:
        self.arrived: defaultdict[str, list[Message]] = defaultdict(list)
        self.in_hand = 0
        self.changed = asyncio.Event()

    async def __call__(self, runner: NodeRunner, msg: Message, handle: InputHandler) -> None:
        self.arrived[runner.node_id].append(msg)
        self.changed.set()
        self.in_hand += 1
        try:
            await handle(msg)
        finally:
            self.in_hand -= 1


class _Failed(Exception):
    """A test's failure, with the reason its line shows."""


async def run_test(test_file: TestFile, test: FlowTest, plugins: PluginHost) -> TestResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(test.timeout + 30):  # a flow that hangs while stopping still ends
            failure = await _run_isolated(test_file, test, plugins)
    except TimeoutError:
        failure = "the flow did not stop within 30s after the test"
    return TestResult(test_file.path, test.name, test.line, failure, time.perf_counter() - started)


async def _run_isolated(test_file: TestFile, test: FlowTest, plugins: PluginHost) -> str | None:
    address = test_file.broker if test_file.broker not in (EMBEDDED, NO_BROKER) else None
    if test_file.broker == EMBEDDED:
        address = f"127.0.0.1:{_free_port()}"
    runtime_dir = tempfile.TemporaryDirectory(prefix="flowhost-test-")
    runtime = create_runtime(Path(runtime_dir.name) / "data", plugins, clock=ManualClock(test_file.start_time))
    try:
        spec = test_file.load_flow(runtime.registry, address)
    except FlowValidationError as exc:
        runtime_dir.cleanup()
        return f"the flow is invalid with this test's environment: {exc}"
    broker = EmbeddedBroker("127.0.0.1", int(address.rsplit(":", 1)[1])) if test_file.broker == EMBEDDED else None
    try:
        if broker is not None and spec.connections:
            try:
                await broker.start()
            except OSError as exc:
                broker = None
                return str(exc)
        return await _run(runtime, spec, test)
    finally:
        with contextlib.suppress(Exception):
            await runtime.stop()
        if broker is not None:
            await broker.stop()
        runtime_dir.cleanup()


async def _run(runtime: Runtime, spec: FlowSpec, test: FlowTest) -> str | None:
    recorder = _Recorder()
    runtime.input_tap = recorder
    errors: list[RuntimeEvent] = []
    runtime.add_listener(lambda event: errors.append(event) if event.kind == "error" else None)
    await runtime.start()
    deadline = asyncio.get_running_loop().time() + test.timeout
    stage = "starting the flow"
    try:
        async with asyncio.timeout_at(deadline):
            await runtime.deploy(spec)
            stage = "waiting for the connections to open"
            await _connections_open(runtime)
            stage = "waiting for the flow to settle after its start"
            await _idle(runtime, recorder)
            for index, step in enumerate(test.steps):
                stage = f"at send[{index}]"
                await _step(runtime, spec.id, recorder, step)
            stage = "waiting for the expectations"
            await _expectations_met(test, runtime, recorder)
            stage = "waiting for the flow to settle"
            await _idle(runtime, recorder)
    except TimeoutError:
        return _with_errors(_timed_out(stage, test, recorder, runtime), errors)
    except _Failed as exc:
        return _with_errors(str(exc), errors)
    failure = _failed_expectation(test.expect, recorder.arrived) or _received_anyway(test.expect_none, recorder)
    if failure is None and errors and not test.allow_errors:
        failure = "a node reported an error (allow_errors: true if the test expects it)"
    return _with_errors(failure, errors) if failure else None


async def _connections_open(runtime: Runtime) -> None:
    """The flow's connections connect as in production; a test starts once every active one is open."""
    while True:
        waiting = [c for c in runtime.connections.values() if c.active and c.connection.state != OPEN_STATE]
        if not waiting:
            return
        await asyncio.sleep(0.01)


async def _idle(runtime: Runtime, recorder: _Recorder) -> None:
    """Wait until no message waits in an inbox or is in a node's hands, for :data:`QUIET_TURNS` turns."""
    quiet = turns = 0
    while quiet < QUIET_TURNS:
        busy = recorder.in_hand or any(r.inbox is not None and r.inbox.qsize() for r in runtime.iter_nodes())
        quiet = 0 if busy else quiet + 1
        turns += 1
        await asyncio.sleep(0 if turns < BUSY_TURNS else 0.001)


async def _step(runtime: Runtime, flow_id: str, recorder: _Recorder, step: SendStep | AdvanceStep | TriggerStep):
    if isinstance(step, SendStep):
        msg = Message.create(step.payload, topic=step.topic, meta=step.meta)
        await runtime.node(flow_id, step.to).put_input(msg)
    elif isinstance(step, TriggerStep):
        try:
            await runtime.node(flow_id, step.node).node.trigger()
        except Exception as exc:
            raise _Failed(f"trigger {step.node} failed: {type(exc).__name__}: {exc}") from None
    else:
        await _idle(runtime, recorder)  # what was sent reaches its timers before time moves
        clock = runtime.clock
        assert isinstance(clock, ManualClock)
        await clock.advance(step.seconds)


async def _expectations_met(test: FlowTest, runtime: Runtime, recorder: _Recorder) -> None:
    """Return once every expectation has its message; raise :class:`_Failed` as soon as one got another, or, in
    a flow without connections (nothing can come from outside), as soon as the flow is idle without it."""
    while True:
        recorder.changed.clear()
        failure = _failed_expectation(test.expect, recorder.arrived)
        if failure:
            raise _Failed(failure)
        if not _pending(test.expect, recorder.arrived):
            return
        if not runtime.connections:
            await _idle(runtime, recorder)
            if not recorder.changed.is_set():
                raise _Failed(_not_arrived(test, recorder, "before the flow went idle"))
            continue
        await recorder.changed.wait()


def _pending(expectations: list[Expectation], arrived: dict[str, list[Message]]) -> list[tuple[int, int]]:
    """(index, position at its node) of the expectations whose message has not arrived yet."""
    seen: Counter[str] = Counter()
    pending = []
    for index, expectation in enumerate(expectations):
        position = seen[expectation.at]
        seen[expectation.at] += 1
        if position >= len(arrived.get(expectation.at, ())):
            pending.append((index, position))
    return pending


def _failed_expectation(expectations: list[Expectation], arrived: dict[str, list[Message]]) -> str | None:
    """The first expectation whose message (the n-th to reach its node for its n-th expectation) differs."""
    seen: Counter[str] = Counter()
    for index, expectation in enumerate(expectations):
        position = seen[expectation.at]
        seen[expectation.at] += 1
        messages = arrived.get(expectation.at, [])
        if position >= len(messages):
            continue
        msg = messages[position]
        reason = _differs(expectation, msg)
        if reason:
            return f"{_name(index, expectation)} (message {position + 1} there): {reason}; arrived: {_show(msg)}"
    return None


def _differs(expectation: Expectation, msg: Message) -> str | None:
    if expectation.has_payload:
        reason = mismatch(expectation.payload, msg.payload)
        if reason:
            return reason
    if expectation.has_topic and expectation.topic != msg.topic:
        return f"topic: expected {excerpt(expectation.topic)}, got {excerpt(msg.topic)}"
    if expectation.meta is not None:
        return mismatch(expectation.meta, msg.meta, "meta")
    return None


def _received_anyway(node_ids: list[str], recorder: _Recorder) -> str | None:
    for node_id in node_ids:
        messages = recorder.arrived.get(node_id)
        if messages:
            return f"expect_none: {node_id} received {len(messages)} message(s); the first: {_show(messages[0])}"
    return None


def _timed_out(stage: str, test: FlowTest, recorder: _Recorder, runtime: Runtime) -> str:
    limit = f"within {test.timeout:g}s"
    if stage == "waiting for the connections to open":
        waiting = [c for c in runtime.connections.values() if c.active and c.connection.state != OPEN_STATE]
        return "; ".join(
            f"connection {c.connection_id} not open {limit}: {c.connection.state}"
            + (f" ({c.connection.last_error})" if c.connection.last_error else "")
            for c in waiting
        )
    if stage == "waiting for the expectations" and _pending(test.expect, recorder.arrived):
        return _not_arrived(test, recorder, limit)
    return f"timed out {stage} ({limit})"


def _not_arrived(test: FlowTest, recorder: _Recorder, when: str) -> str:
    index, position = _pending(test.expect, recorder.arrived)[0]
    expectation = test.expect[index]
    messages = recorder.arrived.get(expectation.at, [])
    got = f"only {len(messages)} arrived there: " + ", ".join(map(_show, messages)) if messages else "nothing"
    elsewhere = sorted(node for node, msgs in recorder.arrived.items() if msgs and node != expectation.at)
    return f"{_name(index, expectation)}: message {position + 1} there did not arrive {when} ({got})" + (
        f"; messages reached: {', '.join(elsewhere)}" if elsewhere else ""
    )


def _name(index: int, expectation: Expectation) -> str:
    line = f", line {expectation.line}" if expectation.line else ""
    return f"expect[{index}] at {expectation.at}{line}"


def _show(msg: Message) -> str:
    topic = f" topic={msg.topic!r}" if msg.topic is not None else ""
    return f"{excerpt(msg.payload)}{topic}"


def _with_errors(failure: str, errors: list[RuntimeEvent]) -> str:
    if not errors:
        return failure
    shown = "; ".join(f"{event.node_id}: {event.data.get('error')}" for event in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"{failure}\n  node errors: {shown}{more}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
