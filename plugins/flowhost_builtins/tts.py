"""``from-tts`` and ``to-tts``: The Things Stack v3's MQTT messages to ThingPark documents, and ThingPark downlinks
to The Things Stack's ``down/push`` (or ``down/replace``). The mapping tables are in docs/bridges.md.

Message JSON: The Things Stack's "Data Formats" documentation (github.com/TheThingsIndustries/lorawan-stack-docs,
doc/content/integrations/data-formats/_index.md); topics: its MQTT server page (``v3/{application id}@{tenant
id}/devices/{device id}/up``, ``join``, ``down/queued|sent|ack|nack|failed``, ``location/solved``; downlinks on
``down/push`` and ``down/replace``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import voluptuous as vol

from flowhost import Message, hookimpl
from flowhost.templating import TemplateError, TopicRenderError, compile_topic_pattern, create_environment

from . import bridges
from .bridges import BridgeError, BridgeNode, FrameKeys
from .thingpark_fields import THINGPARK_TOPIC_FIELDS

KEPT = "tts"
"""The key of a converted document that holds what of the message has no ThingPark field."""
EVENTS = ("up", "join", "down/queued", "down/sent", "down/ack", "down/nack", "down/failed", "location/solved")
_MESSAGE_KEYS = {
    "up": "uplink_message",
    "join": "join_accept",
    "down/queued": "downlink_queued",
    "down/sent": "downlink_sent",
    "down/ack": "downlink_ack",
    "down/nack": "downlink_nack",
    "down/failed": "downlink_failed",
    "location/solved": "location_solved",
}
_TOPIC = re.compile(r"v3/[^/]+/devices/[^/]+/(up|join|down/[a-z]+|location/solved)").fullmatch
PRIORITIES = ("LOWEST", "LOW", "BELOW_NORMAL", "NORMAL", "ABOVE_NORMAL", "HIGH", "HIGHEST")


def _event_of(msg: Message, configured: str) -> str:
    if configured != "auto":
        return configured
    match = _TOPIC(msg.topic or "")
    if match is None or match.group(1) not in EVENTS:
        # Without a topic, the message's own key says what it is.
        payload = msg.payload
        if isinstance(payload, Mapping):
            for event, key in _MESSAGE_KEYS.items():
                if key in payload:
                    return event
        raise BridgeError(
            f"topic {bridges.excerpt(msg.topic)} is not v3/<application>/devices/<device>/<event> with an event of "
            f"{', '.join(EVENTS)}, and the message holds none of {', '.join(_MESSAGE_KEYS.values())}"
        )
    return match.group(1)


def _common(message: Mapping[str, Any]) -> dict[str, Any]:
    ids = bridges.mapping(message.get("end_device_ids"), "end_device_ids")
    if "dev_eui" not in ids:
        raise BridgeError("end_device_ids has no dev_eui: a ThingPark document needs the DevEUI")
    fields: dict[str, Any] = {"DevEUI": bridges.dev_eui(ids["dev_eui"], "end_device_ids.dev_eui")}
    if "dev_addr" in ids:
        fields["DevAddr"] = str(ids["dev_addr"]).upper()
    if "received_at" in message:
        fields["Time"] = message["received_at"]
    return fields


def _kept(message: Mapping[str, Any], event: str, moved: frozenset[str]) -> dict[str, Any]:
    """The message without the fields moved one-to-one (listed in ``moved``, dotted for the event's own object)."""
    key = _MESSAGE_KEYS[event]
    kept: dict[str, Any] = {"event": event}
    for name, value in message.items():
        if name == key and isinstance(value, Mapping):
            rest = {inner: bridges.thawed(item) for inner, item in value.items() if f"{key}.{inner}" not in moved}
            if rest:
                kept[name] = rest
        elif name not in moved:
            kept[name] = bridges.thawed(value)
    return kept


def _gateways(rx_metadata: Any) -> list[tuple[dict[str, Any], Mapping[str, Any]]]:
    if not isinstance(rx_metadata, list | tuple):
        return []
    gateways = []
    for rx in rx_metadata:
        ids = rx.get("gateway_ids") if isinstance(rx, Mapping) else None
        if isinstance(ids, Mapping):
            gateways.append((bridges.gateway(ids.get("eui") or ids.get("gateway_id", ""), rx), rx))
    return gateways


_FRAME = FrameKeys(port="f_port", count="f_cnt", data="frm_payload", decoded="decoded_payload", confirmed="confirmed")
_UPLINK_MOVED = frozenset(
    {f"uplink_message.{name}" for name in ("f_port", "f_cnt", "frm_payload", "decoded_payload", "confirmed")}
)


def _uplink(message: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    up = bridges.mapping(message.get("uplink_message"), "uplink_message")
    bridges.add_frame(fields, up, _FRAME)
    best = bridges.add_gateways(fields, _gateways(up.get("rx_metadata")))
    if best is not None and "time" in best:
        fields["Time"] = best["time"]  # ThingPark's Time is when the base station received the frame
    settings = up.get("settings")
    if isinstance(settings, Mapping):
        try:
            fields["Frequency"] = float(settings["frequency"]) / 1_000_000  # a string of Hz in the JSON
        except (KeyError, TypeError, ValueError):
            pass
        data_rate = settings.get("data_rate")
        lora = data_rate.get("lora") if isinstance(data_rate, Mapping) else None
        if isinstance(lora, Mapping) and isinstance(lora.get("spreading_factor"), int):
            fields["SpFact"] = lora["spreading_factor"]
    return {"DevEUI_uplink": fields}


def _downlink_fields(fields: dict[str, Any], downlink: Any) -> dict[str, Any]:
    if isinstance(downlink, Mapping):
        if "f_port" in downlink:
            fields["FPort"] = downlink["f_port"]
        if "f_cnt" in downlink:
            fields["FCntDn"] = downlink["f_cnt"]
    return fields


_CORRELATION_PREFIX = "thingpark:correlation:"
"""How ``to-tts`` passes a downlink's CorrelationID; The Things Stack returns it in the downlink's events."""


def _correlation_id(message: Mapping[str, Any], downlink: Any) -> str | None:
    """The ThingPark CorrelationID ``to-tts`` put among the downlink's ``correlation_ids``, if any."""
    if isinstance(downlink, Mapping) and isinstance(downlink.get("downlink"), Mapping):
        downlink = downlink["downlink"]  # down/failed: the downlink is inside
    for holder in (downlink, message):
        ids = holder.get("correlation_ids") if isinstance(holder, Mapping) else None
        for value in ids if isinstance(ids, list | tuple) else ():
            if isinstance(value, str) and value.startswith(_CORRELATION_PREFIX):
                return value[len(_CORRELATION_PREFIX) :]
    return None


def _downlink_event(message: Mapping[str, Any], fields: dict[str, Any], event: str) -> dict[str, Any]:
    key = _MESSAGE_KEYS[event]
    downlink = message.get(key)
    correlation = _correlation_id(message, downlink)
    if correlation is not None:
        fields["CorrelationID"] = correlation
    if event == "down/failed":
        failed = bridges.mapping(downlink, key)
        error = failed.get("error") if isinstance(failed.get("error"), Mapping) else {}
        cause = error.get("message_format") or error.get("name") or "downlink failed"
        return bridges.downlink_rejected(_downlink_fields(fields, failed.get("downlink")), cause)
    _downlink_fields(fields, downlink)
    if event in ("down/sent", "down/ack"):
        return bridges.downlink_sent(fields)
    if event == "down/nack":
        return bridges.downlink_rejected(
            fields, "the device did not acknowledge the confirmed downlink (The Things Stack down/nack)"
        )
    return {"DevEUI_notification": {**fields, "Type": "downlink_queued"}}  # ThingPark has no queued report


def _location(message: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    solved = bridges.mapping(message.get("location_solved"), "location_solved")
    return bridges.location_document(fields, bridges.mapping(solved.get("location"), "location_solved.location"))


_CONVERTERS: dict[str, Callable[[Mapping[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "up": _uplink,
    "join": bridges.join_notification,
    "location/solved": _location,
}


def thingpark_document(message: Any, event: str) -> dict[str, Any]:
    """The ThingPark document of the same meaning as The Things Stack message of ``event``; what has no
    ThingPark field is kept under ``tts``. Raises BridgeError with the reason."""
    message = bridges.mapping(message, f"a The Things Stack {event} message")
    fields = _common(message)
    converter = _CONVERTERS.get(event)
    document = converter(message, fields) if converter else _downlink_event(message, fields, event)
    [converted] = document.values()
    moved = _UPLINK_MOVED if event == "up" else frozenset()
    converted[KEPT] = _kept(message, event, moved)
    return document


_SENT = {"DevEUI", "FPort", "Confirmed", "payload_hex", "payload", "CorrelationID"}
"""The DevEUI_downlink fields down/push carries (CorrelationID as a correlation id); the rest travel in meta."""


class FromTts(BridgeNode):
    type = "from-tts"
    description = (
        "Converts The Things Stack v3 MQTT messages (v3/<app>@<tenant>/devices/<device>/up, join, down/queued, "
        "down/sent, down/ack, down/nack, down/failed, location/solved) to the ThingPark document of the same meaning, "
        "for mqtt-connector. What has no ThingPark field is kept under 'tts'."
    )
    config_schema = bridges.event_schema(EVENTS)

    def convert(self, msg: Message) -> tuple[str, Message]:
        event = _event_of(msg, self.config["event"])
        return event, msg.derive(payload=thingpark_document(msg.payload, event))


def _application(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^/+#\x00]+", value):
        raise vol.Invalid(f"application must be '<application id>@<tenant id>' (one topic level), got {value!r}")
    return value


def _device_id_pattern(value: Any) -> str:
    try:
        compile_topic_pattern(value, create_environment(), field_name="deviceId", fields=THINGPARK_TOPIC_FIELDS)
    except TemplateError as exc:
        raise vol.Invalid(str(exc)) from None
    return value


def tts_downlink(command: Mapping[str, Any], priority: str) -> dict[str, Any]:
    """The Things Stack's ``{"downlinks": [...]}`` for the checked fields of a DevEUI_downlink."""
    downlink: dict[str, Any] = {"f_port": command["FPort"]}
    if "payload_hex" in command:
        downlink["frm_payload"] = bridges.base64_from_hex(command["payload_hex"])
    else:
        downlink["decoded_payload"] = command["payload"]
    downlink["confirmed"] = bool(command.get("Confirmed", 0))
    downlink["priority"] = priority
    if "CorrelationID" in command:
        downlink["correlation_ids"] = [f"{_CORRELATION_PREFIX}{command['CorrelationID']}"]
    return {"downlinks": [downlink]}


class ToTts(BridgeNode):
    type = "to-tts"
    description = (
        "Converts a ThingPark DevEUI_downlink to The Things Stack v3's down/push JSON (f_port, frm_payload or "
        "decoded_payload, confirmed, priority) with the topic v3/<application>/devices/<deviceId>/down/push "
        "(down/replace with replace: true), for mqtt-out. deviceId is a pattern, by default eui-<devEUI>."
    )
    config_schema = vol.Schema(
        {
            vol.Required("application"): _application,
            vol.Optional("deviceId", default="eui-{{ DevEUI | lower }}"): _device_id_pattern,
            vol.Optional("priority", default="NORMAL"): vol.In(PRIORITIES, msg=f"priority is one of {PRIORITIES}"),
            vol.Optional("replace", default=False): bool,
        }
    )

    async def start(self) -> None:
        self._device_id = compile_topic_pattern(
            self.config["deviceId"], self.context.templates, field_name="deviceId", fields=THINGPARK_TOPIC_FIELDS
        )
        self._operation = "replace" if self.config["replace"] else "push"

    def convert(self, msg: Message) -> tuple[str, Message]:
        command = bridges.downlink_command(msg.payload)
        try:
            device_id = self._device_id.render(command)
        except TopicRenderError as exc:
            raise BridgeError(str(exc)) from None
        down = tts_downlink(command, self.config["priority"])
        topic = f"v3/{self.config['application']}/devices/{device_id}/down/{self._operation}"
        return "downlinks", bridges.downlink_message(msg, down, topic, command, _SENT)


@hookimpl
def flowhost_register_node_types(register):
    register(FromTts)
    register(ToTts)
