"""Bounds on what a topic template may compute: time, text built, loop iterations, call depth.

A topic template is user code that runs on the event loop, at validation (a probe render) and for each uplink.
Jinja's sandbox stops reaching into Python internals but not work: ``{{ 'a'|center(10**9) }}`` builds a
gigabyte, nested loops run for hours. Every rendering therefore runs under a :class:`RenderBudget` and each
operation that can turn little text into much is checked *before* it runs:

- padding and widths (``center``, ``ljust``, ``'%9999s'``, ``'{:>9999}'``), repetition, ``replace``, ``join``,
  ``~`` and ``+``: no string longer than MAX_TEXT, and no more than MAX_PRODUCED characters in one rendering;
- ``range`` holds at most MAX_RANGE items; ``{% for %}`` loops run MAX_ITERATIONS times in all;
- calls (macros, recursive loops) nest MAX_CALL_DEPTH deep;
- the rendering stops after RENDER_SECONDS of CPU time, checked at every call, filter, operator and loop
  step.

Exceeding a bound raises :class:`TemplateLimitError`, a sandbox refusal: at validation the pattern is refused,
per uplink the uplink is rejected.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from functools import wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace, pass_context

from .template_budget import (
    CPU_GRACE_SECONDS,
    MAX_CALL_DEPTH,
    MAX_INT_BITS,
    MAX_ITERATIONS,
    MAX_PRODUCED,
    MAX_RANGE,
    MAX_TEXT,
    RENDER_SECONDS,
    BoundedRenderer,
    RenderBudget,
    TemplateLimitError,
    bounded,
    budget,
    charge_output,
    check_brace_format,
    check_percent_format,
    check_text_argument,
    check_width,
    joined_size,
    replaced_size,
    text_size,
)

# ---------------------------------------------------------------------------------------------- filters


def _check_center(value: Any, width: Any = 80) -> None:
    check_text_argument(value, "center")
    check_width(width, "center")


def _check_indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    check_text_argument(value, "indent")
    lines = str(value).count("\n") + 1
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    budget().produce(len(str(value)) + lines * step, "indented text")


def _check_wordwrap(value: Any, width: Any = 79, long_words: bool = True, wrapstring: Any = None, *_: Any) -> None:
    check_text_argument(value, "wordwrap")
    breaks = len(str(value)) // max(width, 1) + 1 if isinstance(width, int) else 1
    budget().produce(len(str(value)) + breaks * len(wrapstring if isinstance(wrapstring, str) else "\n"), "wordwrap")


def _check_replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
    check_text_argument(value, "replace")
    budget().produce(replaced_size(str(value), old, new, count), "replace")


def _check_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent_format(str(value), kwargs or args)


def _check_count(what: str) -> Callable[..., None]:
    def check(value: Any, count: Any, fill_with: Any = None) -> None:
        if isinstance(count, int) and count > MAX_RANGE:
            raise TemplateLimitError(f"{what}: {count} is larger than {MAX_RANGE}")

    return check


def _check_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, int | float):
        raise TemplateLimitError("sum adds numbers only in topic templates")


def _check_tojson(value: Any, indent: Any = None) -> None:
    check_text_argument(value, "tojson")
    if isinstance(indent, int) and indent > 8:
        raise TemplateLimitError("tojson: an indent larger than 8 is not allowed in topic templates")


def _check_items(what: str) -> Callable[..., None]:
    """Filters that run Python code for each item (sort keys, groups): at most MAX_RANGE items."""

    def check(value: Any, *args: Any, **kwargs: Any) -> None:
        if hasattr(value, "__len__") and len(value) > MAX_RANGE:
            raise TemplateLimitError(f"{what}: {len(value)} items; the limit is {MAX_RANGE}")

    return check


def _check_text(what: str) -> Callable[..., None]:
    def check(value: Any, *args: Any, **kwargs: Any) -> None:
        check_text_argument(value, what)

    return check


_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "replace": _check_replace,
    "format": _check_format,
    "batch": _check_count("batch"),
    "slice": _check_count("slice"),
    "sum": _check_sum,
    "tojson": _check_tojson,
    **{name: _check_items(name) for name in ("sort", "unique", "dictsort", "groupby")},
    **{
        name: _check_text(name)
        for name in (
            "string",
            "lower",
            "upper",
            "title",
            "capitalize",
            "trim",
            "truncate",
            "striptags",
            "escape",
            "e",
            "forceescape",
            "urlencode",
            "urlize",
            "wordcount",
            "pprint",
        )
    },
}


def _join_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    @pass_context
    @wraps(original)
    def join(context: jinja2.runtime.Context, value: Any, d: Any = "", attribute: Any = None) -> Any:
        items = list(value) if attribute is None else value
        if attribute is None:
            budget().produce(joined_size(items, d), "join")
        return original(context.eval_ctx, items, d, attribute)

    return join


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` checked before it runs (MAX_TEXT and friends) and charged for the text it returns; as a
    ``pass_context`` filter it is never run by Jinja's constant folding, outside a budget."""
    if name == "join":
        return _join_filter(original)
    check = _FILTER_CHECKS.get(name)
    pass_arg = getattr(original, "jinja_pass_arg", None)
    first = {
        None: None,
        jinja2.utils._PassArg.context: lambda context: context,
        jinja2.utils._PassArg.eval_context: lambda context: context.eval_ctx,
        jinja2.utils._PassArg.environment: lambda context: context.environment,
    }[pass_arg]

    @wraps(original)
    def bounded_filter(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        current = budget()
        current.check_time()
        if check is not None:
            check(*args, **kwargs)
        result = original(first(context), *args, **kwargs) if first else original(*args, **kwargs)
        if type(result) is str:
            current.produce(len(result), f"the {name} filter's result")
        elif isinstance(result, _CONTAINERS):
            check_container(result, f"the {name} filter's result")
        return result

    bounded_filter.jinja_pass_arg = jinja2.utils._PassArg.context  # type: ignore[attr-defined]
    return bounded_filter


@pass_context
def _guard_loop(context: jinja2.runtime.Context, iterable: Any, body_text: int = 0) -> Iterator[Any]:
    """Wraps every ``{% for %}`` iterable: counts iterations and the literal text each one outputs."""
    current = budget()
    for item in iterable:
        current.iterations += 1
        if current.iterations > MAX_ITERATIONS:
            raise TemplateLimitError(f"loops ran more than {MAX_ITERATIONS} times")
        if body_text:
            current.produce(body_text, "a loop's text")
        else:
            current.check_time()
        yield item


@pass_context
def _concat(context: jinja2.runtime.Context, values: list) -> str:
    """``a ~ b``, measured before it is built."""
    current = budget()
    current.produce(sum(len(value) if type(value) is str else text_size(value) for value in values), "'~'")
    return "".join([str(value) for value in values])


_CONTAINERS = (list, tuple, dict, Namespace)
MAX_CONTAINER_TEXT = 4 * MAX_TEXT
"""The text a list or mapping may stand for (``range(10000)|list`` is about 70,000 characters)."""


def check_container(value: Any, what: str) -> Any:
    """Lists and mappings may hold one value many times (``[a, a]`` in a loop doubles), so their size in text
    is measured where they are made: comparing or printing them later walks every reference."""
    if isinstance(value, _CONTAINERS) and text_size(value, MAX_CONTAINER_TEXT) > MAX_CONTAINER_TEXT:
        raise TemplateLimitError(f"{what} would hold more than {MAX_CONTAINER_TEXT} characters of text")
    return value


@pass_context
def _container(context: jinja2.runtime.Context, value: Any) -> Any:
    return check_container(value, "a list or mapping")


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitError(f"range of {len(numbers)} items; the limit is {MAX_RANGE}")
    return numbers


# ---------------------------------------------------------------------------------------------- the tree


_LOOP_GUARD = "_flowhost_loop"
_CONCAT = "_flowhost_concat"
_CONTAINER = "_flowhost_container"


def guard_tree(tree: nodes.Template) -> nodes.Template:
    """Route every loop and ``~`` of a parsed template through the budget."""
    for loop in tree.find_all(nodes.For):
        body_text = sum(len(data.data) for item in loop.body for data in item.find_all(nodes.TemplateData))
        arguments = [nodes.Const(body_text, lineno=loop.lineno)]
        loop.iter = nodes.Filter(loop.iter, _LOOP_GUARD, arguments, [], None, None, lineno=loop.lineno)
    _replace(tree, _is_built_container, lambda node: _filter(node, _CONTAINER))
    _replace(tree, lambda node: isinstance(node, nodes.Concat), _concat_filter)
    return tree


def _is_built_container(node: nodes.Node) -> bool:
    """A list, tuple or dict literal that is evaluated (not an assignment target like ``{% set a, b = ... %}``)."""
    return isinstance(node, nodes.List | nodes.Dict) or (isinstance(node, nodes.Tuple) and node.ctx == "load")


def _replace(tree: nodes.Template, wanted: Callable[[nodes.Node], bool], make: Callable[[Any], nodes.Node]) -> None:
    for parent in list(tree.find_all(nodes.Node)):
        for name in parent.fields:
            value = getattr(parent, name, None)
            if isinstance(value, nodes.Node) and wanted(value):
                setattr(parent, name, make(value))
            elif isinstance(value, list):
                setattr(
                    parent,
                    name,
                    [make(item) if isinstance(item, nodes.Node) and wanted(item) else item for item in value],
                )


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _concat_filter(concat: nodes.Concat) -> nodes.Filter:
    items = nodes.List([_concat_filter(item) if isinstance(item, nodes.Concat) else item for item in concat.nodes])
    return _filter(items, _CONCAT)


# ---------------------------------------------------------------------------------------------- sandbox


_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_REFUSED_METHODS = frozenset({"translate", "maketrans"})


def _check_str_method(method: Any, args: tuple, kwargs: Mapping[str, Any]) -> tuple:
    """Checks a call of a bound ``str`` method; returns the arguments to call it with."""
    text, name = method.__self__, method.__name__
    if name in _WIDTH_METHODS:
        check_width(args[0] if args else kwargs.get("width"), name)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        budget().produce(len(text) + text.count("\t") * (size if isinstance(size, int) else 0), "expandtabs")
    elif name == "replace" and len(args) >= 2:
        budget().produce(replaced_size(text, *args[:3]), "replace")
    elif name == "join" and len(args) == 1:
        items = list(args[0])
        budget().produce(joined_size(items, text), "join")
        return (items,)
    elif name in _REFUSED_METHODS:
        raise TemplateLimitError(f"str.{name} is not allowed in topic templates")
    return args


class BoundedTemplate(jinja2.Template):
    """A template of the topic sandbox: rendered by a plugin (``context.templates.from_string(...)``), it gets a
    fresh budget too. Topic patterns render through :class:`BoundedRenderer`, which also bounds the output."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        with bounded():
            return super().render(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        with bounded():
            yield from super().generate(*args, **kwargs)


class TopicSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, made stricter for topic templates: no calls that change lists or dicts (a document may be the
    connector's own parsed copy, not a frozen one), and every rendering bounded (see the module's docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    template_class = BoundedTemplate

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return guard_tree(super()._parse(source, name, filename))

    def call_binop(self, context: jinja2.runtime.Context, operator_name: str, left: Any, right: Any) -> Any:
        current = budget()
        current.check_time()
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("exponent larger than 64 is not allowed in a topic template")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() * right > MAX_INT_BITS:
                raise TemplateLimitError(f"the power would have more than {MAX_INT_BITS} bits")
            return operator.pow(left, right)
        if operator_name == "%":
            if isinstance(left, str):
                check_percent_format(left, right)
            return operator.mod(left, right)
        if operator_name == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                current.produce(len(left) + len(right), "'+'")
                return check_container(operator.add(left, right), "'+'")
            return operator.add(left, right)
        return _multiply(current, left, right)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        current = budget()
        current.check_time()
        if isinstance(getattr(__obj, "__self__", None), str) and callable(__obj):
            args = _check_str_method(__obj, args, kwargs)
        current.depth += 1
        if current.depth > MAX_CALL_DEPTH:
            raise TemplateLimitError(f"calls nested deeper than {MAX_CALL_DEPTH} (a recursive macro?)")
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        except RecursionError:
            raise TemplateLimitError("calls nested too deep (a recursive macro?)") from None
        finally:
            current.depth -= 1
        if type(result) is str:
            current.produce(len(result), "a call's result")
        elif isinstance(result, _CONTAINERS):
            check_container(result, "a call's result")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text, is_format_map = value.__self__, value.__name__ == "format_map"

        @wraps(wrapper)
        def bounded_format(*args: Any, **kwargs: Any) -> str:
            check_brace_format(text, () if is_format_map else args, args[0] if is_format_map and args else kwargs)
            return wrapper(*args, **kwargs)

        return bounded_format

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        # The default returns an Undefined that only fails when used further; refuse at once instead.
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")


def _multiply(current: RenderBudget, left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            if len(sequence) * count > MAX_TEXT:
                raise SecurityError(f"repetition longer than {MAX_TEXT} is not allowed in a topic template")
            current.produce(max(len(sequence) * count, 0), "repetition")
            if not isinstance(sequence, str):
                return check_container(operator.mul(left, right), "repetition")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"the product would have more than {MAX_INT_BITS} bits")
    return operator.mul(left, right)


def _no_lipsum(*args: Any, **kwargs: Any) -> str:
    raise TemplateLimitError("lipsum (lorem ipsum of any length) is not available in topic templates")


def limit_environment(environment: TopicSandbox) -> None:
    """Wrap every filter (the plugins' too) and replace the globals that can do unbounded work."""
    environment.filters = {name: _bounded_filter(name, function) for name, function in environment.filters.items()}
    environment.filters[_LOOP_GUARD] = _guard_loop
    environment.filters[_CONCAT] = _concat
    environment.filters[_CONTAINER] = _container
    environment.globals["range"] = bounded_range
    environment.globals["lipsum"] = _no_lipsum


__all__ = [
    "CPU_GRACE_SECONDS",
    "MAX_CALL_DEPTH",
    "MAX_CONTAINER_TEXT",
    "MAX_INT_BITS",
    "MAX_ITERATIONS",
    "MAX_PRODUCED",
    "MAX_RANGE",
    "MAX_TEXT",
    "RENDER_SECONDS",
    "BoundedRenderer",
    "BoundedTemplate",
    "TemplateLimitError",
    "TopicSandbox",
    "bounded",
    "charge_output",
    "limit_environment",
]
