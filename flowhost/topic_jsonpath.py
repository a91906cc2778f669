"""JsonPath in topic placeholders (``{$..CustomerData.tags[?(@ =~ /Paris:.*/)]}``), with jsonpath-ng.

ThingPark's connections accept JsonPath between braces; its documentation's example writes the regular expression
of ``=~`` between slashes, as Jayway JsonPath (Java) does. jsonpath-ng reads ``=~ "text"``, so a ``/.../`` literal is
turned into a quoted one before parsing. Each path is compiled once, when its pattern is; rendering only runs it.

What a path may compute is bounded, because the document it runs on comes from a device's uplink:

- a regular expression is compiled with RE2 (linear time, no backtracking); one RE2 cannot compile is refused;
- at most one ``..`` (recursive descent) per path, none inside a filter, and no ``$`` inside a filter: the work is
  then linear in the size of the document (which the connector bounds);
- jsonpath-ng's extensions that compute (arithmetic, ``len``, ``sorted``, ``sub()``, ``split()``, ``str()``,
  ``keys``, ``parent``) and unions are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import re2
from jsonpath_ng import JSONPath, jsonpath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import filter as jsonpath_filter
from jsonpath_ng.ext import parse as parse_jsonpath

from .message import thaw

__all__ = ["CompiledJsonPath", "JsonPathError", "compile_jsonpath", "jsonpath_end"]

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad expression is reported to the user, not printed to stderr
_RE2_FLAGS = {"i": "i", "m": "m", "s": "s"}
_ERROR_COLUMN = re.compile(r"(?:at \d+:|col )(\d+)")
_LEAVES = (jsonpath.Root, jsonpath.This, jsonpath.Fields, jsonpath.Index, jsonpath.Slice, jsonpath.Wildcard)
_PAIRS = (jsonpath.Child, jsonpath.Descendants)
_BOOLEANS = (jsonpath_filter.And, jsonpath_filter.Or)
_OPENERS = {"[": "]", "(": ")"}


class JsonPathError(ValueError):
    """A JsonPath that cannot be used in a topic pattern; ``offset`` is where, from the path's start."""

    def __init__(self, problem: str, offset: int) -> None:
        super().__init__(problem)
        self.offset = offset


class CompiledJsonPath:
    """A compiled path: ``first(fields)`` is the value of its first match in document order, or None."""

    __slots__ = ("_path", "source")

    def __init__(self, source: str, path: JSONPath) -> None:
        self.source = source
        self._path = path

    def first(self, fields: Mapping[str, Any]) -> Any:
        # jsonpath-ng walks lists only, not the tuples of a frozen message payload: a plain copy, linear as the
        # search itself.
        found = self._path.find(thaw(fields))
        return found[0].value if found else None

    def __repr__(self) -> str:
        return f"CompiledJsonPath({self.source!r})"


def jsonpath_end(text: str, start: int, stops: str) -> int:
    """The index of the first character of ``stops`` after ``start`` that is outside brackets, parentheses,
    quotes and ``/regex/`` literals; ``len(text)`` when there is none."""
    depth: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char in "'\"":
            index = _quoted_end(text, index, char)
        elif char == "/" and _follows_match_operator(text, index):
            index = _quoted_end(text, index, "/")
        elif char in _OPENERS:
            depth.append(_OPENERS[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif not depth and char in stops:
            return index
        index += 1
    return index


def _quoted_end(text: str, start: int, quote: str) -> int:
    """The index of the closing ``quote`` (backslash escapes it), or the last index when it is missing."""
    index = start + 1
    while index < len(text) and text[index] != quote:
        index += 2 if text[index] == "\\" else 1
    return min(index, len(text) - 1)


def _follows_match_operator(text: str, index: int) -> bool:
    return text[:index].rstrip().endswith("=~")


def compile_jsonpath(source: str) -> CompiledJsonPath:
    """Compile ``source`` (starting with ``$``). Raises JsonPathError with the problem and its offset."""
    translated, regexes, offsets = _quote_regex_literals(source)
    try:
        path = parse_jsonpath(translated)
    except (JsonPathLexerError, JsonPathParserError, ValueError) as exc:
        raise JsonPathError(f"bad JsonPath {source!r}: {exc}", _error_offset(str(exc), offsets)) from None
    return CompiledJsonPath(source, _bounded(path, source, regexes))


def _quote_regex_literals(source: str) -> tuple[str, dict[str, tuple[str, int]], list[tuple[int, int]]]:
    """``=~ /re/flags`` as ``=~ "(?flags)re"``, as jsonpath-ng reads it; the literals' texts and offsets, and
    pairs (translated offset, source offset) to map jsonpath-ng's error columns back to the source."""
    pieces: list[str] = []
    regexes: dict[str, tuple[str, int]] = {}
    offsets: list[tuple[int, int]] = [(0, 0)]
    copied = index = 0
    while index < len(source):
        char = source[index]
        if char in "'\"":
            index = _quoted_end(source, index, char) + 1
            continue
        if char == "/" and _follows_match_operator(source, index):
            end = _quoted_end(source, index, "/")
            if source[end] != "/" or end == index:
                raise JsonPathError("unclosed regular expression (/.../)", index)
            flags_end = end + 1
            while flags_end < len(source) and source[flags_end].isalpha():
                flags_end += 1
            regex = _with_flags(source[index + 1 : end].replace("\\/", "/"), source[end + 1 : flags_end], end + 1)
            pieces.append(source[copied:index])
            quoted = '"' + regex.replace("\\", "\\\\").replace('"', '\\"') + '"'
            regexes[regex] = (source[index:flags_end], index)
            pieces.append(quoted)
            offsets.append((sum(map(len, pieces)), flags_end))
            copied = index = flags_end
            continue
        index += 1
    pieces.append(source[copied:])
    return "".join(pieces), regexes, offsets


def _with_flags(regex: str, flags: str, offset: int) -> str:
    unknown = sorted(set(flags) - set(_RE2_FLAGS))
    if unknown:
        raise JsonPathError(f"unknown regular expression flag {unknown[0]!r} (use i, m or s)", offset)
    return f"(?{''.join(sorted(set(flags)))}){regex}" if flags else regex


def _error_offset(message: str, offsets: list[tuple[int, int]]) -> int:
    found = _ERROR_COLUMN.search(message)
    if not found:
        return 0
    column = int(found.group(1))
    translated, original = max((pair for pair in offsets if pair[0] <= column), default=(0, 0))
    return original + column - translated


def _bounded(path: JSONPath, source: str, regexes: dict[str, tuple[str, int]]) -> JSONPath:
    """``path`` with every ``=~`` matched by RE2; refuses what could compute more than linear work."""
    descents = 0

    def visit(node: Any, in_filter: bool) -> Any:
        nonlocal descents
        # Exact types: jsonpath-ng's computing extensions (sub(), sorted, str()...) are subclasses of This.
        kind = type(node)
        if kind in _LEAVES and not (in_filter and kind is jsonpath.Root):
            return node
        if kind in _PAIRS:
            if kind is jsonpath.Descendants:
                descents += 1
                if in_filter or descents > 1:
                    raise JsonPathError(_DESCENT_LIMIT, _nth(source, "..", descents))
            return kind(visit(node.left, in_filter), visit(node.right, in_filter))
        if kind is jsonpath_filter.Filter:
            return jsonpath_filter.Filter([visit(expression, True) for expression in node.expressions])
        if kind in _BOOLEANS:
            return kind([visit(operand, True) for operand in node.operands])
        if kind is jsonpath_filter.Expression:
            return _expression(node, source, regexes, visit)
        raise JsonPathError(_refusal(node), 0)

    return visit(path, False)


_DESCENT_LIMIT = "a JsonPath in a topic may use '..' once, and not inside a filter (it would search the document again)"


def _nth(text: str, part: str, count: int) -> int:
    """Where the ``count``-th ``part`` of ``text`` starts (its last one when there are fewer)."""
    index = -1
    for _ in range(count):
        following = text.find(part, index + 1)
        if following < 0:
            break
        index = following
    return max(index, 0)


def _refusal(node: Any) -> str:
    if isinstance(node, jsonpath.Root):
        return "'$' inside a filter is not allowed in a topic pattern (it would search the document again)"
    return f"{type(node).__name__.strip('_')} is not allowed in a topic pattern's JsonPath"


def _expression(node: Any, source: str, regexes: dict[str, tuple[str, int]], visit: Any) -> JSONPath:
    target = visit(node.target, True)
    value = visit(node.value, True) if isinstance(node.value, JSONPath) else node.value
    if node.op != "=~":
        return jsonpath_filter.Expression(target, node.op, value)
    if not isinstance(value, str):
        raise JsonPathError("'=~' takes a regular expression (/.../ or a quoted string)", source.find("=~"))
    written, offset = regexes.get(value, (repr(value), source.find("=~")))
    try:
        regex = re2.compile(value, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise JsonPathError(f"regular expression {written} cannot be compiled by RE2: {reason}", offset) from None
    return _Re2Match(target, regex)


class _Re2Match(JSONPath):
    """``@ =~ /re/``: the values found by ``target`` that are text and contain a match of ``regex`` (what
    jsonpath-ng's own ``=~`` does with Python's ``re``, which can backtrack for ever)."""

    def __init__(self, target: JSONPath, regex: Any) -> None:
        self.target = target
        self.regex = regex

    def find(self, datum: Any) -> list[Any]:
        found = self.target.find(jsonpath.DatumInContext.wrap(datum))
        return [data for data in found if isinstance(data.value, str) and self.regex.search(data.value)]
