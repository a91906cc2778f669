"""The budget of one topic-template rendering, and the measures taken before text is built.

``template_limits`` says what is bounded and why, and wires these checks into the sandbox.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError
from jinja2.utils import Namespace

MAX_TEXT = 65_536
"""Characters in any one string a template builds (a topic is at most 65,535 bytes)."""
MAX_PRODUCED = 1_048_576
"""Characters built in all during one rendering."""
MAX_RANGE = 10_000
MAX_ITERATIONS = 100_000
"""Loop iterations in one rendering, all loops together."""
MAX_CALL_DEPTH = 32
MAX_INT_BITS = 8192
"""The largest integer ``*`` and ``**`` may make (about 2,466 decimal digits)."""
RENDER_SECONDS = 0.05
"""CPU time one rendering may use (after CPU_GRACE_SECONDS of wall time, see RenderBudget)."""
CPU_GRACE_SECONDS = 0.005


class TemplateLimitError(SecurityError):
    """A rendering went past one of this module's bounds; the message names the bound."""


class RenderBudget:
    """What one rendering has used so far.

    Time is the thread's CPU time, so that a process descheduled on a busy machine does not refuse a good
    template; reading it costs a system call, so it is read only once the rendering has run for
    CPU_GRACE_SECONDS of wall time, and then only when the remaining CPU time could have been used up.
    """

    __slots__ = ("cpu_start", "depth", "iterations", "next_check", "produced")

    def __init__(self) -> None:
        self.next_check = time.monotonic() + CPU_GRACE_SECONDS
        self.cpu_start: float | None = None
        self.produced = self.iterations = self.depth = 0

    def check_time(self) -> None:
        if time.monotonic() > self.next_check:
            self._check_cpu()

    def _check_cpu(self) -> None:
        now = time.thread_time()
        if self.cpu_start is None:
            self.cpu_start = now
        used = now - self.cpu_start
        if used > RENDER_SECONDS:
            raise TemplateLimitError(f"rendering took longer than {RENDER_SECONDS * 1000:g} ms")
        self.next_check = time.monotonic() + RENDER_SECONDS - used  # CPU time never runs ahead of wall time

    def produce(self, size: int, what: str = "text") -> None:
        """Account for ``size`` characters about to be built."""
        if size > MAX_TEXT:
            raise TemplateLimitError(f"{what} would be {size} characters long; the limit is {MAX_TEXT}")
        self.produced += size
        if self.produced > MAX_PRODUCED:
            raise TemplateLimitError(f"the template built more than {MAX_PRODUCED} characters of text")


_current: ContextVar[RenderBudget | None] = ContextVar("flowhost_render_budget", default=None)


def budget() -> RenderBudget:
    current = _current.get()
    if current is None:  # e.g. constant folding while compiling: the work waits for a bounded rendering
        raise TemplateLimitError("template code can only run inside a bounded rendering")
    return current


@contextmanager
def bounded() -> Iterator[RenderBudget]:
    """Run code that uses the template operations under a fresh budget."""
    token = _current.set(RenderBudget())
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


class BoundedRenderer:
    """Renders a template under a fresh budget, stopping as soon as the output passes ``max_output``
    characters (a loop's output is refused while it grows, not once it is complete)."""

    __slots__ = ("_globals", "_max_output", "_template")

    def __init__(self, template: jinja2.Template, max_output: int) -> None:
        self._template, self._max_output = template, max_output
        # A shared context over one merged dict: Jinja's own render copies its globals' ChainMap every call.
        self._globals = dict(template.globals)

    def render(self, variables: Mapping[str, Any]) -> str:
        token = _current.set(RenderBudget())
        try:
            template = self._template
            context = template.new_context({**self._globals, **variables}, shared=True)
            parts, size, limit = [], 0, self._max_output
            for chunk in template.root_render_func(context):
                size += len(chunk)
                if size > limit:
                    raise TemplateLimitError(f"the rendered text is longer than {limit} characters")
                parts.append(chunk)
            return "".join(parts)
        finally:
            _current.reset(token)


# ---------------------------------------------------------------------------------------------- sizes


def text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how long ``str(value)`` is, without building it; stops counting past ``limit``. Containers may
    share one large string many times (``[big] * 60000``), so their text is measured before it is made."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        kind = type(item)
        if kind is str or isinstance(item, str):
            total += len(item)
        elif kind is int:
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, Namespace):
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        else:
            total += 24  # numbers, None, Undefined, small objects
    return total


def check_text_argument(value: Any, what: str) -> None:
    if type(value) is not str and not (type(value) is tuple and all(type(item) in _SCALARS for item in value)):
        size = text_size(value)
        if size > MAX_TEXT:
            raise TemplateLimitError(f"{what}: the value's text would be longer than {MAX_TEXT} characters")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and value > MAX_TEXT:
        raise TemplateLimitError(f"{what}: width {value} is larger than {MAX_TEXT}")


def replaced_size(text: str, old: Any, new: Any, count: Any = None) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    occurrences = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(len(new) - len(old), 0)


def joined_size(items: list, separator: Any) -> int:
    size = len(separator) * max(len(items) - 1, 0) if isinstance(separator, str) else 0
    for item in items:
        size += len(item) if type(item) is str else text_size(item)
        if size > MAX_TEXT:
            break
    return size


_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")
_SPEC_NUMBERS = re.compile(r"(\d+)")


@lru_cache(maxsize=256)
def _percent_widths(text: str) -> int:
    """The widths and precisions of a %-format, added up (a template formats with the same few strings)."""
    total = 0
    for match in _PERCENT_FIELD.finditer(text):
        for number in match.groups():
            if number == "*":
                raise TemplateLimitError("'*' widths are not allowed in topic templates")
            total += int(number or 0)
    if total > MAX_TEXT:
        raise TemplateLimitError(f"format widths add up to {total}; the limit is {MAX_TEXT}")
    return total


def check_percent_format(text: str, arguments: Any) -> None:
    """``'%9s' % x`` and the ``format`` filter: widths and precisions, and the text of the arguments."""
    total = _percent_widths(text) if len(text) <= 256 else _percent_widths.__wrapped__(text)
    check_text_argument(arguments, "format")
    budget().produce(len(text) + total, "formatted text")


def check_brace_format(text: str, args: tuple, kwargs: Mapping[str, Any]) -> None:
    """``'{:>9}'.format(x)``: widths and precisions in each field; nested ``{}`` specs are refused."""
    total = 0
    for _, field, spec, _ in string.Formatter().parse(text):
        if field is None or not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("nested '{}' in a format spec is not allowed in topic templates")
        total += sum(int(number) for number in _SPEC_NUMBERS.findall(spec))
    if total > MAX_TEXT:
        raise TemplateLimitError(f"format widths add up to {total}; the limit is {MAX_TEXT}")
    check_text_argument([args, kwargs], "format")
    budget().produce(len(text) + total, "formatted text")


def charge_output(text: str) -> None:
    """Account for the text a ``{{ }}`` expression outputs (it may be buffered by a macro or ``{% set %}``).
    Outside a rendering (Jinja folding a constant while compiling) there is nothing to bound."""
    current = _current.get()
    # Without loops or calls, outputs are as many as the template's expressions, each bounded already.
    if current is not None and (current.iterations or current.depth):
        current.produce(len(text), "an expression's output")
