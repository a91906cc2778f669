"""JsonPath between braces in topic patterns, as ThingPark's connections accept it.

ThingPark X IoT Flow's documentation (About connections, "Pattern expression") says uplinkTopicPattern accepts
JsonPath expressions with ``|`` fallbacks, and gives ``iot/devices/{DevEUI}/tags/{$..CustomerData.tags[?(@ =~
/Paris:.*/)]}``. It does not say what a path with several matches gives: flowhost takes the first
(docs/topic-patterns.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flowhost.message import freeze
from flowhost.templating import (
    TemplateError,
    TopicRenderError,
    compile_topic_pattern,
    create_environment,
    subscription_for_pattern,
)
from flowhost.topic_jsonpath import JsonPathError, compile_jsonpath
from flowhost_builtins.thingpark_documents import uplink_fields
from flowhost_builtins.thingpark_fields import THINGPARK_TOPIC_FIELDS

ENVIRONMENT = create_environment()
THINGPARK_EXAMPLE = "iot/devices/{DevEUI}/tags/{$..CustomerData.tags[?(@ =~ /Paris:.*/)]}"
SAMPLE = Path(__file__).parent / "data" / "thingpark" / "uplink.json"


def uplink(*tags: str, **fields) -> dict:
    """Actility's sample uplink (tests/data/thingpark/uplink.json) with its CustomerData tags replaced."""
    document = uplink_fields(json.loads(SAMPLE.read_text()))
    return {**document, "CustomerData": {**document["CustomerData"], "tags": list(tags)}, **fields}


def render(pattern: str, fields: dict) -> str:
    return compile_topic_pattern(pattern, ENVIRONMENT, fields=THINGPARK_TOPIC_FIELDS).render(fields)


def refusal(pattern: str) -> str:
    with pytest.raises(TemplateError) as refused:
        compile_topic_pattern(pattern, ENVIRONMENT)
    return str(refused.value)


def test_thingpark_documentation_example_renders_the_matching_tag() -> None:
    fields = uplink("Lyon:depot", "Paris:Office3")
    assert render(THINGPARK_EXAMPLE, fields) == "iot/devices/0018B20000000B20/tags/Paris:Office3"


def test_a_frozen_message_payload_renders_as_its_plain_document() -> None:
    """Messages are immutable (lists frozen as tuples): the connector renders from those."""
    assert render(THINGPARK_EXAMPLE, freeze(uplink("Lyon:depot", "Paris:Office3"))).endswith("/Paris:Office3")


def test_several_matches_give_the_first_in_document_order() -> None:
    assert render(THINGPARK_EXAMPLE, uplink("Paris:Office4", "Lyon:depot", "Paris:Office3")).endswith("/Paris:Office4")
    nested = {"name": "top", "a": {"name": "inner"}, "b": [{"name": "in-list"}]}
    assert render("n/{$..name}", nested) == "n/top"
    assert render("n/{$.b[*].name}", nested) == "n/in-list"


def test_no_match_falls_back_to_the_next_alternative_or_leaves_the_level_empty() -> None:
    fields = uplink("Lyon:depot")
    assert render("t/{$..CustomerData.tags[?(@ =~ /Paris:.*/)]|CustomerData.name}", fields) == "t/My Demo Device"
    assert render("t/{ $..CustomerData.tags[?(@ =~ /Paris:.*/)] | 'elsewhere' }", fields) == "t/elsewhere"
    with pytest.raises(TopicRenderError, match=r"topic level \{\$\.\.CustomerData\.tags\[.*\]\} is empty"):
        render(THINGPARK_EXAMPLE, fields)


def test_dotted_alternative_before_a_jsonpath_and_regex_flags() -> None:
    fields = uplink("PARIS:Office3")
    assert render("t/{Missing|$..tags[?(@ =~ /paris:.*/i)]}", fields) == "t/PARIS:Office3"
    assert render("t/{$..tags[?(@ =~ /paris:.*/)]|'none'}", fields) == "t/none"


def test_jsonpath_values_follow_the_rules_of_every_value() -> None:
    assert render("t/{$.FPort}", {"FPort": 2}) == "t/2"
    assert render("t/{$.ok}", {"ok": True}) == "t/true"
    with pytest.raises(TopicRenderError, match=r"'Paris:3/4' contains '/': a value must stay within one topic level"):
        render(THINGPARK_EXAMPLE, uplink("Paris:3/4"))
    with pytest.raises(TopicRenderError, match=r"field \$\.CustomerData is a dict, not a value"):
        render("t/{$.CustomerData}", uplink())


def test_an_index_past_the_end_of_a_list_takes_the_fallback() -> None:
    fields = uplink("Paris:Office3")
    assert render("t/{$.CustomerData.tags[5]|'none'}", fields) == "t/none"
    assert render("t/{CustomerData.tags.5|'none'}", fields) == "t/none"
    assert render("t/{CustomerData.tags.0|'none'}", fields) == "t/Paris:Office3"


def test_jsonpath_mixes_with_jinja_and_is_listed_among_the_placeholders() -> None:
    template = compile_topic_pattern("{{ DevEUI | lower }}/{$..tags[0]}", ENVIRONMENT, fields=THINGPARK_TOPIC_FIELDS)
    assert template.placeholders == ("$..tags[0]", "DevEUI")
    assert template.render(uplink("Paris:Office3")) == "0018b20000000b20/Paris:Office3"


def test_a_regex_that_backtracks_for_ever_in_python_runs_in_linear_time() -> None:
    """``(a+)+$`` against 40 a's and a '!' takes Python's re about 2**40 steps; RE2 answers at once."""
    pattern = "t/{$..tags[?(@ =~ /(a+)+$/)]|'none'}"
    assert render(pattern, uplink("a" * 40 + "!")) == "t/none"
    assert render(pattern, uplink("a" * 40 + "!", "aaa")) == "t/aaa"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (
            "t/{$..tags[?(@ =~ /(a)\\1/)]}",
            r"regular expression /\(a\)\\1/ cannot be compiled by RE2: invalid escape sequence: \\1 at character 19",
        ),
        ("t/{$..tags[?(@ =~ /a)]}", r"unclosed bracket, parenthesis, quote or /regex/ in a JsonPath at character 3"),
        ("t/{$..tags[?(@ =~ /a/q)]}", r"unknown regular expression flag 'q' \(use i, m or s\) at character 22"),
        ("t/{$..tags[?(@ =~ 5)]}", r"'=~' takes a regular expression"),
        ("t/{$.a[?(@ =~ /(?=x)/)]}", r"regular expression /\(\?=x\)/ cannot be compiled by RE2"),
        ("t/{$..a..b}", r"may use '\.\.' once, and not inside a filter .* at character 8"),
        ("t/{$.a[?(@..b)]}", r"may use '\.\.' once, and not inside a filter .* at character 11"),
        ("t/{$.a[?(@.b == $.c)]}", r"'\$' inside a filter is not allowed"),
        ("t/{$.a + $.b}", r"Operation is not allowed in a topic pattern's JsonPath at character 4"),
        ("t/{$.a.`len`}", r"Len is not allowed"),
        ("t/{$.a.`sub(/x/, y)`}", r"Sub is not allowed"),
        ("t/{$.a[/b]}", r"SortedThis is not allowed"),
        ("t/{$.]}", r"bad JsonPath '\$\.\]': .* at character 6"),
        ("t/{$..tags[?(@ =~ /a/)}", r"unclosed bracket, parenthesis, quote or /regex/ in a JsonPath at character 3"),
        ("t/{DevEUI|$.x|'a'|$.y}", r"a quoted literal must be the last choice"),
        ("t/{$.x|}", r"nothing after '\|' in \{\$\.x\|\} at character 8"),
    ],
)
def test_bad_jsonpath_is_refused_when_the_pattern_is_compiled(pattern: str, message: str) -> None:
    problem = refusal(pattern)
    assert problem.startswith("uplinkTopicPattern: ")
    assert problem.endswith(f"of {pattern!r}")
    assert re.search(message, problem), problem


def test_downlink_patterns_take_no_jsonpath() -> None:
    with pytest.raises(TemplateError, match=r"a downlink placeholder names one field only \(no JsonPath"):
        subscription_for_pattern("down/{$.DevEUI}")


def test_compile_jsonpath_says_where_a_regex_literal_is_left_open() -> None:
    """Inside a pattern an open /regex/ leaves its placeholder open; the JsonPath compiler says so on its own."""
    with pytest.raises(JsonPathError, match=r"unclosed regular expression \(/\.\.\./\)") as caught:
        compile_jsonpath("$.tags[?(@ =~ /Paris")
    assert caught.value.offset == len("$.tags[?(@ =~ ")


DESCENT = "a JsonPath in a topic may use '..' once, and not inside a filter (it would search the document again)"
PARSE_ERROR = "bad JsonPath {source!r}: Parse error"


@pytest.mark.parametrize(
    ("source", "message", "offset"),
    [
        ("$..a..b..c", DESCENT, len("$..a")),  # the second '..', the first one too many
        ("$[?(@.a.(b..c) == 1)]", DESCENT, len("$[?(@.a.(b")),  # on the right of a step, in a filter
        ("$[?(@.a =~ 5)]", "'=~' takes a regular expression (/.../ or a quoted string)", len("$[?(@.a ")),
        ('$[?(@.a =~ "(")]', "regular expression '(' cannot be compiled by RE2: missing ): (", len("$[?(@.a ")),
        ("$[?(@ =~ /(/)]", "regular expression /(/ cannot be compiled by RE2: missing ): (", len("$[?(@ =~ ")),
        # the character right after a literal, whose translation is longer (flags) or shorter (an escaped slash)
        ("$[?(@ =~ /a/i@)]", PARSE_ERROR + " at 1:16 near token @ (@)", len("$[?(@ =~ /a/i")),
        (r"$[?(@ =~ /a\/b/@)]", PARSE_ERROR + " at 1:14 near token @ (@)", len(r"$[?(@ =~ /a\/b/")),
        ("$[?(@ =~ /a/", PARSE_ERROR + " near the end of string!", 0),  # a literal at the very end
        pytest.param(  # jsonpath-ng's _Intersect, which it also warns is deprecated (not shown to users)
            "$.a & $.b",
            "Intersect is not allowed in a topic pattern's JsonPath",
            0,
            marks=pytest.mark.filterwarnings("ignore:The `&` .intersection. operator is deprecated:DeprecationWarning"),
        ),
    ],
)
def test_compile_jsonpath_says_what_and_where_the_problem_is(source: str, message: str, offset: int) -> None:
    with pytest.raises(JsonPathError) as caught:
        compile_jsonpath(source)
    assert (str(caught.value), caught.value.offset) == (message.format(source=source), offset)


ITEMS = {"items": [{"a": 1, "b": 1, "name": "one"}, {"a": 2, "b": 3, "name": "two"}, {"a": "2", "name": "text"}]}


@pytest.mark.parametrize(
    ("pattern", "topic"),
    [
        ("t/{$.items[?(@.a > 1)].name}", "t/two"),
        ("t/{$.items[?(@.a == @.b)].name}", "t/one"),
        ("t/{$.items[?(@.a == 3 || @.b == 3)].name}", "t/two"),
        ("t/{$.items[?(@.a == 2 && @.b == 3)].name}", "t/two"),
        ("t/{$.items[?(@.a =~ /2/)].name}", "t/text"),  # =~ looks at text only, not at the number 2
        ("t/{$.items[?(@.name=~/^t/)].name}", "t/two"),
        ("t/{$.items[?(@.name =~ 'x|e$')].name}", "t/one"),  # a quoted '|' is part of the expression
        ("t/{$.items[?(@.name =~ /O/i)].name|'n'}", "t/one"),
        ("t/{$.items[?(@.name =~ /O/)].name|'n'}", "t/n"),
        ("t/{$.items[-1].name}", "t/text"),
        ("t/{$.items[1:].name}", "t/two"),
        ("t/{$.missing|$.items[0].name}", "t/one"),
    ],
)
def test_jsonpath_filters_and_selections(pattern: str, topic: str) -> None:
    assert render(pattern, ITEMS) == topic


def test_an_escaped_slash_belongs_to_the_regular_expression() -> None:
    with pytest.raises(TopicRenderError, match=r"'a/b' contains '/'"):
        render("t/{$..tags[?(@ =~ /^a\\/b$/)]|'none'}", uplink("a/b"))
    assert render("t/{$..tags[?(@ =~ /^a\\/b$/)]|'none'}", uplink("a-b")) == "t/none"


def test_flags_combine() -> None:
    assert render("t/{$..tags[?(@ =~ /^PARIS.X$/is)]|'none'}", uplink("paris:x")) == "t/paris:x"
    assert render("t/{$..tags[?(@ =~ /^PARIS.X$/si)]|'none'}", uplink("paris:x")) == "t/paris:x"
    assert render("t/{$..tags[?(@ =~ /^PARIS.X$/s)]|'none'}", uplink("paris:x")) == "t/none"


def test_an_error_after_a_regex_literal_points_into_the_pattern_as_written() -> None:
    problem = refusal("t/{$.a[?(@ =~ /x/)]]}")
    assert "bad JsonPath '$.a[?(@ =~ /x/)]]'" in problem
    assert problem.endswith("at character 20 of 't/{$.a[?(@ =~ /x/)]]}'")


def test_a_compiled_jsonpath_shows_its_source_and_gives_none_without_a_match() -> None:
    compiled = compile_jsonpath("$.a.b")
    assert repr(compiled) == "CompiledJsonPath('$.a.b')"
    assert compiled.first({"a": {"b": 0}}) == 0
    assert compiled.first({"a": {}}) is None


@pytest.mark.parametrize(
    ("pattern", "topic"),
    [
        ("t/{$.items[?(@.name == 'x' || @.name =~ /^t/)].name}", "t/two"),  # a regex after a quoted string
        ("t/{$.items[?(@.name =~ /^t/ && @.name =~ /o$/)].name}", "t/two"),  # two regex literals
        ("t/{$.Xa[?(@ =~ /^b$/)]|'n'}", "t/b"),
        ('t/{$.quotes[?(@ =~ /"hi"/)]}', 't/say "hi"'),
    ],
)
def test_regex_literals_wherever_they_stand(pattern: str, topic: str) -> None:
    assert render(pattern, {**ITEMS, "Xa": ["a", "b"], "quotes": ["hi", 'say "hi"']}) == topic


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("t/{$.}", "uplinkTopicPattern: bad JsonPath '$.': "),
        ("t/{$.}", "at character 4 of"),
        ("t/{$.a[?(@ =~ 5)]}", "uplinkTopicPattern: '=~' takes a regular expression (/.../ or a quoted string) at"),
        ("t/{$.a[?(@.b == $.c)]}", "uplinkTopicPattern: '$' inside a filter is not allowed in a topic pattern (it"),
        ("t/{$.a[?(@ =~ '(?=x)')]}", "uplinkTopicPattern: regular expression '(?=x)' cannot be compiled by RE2"),
    ],
)
def test_jsonpath_refusals_word_for_word(pattern: str, message: str) -> None:
    assert message in refusal(pattern)


def test_a_regex_re2_refuses_is_reported_to_the_user_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    refusal("t/{$.a[?(@ =~ /(?=x)/)]}")
    assert capfd.readouterr().err == ""


def test_an_open_regex_literal_is_named_exactly() -> None:
    with pytest.raises(JsonPathError) as caught:
        compile_jsonpath("$.tags[?(@ =~ /Paris")
    assert str(caught.value) == "unclosed regular expression (/.../)"
