"""A payload codec: one JavaScript file in a sandbox, called the way its API style expects, results checked.

Four styles are in use, told apart by the functions a file defines:

- LoRa Alliance TS013 (The Things Stack, ChirpStack v4): ``decodeUplink({bytes, fPort, recvTime})`` returns
  ``{data, warnings, errors}``; ``encodeDownlink({data})`` returns ``{bytes, fPort, warnings, errors}``;
  ``decodeDownlink({bytes, fPort})`` returns ``{data, warnings, errors}``.
- ThingPark drivers: the TS013 functions plus ``extractPoints({message, time})``, which returns the driver's points.
- The Things Network v2: ``Decoder(bytes, port)`` returns the data; ``Encoder(object, port)`` returns the bytes.
- ChirpStack v3: ``Decode(fPort, bytes, variables)`` returns the data; ``Encode(fPort, object, variables)`` the bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .js_sandbox import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, JsSandbox, SandboxError

__all__ = ["Codec", "CodecError", "Decoded", "Encoded"]

TS013, THINGPARK, TTN_V2, CHIRPSTACK_V3 = "ts013", "thingpark", "ttn-v2", "chirpstack-v3"


# TS013 gives decodeUplink the reception time as a Date; JSON can carry only a number or a text. A number (ms
# since 1970, from Python's parse of the ISO time) makes a Date at a fifth of the cost of QuickJS parsing the text.
_RECV_TIME_AS_DATE = """function __flowhostDecodeUplink(input) {
  const time = input.recvTime;
  if (typeof time === "number" || typeof time === "string") input.recvTime = new Date(time);
  return decodeUplink(input);
}"""


def _recv_time(text: str | None) -> float | str | None:
    """The time as ms since 1970 when it is an ISO 8601 time with an offset; else the text, for Date to parse."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment.timestamp() * 1000 if moment.tzinfo is not None else text


_SHOWN_AS = {"__flowhostDecodeUplink": "decodeUplink"}
_KNOWN_FUNCTIONS = (
    "decodeUplink",
    "encodeDownlink",
    "decodeDownlink",
    "extractPoints",
    "Decoder",
    "Encoder",
    "Decode",
    "Encode",
)


class CodecError(Exception):
    """Decoding or encoding failed: ``message`` says why, ``warnings`` and ``errors`` are the codec's own.

    ``reason``: ``errors`` (the codec reported errors), ``malformed`` (its result has the wrong shape), ``missing``
    (it has no such function) or a :class:`SandboxError` reason (``exception``, ``timeout``, ``memory``...).
    """

    def __init__(
        self,
        message: str,
        warnings: list[str] | None = None,
        errors: list[str] | None = None,
        reason: str = "malformed",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.warnings = warnings or []
        self.errors = errors or [message]


@dataclass
class Decoded:
    data: Any
    warnings: list[str] = field(default_factory=list)
    points: Any = None
    """ThingPark drivers only: what ``extractPoints`` returned (None when the driver has none)."""


@dataclass
class Encoded:
    bytes: list[int]
    fport: int | None
    warnings: list[str] = field(default_factory=list)


def _detect_style(sandbox: JsSandbox) -> str:
    if sandbox.has_function("decodeUplink") or sandbox.has_function("encodeDownlink"):
        return THINGPARK if sandbox.has_function("extractPoints") else TS013
    if sandbox.has_function("Decoder") or sandbox.has_function("Encoder"):
        return TTN_V2
    if sandbox.has_function("Decode") or sandbox.has_function("Encode"):
        return CHIRPSTACK_V3
    raise SandboxError(
        "compile",
        f"{sandbox.name} defines none of decodeUplink/encodeDownlink (TS013), Decoder/Encoder (TTN v2), "
        "Decode/Encode (ChirpStack v3)",
    )


def _codec_error(function_name: str, error: SandboxError) -> CodecError:
    shown = _SHOWN_AS.get(function_name, function_name)
    message = error.message.replace(function_name, shown)  # "a call of decodeUplink ran away"
    return CodecError(f"{shown}: {message}", reason=error.reason)


def _each(results: list[Any], check: Callable[[Any], Decoded]) -> list[Decoded | CodecError]:
    """Each result checked (an error already found stays as it is)."""
    outcomes: list[Decoded | CodecError] = []
    for result in results:
        if isinstance(result, CodecError):
            outcomes.append(result)
            continue
        try:
            outcomes.append(check(result))
        except CodecError as exc:
            outcomes.append(exc)
    return outcomes


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CodecError(f"malformed result: {what} must be a list of strings")
    return value


def _byte_list(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or not all(type(item) is int and 0 <= item <= 255 for item in value):
        raise CodecError(f"malformed result: {what} must be a list of integers 0..255")
    return value


class Codec:
    """One codec file, loaded once. Calls raise :class:`CodecError` with the reason; the codec stays usable.

    :param name: the codec's name (its file name without ``.js``, or ``inline``).
    :param source: the JavaScript text.
    :param timeout: seconds allowed to each call (and to loading the file).
    :param memory_limit: bytes the codec's context may use.
    """

    def __init__(
        self, name: str, source: str, *, timeout: float = DEFAULT_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT
    ) -> None:
        self.name = name
        self.sandbox = JsSandbox(source, name, timeout=timeout, memory_limit=memory_limit)
        self.style = _detect_style(self.sandbox)
        self.functions = frozenset(name for name in _KNOWN_FUNCTIONS if self.sandbox.has_function(name))
        if self.style in (TS013, THINGPARK) and self.can("decodeUplink"):
            self.sandbox.evaluate(_RECV_TIME_AS_DATE)

    def close(self) -> None:
        """End the codec's sandbox thread (calls fail after it)."""
        self.sandbox.close()

    def _call(self, function_name: str, *arguments: Any) -> Any:
        try:
            return self.sandbox.call(function_name, *arguments)
        except SandboxError as exc:
            raise _codec_error(function_name, exc) from None

    async def _call_batch(self, function_name: str, calls: list[tuple[Any, ...]]) -> list[Any]:
        """Per call, its result or its CodecError; raises CodecError when the crossing failed as a whole."""
        try:
            results = await self.sandbox.call_batch_async(function_name, calls)
        except SandboxError as exc:
            raise _codec_error(function_name, exc) from None
        return [
            _codec_error(function_name, result) if isinstance(result, SandboxError) else result for result in results
        ]

    def can(self, function_name: str) -> bool:
        """Whether the codec defines this function (looked up once, when loaded)."""
        return function_name in self.functions

    # -- uplinks ----------------------------------------------------------------------------------------------
    def decode_uplink(self, data: bytes, fport: int, recv_time: str | None = None) -> Decoded:
        """Decode an uplink's bytes. Raises CodecError for an exception, a broken limit, a malformed result or a
        result that reports errors."""
        if self.style in (TS013, THINGPARK):
            if not self.can("decodeUplink"):
                raise CodecError(f"codec {self.name} has no decodeUplink", reason="missing")
            decoded = self._ts013_decode(
                "__flowhostDecodeUplink", {"bytes": list(data), "fPort": fport, "recvTime": _recv_time(recv_time)}
            )
            if self.style == THINGPARK:
                decoded.points = self._call("extractPoints", {"message": decoded.data, "time": recv_time})
            return decoded
        if self.style == TTN_V2:
            return Decoded(self._plain_data("Decoder", self._call("Decoder", list(data), fport)))
        return Decoded(self._plain_data("Decode", self._call("Decode", fport, list(data), {})))

    async def decode_uplink_batch(self, uplinks: Sequence[tuple[bytes, int, str | None]]) -> list[Decoded | CodecError]:
        """:meth:`decode_uplink` for each ``(data, fport, recv_time)``, in one crossing into the sandbox (awaited
        on the sandbox's thread when it has one): per uplink, what it decoded to or its CodecError. Raises
        CodecError when the crossing failed as a whole (a timeout, memory outside any one call...): then decode
        them one at a time, each with its own limits."""
        if self.style in (TS013, THINGPARK):
            if not self.can("decodeUplink"):
                return [CodecError(f"codec {self.name} has no decodeUplink", reason="missing") for _ in uplinks]
            calls = [
                ({"bytes": list(data), "fPort": fport, "recvTime": _recv_time(time)},) for data, fport, time in uplinks
            ]
            outcomes = _each(await self._call_batch("__flowhostDecodeUplink", calls), self._ts013_result)
            if self.style == THINGPARK:
                await self._extract_points(outcomes, uplinks)
            return outcomes
        if self.style == TTN_V2:
            results = await self._call_batch("Decoder", [(list(data), fport) for data, fport, _ in uplinks])
            return _each(results, lambda result: Decoded(self._plain_data("Decoder", result)))
        results = await self._call_batch("Decode", [(fport, list(data), {}) for data, fport, _ in uplinks])
        return _each(results, lambda result: Decoded(self._plain_data("Decode", result)))

    async def _extract_points(self, outcomes: list[Decoded | CodecError], uplinks: Sequence[tuple[Any, ...]]) -> None:
        """A ThingPark driver: its points for each decoded uplink, in a second crossing."""
        decoded = [index for index, outcome in enumerate(outcomes) if isinstance(outcome, Decoded)]
        calls = [({"message": outcomes[index].data, "time": uplinks[index][2]},) for index in decoded]  # type: ignore[union-attr]
        for index, points in zip(decoded, await self._call_batch("extractPoints", calls) if calls else [], strict=True):
            if isinstance(points, CodecError):
                outcomes[index] = points
            else:
                outcomes[index].points = points  # type: ignore[union-attr]

    def decode_downlink(self, data: bytes, fport: int) -> Decoded:
        if self.style not in (TS013, THINGPARK) or not self.can("decodeDownlink"):
            raise CodecError(f"codec {self.name} has no decodeDownlink", reason="missing")
        return self._ts013_decode("decodeDownlink", {"bytes": list(data), "fPort": fport})

    def _ts013_decode(self, function_name: str, argument: dict[str, Any]) -> Decoded:
        return self._ts013_result(self._call(function_name, argument), function_name)

    @staticmethod
    def _ts013_result(result: Any, function_name: str = "__flowhostDecodeUplink") -> Decoded:
        """Check what a TS013 decoding function returned: its data, or CodecError."""
        if not isinstance(result, dict):
            function_name = _SHOWN_AS.get(function_name, function_name)
            raise CodecError(f"malformed result: {function_name} must return an object with data, warnings, errors")
        warnings = _strings(result.get("warnings"), "warnings")
        errors = _strings(result.get("errors"), "errors")
        if errors:
            raise CodecError("; ".join(errors), warnings, errors, reason="errors")
        if "data" not in result:
            function_name = _SHOWN_AS.get(function_name, function_name)
            raise CodecError(f"malformed result: {function_name} returned no data and no errors", warnings)
        return Decoded(result["data"], warnings)

    @staticmethod
    def _plain_data(function_name: str, result: Any) -> Any:
        if result is None:
            raise CodecError(f"malformed result: {function_name} returned nothing")
        return result

    # -- downlinks --------------------------------------------------------------------------------------------
    def encode_downlink(self, data: Any, fport: int | None = None) -> Encoded:
        """Encode a downlink's data into bytes (and the FPort the codec chose, for TS013)."""
        if self.style in (TS013, THINGPARK):
            return self._ts013_encode(data)
        if self.style == TTN_V2:
            function_name, arguments = "Encoder", (data, fport)
        else:
            function_name, arguments = "Encode", (fport, data, {})
        if not self.can(function_name):
            raise CodecError(f"codec {self.name} has no {function_name}", reason="missing")
        return Encoded(_byte_list(self._call(function_name, *arguments), f"{function_name}'s result"), fport)

    def _ts013_encode(self, data: Any) -> Encoded:
        if not self.can("encodeDownlink"):
            raise CodecError(f"codec {self.name} has no encodeDownlink", reason="missing")
        result = self._call("encodeDownlink", {"data": data})
        if not isinstance(result, dict):
            raise CodecError("malformed result: encodeDownlink must return an object with bytes, fPort, warnings")
        warnings = _strings(result.get("warnings"), "warnings")
        errors = _strings(result.get("errors"), "errors")
        if errors:
            raise CodecError("; ".join(errors), warnings, errors, reason="errors")
        fport = result.get("fPort")
        if fport is not None and (type(fport) is not int or not 1 <= fport <= 223):
            raise CodecError("malformed result: fPort must be an integer 1..223", warnings)
        return Encoded(_byte_list(result.get("bytes"), "bytes"), fport, warnings)
