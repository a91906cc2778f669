"""Which ThingPark document a JSON object is: every root of ThingPark's message reference, or the legacy uplink.

A ThingPark connection carries more than uplinks towards applications: locations, notifications, alarms,
multicast summaries and the reports about downlinks. Each is one object under a root node named after its kind
(``{"DevEUI_location": {...}}``). The legacy shape (``sendMetadata``) is an uplink's fields without the root.
Roots and examples: ThingPark X IoT Flow's message reference (github.com/actility/tpx-iot-flow-doc, docs/Message).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .json_kinds import json_kind, with_article

__all__ = [
    "DEVICE_ROOTS",
    "DOCUMENT_ROOTS",
    "DOCUMENT_TYPE",
    "DOWNLINK_ROOT",
    "UPLINK_ROOT",
    "DocumentError",
    "ThingParkDocument",
    "read_document",
    "topic_fields",
    "uplink_fields",
]

UPLINK_ROOT = "DevEUI_uplink"
DOWNLINK_ROOT = "DevEUI_downlink"
DOCUMENT_TYPE = "DocumentType"
"""The name under which the kind of document (its root, ``DevEUI_uplink`` for a legacy uplink) is offered to topic
patterns (``{DocumentType}``); ThingPark has no field of that name, so it never hides one of the document's."""

DEVICE_ROOTS = (
    UPLINK_ROOT,
    "DevEUI_location",
    "DevEUI_notification",
    "DevEUI_downlink_Sent",
    "DevEUI_downlink_Rejected",
    "DevEUI_multicast_summary",
    "DevEUI_alarm",
)
"""Roots of the documents about one device: each must hold its DevEUI."""
DOCUMENT_ROOTS = (*DEVICE_ROOTS, "BS_alarm")
"""Every root a ThingPark connection publishes towards applications. ``BS_alarm`` is about a base station (its
``LrrID``), not a device, and has no DevEUI."""

_ROOTS = frozenset(DOCUMENT_ROOTS)
VALID_DEV_EUI_CACHE_SIZE = 100_000
"""DevEUIs already found valid (about 80 bytes each), emptied when full: a device's uplinks are checked with one set
lookup instead of a regular expression each time."""
_VALID_DEV_EUIS: set[str] = set()
_EUI64 = re.compile(r"[0-9A-Fa-f]{16}").fullmatch
_EXCERPT = 40
_FOREIGN_HINTS = (
    ("deviceInfo", "a ChirpStack v4 event: convert it with a from-chirpstack node first"),
    ("end_device_ids", "a The Things Stack v3 message: convert it with a from-tts node first"),
)


class DocumentError(ValueError):
    """A document that cannot be accepted; the message is the reason, fit for an HTTP 400 body."""


ThingParkDocument = tuple[str, Mapping[str, Any], bool]
"""A recognised document as ``(kind, fields, wrapped)``: ``kind`` is its root (``DevEUI_uplink`` for a legacy
uplink), ``fields`` what the root holds, ``wrapped`` False for the legacy shape (the fields are the document). A plain
tuple: this runs for every uplink, and a named tuple costs more to build than the rest of the check."""


def uplink_fields(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The uplink's fields: inside ``DevEUI_uplink`` when present, else the legacy document itself."""
    inner = document.get(UPLINK_ROOT)
    if inner is None:
        return document
    return inner if type(inner) is dict or isinstance(inner, Mapping) else document


def read_document(document: Mapping[str, Any]) -> ThingParkDocument:
    """The kind and fields of a ThingPark document. Raises DocumentError naming what is wrong: not a ThingPark
    document (with the roots known), a root that is not an object, a missing or malformed DevEUI."""
    inner = document.get(UPLINK_ROOT)
    if inner is not None and len(document) == 1 and (type(inner) is dict or isinstance(inner, Mapping)):
        kind, fields, wrapped = UPLINK_ROOT, inner, True  # the usual case, first
    else:
        kind = _root_of(document)
        if kind is None:
            kind, fields, wrapped = UPLINK_ROOT, document, False
        else:
            fields, wrapped = document[kind], True
            if not isinstance(fields, Mapping):
                raise DocumentError(f"{kind} must be an object, got {json_type(fields)}")
    dev_eui = fields.get("DevEUI")
    if (type(dev_eui) is not str or dev_eui not in _VALID_DEV_EUIS) and (kind != "BS_alarm" or dev_eui is not None):
        _check_dev_eui(dev_eui, kind)
    return kind, fields, wrapped


def _root_of(document: Mapping[str, Any]) -> str | None:
    """The document's root; None for a legacy uplink (DevEUI at the top level)."""
    roots = [key for key in document if key in _ROOTS]
    if len(roots) == 1:
        return roots[0]
    if roots:
        raise DocumentError(f"a ThingPark document has one root, found {', '.join(roots)}")
    if DOWNLINK_ROOT in document:
        raise DocumentError(
            f"{DOWNLINK_ROOT} is a downlink command, not a document for applications: "
            "send it to the connection's downlink topic"
        )
    if "DevEUI" in document:
        return None
    raise DocumentError(_not_thingpark(document))


def _not_thingpark(document: Mapping[str, Any]) -> str:
    keys = list(document)
    found = ", ".join(excerpt(key) for key in keys[:5]) + (", ..." if len(keys) > 5 else "")
    reason = (
        f"not a ThingPark document: it has none of the roots {', '.join(DOCUMENT_ROOTS)} "
        f"nor a DevEUI at the top level (a legacy uplink); found {found or 'no keys'}"
    )
    for key, hint in _FOREIGN_HINTS:
        if key in document:
            return f"{reason}. It looks like {hint}"
    return reason


def _check_dev_eui(value: Any, kind: str) -> None:
    if value is None:
        raise DocumentError(f"{kind} has no DevEUI" if kind != UPLINK_ROOT else "uplink has no DevEUI")
    if type(value) is not str or not _EUI64(value):
        raise DocumentError(f"DevEUI must be 16 hexadecimal digits, got {excerpt(value)}")
    if len(_VALID_DEV_EUIS) >= VALID_DEV_EUI_CACHE_SIZE:
        _VALID_DEV_EUIS.clear()
    _VALID_DEV_EUIS.add(value)


def topic_fields(document: ThingParkDocument) -> dict[str, Any]:
    """What a topic pattern reads: the document's fields and its kind as ``DocumentType``, unwrapped (a mapping
    without a ``DevEUI_uplink`` key, which topic templates read as the fields themselves)."""
    kind, fields, _ = document
    return {**fields, DOCUMENT_TYPE: kind}


def excerpt(value: Any) -> str:
    """A value as the start of its repr, for error messages."""
    text = repr(value)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def json_type(value: Any) -> str:
    """What kind of JSON value ``value`` is, as an error message says it: "an object", "a number"..."""
    return with_article(json_kind(value))
