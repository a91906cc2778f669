"""What the network-server bridges share: refusing one message with its reason, and the small conversions of
identifiers and payloads between ThingPark's shapes and those of ChirpStack and The Things Stack."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson
import voluptuous as vol

from flowhost import Message, Node

from .message_paths import thawed
from .thingpark import DOWNLINK_ROOT, DocumentError, parse_downlink
from .thingpark_documents import excerpt

_EUI64 = re.compile(r"[0-9A-Fa-f]{16}").fullmatch


class BridgeError(ValueError):
    """A message a bridge cannot convert; the message is the reason."""


class BridgeNode(Node):
    """A node that converts each message and refuses, alone, the ones it cannot: counted as ``rejected``, logged
    with the reason, and the source told (an ``mqtt-in`` then acknowledges it: sending it again cannot help)."""

    category = "network"

    def convert(self, msg: Message) -> tuple[str, Message]:
        """The converted message and the counter it counts under; raises BridgeError with the reason."""
        raise NotImplementedError

    async def on_input(self, msg: Message) -> None:
        try:
            counter, converted = self.convert(msg)
        except BridgeError as exc:
            self.refuse(msg, str(exc))
            return
        self.context.count(counter)
        await self.context.send(converted)

    def refuse(self, msg: Message, reason: str) -> None:
        self.context.count("rejected")
        self.context.log.warning("node %s: message %s not converted: %s", self.id, msg.id, reason)
        if msg.receipt is not None:
            msg.receipt.refuse(reason, retryable=False, node_id=self.id)


def event_schema(events: tuple[str, ...]) -> vol.Schema:
    """The config of a from-bridge: which event a message is (``auto``: from its topic or content)."""
    return vol.Schema(
        {vol.Optional("event", default="auto"): vol.In(("auto", *events), msg=f"event is auto or one of {events}")}
    )


def downlink_message(msg: Message, down: Any, topic: str, command: Mapping[str, Any], sent: set[str]) -> Message:
    """The network server's downlink ``down`` on ``topic``; what its command has no field for (ValidityTime,
    FlushDownlinkQueue...) travels in ``meta.thingpark``, not in the command: the servers refuse unknown fields."""
    unsent = {key: value for key, value in command.items() if key not in sent}
    return msg.derive(payload=down, topic=topic, meta={**msg.meta, "thingpark": unsent})


def dev_eui(value: Any, where: str) -> str:
    """A DevEUI as ThingPark writes it: 16 upper-case hexadecimal digits."""
    if not isinstance(value, str) or not _EUI64(value):
        raise BridgeError(f"{where} must be 16 hexadecimal digits, got {excerpt(value)}")
    return value.upper()


def hex_from_base64(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BridgeError(f"{where} must be base64 text, got {excerpt(value)}")
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        raise BridgeError(f"{where} is not base64: {excerpt(value)}") from None


def base64_from_hex(payload_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(payload_hex)).decode("ascii")


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BridgeError(f"{where} must be a JSON object, got {excerpt(value)}")
    return value


def downlink_command(payload: Any) -> dict[str, Any]:
    """The checked fields of a ``DevEUI_downlink`` message payload (DevEUI upper-case, FPort an int, exactly one
    of payload_hex or payload). Raises BridgeError with the reason."""
    if isinstance(payload, bytes | bytearray):
        raw = bytes(payload)
    else:
        if not isinstance(payload, Mapping) or DOWNLINK_ROOT not in payload:
            raise BridgeError(f"expected a ThingPark {DOWNLINK_ROOT} document, got {excerpt(payload)}")
        raw = orjson.dumps(thawed(payload))
    try:
        result = parse_downlink(raw, {}, None)
    except DocumentError as exc:
        raise BridgeError(str(exc)) from None
    if result.kind != "downlink":
        raise BridgeError(f"expected a ThingPark {DOWNLINK_ROOT} document, got {excerpt(payload)}")
    return result.command


# -- ThingPark documents both network servers' events become ------------------------------------------------------


class FrameKeys(NamedTuple):
    """Where a network server's uplink event holds the frame's port, counter, base64 data, decoded object and
    confirmed flag."""

    port: str
    count: str
    data: str
    decoded: str
    confirmed: str


def add_frame(fields: dict[str, Any], frame: Mapping[str, Any], keys: FrameKeys) -> None:
    """FPort, FCntUp, payload_hex (from base64), payload (the decoded object) and MType of an uplink."""
    if keys.port in frame:
        fields["FPort"] = frame[keys.port]
    fields["FCntUp"] = frame.get(keys.count, 0)  # the protobuf JSON mapping of both servers leaves out zero values
    fields["payload_hex"] = hex_from_base64(frame[keys.data], keys.data) if keys.data in frame else ""
    if keys.decoded in frame:
        fields["payload"] = thawed(frame[keys.decoded])
    fields["MType"] = 4 if frame.get(keys.confirmed) else 2  # LoRaWAN: confirmed / unconfirmed data up


def gateway(lrr_id: Any, rx: Mapping[str, Any]) -> dict[str, Any]:
    """A receiving gateway as a ThingPark Lrr: its id upper-cased, with RSSI and SNR when they are numbers."""
    lrr: dict[str, Any] = {"Lrrid": str(lrr_id).upper()}
    for source, target in (("rssi", "LrrRSSI"), ("snr", "LrrSNR")):
        if isinstance(rx.get(source), int | float):
            lrr[target] = rx[source]
    return lrr


def add_gateways(fields: dict[str, Any], gateways: list[tuple[dict[str, Any], Mapping[str, Any]]]) -> Any:
    """Put (Lrr, reception) pairs into an uplink's fields: ``Lrrs`` best first, the best one's Lrrid, RSSI, SNR
    and location (LrrLAT / LrrLON), DevLrrCnt. Returns the best reception (None without gateways)."""
    if not gateways:
        return None
    # ThingPark's Lrrid is the gateway that heard the frame with the best SNR; RSSI breaks ties.
    gateways.sort(key=lambda pair: (pair[0].get("LrrSNR", -999), pair[0].get("LrrRSSI", -999)), reverse=True)
    best, rx = gateways[0]
    fields.update(best)
    location = rx.get("location")
    if isinstance(location, Mapping) and "latitude" in location and "longitude" in location:
        fields["LrrLAT"], fields["LrrLON"] = location["latitude"], location["longitude"]
    fields["DevLrrCnt"] = len(gateways)
    fields["Lrrs"] = {"Lrr": [lrr for lrr, _ in gateways]}
    return rx


def location_document(fields: dict[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
    """A ``DevEUI_location`` from a solved location (latitude, longitude, altitude, accuracy in metres)."""
    for source, target in (("latitude", "DevLAT"), ("longitude", "DevLON"), ("altitude", "DevAlt")):
        if source in location:
            fields[target] = location[source]
    if "accuracy" in location:
        fields["DevLocRadius"] = location["accuracy"]
    if "Time" in fields:
        fields["DevLocTime"] = fields["Time"]
    return {"DevEUI_location": fields}


def join_notification(event: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return {"DevEUI_notification": {**fields, "Type": "join"}}


def downlink_sent(fields: dict[str, Any]) -> dict[str, Any]:
    return {"DevEUI_downlink_Sent": {**fields, "DeliveryStatus": 1}}


def downlink_rejected(fields: dict[str, Any], cause: str) -> dict[str, Any]:
    return {"DevEUI_downlink_Rejected": {**fields, "DeliveryStatus": 0, "DownlinkRejectionCause": cause}}
