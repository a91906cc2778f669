"""Downlink topic patterns: the subscription a pattern makes, the values a received topic carries, and whether
an uplink pattern could publish where the downlink subscription listens."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .topic_pattern import (
    BAD_TEXT,
    NO_FIELD_RULES,
    FieldRule,
    PatternJinja,
    PatternLiteral,
    PatternPart,
    PatternPlaceholder,
    TopicFields,
    compile_error,
    scan_pattern,
    unique,
)

__all__ = ["DownlinkTopic", "patterns_overlap", "subscription_for_pattern"]


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
    _rules: Mapping[str, FieldRule] = field(default_factory=dict, repr=False)

    def match(self, topic: str) -> dict[str, str] | None:
        """The placeholder values in a received topic, or None when it does not match. A value of a field with
        a rule is normalised by it (a value the rule refuses is given as received: the caller reports it)."""
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
                value = self._normalised(text, value)
                if not value or values.setdefault(text, value) != value:
                    return None
        return values

    def _normalised(self, name: str, value: str) -> str:
        rule = self._rules.get(name)
        if rule is None:
            return value
        try:
            return rule.normalise(value)
        except ValueError:
            return value


def subscription_for_pattern(
    pattern: str, *, field_name: str = "downlinkTopicPattern", fields: TopicFields = NO_FIELD_RULES
) -> DownlinkTopic:
    """The subscription for a downlink pattern: each ``{Field}`` must fill a whole level and becomes ``+``.

    ``+`` and ``#`` may also be written directly (``#`` last); fallbacks, JsonPath and Jinja are not allowed here.
    """
    tokens = scan_pattern(pattern, field_name)
    for token in tokens:
        if isinstance(token, PatternJinja):
            raise compile_error(field_name, pattern, token.position, "Jinja is not allowed in a downlink pattern")
        if isinstance(token, PatternPlaceholder) and not token.is_single_field:
            raise compile_error(
                field_name,
                pattern,
                token.position,
                f"{token.source}: a downlink placeholder names one field only (no JsonPath, no fallback)",
            )
        if isinstance(token, PatternLiteral):
            bad = BAD_TEXT(token.text)
            if bad:
                raise compile_error(field_name, pattern, token.position + bad.start(), "control character")
    levels = _downlink_levels(tokens, pattern, field_name)
    filter_levels = [text if kind == "literal" else "+" if kind == "field" else kind for kind, text in levels]
    names = unique(text for kind, text in levels if kind == "field")
    return DownlinkTopic(pattern, "/".join(filter_levels), names, tuple(levels), fields.rules)


def _split_levels(tokens: Sequence[PatternPart]) -> list[list[PatternLiteral | PatternPlaceholder]]:
    """The tokens of each topic level, literal text split at '/' (keeping the position of each piece)."""
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
    return grouped


def _downlink_levels(tokens: Sequence[PatternPart], pattern: str, field_name: str) -> list[tuple[str, str]]:
    grouped = _split_levels(tokens)
    levels: list[tuple[str, str]] = []
    for index, level in enumerate(grouped):
        pieces = [piece for piece in level if not (isinstance(piece, PatternLiteral) and piece.text == "")]
        placeholders = [piece for piece in pieces if isinstance(piece, PatternPlaceholder)]
        if placeholders:
            if len(pieces) > 1:
                raise compile_error(
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
                raise compile_error(field_name, pattern, position, "'#' must be the last topic level")
            levels.append((text, text))
        elif "+" in text or "#" in text:
            raise compile_error(field_name, pattern, position, "'+' and '#' must fill a whole topic level")
        else:
            levels.append(("literal", text))
    return levels


def patterns_overlap(uplink_pattern: str, downlink_pattern: str, *, fields: TopicFields = NO_FIELD_RULES) -> bool:
    """Whether some topic the uplink pattern can produce would match the downlink subscription.

    Each uplink placeholder stands for any text within one level, or what its field's rule says it renders
    (``values``); Jinja tags are treated as any text within a level, which over-approximates ``{% %}`` blocks.
    """
    uplink_levels = _uplink_level_expressions(scan_pattern(uplink_pattern, "uplinkTopicPattern"), fields.rules)
    downlink = subscription_for_pattern(downlink_pattern)
    dollar = _starts_with_dollar(uplink_levels[0])
    for index, (kind, text) in enumerate(downlink._levels):
        if kind == "#":
            return not (index == 0 and dollar)
        if index >= len(uplink_levels):
            return False
        if kind == "field" or kind == "+":
            if index == 0 and dollar:
                return False  # MQTT: wildcards in the first level never match '$' topics
            continue
        if not uplink_levels[index].fullmatch(text):
            return False
    return len(uplink_levels) == len(downlink._levels)


def _uplink_level_expressions(tokens: Sequence[PatternPart], rules: Mapping[str, FieldRule]) -> list[re.Pattern[str]]:
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
            levels[-1].append(_placeholder_expression(token, rules))
        else:
            levels[-1].append("[^/]*")
    # A level made only of values cannot render empty (rendering rejects that); an empty literal level can.
    return [
        re.compile(("" if literal or parts == [""] else "(?=.)") + "".join(parts))
        for parts, literal in zip(levels, has_literal, strict=True)
    ]


def _placeholder_expression(placeholder: PatternPlaceholder, rules: Mapping[str, FieldRule]) -> str:
    choices = [rules[name].values if name in rules else "[^/]*" for name in placeholder.field_names]
    if placeholder.fallback is not None:
        choices.append(re.escape(placeholder.fallback))
    return f"(?:{'|'.join(choices)})"


def _starts_with_dollar(level: re.Pattern[str]) -> bool:
    return level.pattern.startswith(re.escape("$"))
