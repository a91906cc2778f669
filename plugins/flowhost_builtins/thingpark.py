"""ThingPark X IoT Flow documents: uplinks in, downlink commands out. Pure functions, no I/O.

Uplinks arrive wrapped (``{"DevEUI_uplink": {...}}``) or in the legacy shape (the same fields without the root
node); both keep their shape here. Numbers often arrive as strings, so every numeric field accepts both.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from .thingpark_documents import (
    DOCUMENT_ROOTS,
    DOWNLINK_ROOT,
    UPLINK_ROOT,
    DocumentError,
    excerpt,
    json_type,
    read_document,
    uplink_fields,
)
from .thingpark_downlink import dev_eui as _dev_eui
from .thingpark_downlink import integer as _integer
from .thingpark_downlink import normalised_command

__all__ = [
    "DOCUMENT_ROOTS",
    "DOWNLINK_ROOT",
    "MAX_DOWNLINK_BYTES",
    "MAX_DOWNLINK_DEPTH",
    "MAX_UPLINK_DEPTH",
    "UPLINK_ROOT",
    "DocumentError",
    "DownlinkResult",
    "make_uplink",
    "matches",
    "parse_downlink",
    "parse_posted_uplink",
    "parse_uplink",
    "read_document",
    "uplink_age",
    "uplink_fields",
    "uplink_time",
]

MAX_DOWNLINK_BYTES = 64 * 1024
"""A LoRaWAN downlink carries at most 242 bytes; 64 KiB leaves room for decoded payload objects."""
MAX_DOWNLINK_DEPTH = 32
"""Nesting of arrays and objects in a downlink document; decoded payloads are a few levels deep."""
MAX_UPLINK_DEPTH = 32
"""The same for uplinks: ThingPark's are four levels deep; deeper ones would exhaust Python's recursion limit."""

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*").fullmatch


def _load_json(raw: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if isinstance(raw, bytes | bytearray | memoryview):
            try:
                bytes(raw).decode("utf-8")
            except UnicodeDecodeError as decode_error:
                raise DocumentError(f"{what} is not UTF-8 text (bad byte at offset {decode_error.start})") from None
        raise DocumentError(f"{what} is not JSON: {exc}") from None


# ---------------------------------------------------------------------------------------------- uplinks


def parse_uplink(raw: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    """A checked ThingPark document (any root of the message reference, or a legacy uplink) with its DevEUI
    upper-cased, in the shape it came in.

    Raises DocumentError when it is not UTF-8 JSON, not an object, not a ThingPark document (the reason names
    the roots known) or has no valid DevEUI.
    """
    document = raw if isinstance(raw, Mapping) else _load_json(raw, "uplink")
    checked = _checked_uplink(document, shallow=False)
    return checked if type(checked) is dict and checked is not raw else dict(checked)


def parse_posted_uplink(body: bytes) -> tuple[dict[str, Any], bool]:
    """:func:`parse_uplink` of a POSTed body, and whether the document is the one posted, unchanged (its DevEUI
    needed no upper-casing): the body can then go on as it came, whitespace, number spellings (868.10) and all."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if type(document) is not dict:
        return parse_uplink(body), False  # raises DocumentError with the reason
    # Fewer brackets in the text than levels allowed: it cannot nest too deep, and counting them costs a third of
    # walking the document.
    checked = _checked_uplink(document, shallow=body.count(b"{") + body.count(b"[") <= MAX_UPLINK_DEPTH)
    return checked, checked is document


def _checked_uplink(document: Any, *, shallow: bool) -> Mapping[str, Any]:
    """``document`` itself when it needs no change, else a copy with its DevEUI upper-cased."""
    if not isinstance(document, Mapping):
        raise DocumentError(f"uplink must be a JSON object, got {json_type(document)}")
    if not shallow and type(document) is dict and _nested_deeper(document, MAX_UPLINK_DEPTH - 1):
        raise DocumentError(f"uplink is nested deeper than {MAX_UPLINK_DEPTH} levels of arrays and objects")
    kind, fields, wrapped = read_document(document)
    dev_eui = fields.get("DevEUI")
    if type(dev_eui) is not str or dev_eui == dev_eui.upper():
        return document  # None only in a base station's alarm, which may name no device
    fields = {**fields, "DevEUI": dev_eui.upper()}
    return {**document, kind: fields} if wrapped else fields


def uplink_time(fields: Mapping[str, Any]) -> datetime | None:
    """When the base station emitted the uplink (ThingPark ``Time``); None when absent or unreadable.

    A time without an offset is taken as UTC.
    """
    text = fields.get("Time")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def uplink_age(fields: Mapping[str, Any], now: datetime, arrival: datetime) -> float:
    """Seconds since the uplink was emitted (its ``Time``), or since it arrived when it has no usable Time."""
    return (now - (uplink_time(fields) or arrival)).total_seconds()


def matches(
    fields: Mapping[str, Any],
    dev_euis: set[str] | frozenset[str] | None,
    fports: set[int] | frozenset[int] | None,
    tags: set[str] | frozenset[str] | None,
) -> bool:
    """ThingPark's flow matchers: each given set must match (DevEUIs upper-case, FPorts as ints, any tag)."""
    if dev_euis is not None:
        dev_eui = fields.get("DevEUI")
        if not isinstance(dev_eui, str) or dev_eui.upper() not in dev_euis:
            return False
    if fports is not None:
        try:
            fport = _integer(fields.get("FPort"), "FPort")
        except DocumentError:
            return False
        if fport not in fports:
            return False
    if tags is not None:
        customer_data = fields.get("CustomerData")
        device_tags = customer_data.get("tags") if isinstance(customer_data, Mapping) else None
        if not isinstance(device_tags, list | tuple) or tags.isdisjoint(
            tag for tag in device_tags if isinstance(tag, str)
        ):
            return False
    return True


# ---------------------------------------------------------------------------------------------- downlinks


@dataclass(frozen=True, slots=True)
class DownlinkResult:
    """What arrived on the downlink topic.

    ``kind == "downlink"``: ``document`` is a normalised ``{"DevEUI_downlink": {...}}`` command.
    ``kind == "other"``: any other valid JSON, which ThingPark forwards to rules untouched.
    """

    kind: Literal["downlink", "other"]
    document: Any

    @property
    def command(self) -> dict[str, Any]:
        """The fields of a downlink command."""
        return self.document[DOWNLINK_ROOT]


def parse_downlink(
    raw: bytes,
    topic_values: Mapping[str, str],
    default_fport: int | None,
    application_server: Mapping[str, str] | None = None,
) -> DownlinkResult:
    """Read a document received on the downlink topic.

    ``topic_values`` are the placeholders read from the topic (``DevEUI``, ``FPort``); the document's own
    values win for FPort, and a DevEUI given in both places must agree. ``default_fport`` (the connection's
    ``downlinkPort``) applies when neither gives an FPort; ``application_server`` (``AS_ID`` and ``AS_KEY``
    from the connection's ``downlinkAsId`` / ``downlinkAsKey``) is added to a command that has neither. Every
    field of ThingPark's downlink reference is checked (thingpark_downlink.py). Raises DocumentError with the
    reason otherwise.
    """
    if len(raw) > MAX_DOWNLINK_BYTES:
        raise DocumentError(f"downlink document is larger than {MAX_DOWNLINK_BYTES // 1024} KiB")
    document = _load_json(raw, "downlink document")
    _check_depth(document)
    if type(document) is not dict or DOWNLINK_ROOT not in document:
        return DownlinkResult("other", document)
    if len(document) != 1:
        extra = next(key for key in document if key != DOWNLINK_ROOT)
        raise DocumentError(f"a downlink document holds only {DOWNLINK_ROOT}, found {excerpt(extra)} too")
    command = document[DOWNLINK_ROOT]
    if type(command) is not dict:
        raise DocumentError(f"{DOWNLINK_ROOT} must be an object, got {json_type(command)}")
    return DownlinkResult(
        "downlink", {DOWNLINK_ROOT: normalised_command(command, topic_values, default_fport, application_server)}
    )


def _check_depth(document: Any) -> None:
    if (type(document) is dict or type(document) is list) and _nested_deeper(document, MAX_DOWNLINK_DEPTH - 1):
        raise DocumentError(f"downlink document is nested deeper than {MAX_DOWNLINK_DEPTH} levels")


def _nested_deeper(container: dict | list, levels_left: int) -> bool:
    """Whether containers nest more than ``levels_left`` further levels (recursion bounded by the limit)."""
    for child in container.values() if type(container) is dict else container:
        if (type(child) is dict or type(child) is list) and (
            levels_left == 0 or _nested_deeper(child, levels_left - 1)
        ):
            return True
    return False


# ---------------------------------------------------------------------------------------------- simulation

# EU868: the three default channels then five more, as ThingPark names them (LC1..LC8) with their sub-bands.
_EU868_CHANNELS = (
    ("LC1", "G1", 868.1),
    ("LC2", "G1", 868.3),
    ("LC3", "G1", 868.5),
    ("LC4", "G0", 867.1),
    ("LC5", "G0", 867.3),
    ("LC6", "G0", 867.5),
    ("LC7", "G0", 867.7),
    ("LC8", "G0", 867.9),
)
_SITE = (45.1885, 5.7245)  # gateways scattered around Grenoble


def make_uplink(
    dev_eui: str, fcnt: int, fport: int, payload_hex: str, now: datetime, rng: random.Random
) -> dict[str, Any]:
    """A realistic ``DevEUI_uplink`` document for the simulator, with radio values drawn from ``rng``.

    Fields have the types ThingPark uses in its default document (many numbers as strings). ``now`` should be
    timezone-aware; the document's Time keeps its offset.
    """
    dev_eui = _dev_eui(dev_eui, "DevEUI")
    if not 0 <= fport <= 255 or not _HEX(payload_hex):
        raise ValueError(f"FPort must be 0..255 and payload_hex even-length hex, got {fport}, {payload_hex!r}")
    channel, sub_band, frequency = rng.choice(_EU868_CHANNELS)
    gateways = [_gateway(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    gateways.sort(key=lambda gateway: float(gateway["LrrRSSI"]), reverse=True)
    best = gateways[0]
    spreading_factor = _spreading_factor(float(best["LrrSNR"]))
    emitted = now - timedelta(milliseconds=rng.uniform(20, 400))  # the network takes a moment to report
    return {
        UPLINK_ROOT: {
            "Time": emitted.isoformat(timespec="milliseconds"),
            "DevEUI": dev_eui,
            "FPort": str(fport),
            "FCntUp": str(fcnt),
            "ADRbit": "1",
            "MType": "2",
            "FCntDn": str(fcnt // 10),
            "payload_hex": payload_hex.lower(),
            "mic_hex": f"{rng.getrandbits(32):08x}",
            "Lrcid": "00000211",
            "LrrRSSI": best["LrrRSSI"],
            "LrrSNR": best["LrrSNR"],
            "LrrESP": best["LrrESP"],
            "SpFact": str(spreading_factor),
            "SubBand": sub_band,
            "Channel": channel,
            "DevLrrCnt": str(len(gateways)),
            "Lrrid": best["Lrrid"],
            "Late": "0",
            "LrrLAT": best.pop("_lat"),
            "LrrLON": best.pop("_lon"),
            "Lrrs": {"Lrr": [{key: value for key, value in g.items() if not key.startswith("_")} for g in gateways]},
            "CustomerID": "1100000077",
            "CustomerData": {
                "alr": {"pro": "LORA/Generic", "ver": "1"},
                "tags": ["simulated"],
                "name": f"Simulated {dev_eui[-4:]}",
            },
            "ModelCfg": "0",
            "InstantPER": 0.0,
            "MeanPER": round(rng.uniform(0, 0.05), 3),
            "DevAddr": dev_eui[-8:],
            "AckRequested": 0,
            "TxPower": 14.0,
            "NbTrans": 1,
            "Frequency": frequency,
            "DynamicClass": "A",
        }
    }


def _gateway(rng: random.Random) -> dict[str, str]:
    rssi = rng.uniform(-120.0, -60.0)
    snr = max(-20.0, min(12.0, (rssi + 120.0) / 4.0 - 5.0 + rng.gauss(0, 2)))
    return {
        "Lrrid": f"{rng.getrandbits(32):08X}",
        "Chain": "0",
        "LrrRSSI": f"{rssi:.6f}",
        "LrrSNR": f"{snr:.6f}",
        "LrrESP": f"{rssi - 0.79:.6f}",
        "_lat": f"{_SITE[0] + rng.uniform(-0.05, 0.05):.6f}",
        "_lon": f"{_SITE[1] + rng.uniform(-0.05, 0.05):.6f}",
    }


def _spreading_factor(snr: float) -> int:
    """The spreading factor ADR would settle on: the demodulation floor (-7.5 dB at SF7, 2.5 dB lower per
    step) plus a 5 dB margin."""
    for spreading_factor, needed_snr in ((7, -2.5), (8, -5.0), (9, -7.5), (10, -10.0), (11, -12.5)):
        if snr >= needed_snr:
            return spreading_factor
    return 12
