"""Flow test files (``flowhost test``): YAML in, validated tests out, every error as ``FILE:LINE:COL: path: message``.

The format is described in docs/flow-tests.md. The flow a file names is validated here too, and every node a
test sends to, triggers or expects at must exist in it and take what the test does with it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol

from .flow_yaml import FlowError, FlowValidationError, PathItem, position, read_yaml, to_json_document
from .flowfile import ErrorCollector, FlowSpec, load_flow_file
from .registry import Registry
from .validation import closest, duration_between, identifier

FORMAT_VERSION = 1
DEFAULT_TIMEOUT = 5.0
EMBEDDED = "embedded"
NO_BROKER = "none"
BROKER_ADDRESS_ENV = "FLOWHOST_BROKER_ADDRESS"
"""What flows read their broker's address from (``!env_var FLOWHOST_BROKER_ADDRESS``), as under ``flowhost run``."""
MAX_ADVANCE = 366 * 86400.0


@dataclass(frozen=True)
class SendStep:
    to: str
    payload: Any
    topic: str | None = None
    meta: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AdvanceStep:
    seconds: float
    text: str


@dataclass(frozen=True)
class TriggerStep:
    node: str


Step = SendStep | AdvanceStep | TriggerStep


@dataclass(frozen=True)
class Expectation:
    at: str
    payload: Any = None
    has_payload: bool = False
    topic: str | None = None
    has_topic: bool = False
    meta: Mapping[str, Any] | None = None
    line: int | None = None


@dataclass
class FlowTest:
    name: str
    steps: list[Step]
    expect: list[Expectation]
    expect_none: list[str]
    timeout: float
    allow_errors: bool
    line: int | None = None


@dataclass
class TestFile:
    path: Path
    flow_path: Path
    broker: str
    env: dict[str, str]
    start_time: float | None
    tests: list[FlowTest] = field(default_factory=list)

    def environ(self, broker_address: str | None) -> dict[str, str]:
        """What the flow's ``!env_var`` references read: the test file's ``env`` over the broker's address."""
        base = {BROKER_ADDRESS_ENV: broker_address} if broker_address else {}
        return {**base, **self.env}

    def load_flow(self, registry: Registry, broker_address: str | None) -> FlowSpec:
        return load_flow_file(self.flow_path, registry, environ=self.environ(broker_address))


def _broker(value: Any) -> str:
    if value in (EMBEDDED, NO_BROKER):
        return value
    if isinstance(value, str) and ":" in value and value.rsplit(":", 1)[1].isdigit():
        return value
    raise vol.Invalid(f"broker must be '{EMBEDDED}', '{NO_BROKER}' or HOST:PORT, got {value!r}")


def _start_time(value: Any) -> float:
    if isinstance(value, datetime.datetime):  # YAML reads an unquoted timestamp itself
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise vol.Invalid(
                f"start_time must be an ISO 8601 time such as 2026-01-01T08:00:00Z, got {value!r}"
            ) from None
    if moment.tzinfo is None:
        raise vol.Invalid("start_time needs a time zone: end it with Z or +01:00")
    return moment.timestamp()


_timeout = duration_between(0.01, 600)

TOP_SCHEMA = vol.Schema(
    {
        vol.Required("flowhost-test"): vol.All(
            int, vol.In([FORMAT_VERSION], msg=f"unsupported format version; this flowhost reads {FORMAT_VERSION}")
        ),
        vol.Required("flow"): str,
        vol.Optional("broker", default=EMBEDDED): _broker,
        vol.Optional("env", default=dict): {str: vol.Coerce(str)},
        vol.Optional("timeout"): _timeout,
        vol.Optional("start_time"): _start_time,
        vol.Required("tests"): vol.All([object], vol.Length(min=1, msg="give at least one test")),
    }
)
TEST_SCHEMA = vol.Schema(
    {
        vol.Required("name"): vol.All(str, vol.Length(min=1)),
        vol.Optional("send", default=list): vol.Any(None, [object]),
        vol.Optional("expect", default=list): vol.Any(None, [object]),
        vol.Optional("expect_none", default=list): vol.Any(None, [identifier]),
        vol.Optional("timeout"): _timeout,
        vol.Optional("allow_errors", default=False): bool,
    }
)
EXPECT_SCHEMA = vol.Schema(
    {
        vol.Required("at"): identifier,
        vol.Optional("payload"): object,
        vol.Optional("topic"): vol.Any(None, str),
        vol.Optional("meta"): dict,
    }
)
STEP_SCHEMAS = {
    "to": vol.Schema(
        {
            vol.Required("to"): identifier,
            vol.Optional("payload"): object,
            vol.Optional("topic"): str,
            vol.Optional("meta"): dict,
        }
    ),
    "advance": vol.Schema({vol.Required("advance"): duration_between(0.001, MAX_ADVANCE)}),
    "trigger": vol.Schema({vol.Required("trigger"): identifier}),
}


def load_test_file(path: Path, registry: Registry) -> TestFile:
    """Read and validate a test file and the flow it names; raises FlowValidationError with every error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowValidationError([FlowError((), f"cannot read test file: {exc}", str(path))]) from None
    root = read_yaml(text, str(path))
    collector = ErrorCollector(root, str(path))
    if not isinstance(root, Mapping):
        collector.add((), "a test file must be a mapping with the keys flowhost-test, flow, tests")
        raise FlowValidationError(collector.errors)
    plain = to_json_document(root)
    try:
        top = TOP_SCHEMA(plain)
    except vol.Invalid as exc:
        collector.add_invalid([], exc, TOP_SCHEMA)
        top = _valid_parts(plain)  # the tests are still checked: every error at once
    test_file = TestFile(
        path=path,
        flow_path=path.parent / (top["flow"] or ""),
        broker=top["broker"],
        env=top["env"],
        start_time=top.get("start_time"),
    )
    flow = _load_flow(test_file, registry, collector) if top["flow"] else None
    timeout = top.get("timeout", DEFAULT_TIMEOUT)
    names: set[str] = set()
    for index, item in enumerate(top["tests"]):
        errors_before = len(collector.errors)
        test = _test(item, ["tests", index], timeout, collector)
        if test is None:
            continue
        if test.name in names:
            collector.add(["tests", index, "name"], f"another test is named '{test.name}'")
        names.add(test.name)
        if flow is not None and len(collector.errors) == errors_before:  # the step indexes are the file's
            _check_nodes(test, ["tests", index], flow, registry, collector)
        test_file.tests.append(test)
    if collector.errors:
        raise FlowValidationError(sorted(collector.errors, key=lambda error: (error.line or 0, error.column or 0)))
    return test_file


def _valid_parts(plain: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level values that pass their own check, defaults for the others (whose errors are reported)."""
    top: dict[str, Any] = {"flow": None, "broker": EMBEDDED, "env": {}, "tests": []}
    for key in ("flow", "broker", "env", "timeout", "start_time", "tests"):
        if key not in plain:
            continue
        try:
            top.update(TOP_SCHEMA.extend({}, extra=vol.ALLOW_EXTRA)({**_MINIMAL, key: plain[key]}))
        except vol.Invalid:
            continue
    return top


_MINIMAL = {"flowhost-test": FORMAT_VERSION, "flow": "", "tests": [None]}


def _load_flow(test_file: TestFile, registry: Registry, collector: ErrorCollector) -> FlowSpec | None:
    if not test_file.flow_path.is_file():
        collector.add(["flow"], f"no flow file at {test_file.flow_path} (the path is relative to the test file)")
        return None
    placeholder = None if test_file.broker == NO_BROKER else "127.0.0.1:1883"
    try:
        return test_file.load_flow(registry, test_file.broker if ":" in test_file.broker else placeholder)
    except FlowValidationError as exc:
        collector.errors.extend(exc.errors)  # they name the flow file and its lines
        return None


def _test(item: Any, path: list[PathItem], timeout: float, collector: ErrorCollector) -> FlowTest | None:
    try:
        entry = TEST_SCHEMA(item)
    except vol.Invalid as exc:
        collector.add_invalid(path, exc, TEST_SCHEMA)
        return None
    steps = [_step(step, [*path, "send", i], collector) for i, step in enumerate(entry["send"] or [])]
    expect = [_expectation(e, [*path, "expect", i], collector) for i, e in enumerate(entry["expect"] or [])]
    if not entry["send"] and not entry["expect"] and not entry["expect_none"]:
        collector.add(path, "a test needs send, expect or expect_none")
    where = _line(collector, path)
    return FlowTest(
        name=entry["name"],
        steps=[step for step in steps if step is not None],
        expect=[e for e in expect if e is not None],
        expect_none=entry["expect_none"] or [],
        timeout=entry.get("timeout", timeout),
        allow_errors=entry["allow_errors"],
        line=where,
    )


def _line(collector: ErrorCollector, path: list[PathItem]) -> int | None:
    found = position(collector.root, path)
    return found[0] if found else None


def _step(item: Any, path: list[PathItem], collector: ErrorCollector) -> Step | None:
    kinds = [kind for kind in STEP_SCHEMAS if isinstance(item, Mapping) and kind in item]
    if len(kinds) != 1:
        collector.add(path, "a step has exactly one of: to (send a message), advance (a duration), trigger (a node)")
        return None
    schema = STEP_SCHEMAS[kinds[0]]
    try:
        entry = schema(item)
    except vol.Invalid as exc:
        collector.add_invalid(path, exc, schema)
        return None
    if "advance" in entry:
        return AdvanceStep(entry["advance"], item["advance"])
    if "trigger" in entry:
        return TriggerStep(entry["trigger"])
    return SendStep(entry["to"], entry.get("payload"), entry.get("topic"), entry.get("meta"))


def _expectation(item: Any, path: list[PathItem], collector: ErrorCollector) -> Expectation | None:
    try:
        entry = EXPECT_SCHEMA(item)
    except vol.Invalid as exc:
        collector.add_invalid(path, exc, EXPECT_SCHEMA)
        return None
    return Expectation(
        at=entry["at"],
        payload=entry.get("payload"),
        has_payload="payload" in entry,
        topic=entry.get("topic"),
        has_topic="topic" in entry,
        meta=entry.get("meta"),
        line=_line(collector, path),
    )


def _check_nodes(
    test: FlowTest, path: list[PathItem], flow: FlowSpec, registry: Registry, collector: ErrorCollector
) -> None:
    """Every node a test names exists in the flow and has an input (or, for ``trigger``, can be triggered)."""
    nodes = {node.id: registry.node_types[node.type] for node in flow.nodes}

    def check(node_id: str, where: list[PathItem], *, trigger: bool = False) -> None:
        node_class = nodes.get(node_id)
        if node_class is None:
            suggestion = closest(node_id, nodes)
            hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
            collector.add(where, f"the flow has no node '{node_id}'{hint}; its nodes: {', '.join(sorted(nodes))}")
        elif trigger and not node_class.can_trigger():
            collector.add(where, f"node '{node_id}' ({node_class.type}) cannot be triggered")
        elif not trigger and not node_class.has_input:
            collector.add(where, f"node '{node_id}' ({node_class.type}) has no input")

    for index, step in enumerate(test.steps):
        if isinstance(step, SendStep):
            check(step.to, [*path, "send", index, "to"])
        elif isinstance(step, TriggerStep):
            check(step.node, [*path, "send", index, "trigger"], trigger=True)
    for index, expectation in enumerate(test.expect):
        check(expectation.at, [*path, "expect", index, "at"])
    for index, node_id in enumerate(test.expect_none):
        check(node_id, [*path, "expect_none", index])
