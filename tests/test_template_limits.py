"""Topic templates are bounded: each template below froze or exhausted the server (issue 13) and is now refused
when it is validated, or, when only some uplinks make it expensive, for those uplinks alone."""

from __future__ import annotations

import time

import pytest

from flowhost import template_budget
from flowhost.template_limits import MAX_ITERATIONS, MAX_RANGE, MAX_TEXT, TemplateLimitError
from flowhost.templating import TemplateError, TopicRenderError, compile_topic_pattern, create_environment
from tests.support.bombs import ISSUE_TEMPLATE_BOMBS

DEV_EUI = "0018B20000000B20"


def uplink(**fields) -> dict:
    """An uplink's fields, as a topic pattern renders them."""
    return {"DevEUI": DEV_EUI, "FPort": 2, "FCntUp": 7, **fields}


@pytest.fixture(scope="module")
def environment():
    return create_environment()


REFUSED_AT_VALIDATION = {
    **ISSUE_TEMPLATE_BOMBS,
    # Their siblings: other ways to turn a short template into much work.
    "literal width": ("t/{{ 'a'|center(1000000000) }}", "width 1000000000 is larger"),
    "percent operator": ("t/{{ '%1000000000s' % 'a' }}", "format widths add up to 1000000000"),
    "precision": ("t/{{ '%.1000000000f' % 1.5 }}", "format widths add up to 1000000000"),
    "star width": ("t/{{ '%*s' % (10**9, 'a') }}", "'*' widths are not allowed"),
    "str.format width": ("t/{{ '{:>1000000000}'.format('a') }}", "format widths add up to 1000000000"),
    "nested format spec": ("t/{{ '{:>{}}'.format('a', 10**9) }}", "nested '{}' in a format spec"),
    "zfill": ("t/{{ '1'.zfill(10**9) }}", "zfill: width 1000000000"),
    "replace": ("t/{{ ('a'*60000)|replace('', 'b'*60000) }}", "replace would be 3600120000 characters"),
    "str.replace": ("t/{{ ('a'*60000).replace('a', 'bb') }}", "replace would be 120000 characters"),
    "join separator": ("t/{{ range(10000)|join('a'*60000) }}", "join would be"),
    "doubling with ~": (
        "t/{% set ns = namespace(a='x') %}{% for i in range(60) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}x",
        "'~' would be 131072 characters long",
    ),
    "doubling with +": (
        "t/{% set ns = namespace(a='x') %}{% for i in range(60) %}{% set ns.a = ns.a + ns.a %}{% endfor %}x",
        "'+' would be 131072 characters long",
    ),
    "shared references": (
        "t/{{ ([('a' * 60000)] * 2)|string|length }}",
        "string: the value's text would be longer than 65536",
    ),
    "doubling a mapping": (
        "t/{% set ns = namespace(a=[1]) %}{% for i in range(60) %}{% set ns.a = {'x': ns.a, 'y': ns.a} %}{% endfor %}x",
        "a list or mapping would hold more than 262144 characters of text",
    ),
    "doubling through dict()": (
        "t/{% set ns = namespace(a=[1]) %}{% for i in range(60) %}{% set ns.a = dict(x=ns.a, y=ns.a) %}{% endfor %}x",
        "a call's result would hold more than 262144 characters of text",
    ),
    # Comparing two shared structures walks every reference: 2**60 steps; refused by size or by time, whichever
    # comes first on the machine.
    "comparing doubled lists": (
        "t/{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(60) %}{% set ns.a = [ns.a, ns.a] %}"
        "{% set ns.b = [ns.b, ns.b] %}{% endfor %}{{ ns.a == ns.b }}",
        "",
    ),
    "repetition": ("t/{{ 'ab' * 40000 }}", "repetition longer than 65536"),
    "power tower": ("t/{{ (((9**64)**64)**64)**64 }}", "the power would have more than 8192 bits"),
    "power just past the bits": ("t/{{ ((2 ** 64) ** 2) ** 64 }}", "the power would have more than 8192 bits"),
    "exponent past 64": ("t/{{ 2 ** 65 }}", "exponent larger than 64 is not allowed"),
    "negative exponent past 64": ("t/{{ 2 ** -65 }}", "exponent larger than 64 is not allowed"),
    "loop literal": (
        "t/{% set x %}{% for i in range(10000) %}" + "a" * 1000 + "{% endfor %}{% endset %}{{ x|length }}",
        "the template built more than 1048576 characters",
    ),
    "iterations": (
        "t/{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}x",
        f"loops ran more than {MAX_ITERATIONS} times",
    ),
    "output": ("t/{% for i in range(10000) %}{{ 'a' * 60000 }}{% endfor %}", "longer than 65535 characters"),
    "batch fill": ("t/{{ [1]|batch(10**9, 'x')|list|length }}", "batch: 1000000000 is larger than 10000"),
    "slice count": ("t/{{ [1]|slice(10**9)|list|length }}", "slice: 1000000000 is larger than 10000"),
    "sum of lists": ("t/{{ [[1], [2]]|sum(start=[])|length }}", "sum adds numbers only"),
    "translate": ("t/{{ 'aaaa'.translate({97: 'x'}) }}", "str.translate is not allowed"),
    "lipsum": ("t/{{ lipsum(10**6) }}", "lipsum"),
    "sort many": ("t/{{ ('ab' * 32768)|list|sort|first }}", "sort: 65536 items; the limit is 10000"),
    "filter block": ("t/{% filter upper %}{{ 'a'|center(10**9) }}{% endfilter %}", "center: width 1000000000"),
    "format_map": ("t/{{ '{a:>1000000000}'.format_map({'a': 1}) }}", "format widths add up to 1000000000"),
    "urlize result": ("t/{{ ('www.a.com ' * 6000)|urlize|length }}", "the urlize filter's result would be 342000"),
}


@pytest.mark.parametrize("pattern, problem", REFUSED_AT_VALIDATION.values(), ids=REFUSED_AT_VALIDATION.keys())
def test_a_template_that_cannot_produce_a_topic_is_refused_at_validation(environment, monkeypatch, pattern, problem):
    if problem:
        # A case that names its bound must meet that bound, not the 50 ms of CPU time a busy machine reaches first.
        monkeypatch.setattr(template_budget, "RENDER_SECONDS", 2.0)
    with pytest.raises(TemplateError) as refused:
        compile_topic_pattern(pattern, environment)
    assert str(refused.value).startswith("uplinkTopicPattern: ")
    assert problem in str(refused.value)


ACCEPTED = {
    "loop over a field": ("t/{% for t in CustomerData.tags %}{{ t|upper }}{% endfor %}", "t/AB"),
    "bounded recursion": (
        "t/{% macro m(n) %}{{ n }}{% if n > 1 %}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(5) }}",
        "t/54321",
    ),
    "small powers": (
        "t/{{ 2 ** 3 }}-{{ 2 ** 64 }}-{{ 2 ** -1 }}-{{ 2.0 ** 64 }}",
        "t/8-18446744073709551616-0.5-18446744073709551616",
    ),
    "a power of exactly the bits allowed": (
        "t/{{ ((2 ** 64) * (2 ** 63)) ** 64 % 7 }}",
        f"t/{((2**127) ** 64) % 7}",
    ),
    "format": ("t/{{ '%04d'|format(FPort) }}/{{ '{:>3}'.format(FCntUp) }}", "t/0002/  7"),
    "widths at the limit": (f"t/{{{{ ('a'|center({MAX_TEXT}))|length }}}}", f"t/{MAX_TEXT}"),
    "range at the limit": (f"t/{{{{ range({MAX_RANGE})|sum }}}}", f"t/{sum(range(MAX_RANGE))}"),
    "join and concatenation": ("t/{{ range(3)|join('-') ~ '.' ~ DevEUI[:4] }}", "t/0-1-2.0018"),
    "loop variable": (
        "t/{% for i in range(3) %}{{ loop.index }}{% if not loop.last %}-{% endif %}{% endfor %}",
        "t/1-2-3",
    ),
}


@pytest.mark.parametrize("pattern, topic", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_templates_within_the_limits_render_as_before(environment, pattern, topic):
    template = compile_topic_pattern(pattern, environment)
    document = uplink(CustomerData={"tags": ["a", "b"]})
    assert template.render(document) == topic
    assert template.render(document) == topic  # each rendering has its own budget


def test_an_uplink_that_makes_a_valid_template_too_expensive_is_rejected_alone(environment):
    template = compile_topic_pattern("t/{{ DevEUI }}/{{ 'x' * FCntUp }}", environment)
    with pytest.raises(TopicRenderError, match="repetition longer than 65536"):
        template.render(uplink(FCntUp=100_000))
    assert template.render(uplink(FCntUp=3)) == f"t/{DEV_EUI}/xxx"

    loops = compile_topic_pattern(
        "t/{% for i in range(FCntUp) %}{% for j in range(FCntUp) %}{% endfor %}{% endfor %}{{ FCntUp }}", environment
    )
    with pytest.raises(TopicRenderError, match=f"loops ran more than {MAX_ITERATIONS} times"):
        loops.render(uplink(FCntUp=5000))
    assert loops.render(uplink(FCntUp=3)) == "t/3"


def _spin(value):
    """A plugin filter that burns a millisecond of CPU time."""
    end = time.thread_time() + 0.001
    while time.thread_time() < end:
        pass
    return value


def test_a_rendering_stops_after_its_cpu_time():
    environment = create_environment(lambda env: env.filters.update(spin=_spin))
    with pytest.raises(TemplateError, match="rendering took longer than 50 ms"):
        compile_topic_pattern("t/{% for i in range(1000) %}{{ i|spin }}{% endfor %}", environment)
    fast = compile_topic_pattern("t/{% for i in range(3) %}{{ i|spin }}{% endfor %}", environment)
    assert fast.render(uplink()) == "t/012"


def test_plugin_filters_are_charged_for_the_text_they_return():
    environment = create_environment(lambda env: env.filters.update(big=lambda value: "x" * (MAX_TEXT + 1)))
    with pytest.raises(TemplateError, match="the big filter's result would be 65537 characters long"):
        compile_topic_pattern("t/{{ DevEUI|big }}", environment)


def test_a_template_a_plugin_renders_itself_is_bounded_too(environment):
    """``context.templates.from_string(...)`` in a node: the same limits, a fresh budget for each rendering."""
    template = environment.from_string("{% for i in range(n) %}{% for j in range(n) %}{% endfor %}{% endfor %}{{ n }}")
    assert template.render(n=3) == "3"
    assert "".join(template.generate(n=4)) == "4"
    with pytest.raises(TemplateLimitError, match=f"loops ran more than {MAX_ITERATIONS} times"):
        template.render(n=5000)


def test_a_pattern_too_long_to_compile_quickly_is_refused(environment):
    with pytest.raises(TemplateError, match="uplinkTopicPattern is 3302 characters long; with Jinja a pattern may"):
        compile_topic_pattern("t/" + "{{ FPort }}" * 300, environment)
    with pytest.raises(TemplateError, match="uplinkTopicPattern is 70002 characters long; a topic is at most 65535"):
        compile_topic_pattern("t/" + "a" * 70_000, environment)
    assert compile_topic_pattern("t/" + "{{ FPort }}" * 180, environment).render(uplink()) == "t/" + "2" * 180
