"""``switch``: routes each message by rules on its fields, one named output port per rule, and ``otherwise``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import re2
import voluptuous as vol

from flowhost import Message, Node

from .message_paths import MISSING, Expression, jinja_expression, kind_of, message_path, parse_path

OTHERWISE = "otherwise"
MAX_RULES = 64
MAX_LIST = 10_000
_PORT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}").fullmatch
OPERATORS = {
    "==": "equals",
    "!=": "differs from",
    "<": "less than",
    "<=": "at most",
    ">": "greater than",
    ">=": "at least",
    "between": "between (value: [low, high], inclusive)",
    "regex": "matches the regular expression (RE2)",
    "in": "is one of (value: a list)",
    "has": "has the key (value: its name)",
    "type": "is of the type (value: string, number, integer, boolean, null, object, array or missing)",
}
TYPES = ("string", "number", "integer", "boolean", "null", "object", "array", "missing")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported by the schema, not printed to stderr


def _port_name(value: Any) -> str:
    if not isinstance(value, str) or not _PORT_NAME(value):
        raise vol.Invalid(f"a rule name is its output port: letters, digits, '_', '.', '-' (at most 64), got {value!r}")
    if value == OTHERWISE:
        raise vol.Invalid(f"'{OTHERWISE}' is the port of messages no rule matched; name the rule otherwise")
    return value


_port_name.form = {"type": "string", "format": "identifier"}  # type: ignore[attr-defined]


def _number_or_text(value: Any, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise vol.Invalid(f"{field} must be a number or text to compare with", path=["value"])


def _check_value(operator: str, value: Any) -> None:
    """Raises vol.Invalid when ``value`` does not suit ``operator``."""
    if operator in ("<", "<=", ">", ">="):
        _number_or_text(value, "value")
    elif operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise vol.Invalid("between takes value: [low, high]", path=["value"])
        for bound in value:
            _number_or_text(bound, "each bound")
        if _compare(value[0], value[1]) not in (-1, 0):
            raise vol.Invalid(f"between: low must not be above high, got {value}", path=["value"])
    elif operator == "regex":
        if not isinstance(value, str):
            raise vol.Invalid("regex takes value: a regular expression (text)", path=["value"])
        try:
            re2.compile(value, _RE2_OPTIONS)
        except re2.error as exc:
            message = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise vol.Invalid(f"not a valid RE2 regular expression: {message}", path=["value"]) from None
    elif operator == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            raise vol.Invalid(f"in takes value: a list of 1 to {MAX_LIST} values", path=["value"])
    elif operator == "has":
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise vol.Invalid("has takes value: the name of a key", path=["value"])
    elif operator == "type" and value not in TYPES:
        raise vol.Invalid(f"type takes value: one of {', '.join(TYPES)}; got {value!r}", path=["value"])


def _complete_rule(rule: dict) -> dict:
    if "property" in rule and "expression" in rule:
        raise vol.Invalid("give property or expression, not both")
    if "value" not in rule:
        raise vol.Invalid(f"operator {rule['operator']} needs a value", path=["value"])
    _check_value(rule["operator"], rule["value"])
    return rule


_complete_rule.form = {}  # type: ignore[attr-defined]


def _distinct_names(config: dict) -> dict:
    seen: set[str] = set()
    for index, rule in enumerate(config["rules"]):
        if rule["name"] in seen:
            raise vol.Invalid(
                f"rule name '{rule['name']}' is used twice: each rule is an output port", ["rules", index, "name"]
            )
        seen.add(rule["name"])
    return config


_distinct_names.form = {}  # type: ignore[attr-defined]

RULE_SCHEMA = vol.All(
    {
        vol.Required("name", description="the output port of this rule"): _port_name,
        vol.Optional("property", description="the field to test (default: the node's property)"): message_path,
        vol.Optional("expression", description="or a Jinja expression to test, e.g. uplink.FPort | int"): (
            jinja_expression
        ),
        vol.Required("operator"): vol.In(OPERATORS),
        vol.Optional("value"): object,
    },
    _complete_rule,
)


def _compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1; None when the two cannot be compared. Text that holds a number compares as that number when
    the other side is a number, because ThingPark sends many numbers as text (``"FPort": "2"``)."""
    left, right = _as_number(left, right), _as_number(right, left)
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        return (0 if left == right else None) if isinstance(left, bool) and isinstance(right, bool) else None
    if (isinstance(left, numbers) and isinstance(right, numbers)) or (isinstance(left, str) and isinstance(right, str)):
        return (left > right) - (left < right)
    return None


def _as_number(value: Any, other: Any) -> Any:
    if isinstance(value, str) and isinstance(other, int | float) and not isinstance(other, bool):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def _equal(left: Any, right: Any) -> bool:
    order = _compare(left, right)
    if order is not None:
        return order == 0
    return type(left) is not bool and type(right) is not bool and left == right


def _is_type(subject: Any, wanted: str) -> bool:
    if wanted == "integer":
        return (isinstance(subject, int) and not isinstance(subject, bool)) or (
            isinstance(subject, float) and subject.is_integer()
        )
    return kind_of(subject) == wanted


def make_test(operator: str, value: Any) -> Callable[[Any], bool]:
    """The test of one rule, prepared once: ``test(subject)`` is True when the rule matches."""
    if operator == "type":
        return lambda subject: _is_type(subject, value)
    if operator == "has":
        return lambda subject: isinstance(subject, Mapping) and str(value) in subject
    if operator == "regex":
        pattern = re2.compile(value, _RE2_OPTIONS)  # linear time: no input can make it backtrack for ever
        return lambda subject: isinstance(subject, str) and pattern.search(subject) is not None
    if operator == "in":
        return lambda subject: subject is not MISSING and any(_equal(subject, item) for item in value)
    if operator == "between":
        low, high = value
        return lambda subject: _compare(subject, low) in (0, 1) and _compare(subject, high) in (-1, 0)
    if operator == "==":
        return lambda subject: subject is not MISSING and _equal(subject, value)
    if operator == "!=":
        return lambda subject: subject is not MISSING and not _equal(subject, value)
    accepted = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (0, 1)}[operator]
    return lambda subject: _compare(subject, value) in accepted


class SwitchNode(Node):
    """Each rule tests a field (``property``, a path such as ``uplink.FPort``) or a Jinja ``expression`` with an
    operator: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``between`` ([low, high]), ``regex`` (RE2), ``in`` (a
    list), ``has`` (a key) or ``type``. Numeric text compares as its number (ThingPark sends ``"FPort": "2"``).
    The message goes unchanged to the port of the first matching rule (``mode: all``: of every one)."""

    type = "switch"
    category = "function"
    description = (
        "Routes each message by rules on a field (a path or a Jinja expression): one output port per rule, named "
        "after it, and 'otherwise' for messages no rule matched; the first matching rule or every one."
    )
    outputs = (OTHERWISE,)
    config_schema = vol.Schema(
        vol.All(
            {
                vol.Optional("property", default="payload", description="the field the rules test"): message_path,
                vol.Required("rules"): vol.All([RULE_SCHEMA], vol.Length(min=1, max=MAX_RULES)),
                vol.Optional("mode", default="first"): vol.In({"first": "first match", "all": "every match"}),
            },
            _distinct_names,
        )
    )

    @classmethod
    def output_ports(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        return (*(rule["name"] for rule in config["rules"]), OTHERWISE)

    async def start(self) -> None:
        default = parse_path(self.config["property"])
        self._rules = []
        for rule in self.config["rules"]:
            if "expression" in rule:
                subject = Expression(rule["expression"], self.context.templates).evaluate
            else:
                subject = parse_path(rule["property"]).get if "property" in rule else default.get
            self._rules.append((rule["name"], subject, make_test(rule["operator"], rule["value"])))
        self._every = self.config["mode"] == "all"

    async def on_input(self, msg: Message) -> None:
        matched = False
        for port, subject, test in self._rules:
            if test(subject(msg)):
                matched = True
                self.context.count(f"to {port}")
                await self.context.send(msg, port)
                if not self._every:
                    return
        if not matched:
            self.context.count(f"to {OTHERWISE}")
            await self.context.send(msg, OTHERWISE)
