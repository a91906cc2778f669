"""Reading topic patterns: literal text, ThingPark ``{A.b|$..c|'literal'}`` placeholders and Jinja tags.

Public for tools that reason about patterns without rendering them (the AWS IoT policy generator); rendering is
:mod:`flowhost.topic_render`, subscriptions are :mod:`flowhost.topic_downlink`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .topic_jsonpath import CompiledJsonPath, JsonPathError, compile_jsonpath, jsonpath_end

__all__ = [
    "FieldRule",
    "PatternJinja",
    "PatternLiteral",
    "PatternPart",
    "PatternPlaceholder",
    "TemplateError",
    "TopicFields",
    "TopicRenderError",
    "scan_pattern",
]

# Mosquitto disconnects a client that sends a topic with control characters, surrogates or non-characters, so
# one bad value would take the whole connection down: refuse them per value instead.
_NONCHARACTERS = "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(1, 17))
_BAD_TEXT_CLASS = "\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufdd0-\\ufdef\\ufffe\\uffff" + _NONCHARACTERS
UNSAFE_IN_VALUE = re.compile(f"[/+#{_BAD_TEXT_CLASS}]").search
UNSAFE_IN_LITERAL = re.compile(f"[+#{_BAD_TEXT_CLASS}]").search
BAD_TEXT = re.compile(f"[{_BAD_TEXT_CLASS}]").search
_ALTERNATIVE = re.compile(r"""\s*(?:(?P<path>[^\s|'"]+)|'(?P<single>[^']*)'|"(?P<double>[^"]*)")\s*(?P<end>\||$)""")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*").fullmatch
_JINJA_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
_VALUE_EXCERPT = 60


class TemplateError(ValueError):
    """A topic pattern that cannot be compiled; the message names the field and the position."""


class TopicRenderError(ValueError):
    """An uplink whose fields cannot make a valid topic with this pattern; the uplink must be rejected."""


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one field's value appears in topics, said by the plugin that knows the field (ThingPark's plugin:
    a DevEUI is 16 upper-case hex digits). The topic engine itself knows no field."""

    normalise: Callable[[str], str]
    """The topic text for a value's text (``str.upper``); raises ValueError saying what is wrong (``is not 16
    hexadecimal digits``) for a value that cannot be right: the uplink is then rejected with that reason."""
    values: str = "[^/]*"
    """A regular expression of every text ``normalise`` returns, which tells :func:`patterns_overlap` what a
    placeholder of this field can render."""


@dataclass(frozen=True, slots=True)
class TopicFields:
    """What a caller knows of the fields its patterns name: a rule per field name (``DevEUI``; a dotted name
    for a nested field), and a typical mapping of fields (``probe``) that a Jinja pattern is rendered with once
    when it is compiled, so that one reaching for what the sandbox forbids is refused then, not per uplink."""

    rules: Mapping[str, FieldRule] = field(default_factory=dict)
    probe: Mapping[str, Any] = field(default_factory=dict)


NO_FIELD_RULES = TopicFields()

Alternative = tuple[str, ...] | CompiledJsonPath
"""A placeholder's choice: a dotted path (``("CustomerData", "name")``) or a compiled JsonPath."""


@dataclass(frozen=True, slots=True)
class PatternLiteral:
    """Text copied into the topic as it is."""

    text: str
    position: int


@dataclass(frozen=True, slots=True)
class PatternPlaceholder:
    """``{A.b|$..c|'literal'}``: the first alternative with a non-empty value wins, else the literal."""

    source: str
    alternatives: tuple[Alternative, ...]
    fallback: str | None
    position: int

    @property
    def field_names(self) -> tuple[str, ...]:
        """Each alternative as written: ``CustomerData.name``, ``$..tags[0]``."""
        return tuple(_alternative_name(choice) for choice in self.alternatives)

    @property
    def is_single_field(self) -> bool:
        """One dotted path, no JsonPath and no literal: what a downlink pattern accepts."""
        return len(self.alternatives) == 1 and self.fallback is None and isinstance(self.alternatives[0], tuple)


def _alternative_name(choice: Alternative) -> str:
    return ".".join(choice) if isinstance(choice, tuple) else choice.source


@dataclass(frozen=True, slots=True)
class PatternJinja:
    """A native Jinja ``{{ ... }}``, ``{% ... %}`` or ``{# ... #}`` tag."""

    source: str
    position: int


PatternPart = PatternLiteral | PatternPlaceholder | PatternJinja


def scan_pattern(pattern: Any, field_name: str) -> list[PatternPart]:
    """Split a pattern into literal text, ThingPark placeholders (their JsonPaths compiled) and Jinja tags."""
    if not isinstance(pattern, str):
        raise TemplateError(f"{field_name} must be a string, got {type(pattern).__name__}")
    if not pattern:
        raise TemplateError(f"{field_name} is empty")
    tokens: list[PatternPart] = []
    position = 0
    while position < len(pattern):
        opener = pattern[position : position + 2]
        if opener in _JINJA_CLOSERS:
            end = _jinja_end(pattern, position + 2, _JINJA_CLOSERS[opener])
            if end < 0:
                raise compile_error(field_name, pattern, position, f"unclosed '{opener}'")
            tokens.append(PatternJinja(pattern[position:end], position))
        elif pattern[position] == "{":
            end = _placeholder_end(pattern, position + 1)
            if end < 0:
                raise compile_error(field_name, pattern, position, _unclosed_placeholder(pattern, position))
            tokens.append(_parse_placeholder(pattern, position, end, field_name))
        elif pattern[position] == "}":
            raise compile_error(field_name, pattern, position, "unbalanced '}' (no opening '{')")
        else:
            end = _next_brace(pattern, position)
            tokens.append(PatternLiteral(pattern[position:end], position))
        position = end
    return tokens


def _jinja_end(pattern: str, start: int, closer: str) -> int:
    """The index just past ``closer``, skipping quoted text (with its backslash escapes); -1 when missing."""
    quote = None
    index = start
    while index < len(pattern):
        char = pattern[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif pattern.startswith(closer, index):
            return index + len(closer)
        index += 1
    return -1


def _placeholder_end(pattern: str, start: int) -> int:
    """The index just past the placeholder's '}' (quotes, brackets and /regex/ skipped); -1 when missing or when
    a '{' comes first."""
    end = jsonpath_end(pattern, start, "{}")
    return end + 1 if end < len(pattern) and pattern[end] == "}" else -1


def _unclosed_placeholder(pattern: str, start: int) -> str:
    close = pattern.find("}", start)
    if close >= 0 and pattern[start + 1 : close].lstrip().startswith("$"):
        return "unclosed bracket, parenthesis, quote or /regex/ in a JsonPath"
    if close >= 0 and not set(pattern[start + 1 : close]).isdisjoint("'\""):
        return "unclosed quote in placeholder"
    return "unbalanced '{' (no closing '}')"


def _next_brace(pattern: str, start: int) -> int:
    ends = [index for index in (pattern.find("{", start), pattern.find("}", start)) if index >= 0]
    return min(ends) if ends else len(pattern)


def _parse_placeholder(pattern: str, start: int, end: int, field_name: str) -> PatternPlaceholder:
    source = pattern[start:end]
    body = source[1:-1]
    if not body.strip():
        raise compile_error(field_name, pattern, start, "empty placeholder '{}'")
    alternatives: list[Alternative] = []
    fallback = None
    offset = 0
    while offset < len(body):
        if fallback is not None:
            raise compile_error(
                field_name, pattern, start + 1 + offset, f"in {source} a quoted literal must be the last choice"
            )
        choice, offset = _read_alternative(body, offset, pattern, start + 1, field_name)
        if isinstance(choice, str):
            fallback = choice
        else:
            alternatives.append(choice)
        if body[offset - 1] == "|" and not body[offset:].strip():
            raise compile_error(field_name, pattern, start + 1 + len(body), f"nothing after '|' in {source}")
    if not alternatives:
        raise compile_error(field_name, pattern, start, f"{source} names no field")
    return PatternPlaceholder(source, tuple(alternatives), fallback, start)


def _read_alternative(
    body: str, offset: int, pattern: str, body_start: int, field_name: str
) -> tuple[Alternative | str, int]:
    """The alternative at ``offset`` (a path, a JsonPath or a quoted literal) and the offset after its '|'."""
    source = pattern[body_start - 1 : body_start + len(body) + 1]
    first = len(body[offset:]) - len(body[offset:].lstrip()) + offset
    if body.startswith("$", first):
        end = jsonpath_end(body, first, "|")
        try:
            compiled = compile_jsonpath(body[first:end].rstrip())
        except JsonPathError as exc:
            raise compile_error(field_name, pattern, body_start + first + exc.offset, str(exc)) from None
        return compiled, end + 1 if end < len(body) else end
    match = _ALTERNATIVE.match(body, offset)
    if not match:
        raise compile_error(field_name, pattern, body_start + offset, f"cannot read placeholder {source}")
    path = match.group("path")
    if path is None:
        fallback = match.group("single") if match.group("single") is not None else match.group("double")
        _check_fallback(fallback, pattern, body_start + match.start(), field_name, source)
        return fallback, match.end()
    if not _PATH(path):
        raise compile_error(
            field_name,
            pattern,
            body_start + match.start("path"),
            f"bad field name {path!r} in {source}: use letters, digits, '_' or '-', with dots between nested "
            "fields, or a JsonPath starting with '$'",
        )
    return tuple(path.split(".")), match.end()


def _check_fallback(fallback: str, pattern: str, position: int, field_name: str, source: str) -> None:
    if not fallback:
        raise compile_error(field_name, pattern, position, f"the literal in {source} is empty")
    try:
        check_value(fallback, source)
    except TopicRenderError as exc:
        raise compile_error(field_name, pattern, position, str(exc)) from None


def compile_error(field_name: str, pattern: str, position: int, problem: str) -> TemplateError:
    """The error for a problem at ``position`` (0-based) of ``pattern``, shown 1-based."""
    return TemplateError(f"{field_name}: {problem} at character {position + 1} of {pattern!r}")


def check_literals(tokens: Sequence[PatternPart], pattern: str, field_name: str) -> None:
    """Refuse wildcards and control characters in the literal text of a pattern to publish to."""
    for token in tokens:
        if isinstance(token, PatternLiteral):
            bad = UNSAFE_IN_LITERAL(token.text)
            if bad:
                raise compile_error(
                    field_name,
                    pattern,
                    token.position + bad.start(),
                    f"{bad.group()!r} is not allowed in a topic (wildcards and control characters cannot be published)",
                )


# ---------------------------------------------------------------------------------------------- values


def as_text(value: Any) -> str | None:
    """A scalar as topic text (numbers in decimal, JSON booleans as true/false); None for containers."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Mapping | list | tuple | set | bytes):
        return None
    return str(value)


def check_value(text: str, source: str) -> None:
    """Refuse a value that would not stay within one topic level, or that brokers refuse."""
    bad = UNSAFE_IN_VALUE(text)
    if bad:
        char = bad.group()
        reason = (
            "a value must stay within one topic level"
            if char == "/"
            else "wildcards cannot be published"
            if char in "+#"
            else "brokers refuse this character in a topic"
        )
        raise TopicRenderError(f"{source} value {excerpt(text)} contains {char!r}: {reason}")


def excerpt(text: str) -> str:
    return repr(text if len(text) <= _VALUE_EXCERPT else text[:_VALUE_EXCERPT] + "...")


def unique(names: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
