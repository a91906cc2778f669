"""``debug`` and ``filter``: the nodes every flow needs for looking at and choosing uplinks."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import voluptuous as vol

from flowhost import Message, Node, hookimpl

from .thingpark import matches
from .thingpark_documents import DOCUMENT_ROOTS, DocumentError, read_document
from .thingpark_fields import dev_eui

debug_log = logging.getLogger("flowhost.debug")

_PREVIEW_LIMIT = 2000


def _to_json(payload: Any) -> str:
    if isinstance(payload, bytes | bytearray):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.hex()
    return orjson.dumps(payload, default=str).decode()


class DebugNode(Node):
    type = "debug"
    category = "output"
    description = (
        "Shows each message in the editor's debug panel (and on /api/events); console: true also logs it "
        "(at INFO, as flowhost.debug), which is for a flowhost run without the editor."
    )
    outputs = ()
    # Not logged by default: a busy flow's every message in the log drowns what the log is for.
    config_schema = vol.Schema(
        {vol.Optional("active", default=True): bool, vol.Optional("console", default=False): bool}
    )

    async def on_input(self, msg: Message) -> None:
        if not self.config["active"]:
            return
        text = _to_json(msg.payload)
        if self.config["console"]:
            debug_log.info("[%s] %s %s", self.id, msg.topic or "-", text[:_PREVIEW_LIMIT])
        self.context.count("seen")
        self.context.show_debug(msg, text)


def _at_least_one_matcher(config: dict) -> dict:
    if not config:
        raise vol.Invalid("give at least one of devEUIs, fPorts, tags, documentTypes")
    return config


class FilterNode(Node):
    type = "filter"
    category = "function"
    description = (
        "Passes ThingPark documents whose DevEUI, FPort, CustomerData tag and kind (documentTypes: "
        "DevEUI_uplink, DevEUI_location...) match (ThingPark's flow matchers); the others go to 'unmatched'."
    )
    outputs = ("out", "unmatched")
    config_schema = vol.Schema(
        vol.All(
            {
                vol.Optional("devEUIs"): vol.All([dev_eui], vol.Length(min=1)),
                vol.Optional("fPorts"): vol.All([vol.All(int, vol.Range(min=0, max=255))], vol.Length(min=1)),
                vol.Optional("tags"): vol.All([str], vol.Length(min=1)),
                vol.Optional("documentTypes"): vol.All(
                    [vol.In(DOCUMENT_ROOTS, msg=f"documentTypes are ThingPark roots: {', '.join(DOCUMENT_ROOTS)}")],
                    vol.Length(min=1),
                ),
            },
            _at_least_one_matcher,
        )
    )

    async def start(self) -> None:
        config = self.config
        self._dev_euis = set(config["devEUIs"]) if "devEUIs" in config else None
        self._fports = set(config["fPorts"]) if "fPorts" in config else None
        self._tags = set(config["tags"]) if "tags" in config else None
        self._kinds = frozenset(config["documentTypes"]) if "documentTypes" in config else None

    async def on_input(self, msg: Message) -> None:
        await self.context.send(msg, "out" if self._matches(msg.payload) else "unmatched")

    def _matches(self, payload: object) -> bool:
        if not isinstance(payload, dict):
            return False
        try:
            kind, fields, _ = read_document(payload)
        except DocumentError:
            return False
        if self._kinds is not None and kind not in self._kinds:
            return False
        return matches(fields, self._dev_euis, self._fports, self._tags)


@hookimpl
def flowhost_register_node_types(register):
    register(DebugNode)
    register(FilterNode)
