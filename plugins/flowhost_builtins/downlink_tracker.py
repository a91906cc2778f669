"""``downlink-tracker``: follows each downlink until the network reports on it, and emits the downlink with its
outcome on ``sent``, ``rejected`` or ``timeout``: delivery as a step of a flow.

Two kinds of messages come in. A ``DevEUI_downlink`` going out is recorded under its ``CorrelationID`` (one is made
when it has none: 16 hexadecimal digits, which ThingPark sends back in its report) and passed on ``out``. A report
coming back (``DevEUI_downlink_Sent``, ``DevEUI_downlink_Rejected``; ChirpStack's and The Things Stack's events once
``from-chirpstack`` / ``from-tts`` converted them) is joined to the downlink it is about: by its CorrelationID, or,
for a report without one, to the oldest downlink still waiting for the same DevEUI (a device's downlinks are sent in
order).

Report fields and the DeliveryFailedCause codes: ThingPark X IoT Flow documentation, "Downlink Message"
(github.com/actility/tpx-iot-flow-doc, docs/Message/downlink-message.md).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from flowhost import Message, Node, hookimpl
from flowhost.validation import duration_between

from .thingpark_documents import DOWNLINK_ROOT, DocumentError
from .thingpark_downlink import correlation_id, dev_eui

SENT_ROOT = "DevEUI_downlink_Sent"
REJECTED_ROOT = "DevEUI_downlink_Rejected"
MAX_PENDING = 1_000_000
OUTCOME_KEY = "downlink"
"""The key of ``meta`` under which an emitted downlink carries its outcome."""

_SLOTS = (("DeliveryFailedCause1", "RX1"), ("DeliveryFailedCause2", "RX2"), ("DeliveryFailedCause3", "ping slot"))
_FAILED_CAUSES = {
    "A0": "radio stopped",
    "A1": "downlink radio stopped",
    "A2": "ping slot not available",
    "A3": "radio busy",
    "A4": "listen before talk",
    "A5": "radio board error",
    "B0": "too late",
    "C0": "LRC selected RX2",
    "D0": "duty cycle constraint detected by the LRR",
    "DA": "duty cycle constraint detected by the LRC",
    "DB": "max dwell time constraint detected by the LRC",
    "DC": "no GPS-synchronized LRR detected by the LRC",
    "DD": "no LRR connected detected by the LRC",
    "DE": "duty cycle not allowed by the peering operator",
    "DF": "wrong NetID",
    "E0": "max delay for class C (60 seconds)",
}
"""ThingPark's DeliveryFailedCause codes (``00``: no error in that slot)."""


def delivery_failed_cause(report: Mapping[str, Any]) -> str | None:
    """The DeliveryFailedCause1..3 of a report in words (``RX1: B0 too late``), None when every slot says 00."""
    causes = []
    for field, slot in _SLOTS:
        code = report.get(field)
        if isinstance(code, str) and code not in ("", "00"):
            meaning = _FAILED_CAUSES.get(code.upper())
            causes.append(f"{slot}: {code}" + (f" {meaning}" if meaning else ""))
    return "; ".join(causes) or None


def report_outcome(root: str, report: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """``(port, outcome, cause)`` of a report: a Sent report with DeliveryStatus 0 means the frame was not sent
    over the air (ThingPark does not retry it), so it goes to ``rejected`` as ``notSent``."""
    if root == REJECTED_ROOT:
        cause = report.get("DownlinkRejectionCause")
        return "rejected", "rejected", str(cause) if cause is not None else None
    if str(report.get("DeliveryStatus", "1")) == "0":
        return "rejected", "notSent", delivery_failed_cause(report)
    return "sent", "sent", delivery_failed_cause(report)


@dataclass(slots=True)
class Pending:
    msg: Message
    dev_eui: str
    deadline: float
    sent_at: float


class DownlinkTracker(Node):
    """Wire downlinks going out (a connector's ``downlink`` port) and the reports coming back
    (``DevEUI_downlink_Sent`` / ``DevEUI_downlink_Rejected``, from an ``mqtt-in``, ``http-uplink``,
    ``from-chirpstack`` or ``from-tts``) into this node. Each downlink leaves on ``out`` with a ``CorrelationID``
    (made here when it has none) and comes out again on ``sent``, ``rejected`` or ``timeout`` with its outcome in
    ``meta.downlink`` (``outcome``, ``cause``, ``report``). A report is joined by CorrelationID, else to the
    oldest downlink waiting for the same DevEUI; one that joins nothing goes to ``unmatched``."""

    type = "downlink-tracker"
    category = "network"
    description = (
        "Follows downlinks: records each DevEUI_downlink (adding a CorrelationID when it has none) and passes it on "
        "'out'; joins the DevEUI_downlink_Sent / DevEUI_downlink_Rejected that comes back and emits the downlink "
        "with its outcome on 'sent', 'rejected' or 'timeout' (meta.downlink: outcome, cause, report)."
    )
    outputs = ("out", "sent", "rejected", "timeout", "unmatched")
    config_schema = vol.Schema(
        {
            vol.Optional("timeout", default="10m", description="how long a downlink waits for its report"): (
                duration_between(0.001, 7 * 86400)
            ),
            vol.Optional("maxPending", default=10_000, description="downlinks followed at most (oldest dropped)"): (
                vol.All(int, vol.Range(min=1, max=MAX_PENDING))
            ),
        }
    )

    async def start(self) -> None:
        # One timeout for all: insertion order is deadline order, so only the oldest entry is ever due first.
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._by_device: dict[str, deque[str]] = {}
        # (DevEUI, FCntDn) of the reports joined by DevEUI: a second report on the same frame (ChirpStack's ack
        # after its txack) must not be taken for the next downlink's.
        self._reported: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._added = asyncio.Event()
        self.context.create_task(self._expire(), "expire downlinks")

    async def on_input(self, msg: Message) -> None:
        payload = msg.payload
        root = next(iter(payload), None) if isinstance(payload, Mapping) and len(payload) == 1 else None
        try:
            if root == DOWNLINK_ROOT:
                await self._track(msg, payload[root])
            elif root in (SENT_ROOT, REJECTED_ROOT):
                await self._report(msg, root, payload[root])
            else:
                raise DocumentError(
                    f"expected a {DOWNLINK_ROOT} going out or a {SENT_ROOT} / {REJECTED_ROOT} report coming back"
                )
        except DocumentError as exc:
            self.context.count("refused")
            self.context.log.warning("node %s: message %s refused: %s", self.id, msg.id, exc)
            if msg.receipt is not None:
                msg.receipt.refuse(str(exc), retryable=False, node_id=self.id)

    async def _track(self, msg: Message, command: Any) -> None:
        if not isinstance(command, Mapping):
            raise DocumentError(f"{DOWNLINK_ROOT} must be an object")
        device = dev_eui(command.get("DevEUI"), f"{DOWNLINK_ROOT}.DevEUI")
        if "CorrelationID" in command:
            key = correlation_id(command["CorrelationID"]).upper()
            outgoing = msg
        else:
            key = secrets.token_hex(8).upper()
            outgoing = msg.derive(payload={DOWNLINK_ROOT: {**command, "CorrelationID": key}})
            self.context.count("correlationIdsAdded")
        if key in self._pending:
            self.context.count("resent")  # the same downlink again: followed from now on
            self._forget(key)
        now = self.context.clock.now()
        self._pending[key] = Pending(outgoing, device, now + self.config["timeout"], now)
        self._by_device.setdefault(device, deque()).append(key)
        if len(self._pending) > self.config["maxPending"]:
            oldest = next(iter(self._pending))
            self.context.count("evicted")
            await self._emit(self._forget(oldest), "timeout", "timeout", "forgotten: more than maxPending waiting")
        self._added.set()
        self.context.count("tracked")
        await self.context.send(outgoing)

    async def _report(self, msg: Message, root: str, report: Any) -> None:
        if not isinstance(report, Mapping):
            raise DocumentError(f"{root} must be an object")
        key, matched_by = self._match(report)
        if key is not None and matched_by == "DevEUI" and not self._first_report_on_frame(report):
            key = None
        if key is None:
            self.context.count("unmatched")
            await self.context.send(msg, "unmatched")
            return
        port, outcome, cause = report_outcome(root, report)
        self.context.count(outcome)
        await self._emit(self._forget(key), port, outcome, cause, {root: report}, matched_by)

    def _match(self, report: Mapping[str, Any]) -> tuple[str | None, str]:
        given = report.get("CorrelationID")
        if isinstance(given, str):
            key = given.upper()
            return (key if key in self._pending else None), "CorrelationID"
        waiting = self._by_device.get(str(report.get("DevEUI", "")).upper())
        return (waiting[0] if waiting else None), "DevEUI"

    def _first_report_on_frame(self, report: Mapping[str, Any]) -> bool:
        if "FCntDn" not in report:
            return True
        frame = (str(report.get("DevEUI", "")).upper(), str(report["FCntDn"]))
        if frame in self._reported:
            self.context.count("repeatedReports")
            return False
        self._reported[frame] = None
        if len(self._reported) > self.config["maxPending"]:
            self._reported.popitem(last=False)
        return True

    def _forget(self, key: str) -> Pending:
        pending = self._pending.pop(key)
        waiting = self._by_device[pending.dev_eui]
        waiting.remove(key)
        if not waiting:
            del self._by_device[pending.dev_eui]
        return pending

    async def _emit(
        self,
        pending: Pending,
        port: str,
        outcome: str,
        cause: str | None,
        report: Mapping[str, Any] | None = None,
        matched_by: str | None = None,
    ) -> None:
        result: dict[str, Any] = {"outcome": outcome, "seconds": round(self.context.clock.now() - pending.sent_at, 3)}
        if cause is not None:
            result["cause"] = cause
        if report is not None:
            result["report"] = report
            result["matchedBy"] = matched_by
        msg = pending.msg
        await self.context.send(msg.derive(meta={**msg.meta, OUTCOME_KEY: result}), port)

    async def _expire(self) -> None:
        clock, pending = self.context.clock, self._pending
        while True:
            if not pending:
                self._added.clear()
                await self._added.wait()
                continue
            key, oldest = next(iter(pending.items()))
            if oldest.deadline > clock.now():
                await clock.sleep_until(oldest.deadline)
                continue  # the entry may have been answered meanwhile
            self.context.count("timeout")
            waited = f"no report within {self.config['timeout']:g}s"
            await self._emit(self._forget(key), "timeout", "timeout", waited)

    async def close(self) -> None:
        if self._pending:
            self.context.log.info(
                "downlink-tracker %s: %d downlinks still waiting, forgotten", self.id, len(self._pending)
            )


@hookimpl
def flowhost_register_node_types(register):
    register(DownlinkTracker)
