"""Which topic of an MQTT subscription an AWS IoT policy resource also allows, if any.

Both are sequences of steps, each one character or a run of characters: a policy resource body (``*`` any
characters, ``/`` included; ``?`` exactly one; ``${*}``, ``${?}`` and ``${$}`` those characters themselves, as
AWS's policy language has them) and the topics a subscription receives (``+`` any characters but ``/``, a final
``#`` the rest, a ``{DevEUI}`` level sixteen hex digits). A topic in both is searched for breadth-first over
pairs of positions, so the work is bounded by the product of the two lengths. (A regular-expression library that
determinises, such as greenery, takes minutes on ``lora/*/????????????????/uplink`` against a DevEUI level.)
"""

from __future__ import annotations

import re
import string
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["MAX_SEARCH_STATES", "Step", "first_common_topic", "resource_steps", "subscription_steps"]

ANY, TOPIC, LEVEL, HEX = "any character", "a topic's character", "a topic level's character", "a hex digit"
MAX_SEARCH_STATES = 250_000
"""Pairs of positions searched at most (a 256-byte topic against a 256-byte resource is 66,000)."""

_HEX_DIGITS = frozenset(string.hexdigits)
_RESOURCE_TOKEN = re.compile(r"\$\{([*?$])\}|([*?])|(.)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Step:
    """One character (``char``) or one of a class (``kind``); ``repeat`` for zero or more of them."""

    char: str | None = None
    kind: str = ANY
    repeat: bool = False

    def allows(self, char: str) -> bool:
        if self.char is not None:
            return char == self.char
        if self.kind == HEX:
            return char in _HEX_DIGITS
        return self.kind == ANY or char not in ("+#" if self.kind == TOPIC else "/+#")  # no wildcard in a topic


def resource_steps(body: str) -> list[Step]:
    """The steps of a policy resource body (what follows ``topic/``)."""
    steps = []
    for match in _RESOURCE_TOKEN.finditer(body):
        variable, wildcard, char = match.groups()
        if wildcard is not None:
            steps.append(Step(kind=ANY, repeat=wildcard == "*"))
        else:
            steps.append(Step(char=variable or char))
    return steps


def subscription_steps(levels: Sequence[tuple[str, str]]) -> list[list[Step]]:
    """The topics a subscription receives, as alternatives (a final ``#`` also matches its parent level).

    ``levels``: per topic level, ``("literal", text)``, ``("+", "+")``, ``("#", "#")`` or ``("field", name)`` for a
    placeholder (``DevEUI``: sixteen hex digits; any other: one or more characters but ``/``).
    """
    steps: list[Step] = []
    for index, (kind, text) in enumerate(levels):
        if kind == "#":
            if index == 0:
                return [[Step(kind=TOPIC, repeat=True)]]
            return [steps[:-1], [*steps, Step(kind=TOPIC, repeat=True)]]  # 'a/#' matches 'a' and 'a/...'
        if kind == "literal":
            steps.extend(Step(char=char) for char in text)
        elif kind == "+":
            steps.append(Step(kind=LEVEL, repeat=True))
        elif text == "DevEUI":
            steps.extend(Step(kind=HEX) for _ in range(16))
        else:
            steps.extend([Step(kind=LEVEL), Step(kind=LEVEL, repeat=True)])
        if index < len(levels) - 1:
            steps.append(Step(char="/"))
    return [steps]


def first_common_topic(resource: Sequence[Step], alternatives: Iterable[Sequence[Step]]) -> str | None:
    """A topic the resource allows and one of the alternatives holds, or None when there is none.

    Raises ValueError when the search would pass ``MAX_SEARCH_STATES``.
    """
    for topic in alternatives:
        found = _common(resource, topic)
        if found is not None:
            return found
    return None


def _common(left: Sequence[Step], right: Sequence[Step]) -> str | None:
    if (len(left) + 1) * (len(right) + 1) > MAX_SEARCH_STATES:
        raise ValueError(f"too long to compare ({len(left)} and {len(right)} steps)")
    parents: dict[tuple[int, int], tuple[tuple[int, int], str] | None] = {(0, 0): None}
    queue = deque([(0, 0)])
    while queue:
        state = queue.popleft()
        if state == (len(left), len(right)):
            return _witness(parents, state)
        for following, char in _moves(left, right, *state):
            if following not in parents:
                parents[following] = (state, char)
                queue.append(following)
    return None


def _moves(left: Sequence[Step], right: Sequence[Step], i: int, j: int) -> Iterable[tuple[tuple[int, int], str]]:
    if i < len(left) and left[i].repeat:
        yield (i + 1, j), ""
    if j < len(right) and right[j].repeat:
        yield (i, j + 1), ""
    if i < len(left) and j < len(right):
        char = _shared_char(left[i], right[j])
        if char is not None:
            yield (i if left[i].repeat else i + 1, j if right[j].repeat else j + 1), char


def _shared_char(one: Step, other: Step) -> str | None:
    """A character both steps allow: the literal one if any, else a representative of both classes."""
    for step, against in ((one, other), (other, one)):
        if step.char is not None:
            return step.char if against.allows(step.char) else None
    return "0" if HEX in (one.kind, other.kind) else "x"


def _witness(parents: dict, state: tuple[int, int]) -> str:
    chars = []
    while parents[state] is not None:
        state, char = parents[state]
        chars.append(char)
    return "".join(reversed(chars))
