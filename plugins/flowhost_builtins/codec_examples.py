"""Running the examples of codec YAML files (The Things Network device repository's form) against their codecs.

Each of ``uplinkDecoder``, ``downlinkEncoder`` and ``downlinkDecoder`` names a ``fileName`` (relative to the YAML
file) and lists ``examples`` with an ``input`` and the expected ``output``. The output's ``data``, ``bytes``,
``fPort``, ``warnings`` and ``errors`` are compared as JSON, numbers with a small relative tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .codec_apis import Codec, CodecError
from .codec_loader import CodecFolderError, read_codec_yaml, read_source
from .js_sandbox import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, SandboxError

__all__ = ["ExampleResult", "find_codec_yamls", "json_equal", "run_codec_yaml"]

SECTIONS = ("uplinkDecoder", "downlinkEncoder", "downlinkDecoder")
COMPARED_KEYS = ("data", "bytes", "fPort", "warnings", "errors")
RELATIVE_TOLERANCE = 1e-6
MAX_EXAMPLES_PER_SECTION = 1000


@dataclass(frozen=True)
class ExampleResult:
    source: str
    """``file.yaml section[index]``, or the file alone when it could not be read."""
    description: str
    passed: bool
    detail: str = ""


def find_codec_yamls(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """The codec YAML files given (files as they are, folders searched for ``*-codec.yaml``), and errors."""
    found: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if path.is_dir():
            matches = sorted(path.rglob("*-codec.yaml"))
            if not matches:
                errors.append(f"{path}: no *-codec.yaml file in this folder")
            found.extend(matches)
        elif path.is_file():
            found.append(path)
        else:
            errors.append(f"{path}: no such file or folder")
    return found, errors


def json_equal(expected: Any, actual: Any) -> bool:
    """JSON equality, numbers within a relative tolerance (booleans are not numbers)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(json_equal(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(map(json_equal, expected, actual))
    return expected == actual


def _input_bytes(example_input: Mapping[str, Any]) -> bytes:
    values = example_input.get("bytes")
    if not isinstance(values, list) or not all(type(v) is int and 0 <= v <= 255 for v in values):
        raise ValueError("input.bytes must be a list of numbers 0..255")
    return bytes(values)


def _input_fport(example_input: Mapping[str, Any]) -> int:
    fport = example_input.get("fPort")
    if type(fport) is not int or not 0 <= fport <= 255:
        raise ValueError("input.fPort must be a number 0..255")
    return fport


def _actual(codec: Codec, section: str, example_input: Mapping[str, Any]) -> dict[str, Any]:
    """What the codec gives for one example, in the TS013 result shape."""
    try:
        if section == "uplinkDecoder":
            recv_time = example_input.get("recvTime")
            decoded = codec.decode_uplink(
                _input_bytes(example_input), _input_fport(example_input), str(recv_time) if recv_time else None
            )
            return {"data": decoded.data, "warnings": decoded.warnings, "errors": []}
        if section == "downlinkDecoder":
            decoded = codec.decode_downlink(_input_bytes(example_input), _input_fport(example_input))
            return {"data": decoded.data, "warnings": decoded.warnings, "errors": []}
        encoded = codec.encode_downlink(example_input.get("data"), example_input.get("fPort"))
        return {"bytes": encoded.bytes, "fPort": encoded.fport, "warnings": encoded.warnings, "errors": []}
    except CodecError as exc:
        return {"warnings": exc.warnings, "errors": exc.errors}


def _differences(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    differences = []
    for key in COMPARED_KEYS:
        if key not in expected:
            continue
        wanted = expected[key] if expected[key] is not None or key not in ("warnings", "errors") else []
        got = actual.get(key, [] if key in ("warnings", "errors") else None)
        if not json_equal(wanted, got):
            differences.append(f"{key}: expected {_json(wanted)}, got {_json(got)}")
    if differences and "errors" not in expected and actual.get("errors"):
        differences.append(f"the codec failed: {'; '.join(actual['errors'])}")
    return differences


def _json(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 300 else text[:300] + "..."


def run_codec_yaml(
    path: Path, *, timeout: float = DEFAULT_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> list[ExampleResult]:
    """Run every example of one codec YAML file; a file or codec that cannot be loaded is one failed result."""
    try:
        document = read_codec_yaml(path)
    except ValueError as exc:
        return [ExampleResult(str(path), "", False, str(exc))]
    codecs: dict[Path, Codec] = {}
    results: list[ExampleResult] = []
    for section in SECTIONS:
        part = document.get(section)
        if part is None:
            continue
        where = f"{path} {section}"
        if not isinstance(part, Mapping) or not isinstance(part.get("fileName"), str):
            results.append(ExampleResult(where, "", False, f"{section} needs a fileName"))
            continue
        js_path = (path.parent / part["fileName"]).resolve()
        try:
            codec = codecs.get(js_path) or Codec(
                js_path.stem, read_source(js_path), timeout=timeout, memory_limit=memory_limit
            )
        except (CodecFolderError, SandboxError) as exc:
            results.append(ExampleResult(where, "", False, f"cannot load {part['fileName']}: {exc}"))
            continue
        codecs[js_path] = codec
        results.extend(_run_section(where, section, codec, part.get("examples") or []))
    return results


def _run_section(where: str, section: str, codec: Codec, examples: Any) -> list[ExampleResult]:
    if not isinstance(examples, list):
        return [ExampleResult(where, "", False, "examples must be a list")]
    results = []
    for index, example in enumerate(examples[:MAX_EXAMPLES_PER_SECTION]):
        source = f"{where}[{index}]"
        if not isinstance(example, Mapping) or not isinstance(example.get("input"), Mapping):
            results.append(ExampleResult(source, "", False, "an example needs an input mapping"))
            continue
        description = str(example.get("description") or "")
        expected = example.get("output")
        if not isinstance(expected, Mapping):
            results.append(ExampleResult(source, description, False, "an example needs an output mapping"))
            continue
        try:
            actual = _actual(codec, section, example["input"])
        except ValueError as exc:
            results.append(ExampleResult(source, description, False, str(exc)))
            continue
        differences = _differences(expected, actual)
        results.append(ExampleResult(source, description, not differences, "; ".join(differences)))
    return results
