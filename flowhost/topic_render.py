"""Compiled topic patterns: ``render(fields)`` gives the topic of one uplink or raises TopicRenderError.

A pattern is compiled once, when a configuration is validated. Plain ThingPark patterns render without Jinja
(precomputed pieces and dict lookups, topics remembered per device), because rendering runs for every uplink.
Jinja is used only when the pattern holds ``{{ }}``, ``{% %}`` or ``{# #}``.

Every rendered value must fill part of exactly one topic level: a value holding ``/``, ``+``, ``#`` or a
character brokers refuse, or a level left empty by a missing field, rejects the uplink instead of publishing
it somewhere unexpected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from .template_limits import BoundedRenderer, TopicSandbox, charge_output, limit_environment
from .topic_pattern import (
    NO_FIELD_RULES,
    UNSAFE_IN_LITERAL,
    FieldRule,
    PatternJinja,
    PatternLiteral,
    PatternPart,
    PatternPlaceholder,
    TemplateError,
    TopicFields,
    TopicRenderError,
    as_text,
    check_literals,
    check_value,
    excerpt,
    scan_pattern,
    unique,
)

__all__ = ["SandboxRefusal", "TopicTemplate", "compile_topic_pattern", "create_environment"]

MAX_TOPIC_BYTES = 65535
MAX_JINJA_PATTERN = 2048
TOPIC_CACHE_SIZE = 10_000
"""Rendered topics a plain pattern remembers (about 100 bytes each); emptied when full."""
# A Jinja expression that rendered nothing is marked with NUL (never allowed in a value or a topic), so an
# empty level can be told apart from literal text after rendering.
_EMPTY_MARK = "\x00"
_PROBE_TEXT = "1"
"""The value a Jinja pattern's probe rendering gives a name that the caller's probe fields lack."""


class SandboxRefusal(TopicRenderError):
    """The template tried something the sandbox forbids (``__class__``, huge repetitions...)."""


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


# ---------------------------------------------------------------------------------------------- values


def _lookup(path: tuple[str, ...], fields: Mapping[str, Any]) -> Any:
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


def _reader(choice: tuple[str, ...] | Any) -> Callable[[Mapping[str, Any]], Any]:
    if not isinstance(choice, tuple):
        return choice.first  # a compiled JsonPath
    if len(choice) == 1:
        return partial(_top_level, choice[0])
    return partial(_lookup, choice)


def _top_level(name: str, fields: Mapping[str, Any]) -> Any:
    return fields.get(name)


class PlaceholderValue:
    """A placeholder bound to the caller's field rules: ``value(fields)`` is the text it inserts, '' when no
    alternative has a value."""

    __slots__ = ("_choices", "fallback", "source")

    def __init__(self, placeholder: PatternPlaceholder, rules: Mapping[str, FieldRule]) -> None:
        self.source = placeholder.source
        self.fallback = placeholder.fallback or ""
        self._choices = tuple(
            (name, _reader(choice), rules.get(name) if isinstance(choice, tuple) else None)
            for name, choice in zip(placeholder.field_names, placeholder.alternatives, strict=True)
        )

    def value(self, fields: Mapping[str, Any]) -> str:
        for name, read, rule in self._choices:
            raw = read(fields)
            if raw is None:
                continue
            text = as_text(raw)
            if text is None:
                kind = type(raw).__name__
                raise TopicRenderError(f"placeholder {self.source}: field {name} is a {kind}, not a value")
            if rule is not None:
                text = self._normalised(rule, name, text)
            check_value(text, self.source)
            if text:
                return text
        return self.fallback

    def _normalised(self, rule: FieldRule, name: str, text: str) -> str:
        try:
            return rule.normalise(text)
        except ValueError as exc:
            raise TopicRenderError(f"placeholder {self.source}: {name} {excerpt(text)} {exc}") from None


def _check_length(topic: str) -> str:
    if len(topic) > MAX_TOPIC_BYTES // 4 and len(topic.encode()) > MAX_TOPIC_BYTES:
        raise TopicRenderError(f"rendered topic is longer than {MAX_TOPIC_BYTES} bytes: {excerpt(topic)}")
    return topic


# ---------------------------------------------------------------------------------------------- templates


class TopicTemplate:
    """A compiled topic pattern: ``render`` turns a mapping of fields (an uplink's: the plugin that reads the
    document unwraps it) into a topic or raises TopicRenderError."""

    __slots__ = ("is_plain", "pattern", "placeholders")

    def __init__(self, pattern: str, placeholders: tuple[str, ...], is_plain: bool) -> None:
        self.pattern = pattern
        self.placeholders = placeholders
        """Field names the pattern reads, in order of first use (``DevEUI``, ``CustomerData.name``, JsonPaths
        as written)."""
        self.is_plain = is_plain
        """True when the pattern renders without Jinja."""

    def render(self, fields: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pattern!r})"


@dataclass(frozen=True, slots=True)
class _Level:
    """A topic level holding at least one placeholder; it must not render empty."""

    pieces: tuple[str | PlaceholderValue, ...]
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

    def __init__(
        self, pattern: str, tokens: Sequence[PatternLiteral | PatternPlaceholder], rules: Mapping[str, FieldRule]
    ) -> None:
        placeholders = [token for token in tokens if isinstance(token, PatternPlaceholder)]
        super().__init__(pattern, unique(name for token in placeholders for name in token.field_names), True)
        self._parts = _plain_parts(tokens, rules)
        # Topics are remembered by the values they are made of when every placeholder reads top-level fields
        # (the usual {DevEUI}): a device's topic is then checked and built once, not for each of its uplinks.
        choices = [choice for token in placeholders for choice in token.alternatives]
        single_level = all(isinstance(choice, tuple) and len(choice) == 1 for choice in choices)
        self._cache_names = tuple(choice[0] for choice in choices) if single_level else None  # type: ignore[index]
        self._cache: dict[Any, str] = {}  # one value, or a tuple of them

    def render(self, fields: Mapping[str, Any]) -> str:
        names = self._cache_names
        if names is None:
            return self._render(fields)
        # Only text values: others may not hash (lists), and True == 1 as keys while they render "true" and "1".
        if len(names) == 1:  # the usual {DevEUI}: its value is the key
            key: Any = fields.get(names[0])
            if type(key) is not str:
                return self._render(fields)
        else:
            key = tuple([fields.get(name) for name in names])
            for value in key:
                if type(value) is not str:
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


def _plain_parts(
    tokens: Sequence[PatternLiteral | PatternPlaceholder], rules: Mapping[str, FieldRule]
) -> tuple[str | _Level, ...]:
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
        bound = tuple(piece if isinstance(piece, str) else PlaceholderValue(piece, rules) for piece in pieces)
        parts.append(_Level(bound, sources))
    return tuple(parts)


def _append_text(parts: list[str | _Level], text: str) -> None:
    if parts and isinstance(parts[-1], str):
        parts[-1] += text
    elif text:
        parts.append(text)


class _JinjaTopicTemplate(TopicTemplate):
    __slots__ = ("_placeholders", "_ruled", "_template", "variables")

    def __init__(
        self, pattern: str, tokens: Sequence[PatternPart], environment: SandboxedEnvironment, field_name: str, rules
    ) -> None:
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
        super().__init__(pattern, unique([*names, *jinja_names]), False)
        self.variables = tuple(jinja_names)
        self._placeholders = tuple(PlaceholderValue(token, rules) for token in thingpark)
        # A field with a rule reaches Jinja normalised too: {{ DevEUI }} as {DevEUI} would render it.
        self._ruled = tuple(
            (name, PlaceholderValue(PatternPlaceholder(f"{{{{ {name} }}}}", ((name,),), None, 0), rules))
            for name in jinja_names
            if name in rules
        )
        self._template = BoundedRenderer(template, MAX_TOPIC_BYTES)

    def render(self, fields: Mapping[str, Any]) -> str:
        context = dict(fields)
        for name, placeholder in self._ruled:
            if fields.get(name) is not None:
                context[name] = placeholder.value(fields)
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


def _jinja_source(token: PatternPart, thingpark: list[PatternPlaceholder]) -> str:
    if isinstance(token, PatternPlaceholder):
        return f"{{{{ _thingpark_{thingpark.index(token)} }}}}"
    return token.text if isinstance(token, PatternLiteral) else token.source


def _finalize(value: Any) -> str:
    """Applied by Jinja to every ``{{ }}`` result: the same rules as a ThingPark placeholder value."""
    if value is None or isinstance(value, jinja2.Undefined):
        return _EMPTY_MARK
    text = as_text(value)
    if text is None:
        raise TopicRenderError(f"a {{{{ }}}} expression gave a {type(value).__name__}, not a value")
    if not text:
        return _EMPTY_MARK
    check_value(text, "a {{ }} expression")
    charge_output(text)
    return text


def _checked_jinja_topic(rendered: str, pattern: str) -> str:
    if _EMPTY_MARK in rendered:
        for number, level in enumerate(rendered.split("/"), 1):
            if level and not level.strip(_EMPTY_MARK):
                raise TopicRenderError(f"topic level {number} of {pattern!r} is empty: the uplink has no value for it")
        rendered = rendered.replace(_EMPTY_MARK, "")
    bad = UNSAFE_IN_LITERAL(rendered)
    if bad:
        raise TopicRenderError(f"rendered topic {excerpt(rendered)} contains {bad.group()!r}")
    if not rendered:
        raise TopicRenderError(f"topic template {pattern!r} rendered an empty topic")
    return rendered


def compile_topic_pattern(
    pattern: str,
    environment: SandboxedEnvironment,
    *,
    field_name: str = "uplinkTopicPattern",
    fields: TopicFields = NO_FIELD_RULES,
) -> TopicTemplate:
    """Compile a ThingPark topic pattern (``{DevEUI}``, ``{CustomerData.name|DevEUI|'None'}``, JsonPath
    ``{$..tags[0]}``), native Jinja (``{{ FPort }}``), or a mix. ``fields`` gives the rules of the fields the
    caller knows (see :class:`TopicFields`). Raises TemplateError naming ``field_name`` and the position.
    """
    if isinstance(pattern, str) and len(pattern) > MAX_TOPIC_BYTES:
        raise TemplateError(f"{field_name} is {len(pattern)} characters long; a topic is at most {MAX_TOPIC_BYTES}")
    tokens = scan_pattern(pattern, field_name)
    check_literals(tokens, pattern, field_name)
    if not any(isinstance(token, PatternJinja) for token in tokens):
        return _PlainTopicTemplate(pattern, tokens, fields.rules)  # type: ignore[arg-type]
    if len(pattern) > MAX_JINJA_PATTERN:
        # Compiling Jinja costs about 15 ms per KiB here, on the event loop.
        raise TemplateError(
            f"{field_name} is {len(pattern)} characters long; with Jinja a pattern may have {MAX_JINJA_PATTERN}"
        )
    template = _JinjaTopicTemplate(pattern, tokens, environment, field_name, fields.rules)
    # A template that reaches for what the sandbox forbids would refuse every uplink: say so now, not later.
    probe = {**dict.fromkeys(template.variables, _PROBE_TEXT), **fields.probe}
    try:
        template.render(probe)
    except SandboxRefusal as exc:
        raise TemplateError(f"{field_name}: {exc}") from None
    except TopicRenderError:
        pass  # missing or unusual fields are a property of some uplinks, not of the template
    return template
