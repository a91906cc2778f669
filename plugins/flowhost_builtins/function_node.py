"""``function``: a Node-RED function body in JavaScript, run on each message in the codec sandbox.

The body is wrapped in a function of ``msg``, ``node``, ``context``, ``flow`` and ``global`` (as Node-RED does), so
``msg.payload = msg.payload * 2; return msg;`` works unchanged. It runs in a :class:`JsSandbox` of its own: the
same engine, time and memory limits and isolation as a codec (no file, network, process or Python). What the body
asks of the node (``node.warn``, ``node.error``, ``node.status``, ``node.send``) and writes to the context
stores is collected during the call and applied after it returns; ``context.get`` reads the sandbox's copy of the
store, brought up to date before each call (function_context.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from flowhost import Message, Node
from flowhost.validation import duration_between

from .codec_node import memory_size
from .function_context import STORES, Mirror, used_scopes
from .js_sandbox import JsSandbox, SandboxError
from .message_paths import described_kind

MAX_OUTPUTS = 32
MAX_MESSAGES = 1000
"""Messages one call may send (returned and ``node.send`` together)."""
MAX_LOG_ENTRIES = 100
MAX_LOG_CHARS = 1000
_STATUS_LEVELS = {"green": "ok", "blue": "info", "grey": "info", "yellow": "warning", "red": "error"}

# The host's side of the call, evaluated after the body. JSON crosses each way once: the message and the store
# changes in; the result, the node's requests and the store writes out.
_RUNNER = """var __flowhostRun = (function () {
  const stores = {node: {}, flow: {}, global: {}};
  const keys = Object.keys, assign = Object.assign;
  return function (input) {
    const writes = {node: {}, flow: {}, global: {}}, requests = [], sent = [];
    for (const name of keys(input.sync)) {
      const change = input.sync[name];
      if (change.replace) stores[name] = {};
      for (const key of keys(change.values)) {
        if (change.values[key] === null) delete stores[name][key]; else stores[name][key] = change.values[key];
      }
    }
    const scope = (name) => ({
      get: (key) => (typeof key === "string" ? stores[name][key] : undefined),
      set: (key, value) => {
        key = String(key);
        if (value === undefined || value === null) delete stores[name][key]; else stores[name][key] = value;
        writes[name][key] = value === undefined ? null : value;
      },
      keys: () => keys(stores[name]),
    });
    const say = (level) => (text) => { requests.push([level, typeof text === "string" ? text : String(text)]); };
    const node = {
      id: input.id, name: input.id, outputCount: input.outputs,
      log: say("log"), warn: say("warn"), error: say("error"), trace: () => {}, debug: () => {}, done: () => {},
      status: (status) => { requests.push(["status", status === undefined ? null : status]); },
      send: (message) => { sent.push(message === undefined ? null : message); },
    };
    const msg = assign({}, input.msg);
    const result = __flowhostFunction(msg, node, scope("node"), scope("flow"), scope("global"));
    return {result: result === undefined ? null : result, requests, sent, writes};
  };
})();"""


def _function_body(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("func must be a JavaScript function body, e.g. msg.payload = msg.payload * 2; return msg;")
    return value


_function_body.form = {"type": "string", "format": "multiline"}  # type: ignore[attr-defined]

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Required("func", description="the body of function (msg, node, context, flow, global)"): _function_body,
        vol.Optional("outputs", default=1): vol.All(int, vol.Range(min=1, max=MAX_OUTPUTS)),
        vol.Optional("timeout", default="100ms"): duration_between(0.001, 10),
        vol.Optional("memoryLimit", default="32MB"): memory_size,
    }
)


class FunctionError(Exception):
    """The body's result or requests are malformed; ``reason`` names the counter."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


class FunctionNode(Node):
    type = "function"
    category = "function"
    description = (
        "Runs a Node-RED function body (JavaScript) on each message in a sandbox: return a message, an array with "
        "one entry per output, or null; node.warn/error/status/send; context, flow and global get and set."
    )
    outputs = ("out",)
    """The port of the default (one output); ``outputs: N`` gives ``out1`` ... ``outN`` instead (output_ports)."""
    config_schema = CONFIG_SCHEMA
    form_labels = {"func": "Function body", "memoryLimit": "Memory limit"}

    @classmethod
    def output_ports(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        count = config.get("outputs", 1)
        return ("out",) if count == 1 else tuple(f"out{index}" for index in range(1, count + 1))

    async def start(self) -> None:
        config = self.config
        self._ports = self.output_ports(config)
        source = f"function __flowhostFunction(msg, node, context, flow, global) {{\n{config['func']}\n}}"
        self.sandbox = JsSandbox(
            source, f"function {self.id}", timeout=config["timeout"], memory_limit=config["memoryLimit"]
        )
        self.sandbox.evaluate(_RUNNER)
        self._mirrors = {name: Mirror(self._scope(name)) for name in used_scopes(config["func"])}
        self._generation = self.sandbox.generation

    def _scope(self, name: str) -> Any:
        """The runtime's shared-state scope, or an in-memory one when the runtime has no store."""
        store = getattr(self.context, "store", None)
        if store is not None:
            try:
                return store(name)
            except NotImplementedError:
                pass
        flow_id = self.context.flow_id
        return {"node": lambda: STORES.node(flow_id, self.id), "flow": lambda: STORES.flow(flow_id)}.get(
            name, STORES.global_
        )()

    async def close(self) -> None:
        sandbox = getattr(self, "sandbox", None)
        if sandbox is not None:
            sandbox.close()

    async def on_input(self, msg: Message) -> None:
        try:
            outcome = await self.sandbox.call_async("__flowhostRun", self._input(msg))
        except SandboxError as exc:
            self._fail(f"function: {exc.message.replace('a call of __flowhostRun', 'the body')}", exc.reason, msg)
            return
        try:
            if not isinstance(outcome, dict) or not {"writes", "requests", "sent", "result"} <= outcome.keys():
                raise FunctionError("the body replaced __flowhostRun, the node's runner")
            self._apply_writes(outcome["writes"])
            self._apply_requests(outcome["requests"], msg)
            batches = [_port_batches(item, len(self._ports)) for item in (*outcome["sent"], outcome["result"])]
        except FunctionError as exc:
            self._fail(f"function: {exc}", exc.reason, msg)
            return
        except ValueError as exc:  # a store refused a write (ContextFull, a bad key)
            for mirror in self._mirrors.values():
                mirror.reset()  # the sandbox's copies hold the refused write: replace them
            self._fail(f"function: {exc}", "context", msg)
            return
        await self._send_batches(msg, batches)

    def _input(self, msg: Message) -> dict[str, Any]:
        if self.sandbox.generation != self._generation:  # a fresh context: its copies of the stores are empty
            self._generation = self.sandbox.generation
            for mirror in self._mirrors.values():
                mirror.reset()
        sync = {}
        for name, mirror in self._mirrors.items():
            changes = mirror.changes()
            if changes is not None:
                sync[name] = changes
        message = {"payload": msg.payload, "topic": msg.topic, "meta": msg.meta, "_msgid": msg.id}
        return {"msg": message, "sync": sync, "id": self.id, "outputs": len(self._ports)}

    def _apply_writes(self, writes: Any) -> None:
        if not isinstance(writes, dict):
            raise FunctionError("the runner's writes were replaced")
        for name, mirror in self._mirrors.items():
            mirror.apply(writes.get(name) or {})

    def _apply_requests(self, requests: Any, msg: Message) -> None:
        if not isinstance(requests, list) or len(requests) > MAX_LOG_ENTRIES:
            raise FunctionError(f"more than {MAX_LOG_ENTRIES} node.log/warn/error/status calls in one message")
        for request in requests:
            if not isinstance(request, list) or len(request) != 2:
                raise FunctionError("the node's requests were tampered with")
            level, value = request
            if level == "status":
                self._status(value)
            elif level == "error":
                self.context.count("node.error")
                self.context.report_error(f"function: node.error: {str(value)[:MAX_LOG_CHARS]}", msg)
            elif level == "warn":
                self.context.count("node.warn")
                self.context.log.warning("function %s: %s", self.id, str(value)[:MAX_LOG_CHARS])
            else:
                self.context.log.info("function %s: %s", self.id, str(value)[:MAX_LOG_CHARS])

    def _status(self, status: Any) -> None:
        if status is None or status == {}:
            self.context.status("", "info")
        elif isinstance(status, str):
            self.context.status(status[:MAX_LOG_CHARS], "info")
        elif isinstance(status, dict):
            text = status.get("text")
            level = _STATUS_LEVELS.get(status.get("fill"), "info")
            self.context.status(str("" if text is None else text)[:MAX_LOG_CHARS], level)
        else:
            raise FunctionError("node.status takes a text or {fill, shape, text}")

    def _fail(self, text: str, reason: str, msg: Message) -> None:
        self.context.count(f"errors-{reason}")
        self.context.report_error(text, msg)

    async def _send_batches(self, msg: Message, batches: list[list[list[Any]]]) -> None:
        total = sum(len(port) for batch in batches for port in batch)
        if total > MAX_MESSAGES:
            self._fail(f"function: {total} messages from one message, more than {MAX_MESSAGES}", "malformed", msg)
            return
        if total == 0:
            self.context.count("no output")
            return
        for batch in batches:
            for port, items in zip(self._ports, batch, strict=False):
                for item in items:
                    self.context.count(f"to {port}")
                    await self.context.send(_derive(msg, item), port)


def _port_batches(value: Any, ports: int) -> list[list[Any]]:
    """What the body returned (or gave node.send), as a list of messages per output port."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [[_checked(value)]]
    if not isinstance(value, list):
        raise FunctionError(f"return a message (an object), an array of them, or null; got {described_kind(value)}")
    if len(value) > ports:
        raise FunctionError(f"returned an array of {len(value)} entries for {ports} output(s)")
    batches = []
    for entry in value:
        if entry is None:
            batches.append([])
        elif isinstance(entry, list):
            batches.append([_checked(item) for item in entry if item is not None])
        else:
            batches.append([_checked(entry)])
    return batches


def _checked(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise FunctionError(f"a message must be an object with a payload, got {described_kind(message)}")
    topic, meta = message.get("topic"), message.get("meta")
    if topic is not None and not isinstance(topic, str):
        raise FunctionError(f"msg.topic must be a string, got {described_kind(topic)}")
    if meta is not None and not isinstance(meta, dict):
        raise FunctionError(f"msg.meta must be an object, got {described_kind(meta)}")
    return message


def _derive(msg: Message, item: dict[str, Any]) -> Message:
    meta = item.get("meta")
    return msg.derive(payload=item.get("payload"), topic=item.get("topic"), meta=msg.meta if meta is None else meta)
