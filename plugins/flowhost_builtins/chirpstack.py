"""``from-chirpstack`` and ``to-chirpstack``: ChirpStack v4's MQTT integration events to ThingPark documents,
and ThingPark downlinks to ChirpStack's ``command/down`` JSON. The mapping tables are in docs/bridges.md.

Event JSON: ChirpStack's "Event types" documentation (github.com/chirpstack/chirpstack-docs,
src/chirpstack/integrations/events.md); topics and the downlink command: its MQTT integration page (mqtt.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import voluptuous as vol

from flowhost import Message, hookimpl

from . import bridges
from .bridges import BridgeError, BridgeNode, FrameKeys

KEPT = "chirpstack"
"""The key of a converted document that holds what of the event has no ThingPark field."""
EVENTS = ("up", "join", "status", "ack", "txack", "log", "location")
_EVENT_TOPIC = re.compile(r"application/[^/]+/device/([^/]+)/event/([^/]+)").fullmatch
_FRAME = FrameKeys(port="fPort", count="fCnt", data="data", decoded="object", confirmed="confirmed")
_MOVED = frozenset({"fPort", "fCnt", "data", "object", "devAddr", "deviceInfo"})
_MOVED_DEVICE_INFO = frozenset({"devEui", "deviceName"})


def _event_of(msg: Message, configured: str) -> tuple[str, str | None]:
    """The event and the DevEUI named by the topic ``application/<id>/device/<devEui>/event/<event>``."""
    match = _EVENT_TOPIC(msg.topic or "")
    if configured != "auto":
        return configured, match.group(1) if match else None
    if match is None:
        raise BridgeError(
            f"topic {bridges.excerpt(msg.topic)} is not application/<id>/device/<devEui>/event/<event>: "
            "set the node's event"
        )
    if match.group(2) not in EVENTS:
        raise BridgeError(f"ChirpStack event {bridges.excerpt(match.group(2))} is not one of {', '.join(EVENTS)}")
    return match.group(2), match.group(1)


def _kept(event: Mapping[str, Any], name: str) -> dict[str, Any]:
    """What no ThingPark field holds: the event without the fields moved one-to-one, and its event name."""
    kept = {key: bridges.thawed(value) for key, value in event.items() if key not in _MOVED}
    rest = {
        key: bridges.thawed(value)
        for key, value in event.get("deviceInfo", {}).items()
        if key not in _MOVED_DEVICE_INFO
    }
    if rest:
        kept["deviceInfo"] = rest
    return {"event": name, **kept}


def _common(event: Mapping[str, Any], name: str, topic_dev_eui: str | None) -> dict[str, Any]:
    """The fields every converted event has: Time, DevEUI, DevAddr and CustomerData (name, tags)."""
    info = bridges.mapping(event.get("deviceInfo"), "deviceInfo")
    device = bridges.dev_eui(info.get("devEui"), "deviceInfo.devEui")
    if topic_dev_eui is not None and bridges.dev_eui(topic_dev_eui, "the DevEUI in the topic") != device:
        raise BridgeError(f"deviceInfo.devEui {device} does not match {topic_dev_eui.upper()} in the topic")
    fields: dict[str, Any] = {"DevEUI": device}
    if "time" in event:
        fields["Time"] = event["time"]
    if "devAddr" in event:
        fields["DevAddr"] = str(event["devAddr"]).upper()
    customer: dict[str, Any] = {}
    if "deviceName" in info:
        customer["name"] = info["deviceName"]
    tags = info.get("tags")
    if isinstance(tags, Mapping) and tags:
        customer["tags"] = [f"{key}={value}" for key, value in tags.items()]  # ThingPark's own "site=Paris" form
    if customer:
        fields["CustomerData"] = customer
    return fields


def _gateways(rx_info: Any) -> list[tuple[dict[str, Any], Mapping[str, Any]]]:
    """Each receiving gateway as a ThingPark Lrr, with its reception (location included)."""
    if not isinstance(rx_info, list | tuple):
        return []
    return [
        (bridges.gateway(rx["gatewayId"], rx), rx) for rx in rx_info if isinstance(rx, Mapping) and "gatewayId" in rx
    ]


def _radio(fields: dict[str, Any], tx_info: Any) -> None:
    if not isinstance(tx_info, Mapping):
        return
    if isinstance(tx_info.get("frequency"), int | float):
        fields["Frequency"] = tx_info["frequency"] / 1_000_000
    lora = tx_info.get("modulation", {}).get("lora") if isinstance(tx_info.get("modulation"), Mapping) else None
    if isinstance(lora, Mapping) and isinstance(lora.get("spreadingFactor"), int):
        fields["SpFact"] = lora["spreadingFactor"]


def _uplink(event: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    bridges.add_frame(fields, event, _FRAME)
    fields["ADRbit"] = 1 if event.get("adr") else 0
    bridges.add_gateways(fields, _gateways(event.get("rxInfo")))
    _radio(fields, event.get("txInfo"))
    return {"DevEUI_uplink": fields}


def _status(event: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    # LoRaWAN's DevStatusAns battery byte, which ChirpStack turns into a percentage of 254: 0 = external power,
    # 255 = cannot measure. ThingPark reports the byte (Var1) and the margin (Var2).
    if event.get("externalPowerSource"):
        battery = 0
    elif event.get("batteryLevelUnavailable") or not isinstance(event.get("batteryLevel"), int | float):
        battery = 255
    else:
        battery = min(254, max(1, round(event["batteryLevel"] * 254 / 100)))
    return {"DevEUI_notification": {**fields, "Type": "devstatusans", "Var1": battery, "Var2": event.get("margin", 0)}}


def _ack(event: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    if "fCntDown" in event:
        fields["FCntDn"] = event["fCntDown"]
    if event.get("acknowledged"):
        return bridges.downlink_sent(fields)
    return bridges.downlink_rejected(
        fields, "the device did not acknowledge the confirmed downlink (ChirpStack ack event, acknowledged false)"
    )


def _txack(event: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    if "fCntDown" in event:
        fields["FCntDn"] = event["fCntDown"]
    if "gatewayId" in event:
        fields["Lrrid"] = str(event["gatewayId"]).upper()
    _radio(fields, event.get("txInfo"))
    return bridges.downlink_sent(fields)  # txack: the gateway transmitted the frame


def _log(event: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "DevEUI_notification": {
            **fields,
            "Type": "log",
            "Var1": event.get("code", "UNKNOWN"),
            "Var2": event.get("description", ""),
        }
    }


def _location(event: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return bridges.location_document(fields, bridges.mapping(event.get("location"), "location"))


_CONVERTERS: dict[str, Callable[[Mapping[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "up": _uplink,
    "join": bridges.join_notification,
    "status": _status,
    "ack": _ack,
    "txack": _txack,
    "log": _log,
    "location": _location,
}


def thingpark_document(event: Any, name: str, topic_dev_eui: str | None = None) -> dict[str, Any]:
    """The ThingPark document of the same meaning as the ChirpStack v4 event ``name``; what has no ThingPark
    field is kept under ``chirpstack`` in the document's fields. Raises BridgeError with the reason."""
    event = bridges.mapping(event, f"a ChirpStack {name} event")
    document = _CONVERTERS[name](event, _common(event, name, topic_dev_eui))
    [fields] = document.values()
    fields[KEPT] = _kept(event, name)
    return document


_SENT = {"DevEUI", "FPort", "Confirmed", "payload_hex", "payload"}
"""The DevEUI_downlink fields ChirpStack's command/down carries (CorrelationID, ValidityTime... travel in meta)."""


class FromChirpStack(BridgeNode):
    type = "from-chirpstack"
    description = (
        "Converts ChirpStack v4 integration events (up, join, status, ack, txack, log, location; the event from "
        "the topic application/<id>/device/<devEui>/event/<event> or the config) to the ThingPark document of the "
        "same meaning, for mqtt-connector. What has no ThingPark field is kept under 'chirpstack'."
    )
    config_schema = bridges.event_schema(EVENTS)

    def convert(self, msg: Message) -> tuple[str, Message]:
        name, topic_dev_eui = _event_of(msg, self.config["event"])
        return name, msg.derive(payload=thingpark_document(msg.payload, name, topic_dev_eui))


def _application_id(value: Any) -> str:
    if not isinstance(value, str) or not value or any(char in value for char in "/+#\x00"):
        raise vol.Invalid(f"applicationId must be one topic level (no '/', '+', '#'), got {value!r}")
    return value


def chirpstack_command(command: Mapping[str, Any]) -> dict[str, Any]:
    """ChirpStack's command/down JSON for the checked fields of a DevEUI_downlink."""
    down: dict[str, Any] = {
        "devEui": command["DevEUI"].lower(),
        "confirmed": bool(command.get("Confirmed", 0)),
        "fPort": command["FPort"],
    }
    if "payload_hex" in command:
        down["data"] = bridges.base64_from_hex(command["payload_hex"])
    else:
        down["object"] = command["payload"]
    return down


class ToChirpStack(BridgeNode):
    type = "to-chirpstack"
    description = (
        "Converts a ThingPark DevEUI_downlink to ChirpStack v4's command/down JSON (devEui, confirmed, fPort, base64 "
        "data or object) with the topic application/<applicationId>/device/<devEui>/command/down, for mqtt-out."
    )
    config_schema = vol.Schema({vol.Required("applicationId"): _application_id})

    def convert(self, msg: Message) -> tuple[str, Message]:
        command = bridges.downlink_command(msg.payload)
        down = chirpstack_command(command)
        topic = f"application/{self.config['applicationId']}/device/{down['devEui']}/command/down"
        return "downlinks", bridges.downlink_message(msg, down, topic, command, _SENT)


@hookimpl
def flowhost_register_node_types(register):
    register(FromChirpStack)
    register(ToChirpStack)
