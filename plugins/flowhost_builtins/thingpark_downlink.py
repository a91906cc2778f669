"""The fields of a ``DevEUI_downlink`` command: each field of ThingPark's downlink reference checked as the
reference defines it, fields it does not know passed through.

Source: ThingPark X IoT Flow documentation, "Downlink Message" (github.com/actility/tpx-iot-flow-doc,
docs/Message/downlink-message.md; docs.thingpark.com/thingpark-x/latest/Message/downlink-message), and its
connection common parameters (``downlinkAsId``, ``downlinkAsKey``, ``downlinkPort``). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flowhost.validation import closest

from .thingpark_documents import DOWNLINK_ROOT, DocumentError, excerpt, json_type

__all__ = [
    "APPLICATION_SERVER_FIELDS",
    "DOWNLINK_FIELDS",
    "correlation_id",
    "dev_eui",
    "integer",
    "normalised_command",
]

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*").fullmatch
_EUI64 = re.compile(r"[0-9A-Fa-f]{16}").fullmatch
_TOKEN = re.compile(r"[0-9A-Fa-f]{64}").fullmatch
_INTEGER = re.compile(r"-?[0-9]{1,10}").fullmatch
_UINT32 = 0xFFFF_FFFF
APPLICATION_SERVER_FIELDS = ("AS_ID", "AS_KEY")
"""What the connection's ``downlinkAsId`` / ``downlinkAsKey`` fill in, on a downlink that has neither."""


def dev_eui(value: Any, where: str) -> str:
    """A DevEUI upper-cased; DocumentError unless it is 16 hexadecimal digits."""
    if not isinstance(value, str) or not _EUI64(value):
        raise DocumentError(f"{where} must be 16 hexadecimal digits, got {excerpt(value)}")
    return value.upper()


def integer(value: Any, name: str) -> int:
    """An int from a JSON number or a string of digits, as ThingPark sends both."""
    if type(value) is int:
        return value
    if isinstance(value, str) and _INTEGER(value):
        return int(value)
    if type(value) is float and value.is_integer():
        return int(value)
    raise DocumentError(f"{name} must be a whole number, got {excerpt(value)}")


def correlation_id(value: Any) -> str:
    """ThingPark's CorrelationID: 64 bits in hexadecimal (16 digits), kept as written."""
    if not isinstance(value, str) or not _EUI64(value):
        raise DocumentError(f"CorrelationID must be 16 hexadecimal digits, got {excerpt(value)}")
    return value


def _flag(value: Any, name: str) -> int:
    if value is True or value is False:
        return int(value)
    number = integer(value, name)
    if number not in (0, 1):
        raise DocumentError(f"{name} must be 0 or 1, got {number}")
    return number


def _counter(value: Any, name: str) -> int:
    number = integer(value, name)
    if not 0 <= number <= _UINT32:
        raise DocumentError(f"{name} must be a 32-bit unsigned integer (0..{_UINT32}), got {number}")
    return number


def _timestamp(value: Any, name: str) -> str:
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise DocumentError(f"{name} must be an ISO 8601 time such as 2022-06-08T15:50:00.882+02:00, got {excerpt(value)}")


def _validity_time(value: Any, name: str) -> str | int:
    """An expiry date (ISO 8601) or a duration in seconds (a number or a string of digits)."""
    if type(value) is int or (isinstance(value, str) and value.isdigit()) or type(value) is float:
        try:
            seconds = integer(value, name)
        except DocumentError:
            seconds = -1
        if seconds >= 0:
            return seconds
        raise DocumentError(f"{name} in seconds must be a whole number of 0 or more, got {excerpt(value)}")
    try:
        return _timestamp(value, name)
    except DocumentError:
        raise DocumentError(
            f"{name} must be an ISO 8601 time such as 2019-07-10T16:38:46.882+02:00 or a number of seconds, "
            f"got {excerpt(value)}"
        ) from None


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        # AS_KEY is a secret: the value is never echoed.
        raise DocumentError(f"{name} must be non-empty text, got {json_type(value)}")
    return value


def _token(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _TOKEN(value):
        raise DocumentError(f"{name} must be 64 hexadecimal digits (a 256-bit signature), got {json_type(value)}")
    return value


def _object(value: Any, name: str) -> Any:
    if not isinstance(value, Mapping):
        raise DocumentError(f"{name} must be an object, got {json_type(value)}")
    return value


def _payload_hex(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _HEX(value):
        raise DocumentError(f"{name} must be an even number of hexadecimal digits, got {excerpt(value)}")
    return value.lower()


_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "payload_hex": _payload_hex,
    "payload": _object,
    "Confirmed": _flag,
    "FlushDownlinkQueue": _flag,
    "RetryIneligibleGateways": _flag,
    "FCntDn": _counter,
    "AFCntDn": _counter,
    "ValidityTime": _validity_time,
    "Time": _timestamp,
    "AS_ID": _text,
    "AS_KEY": _text,
    "Token": _token,
    "CorrelationID": lambda value, _: correlation_id(value),
    "DriverCfg": _object,
}
DOWNLINK_FIELDS = frozenset({"DevEUI", "FPort", *_CHECKS})
"""Every field of ThingPark's downlink reference."""


def normalised_command(
    command: Mapping[str, Any],
    topic_values: Mapping[str, str],
    default_fport: int | None,
    application_server: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The checked fields of a DevEUI_downlink: DevEUI upper-cased, FPort an int, numbers given as strings as
    ints, exactly one of payload_hex or payload. A field the reference does not define goes through unchanged,
    unless it looks like a misspelt one (``Confirmd``). ``application_server`` (``AS_ID``, ``AS_KEY``) is added
    to a command that has neither. Raises DocumentError naming the field."""
    for key in command:
        if key not in DOWNLINK_FIELDS:
            suggestion = closest(key, DOWNLINK_FIELDS)
            if suggestion is not None:
                raise DocumentError(f"unknown field {excerpt(key)} in {DOWNLINK_ROOT} (did you mean {suggestion!r}?)")
    normalised: dict[str, Any] = {
        "DevEUI": _downlink_dev_eui(command, topic_values),
        "FPort": _downlink_fport(command, topic_values, default_fport),
    }
    has_hex, has_object = "payload_hex" in command, "payload" in command
    if has_hex == has_object:
        raise DocumentError(
            "a downlink needs exactly one of payload_hex or payload, got " + ("both" if has_hex else "neither")
        )
    for key, value in command.items():
        if key not in normalised:
            check = _CHECKS.get(key)
            normalised[key] = check(value, key) if check is not None else value
    if application_server and not any(field in command for field in APPLICATION_SERVER_FIELDS):
        normalised.update(application_server)
    return normalised


def _downlink_dev_eui(command: Mapping[str, Any], topic_values: Mapping[str, str]) -> str:
    from_topic = topic_values.get("DevEUI")
    topic_dev_eui = dev_eui(from_topic, "DevEUI in the topic") if from_topic is not None else None
    if "DevEUI" not in command:
        if topic_dev_eui is None:
            raise DocumentError("downlink has no DevEUI, in the document or in the topic")
        return topic_dev_eui
    device = dev_eui(command["DevEUI"], "DevEUI")
    if topic_dev_eui is not None and device != topic_dev_eui:
        raise DocumentError(f"DevEUI {device} in the document does not match {topic_dev_eui} in the topic")
    return device


def _downlink_fport(command: Mapping[str, Any], topic_values: Mapping[str, str], default_fport: int | None) -> int:
    if "FPort" in command:
        value, where = command["FPort"], "FPort"
    elif "FPort" in topic_values:
        value, where = topic_values["FPort"], "FPort in the topic"
    elif default_fport is not None:
        value, where = default_fport, "downlinkPort"
    else:
        raise DocumentError("downlink has no FPort and the connection has no downlinkPort")
    fport = integer(value, where)
    if not 1 <= fport <= 224:
        raise DocumentError(f"{where} must be 1..224 (application ports), got {fport}")
    return fport
