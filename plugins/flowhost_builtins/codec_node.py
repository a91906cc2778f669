"""``codec``: decodes uplinks and encodes downlinks with JavaScript payload codecs, chosen per device.

A decoded uplink gets ThingPark's decoded format: the codec's data as ``payload`` inside the ``DevEUI_uplink``
(and a ThingPark driver's points as ``points``); an uplink the codec failed on gets ``payloadDecodedError``
(``message``, ``warnings``) and leaves on ``error``. A ``DevEUI_downlink`` with a ``payload`` object and no
``payload_hex`` is encoded (``payload_hex`` and ``FPort`` filled in); one that fails leaves on ``error`` with
``payloadEncodedError`` and is refused.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import voluptuous as vol

from flowhost import Message, Node, hookimpl
from flowhost.validation import duration_between

from .codec_apis import Codec, CodecError, Decoded
from .codec_loader import INLINE_CODEC, CodecFolderError, CodecSet, folder_fingerprint, load_codec_folder
from .js_sandbox import SandboxError
from .thingpark_fields import dev_eui

_MAPPINGS = ("devices", "models", "profiles", "tags")
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
MIN_MEMORY_LIMIT, MAX_MEMORY_LIMIT = 1024**2, 1024**3


def memory_size(value: Any) -> int:
    """Voluptuous validator: bytes from an integer or ``512KB``, ``32MB``, ``1GB``, between 1 MB and 1 GB."""
    match = _SIZE.match(value) if isinstance(value, str) else None
    if type(value) is int:
        size = value
    elif match:
        size = int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "B").upper()]
    else:
        raise vol.Invalid(f"expected a size such as 32MB or 512KB, got {value!r}")
    if not MIN_MEMORY_LIMIT <= size <= MAX_MEMORY_LIMIT:
        raise vol.Invalid(f"must be between 1MB and 1GB, got {value!r}")
    return size


def _codec_name(value: Any) -> str:
    if not isinstance(value, str) or not value or "/" in value or value.endswith(".js"):
        raise vol.Invalid(f"a codec name is its file name without .js (e.g. temp-hum), got {value!r}")
    return value


def javascript_source(value: Any) -> str:
    """Voluptuous validator: a codec's JavaScript code (a text area in the editor)."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("source must be a codec's JavaScript code, e.g. function decodeUplink(input) {...}")
    return value


javascript_source.form = {"type": "string", "format": "multiline"}  # type: ignore[attr-defined]


def _has_codecs(config: dict) -> dict:
    if "codecs" not in config and "source" not in config:
        raise vol.Invalid("give codecs (a folder of .js files, relative to the flow file) or source (inline code)")
    return config


CONFIG_SCHEMA = vol.Schema(
    vol.All(
        {
            vol.Optional("codecs"): vol.All(str, vol.Length(min=1)),
            vol.Optional("source"): javascript_source,
            vol.Optional("default"): _codec_name,
            vol.Optional("devices"): {dev_eui: _codec_name},
            vol.Optional("models"): {str: _codec_name},
            vol.Optional("profiles"): {str: _codec_name},
            vol.Optional("tags"): {str: _codec_name},
            vol.Optional("timeout", default="100ms"): duration_between(0.001, 10),
            vol.Optional("memoryLimit", default="32MB"): memory_size,
        },
        _has_codecs,
    )
)

# Codec nodes that are running, so that a redeploy of their flow can tell them to look for edited codec files
# (a redeploy restarts only nodes whose config changed; a codec file can change without it).
_RUNNING: weakref.WeakSet[CodecNode] = weakref.WeakSet()


class CodecNode(Node):
    type = "codec"
    category = "function"
    description = (
        "Decodes uplinks (payload_hex into payload) and encodes downlinks (payload into payload_hex) with "
        "JavaScript codecs (TS013, TTN v2, ChirpStack v3, ThingPark drivers) chosen per device, in a sandbox."
    )
    outputs = ("out", "error")
    batch_size = 32  # measured: 32 beat 8, 16, 64 and 256 (bench/RESULTS.md); more keeps more parsed uplinks alive
    config_schema = CONFIG_SCHEMA
    form_labels = {"memoryLimit": "Memory limit", "codecs": "Codec folder", "source": "Inline codec"}

    async def start(self) -> None:
        self._folder = self._resolve_folder()
        self._fingerprint = None
        self._stale = False
        self.codec_set = self._load()
        _RUNNING.add(self)

    async def close(self) -> None:
        _RUNNING.discard(self)
        codec_set = getattr(self, "codec_set", None)  # None when start() failed
        if codec_set is not None:
            codec_set.close()

    def _resolve_folder(self) -> Path | None:
        if "codecs" not in self.config:
            return None
        folder = Path(self.config["codecs"]).expanduser()
        if not folder.is_absolute():
            if self.context.flow_dir is None:
                raise CodecFolderError("codecs: a relative folder needs a flow file; give an absolute path")
            folder = self.context.flow_dir / folder
        return folder

    def _load(self) -> CodecSet:
        """Load the folder and the inline codec; a codec that fails is reported, the others work."""
        config = self.config
        limits = {"timeout": config["timeout"], "memory_limit": config["memoryLimit"]}
        codecs: dict[str, Codec] = {}
        failures: dict[str, str] = {}
        if self._folder is not None:
            self._fingerprint = folder_fingerprint(self._folder)
            codecs, failures = load_codec_folder(self._folder, **limits)
        if "source" in config:
            try:
                codecs[INLINE_CODEC] = Codec(INLINE_CODEC, config["source"], **limits)
            except SandboxError as exc:
                failures[INLINE_CODEC] = str(exc)
        mapped = any(key in config for key in ("default", *_MAPPINGS))
        default = config.get("default") or (INLINE_CODEC if "source" in config and not mapped else None)
        codec_set = CodecSet(codecs, failures, *(config.get(key, {}) for key in _MAPPINGS), default=default)
        unknown = codec_set.unknown_names()
        if unknown:
            known = ", ".join(sorted(codecs)) or "none"
            raise CodecFolderError(f"no codec named {', '.join(unknown)} (codecs loaded: {known})")
        for name, reason in failures.items():
            self.context.report_error(f"codec {name} failed to load: {reason}")
        level = "warning" if failures else "ok"
        self.context.status(f"{len(codecs)} codecs" + (f", {len(failures)} failed" if failures else ""), level)
        return codec_set

    def mark_stale(self) -> None:
        """The flow was redeployed: look for edited codec files before the next message."""
        self._stale = True

    def _reload_if_changed(self) -> None:
        self._stale = False
        if self._folder is None:
            return
        try:
            if folder_fingerprint(self._folder) != self._fingerprint:
                old, self.codec_set = self.codec_set, self._load()
                old.close()
                self.context.count("reloads")
        except CodecFolderError as exc:  # keep decoding with the codecs already loaded
            self.context.report_error(f"codecs not reloaded: {exc}")

    async def on_input(self, msg: Message) -> None:
        await self.on_input_batch((msg,))

    async def on_input_batch(self, messages: Sequence[Message]) -> None:
        """The uplinks of a batch are decoded with one crossing into each codec's sandbox, then every message
        leaves in the order it came (downlinks are encoded one by one, in their turn)."""
        if self._stale:
            self._reload_if_changed()
        work = [self._prepare(msg) for msg in messages]
        groups: dict[Codec, list[_Work]] = {}
        for item in work:
            if item.codec is not None:
                groups.setdefault(item.codec, []).append(item)
        for codec, items in groups.items():
            for item, outcome in zip(items, await self._decode_batch(codec, items), strict=True):
                item.outcome = outcome
        counts = Counter[str]()
        run: list[Message] = []  # consecutive results for one port, sent together
        run_port = "out"
        try:
            for item in work:
                if item.kind == "encode":
                    await self._send_run(run, run_port)
                    await self._encode(item.msg, item.document, item.fields)
                    continue
                message, port = _result(item, counts)
                if port != run_port:
                    await self._send_run(run, run_port)
                    run_port = port
                run.append(message)
            await self._send_run(run, run_port)
        finally:
            for name, amount in counts.items():
                self.context.count(name, amount)

    async def _send_run(self, run: list[Message], port: str) -> None:
        """Send ``run`` in order, as many at once as the receivers have room for, and empty it."""
        if not run:
            return
        sent = self.context.send_many_nowait(run, port)
        for index in range(sent, len(run)):
            await self.context.send(run[index], port)
        run.clear()

    def _prepare(self, msg: Message) -> _Work:
        document = _document(msg)
        if document is not None:
            uplink = document.get("DevEUI_uplink")
            if (type(uplink) is dict or isinstance(uplink, Mapping)) and type(uplink.get("payload_hex")) is str:
                item = _Work("decode", msg, document, uplink)
                try:
                    _, item.codec = self._codec_for(uplink)
                    if item.codec is not None:
                        time = uplink.get("Time")
                        item.arguments = (*_uplink_bytes(uplink), time if isinstance(time, str) else None)
                except CodecError as exc:
                    item.codec, item.outcome = None, exc
                return item
            downlink = document.get("DevEUI_downlink")
            if isinstance(downlink, Mapping) and "payload_hex" not in downlink and "payload" in downlink:
                return _Work("encode", msg, document, downlink)
        return _Work("pass", msg, None, None)

    def _codec_for(self, fields: Mapping[str, Any]) -> tuple[str | None, Codec | None]:
        name = self.codec_set.name_for(fields)
        if name is None:
            return None, None
        codec = self.codec_set.codecs.get(name)
        if codec is None:
            raise CodecError(f"codec {name} failed to load: {self.codec_set.failures.get(name)}", reason="load")
        return name, codec

    async def _decode_batch(self, codec: Codec, items: list[_Work]) -> list[Decoded | CodecError]:
        """One crossing for the batch; when it failed as a whole (which uplink caused it is not known), the
        uplinks one at a time, each with its own limits: the culprit alone fails."""
        uplinks = [item.arguments for item in items]
        if len(uplinks) > 1:
            try:
                return await codec.decode_uplink_batch(uplinks)
            except CodecError:
                self.context.count("batches-redone")
        outcomes: list[Decoded | CodecError] = []
        for uplink in uplinks:
            try:
                if codec.sandbox.slow:
                    outcomes.append(await asyncio.to_thread(codec.decode_uplink, *uplink))
                else:
                    outcomes.append(codec.decode_uplink(*uplink))
            except CodecError as exc:
                outcomes.append(exc)
        return outcomes

    async def _encode(self, msg: Message, document: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
        encoded_fields = dict(fields)
        try:
            name, codec = self._codec_for(fields)
            if codec is None:
                raise CodecError(f"no codec for DevEUI {fields.get('DevEUI')!r} to encode its payload", reason="none")
            arguments = (fields["payload"], _optional_fport(fields.get("FPort")))
            if codec.sandbox.slow:
                encoded = await asyncio.to_thread(codec.encode_downlink, *arguments)
            else:
                encoded = codec.encode_downlink(*arguments)
            fport = encoded.fport if encoded.fport is not None else _optional_fport(fields.get("FPort"))
            if fport is None:
                raise CodecError(f"codec {name} gave no fPort and the downlink has no FPort", reason="malformed")
        except CodecError as exc:
            self.context.count("encode-errors")
            encoded_fields["payloadEncodedError"] = {"message": exc.message, "errors": exc.errors}
            if msg.receipt is not None:
                msg.receipt.refuse(f"cannot encode downlink: {exc.message}", retryable=False, node_id=self.id)
            await self.context.send(_child(msg, {**document, "DevEUI_downlink": encoded_fields}), "error")
            return
        encoded_fields["payload_hex"] = bytes(encoded.bytes).hex()
        encoded_fields["FPort"] = fport
        self.context.count("encoded")
        await self.context.send(_child(msg, {**document, "DevEUI_downlink": encoded_fields}))


def _document(msg: Message) -> Mapping[str, Any] | None:
    """The message's JSON object. Parsed from ``source_bytes`` when the message came as bytes (from mqtt-in):
    a private, unfrozen copy costs a third of what freezing the payload would."""
    if msg.source_bytes is not None:
        try:
            document = orjson.loads(msg.source_bytes)
        except orjson.JSONDecodeError:
            return None
    else:
        document = msg.payload
    return document if type(document) is dict or isinstance(document, Mapping) else None


class _Work:
    """One message of a batch: what it is (``decode``, ``encode``, ``pass``) and, for an uplink, its codec, the
    codec's arguments and the outcome (None: no codec for its device)."""

    __slots__ = ("arguments", "codec", "document", "fields", "kind", "msg", "outcome")

    def __init__(self, kind: str, msg: Message, document: Any, fields: Any) -> None:
        self.kind, self.msg, self.document, self.fields = kind, msg, document, fields
        self.codec: Codec | None = None
        self.arguments: tuple[bytes, int, str | None] = (b"", 0, None)
        self.outcome: Decoded | CodecError | None = None


def _result(item: _Work, counts: Counter[str]) -> tuple[Message, str]:
    """The message to send for a decoded, failed or passed item, and its port; counted in ``counts``."""
    outcome = item.outcome
    if item.kind == "pass":
        counts["passed"] += 1
        return item.msg, "out"
    if outcome is None:
        counts["no-codec"] += 1
        return item.msg, "out"
    if isinstance(outcome, CodecError):
        counts["decode-errors"] += 1
        counts[f"decode-errors-{outcome.reason}"] += 1
        added = {"payloadDecodedError": {"message": outcome.message, "warnings": outcome.warnings}}
        return _with_uplink_fields(item, added), "error"
    added = {"payload": outcome.data}
    if outcome.points is not None:
        added["points"] = outcome.points
    counts["decoded"] += 1
    return _with_uplink_fields(item, added), "out"


def _with_uplink_fields(item: _Work, added: dict[str, Any]) -> Message:
    """The uplink with fields added. For a document that came as bytes and holds only the DevEUI_uplink (as
    ThingPark sends it), the fields are written into the bytes before the uplink's closing brace: no second
    serialisation of the whole document."""
    msg, fields = item.msg, item.fields
    source = msg.source_bytes
    if source is not None and len(item.document) == 1 and not any(key in fields for key in added):
        inner = _inner_closing_brace(source)
        if inner is not None:
            parts = [memoryview(source)[:inner]]
            for key, value in added.items():
                parts += (_FIELD_PREFIXES.get(key) or b',"%s":' % key.encode(), orjson.dumps(value))
            parts.append(b"}}")
            return msg.derive_from_bytes(b"".join(parts))
    return _child(msg, {**item.document, "DevEUI_uplink": {**fields, **added}})


_FIELD_PREFIXES = {key: b',"%s":' % key.encode() for key in ("payload", "points", "payloadDecodedError")}
_JSON_SPACE = b" \t\r\n"


def _inner_closing_brace(source: bytes) -> int | None:
    """Where the closing brace of the one object inside a JSON document's object is (the document is known to
    be ``{"DevEUI_uplink": {...}}``: its last two non-blank characters close both), or None."""
    end = len(source.rstrip(_JSON_SPACE)) - 1  # rstrip, not a loop: a padded document ends in many blanks
    if end < 1:
        return None
    inner = len(source[:end].rstrip(_JSON_SPACE)) - 1
    return inner if inner > 0 and source[end] == _BRACE == source[inner] else None


_BRACE = ord("}")


def _child(msg: Message, document: dict[str, Any]) -> Message:
    """The result: as JSON bytes when the message came as bytes (no freezing; a connector can send them)."""
    if msg.source_bytes is not None:
        return msg.derive_from_bytes(orjson.dumps(document))
    return msg.derive(payload=document)


def _uplink_bytes(fields: Mapping[str, Any]) -> tuple[bytes, int]:
    payload_hex = fields["payload_hex"]
    if len(payload_hex) % 2 or not _HEX_DIGITS.issuperset(payload_hex):
        raise CodecError(f"payload_hex is not even-length hexadecimal: {payload_hex[:40]!r}", reason="input")
    fport = _optional_fport(fields.get("FPort"))
    if fport is None:
        raise CodecError("the uplink has no FPort", reason="input")
    return bytes.fromhex(payload_hex), fport


def _optional_fport(value: Any) -> int | None:
    if value is None:
        return None
    try:
        fport = int(value)
    except (TypeError, ValueError):
        raise CodecError(f"FPort must be an integer 0..255, got {value!r}", reason="input") from None
    if not 0 <= fport <= 255:
        raise CodecError(f"FPort must be an integer 0..255, got {value!r}", reason="input")
    return fport


@hookimpl
def flowhost_register_node_types(register):
    register(CodecNode)


@hookimpl
def flowhost_runtime_event(event):
    if event.kind != "deployed":
        return
    restarted = set((event.data or {}).get("changed", ()))
    for node in list(_RUNNING):
        if node.context.flow_id == event.flow_id and node.id not in restarted:
            node.mark_stale()
