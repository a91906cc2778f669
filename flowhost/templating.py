"""Topic templates: ThingPark ``{Field|Other|'literal'}`` patterns and sandboxed Jinja ``{{ ... }}``.

A pattern is compiled once, when a configuration is validated. Plain ThingPark patterns render without Jinja
(precomputed pieces and dict lookups), because rendering runs for every uplink. Jinja is used only when the
pattern holds ``{{ }}``, ``{% %}`` or ``{# #}``.

Every rendered value must fill part of exactly one topic level: a value holding ``/``, ``+``, ``#`` or a
character brokers refuse, or a level left empty by a missing field, rejects the uplink instead of publishing
it somewhere unexpected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from .template_limits import BoundedRenderer, TopicSandbox, charge_output, limit_environment

__all__ = [
    "DownlinkTopic",
    "TemplateError",
    "TopicRenderError",
    "TopicTemplate",
    "compile_topic_pattern",
    "create_environment",
    "patterns_overlap",
    "subscription_for_pattern",
]

MAX_TOPIC_BYTES = 65535
_VALUE_EXCERPT = 60

# Mosquitto disconnects a client that sends a topic with control characters, surrogates or non-characters, so
# one bad value would take the whole connection down: refuse them per value instead.
_NONCHARACTERS = "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(1, 17))
_BAD_TEXT_CLASS = "\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufdd0-\\ufdef\\ufffe\\uffff" + _NONCHARACTERS
_UNSAFE_IN_VALUE = re.compile(f"[/+#{_BAD_TEXT_CLASS}]").search
_UNSAFE_IN_LITERAL = re.compile(f"[+#{_BAD_TEXT_CLASS}]").search
_BAD_TEXT = re.compile(f"[{_BAD_TEXT_CLASS}]").search
_DEV_EUI = re.compile(r"[0-9A-Fa-f]{16}").fullmatch
_ALTERNATIVE = re.compile(r"""\s*(?:(?P<path>[^\s|'"]+)|'(?P<single>[^']*)'|"(?P<double>[^"]*)")\s*(?P<end>\||$)""")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*").fullmatch
_JINJA_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
# A Jinja expression that rendered nothing is marked with NUL (never allowed in a value or a topic), so an
# empty level can be told apart from literal text after rendering.
_EMPTY_MARK = "\x00"
MAX_JINJA_PATTERN = 2048
TOPIC_CACHE_SIZE = 10_000
"""Rendered topics a plain pattern remembers (about 100 bytes each); emptied when full."""


class TemplateError(ValueError):
    """A topic pattern that cannot be compiled; the message names the field and the position."""


class TopicRenderError(ValueError):
    """An uplink whose fields cannot make a valid topic with this pattern; the uplink must be rejected."""


class SandboxRefusal(TopicRenderError):
    """The template tried something the sandbox forbids (``__class__``, huge repetitions...)."""


_PROBE_FIELDS = {
    "Time": "2026-01-01T00:00:00.000+00:00",
    "DevEUI": "0018B20000000B20",
    "FPort": 1,
    "FCntUp": 1,
    "payload_hex": "00",
    "CustomerData": {"name": "probe", "tags": ["probe"]},
}
"""The fields a pattern is rendered with once while it is validated (a typical uplink's)."""


def create_environment(
    prepare: Callable[[SandboxedEnvironment], None] | None = None,
) -> SandboxedEnvironment:
    """The sandboxed Jinja environment for topic templates.

    A missing field renders as an empty string (``ChainableUndefined``, so ``{{ a.b.c }}`` with no ``a`` is
    empty too); empty levels are detected after rendering. ``prepare`` lets plugins add filters and globals.
    """
    environment = TopicSandbox(autoescape=False, undefined=jinja2.ChainableUndefined)
    if prepare is not None:
        prepare(environment)
    limit_environment(environment)
    return environment


# ---------------------------------------------------------------------------------------------- scanning


@dataclass(frozen=True, slots=True)
class PatternLiteral:
    """Text copied into the topic as it is."""

    text: str
    position: int


@dataclass(frozen=True, slots=True)
class PatternPlaceholder:
    """``{A.b|C|'literal'}``: the first alternative with a non-empty value wins."""

    source: str
    paths: tuple[tuple[str, ...], ...]
    fallback: str | None
    position: int

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(".".join(path) for path in self.paths)

    @property
    def is_single_field(self) -> bool:
        return len(self.paths) == 1 and self.fallback is None

    def value(self, fields: Mapping[str, Any]) -> str:
        """The text to insert, or '' when no alternative has a value."""
        for path in self.paths:
            raw = fields.get(path[0]) if len(path) == 1 else _lookup(fields, path)
            if raw is None:
                continue
            text = self._text(raw, path)
            if text:
                return text
        return self.fallback or ""

    def _text(self, raw: Any, path: tuple[str, ...]) -> str:
        text = _as_text(raw)
        if text is None:
            raise TopicRenderError(
                f"placeholder {self.source}: field {'.'.join(path)} is a {type(raw).__name__}, not a value"
            )
        if path == ("DevEUI",):
            if not _DEV_EUI(text):
                raise TopicRenderError(
                    f"placeholder {self.source}: DevEUI {_excerpt(text)} is not 16 hexadecimal digits"
                )
            return text.upper()
        _check_value(text, self.source)
        return text


@dataclass(frozen=True, slots=True)
class PatternJinja:
    """A native Jinja ``{{ ... }}`` or ``{% ... %}`` tag."""

    source: str
    position: int


PatternPart = PatternLiteral | PatternPlaceholder | PatternJinja


def scan_pattern(pattern: Any, field_name: str) -> list[PatternPart]:
    """Split a pattern into literal text, ThingPark placeholders and Jinja tags: public for tools that reason
    about patterns without rendering them (the AWS IoT policy generator)."""
    if not isinstance(pattern, str):
        raise TemplateError(f"{field_name} must be a string, got {type(pattern).__name__}")
    if not pattern:
        raise TemplateError(f"{field_name} is empty")
    tokens: list[PatternPart] = []
    position = 0
    while position < len(pattern):
        opener = pattern[position : position + 2]
        if opener in _JINJA_CLOSERS:
            end = _closing(pattern, position + 2, _JINJA_CLOSERS[opener])
            if end < 0:
                raise _compile_error(field_name, pattern, position, f"unclosed '{opener}'")
            tokens.append(PatternJinja(pattern[position:end], position))
            position = end
        elif pattern[position] == "{":
            end = _closing(pattern, position + 1, "}")
            if end < 0:
                raise _compile_error(field_name, pattern, position, _unclosed_placeholder(pattern, position))
            tokens.append(_parse_placeholder(pattern, position, end, field_name))
            position = end
        elif pattern[position] == "}":
            raise _compile_error(field_name, pattern, position, "unbalanced '}' (no opening '{')")
        else:
            end = _next_brace(pattern, position)
            tokens.append(PatternLiteral(pattern[position:end], position))
            position = end
    return tokens


def _closing(pattern: str, start: int, closer: str) -> int:
    """The index just past ``closer``, skipping quoted text; -1 when it is missing or a '{' comes first."""
    quote = None
    index = start
    while index < len(pattern):
        char = pattern[index]
        if quote:
            if char == "\\" and closer != "}":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif pattern.startswith(closer, index):
            return index + len(closer)
        elif char == "{" and closer == "}":
            return -1
        index += 1
    return -1


def _unclosed_placeholder(pattern: str, start: int) -> str:
    close = pattern.find("}", start)
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
        raise _compile_error(field_name, pattern, start, "empty placeholder '{}'")
    paths: list[tuple[str, ...]] = []
    fallback = None
    offset = 0
    while offset < len(body):
        match = _ALTERNATIVE.match(body, offset)
        if not match:
            raise _compile_error(field_name, pattern, start + 1 + offset, f"cannot read placeholder {source}")
        if fallback is not None:
            raise _compile_error(
                field_name,
                pattern,
                start + 1 + offset,
                f"in {source} a quoted literal must be the last choice",
            )
        path = match.group("path")
        if path is not None:
            if not _PATH(path):
                raise _compile_error(
                    field_name,
                    pattern,
                    start + 1 + match.start("path"),
                    f"bad field name {path!r} in {source}: use letters, digits, '_' or '-', "
                    "with dots between nested fields",
                )
            paths.append(tuple(path.split(".")))
        else:
            fallback = match.group("single") if match.group("single") is not None else match.group("double")
            _check_fallback(fallback, pattern, start + 1 + match.start(), field_name, source)
        offset = match.end()
        if match.group("end") == "|" and offset == len(body):
            raise _compile_error(field_name, pattern, start + 1 + offset, f"nothing after '|' in {source}")
    if not paths:
        raise _compile_error(field_name, pattern, start, f"{source} names no field")
    return PatternPlaceholder(source, tuple(paths), fallback, start)


def _check_fallback(fallback: str, pattern: str, position: int, field_name: str, source: str) -> None:
    if not fallback:
        raise _compile_error(field_name, pattern, position, f"the literal in {source} is empty")
    try:
        _check_value(fallback, source)
    except TopicRenderError as exc:
        raise _compile_error(field_name, pattern, position, str(exc)) from None


def _compile_error(field_name: str, pattern: str, position: int, problem: str) -> TemplateError:
    return TemplateError(f"{field_name}: {problem} at character {position + 1} of {pattern!r}")


def _check_literals(tokens: Sequence[PatternPart], pattern: str, field_name: str) -> None:
    for token in tokens:
        if isinstance(token, PatternLiteral):
            bad = _UNSAFE_IN_LITERAL(token.text)
            if bad:
                raise _compile_error(
                    field_name,
                    pattern,
                    token.position + bad.start(),
                    f"{bad.group()!r} is not allowed in a topic (wildcards and control characters cannot be published)",
                )


# ---------------------------------------------------------------------------------------------- values


def _lookup(fields: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = fields
    for key in path:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple) and key.isdigit():
            index = int(key)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def _as_text(value: Any) -> str | None:
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


def _check_value(text: str, source: str) -> None:
    bad = _UNSAFE_IN_VALUE(text)
    if bad:
        char = bad.group()
        reason = (
            "a value must stay within one topic level"
            if char == "/"
            else "wildcards cannot be published"
            if char in "+#"
            else "brokers refuse this character in a topic"
        )
        raise TopicRenderError(f"{source} value {_excerpt(text)} contains {char!r}: {reason}")


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= _VALUE_EXCERPT else text[:_VALUE_EXCERPT] + "...")


def _check_length(topic: str) -> str:
    if len(topic) > MAX_TOPIC_BYTES // 4 and len(topic.encode()) > MAX_TOPIC_BYTES:
        raise TopicRenderError(f"rendered topic is longer than {MAX_TOPIC_BYTES} bytes: {_excerpt(topic)}")
    return topic


# ---------------------------------------------------------------------------------------------- templates


class TopicTemplate:
    """A compiled topic pattern: ``render`` turns a mapping of fields (an uplink's: the plugin that reads the
    document unwraps it) into a topic or raises TopicRenderError."""

    __slots__ = ("is_plain", "pattern", "placeholders")

    def __init__(self, pattern: str, placeholders: tuple[str, ...], is_plain: bool) -> None:
        self.pattern = pattern
        self.placeholders = placeholders
        """Field names the pattern reads, in order of first use (``DevEUI``, ``CustomerData.name``)."""
        self.is_plain = is_plain
        """True when the pattern renders without Jinja."""

    def render(self, fields: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pattern!r})"


@dataclass(frozen=True, slots=True)
class _Level:
    """A topic level holding at least one placeholder; it must not render empty."""

    pieces: tuple[str | PatternPlaceholder, ...]
    sources: str

    def render(self, fields: Mapping[str, Any]) -> str:
        pieces = self.pieces
        if len(pieces) == 1:
            text = pieces[0].value(fields)  # type: ignore[union-attr]
        else:
            text = "".join([piece if type(piece) is str else piece.value(fields) for piece in pieces])
        if not text:
            raise TopicRenderError(f"topic level {self.sources} is empty: the uplink has no value for it")
        return text


class _PlainTopicTemplate(TopicTemplate):
    __slots__ = ("_cache", "_cache_names", "_parts")

    def __init__(self, pattern: str, tokens: Sequence[PatternLiteral | PatternPlaceholder]) -> None:
        placeholders = [token for token in tokens if isinstance(token, PatternPlaceholder)]
        super().__init__(pattern, _unique(name for token in placeholders for name in token.field_names), True)
        self._parts = _plain_parts(tokens)
        # Topics are remembered by the values they are made of when every placeholder reads top-level fields
        # (the usual {DevEUI}): a device's topic is then checked and built once, not for each of its uplinks.
        single_level = all(len(path) == 1 for token in placeholders for path in token.paths)
        self._cache_names = tuple(path[0] for token in placeholders for path in token.paths) if single_level else None
        self._cache: dict[tuple, str] = {}

    def render(self, fields: Mapping[str, Any]) -> str:
        names = self._cache_names
        if names is None:
            return self._render(fields)
        key = tuple([fields.get(name) for name in names])
        # Only text values: others may not hash (lists), and True == 1 as keys while they render "true" and "1".
        if not all(type(value) is str for value in key):
            return self._render(fields)
        topic = self._cache.get(key)
        if topic is None:
            topic = self._render(fields)
            if len(self._cache) >= TOPIC_CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = topic
        return topic

    def _render(self, fields: Mapping[str, Any]) -> str:
        return _check_length("".join([part if type(part) is str else part.render(fields) for part in self._parts]))


def _plain_parts(tokens: Sequence[PatternLiteral | PatternPlaceholder]) -> tuple[str | _Level, ...]:
    """The pattern as constant text (separators included) and dynamic levels; adjacent constants merged."""
    levels: list[list[str | PatternPlaceholder]] = [[]]
    for token in tokens:
        if isinstance(token, PatternPlaceholder):
            levels[-1].append(token)
            continue
        first, *rest = token.text.split("/")
        levels[-1].append(first)
        levels.extend([text] for text in rest)
    parts: list[str | _Level] = []
    for index, level in enumerate(levels):
        if index:
            _append_text(parts, "/")
        if all(isinstance(piece, str) for piece in level):
            _append_text(parts, "".join(level))  # type: ignore[arg-type]
            continue
        pieces = tuple(piece for piece in level if piece != "")
        sources = "".join(piece if isinstance(piece, str) else piece.source for piece in pieces)
        parts.append(_Level(pieces, sources))
    return tuple(parts)


def _append_text(parts: list[str | _Level], text: str) -> None:
    if parts and isinstance(parts[-1], str):
        parts[-1] += text
    elif text:
        parts.append(text)


class _JinjaTopicTemplate(TopicTemplate):
    __slots__ = ("_placeholders", "_template", "_uses_dev_eui")

    def __init__(self, pattern: str, tokens: Sequence[PatternPart], environment: SandboxedEnvironment, field_name: str):
        thingpark = [token for token in tokens if isinstance(token, PatternPlaceholder)]
        source = "".join(_jinja_source(token, thingpark) for token in tokens)
        topic_environment = environment.overlay(finalize=_finalize)
        try:
            tree = topic_environment.parse(source)
            variables = jinja2.meta.find_undeclared_variables(tree)
            template = topic_environment.from_string(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{field_name}: Jinja syntax error on line {exc.lineno}: {exc.message} in {pattern!r}"
            ) from None
        jinja_names = sorted(name for name in variables if not name.startswith("_thingpark_"))
        names = [name for token in thingpark for name in token.field_names]
        super().__init__(pattern, _unique([*names, *jinja_names]), False)
        self._placeholders = tuple(thingpark)
        self._template = BoundedRenderer(template, MAX_TOPIC_BYTES)
        self._uses_dev_eui = "DevEUI" in variables

    def render(self, fields: Mapping[str, Any]) -> str:
        context = dict(fields)
        if self._uses_dev_eui and fields.get("DevEUI") is not None:
            context["DevEUI"] = _DEV_EUI_PLACEHOLDER.value(fields)
        for index, placeholder in enumerate(self._placeholders):
            context[f"_thingpark_{index}"] = placeholder.value(fields)
        try:
            rendered = self._template.render(context)
        except TopicRenderError:
            raise
        except SecurityError as exc:
            raise SandboxRefusal(f"topic template {self.pattern!r} was refused by the sandbox: {exc}") from None
        except Exception as exc:  # user-written template code can raise anything; the uplink is rejected
            raise TopicRenderError(f"topic template {self.pattern!r} failed: {type(exc).__name__}: {exc}") from None
        return _check_length(_checked_jinja_topic(rendered, self.pattern))


_DEV_EUI_PLACEHOLDER = PatternPlaceholder("{{ DevEUI }}", (("DevEUI",),), None, 0)


def _jinja_source(token: PatternPart, thingpark: list[PatternPlaceholder]) -> str:
    if isinstance(token, PatternPlaceholder):
        return f"{{{{ _thingpark_{thingpark.index(token)} }}}}"
    return token.text if isinstance(token, PatternLiteral) else token.source


def _finalize(value: Any) -> str:
    """Applied by Jinja to every ``{{ }}`` result: the same rules as a ThingPark placeholder value."""
    if value is None or isinstance(value, jinja2.Undefined):
        return _EMPTY_MARK
    text = _as_text(value)
    if text is None:
        raise TopicRenderError(f"a {{{{ }}}} expression gave a {type(value).__name__}, not a value")
    if not text:
        return _EMPTY_MARK
    _check_value(text, "a {{ }} expression")
    charge_output(text)
    return text


def _checked_jinja_topic(rendered: str, pattern: str) -> str:
    if _EMPTY_MARK in rendered:
        for number, level in enumerate(rendered.split("/"), 1):
            if level and not level.strip(_EMPTY_MARK):
                raise TopicRenderError(f"topic level {number} of {pattern!r} is empty: the uplink has no value for it")
        rendered = rendered.replace(_EMPTY_MARK, "")
    bad = _UNSAFE_IN_LITERAL(rendered)
    if bad:
        raise TopicRenderError(f"rendered topic {_excerpt(rendered)} contains {bad.group()!r}")
    if not rendered:
        raise TopicRenderError(f"topic template {pattern!r} rendered an empty topic")
    return rendered


def _unique(names: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def compile_topic_pattern(
    pattern: str, environment: SandboxedEnvironment, *, field_name: str = "uplinkTopicPattern"
) -> TopicTemplate:
    """Compile a ThingPark topic pattern (``{DevEUI}``, ``{CustomerData.name|DevEUI|'None'}``), native Jinja
    (``{{ FPort }}``), or a mix. Raises TemplateError naming ``field_name`` and the position of the problem.
    """
    if isinstance(pattern, str) and len(pattern) > MAX_TOPIC_BYTES:
        raise TemplateError(f"{field_name} is {len(pattern)} characters long; a topic is at most {MAX_TOPIC_BYTES}")
    tokens = scan_pattern(pattern, field_name)
    _check_literals(tokens, pattern, field_name)
    if not any(isinstance(token, PatternJinja) for token in tokens):
        return _PlainTopicTemplate(pattern, tokens)  # type: ignore[arg-type]
    if len(pattern) > MAX_JINJA_PATTERN:
        # Compiling Jinja costs about 15 ms per KiB here, on the event loop.
        raise TemplateError(
            f"{field_name} is {len(pattern)} characters long; with Jinja a pattern may have {MAX_JINJA_PATTERN}"
        )
    template = _JinjaTopicTemplate(pattern, tokens, environment, field_name)
    # A template that reaches for what the sandbox forbids would refuse every uplink: say so now, not later.
    try:
        template.render(_PROBE_FIELDS)
    except SandboxRefusal as exc:
        raise TemplateError(f"{field_name}: {exc}") from None
    except TopicRenderError:
        pass  # missing or unusual fields are a property of some uplinks, not of the template
    return template


# ---------------------------------------------------------------------------------------------- downlink


@dataclass(frozen=True, slots=True)
class DownlinkTopic:
    """The subscription made from a downlink pattern, and the way back from a received topic to its values.

    ``levels`` holds, per topic level, the literal text, ``+``/``#`` given in the pattern, or the field name
    of a placeholder (``{DevEUI}``).
    """

    pattern: str
    filter: str
    placeholders: tuple[str, ...]
    _levels: tuple[tuple[str, str], ...] = field(repr=False)

    def match(self, topic: str) -> dict[str, str] | None:
        """The placeholder values in a received topic (DevEUI upper-cased), or None when it does not match."""
        received = topic.split("/")
        levels = self._levels
        multi = levels[-1][0] == "#"
        if len(received) < len(levels) - multi or (not multi and len(received) != len(levels)):
            return None
        values: dict[str, str] = {}
        for (kind, text), value in zip(levels, received, strict=False):
            if kind == "literal":
                if value != text:
                    return None
            elif kind == "field":
                if not value:
                    return None
                if text == "DevEUI":
                    value = value.upper()
                if values.setdefault(text, value) != value:
                    return None
            elif kind == "#":
                break
        return values


def subscription_for_pattern(pattern: str, *, field_name: str = "downlinkTopicPattern") -> DownlinkTopic:
    """The subscription for a downlink pattern: each ``{Field}`` must fill a whole level and becomes ``+``.

    ``+`` and ``#`` may also be written directly (``#`` last); fallbacks and Jinja are not allowed here.
    """
    tokens = scan_pattern(pattern, field_name)
    for token in tokens:
        if isinstance(token, PatternJinja):
            raise _compile_error(field_name, pattern, token.position, "Jinja is not allowed in a downlink pattern")
        if isinstance(token, PatternPlaceholder) and not token.is_single_field:
            raise _compile_error(
                field_name,
                pattern,
                token.position,
                f"{token.source}: a downlink placeholder names one field only",
            )
        if isinstance(token, PatternLiteral):
            bad = _BAD_TEXT(token.text)
            if bad:
                raise _compile_error(field_name, pattern, token.position + bad.start(), "control character")
    levels = _downlink_levels(tokens, pattern, field_name)
    filter_levels = [text if kind == "literal" else "+" if kind == "field" else kind for kind, text in levels]
    names = _unique(text for kind, text in levels if kind == "field")
    return DownlinkTopic(pattern, "/".join(filter_levels), names, tuple(levels))


def _downlink_levels(tokens: Sequence[PatternPart], pattern: str, field_name: str) -> list[tuple[str, str]]:
    grouped: list[list[PatternLiteral | PatternPlaceholder]] = [[]]
    for token in tokens:
        if isinstance(token, PatternLiteral):
            first, *rest = token.text.split("/")
            position = token.position
            grouped[-1].append(PatternLiteral(first, position))
            for text in rest:
                position += len(grouped[-1][-1].text) + 1  # type: ignore[union-attr]
                grouped.append([PatternLiteral(text, position)])
        else:
            grouped[-1].append(token)  # type: ignore[arg-type]
    levels: list[tuple[str, str]] = []
    for index, level in enumerate(grouped):
        pieces = [piece for piece in level if not (isinstance(piece, PatternLiteral) and piece.text == "")]
        placeholders = [piece for piece in pieces if isinstance(piece, PatternPlaceholder)]
        if placeholders:
            if len(pieces) > 1:
                raise _compile_error(
                    field_name,
                    pattern,
                    placeholders[0].position,
                    f"{placeholders[0].source} must fill a whole topic level (between '/')",
                )
            levels.append(("field", placeholders[0].field_names[0]))
            continue
        text = "".join(piece.text for piece in pieces)  # type: ignore[union-attr]
        position = level[0].position if level else 0
        if text in ("+", "#"):
            if text == "#" and index != len(grouped) - 1:
                raise _compile_error(field_name, pattern, position, "'#' must be the last topic level")
            levels.append((text, text))
        elif "+" in text or "#" in text:
            raise _compile_error(field_name, pattern, position, "'+' and '#' must fill a whole topic level")
        else:
            levels.append(("literal", text))
    return levels


def patterns_overlap(uplink_pattern: str, downlink_pattern: str) -> bool:
    """Whether some topic the uplink pattern can produce would match the downlink subscription.

    Each uplink placeholder stands for any text within one level (16 hex digits for ``{DevEUI}``); Jinja
    tags are treated as any text within a level, which over-approximates ``{% %}`` blocks.
    """
    uplink_levels = _uplink_level_expressions(scan_pattern(uplink_pattern, "uplinkTopicPattern"))
    downlink = subscription_for_pattern(downlink_pattern)
    for index, (kind, text) in enumerate(downlink._levels):
        if kind == "#":
            return not (index == 0 and _starts_with_dollar(uplink_levels[0]))
        if index >= len(uplink_levels):
            return False
        if kind == "field" or kind == "+":
            if index == 0 and _starts_with_dollar(uplink_levels[0]):
                return False  # MQTT: wildcards in the first level never match '$' topics
            continue
        if not uplink_levels[index].fullmatch(text):
            return False
    return len(uplink_levels) == len(downlink._levels)


def _uplink_level_expressions(tokens: Sequence[PatternPart]) -> list[re.Pattern[str]]:
    levels: list[list[str]] = [[]]
    has_literal = [False]
    for token in tokens:
        if isinstance(token, PatternLiteral):
            first, *rest = token.text.split("/")
            levels[-1].append(re.escape(first))
            has_literal[-1] = has_literal[-1] or bool(first)
            for text in rest:
                levels.append([re.escape(text)])
                has_literal.append(bool(text))
        elif isinstance(token, PatternPlaceholder):
            levels[-1].append(_placeholder_expression(token))
        else:
            levels[-1].append("[^/]*")
    # A level made only of values cannot render empty (rendering rejects that); an empty literal level can.
    return [
        re.compile(("" if literal or parts == [""] else "(?=.)") + "".join(parts))
        for parts, literal in zip(levels, has_literal, strict=True)
    ]


def _placeholder_expression(placeholder: PatternPlaceholder) -> str:
    choices = ["[0-9A-F]{16}" if path == ("DevEUI",) else "[^/]*" for path in placeholder.paths]
    if placeholder.fallback is not None:
        choices.append(re.escape(placeholder.fallback))
    return f"(?:{'|'.join(choices)})"


def _starts_with_dollar(level: re.Pattern[str]) -> bool:
    return level.pattern.startswith(re.escape("$"))
