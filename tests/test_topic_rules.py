"""The topic engine's generic side: a caller's field rules, the topics a pattern remembers, downlink matching and
overlap, and where errors point. No ThingPark name here: the rules are the caller's (docs/topic-patterns.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flowhost.templating import (
    TOPIC_CACHE_SIZE,
    FieldRule,
    TemplateError,
    TopicFields,
    TopicRenderError,
    compile_topic_pattern,
    create_environment,
    patterns_overlap,
    scan_pattern,
    subscription_for_pattern,
)

ENVIRONMENT = create_environment()


class Normaliser:
    """A site code is three letters, rendered lower-case; counts the values it was asked about."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, text: str) -> str:
        self.seen.append(text)
        if len(text) != 3 or not text.isalpha():
            raise ValueError("is not a three-letter site code")
        return text.lower()


def site_fields(normaliser: Normaliser | None = None) -> TopicFields:
    return TopicFields(rules={"Site": FieldRule(normaliser or Normaliser(), values="[a-z]{3}")}, probe={"Site": "PAR"})


def test_a_field_rule_normalises_placeholders_and_jinja_and_rejects_what_it_refuses() -> None:
    fields = site_fields()
    assert compile_topic_pattern("s/{Site}/up", ENVIRONMENT, fields=fields).render({"Site": "PAR"}) == "s/par/up"
    jinja = compile_topic_pattern("s/{{ Site }}/{{ Other }}", ENVIRONMENT, fields=fields)
    assert jinja.render({"Site": "PAR", "Other": "X"}) == "s/par/X"
    with pytest.raises(TopicRenderError, match=r"placeholder \{Site\}: Site 'Paris' is not a three-letter site code"):
        compile_topic_pattern("s/{Site}", ENVIRONMENT, fields=fields).render({"Site": "Paris"})
    with pytest.raises(TopicRenderError, match=r"placeholder \{\{ Site \}\}: Site 'Paris' is not a three-letter"):
        jinja.render({"Site": "Paris", "Other": "X"})


def test_without_rules_a_field_renders_as_it_is() -> None:
    assert compile_topic_pattern("s/{Site}", ENVIRONMENT).render({"Site": "Paris"}) == "s/Paris"
    assert compile_topic_pattern("s/{{ Site }}", ENVIRONMENT).render({"Site": "Paris"}) == "s/Paris"


def test_a_rule_applies_to_its_field_only_and_a_missing_field_takes_the_next_alternative() -> None:
    template = compile_topic_pattern("s/{Site|Name}/{Name}", ENVIRONMENT, fields=site_fields())
    assert template.render({"Name": "Paris"}) == "s/Paris/Paris"
    assert template.render({"Site": "LYS", "Name": "Lyon"}) == "s/lys/Lyon"


def test_a_devices_topic_is_built_once_and_the_memory_of_topics_is_bounded() -> None:
    """Topics made of top-level text values are remembered: a device's value is checked once, not for each
    uplink; after TOPIC_CACHE_SIZE different values the memory starts again."""
    normaliser = Normaliser()
    template = compile_topic_pattern("s/{Site}", ENVIRONMENT, fields=site_fields(normaliser))
    for _ in range(3):
        assert template.render({"Site": "PAR"}) == "s/par"
    assert normaliser.seen == ["PAR"]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes = [a + b + c for a in letters for b in letters for c in letters if a + b + c != "PAR"]
    assert len(codes) > TOPIC_CACHE_SIZE
    for code in codes[: TOPIC_CACHE_SIZE - 1]:
        template.render({"Site": code})
    assert len(normaliser.seen) == TOPIC_CACHE_SIZE  # PAR and the first TOPIC_CACHE_SIZE - 1 codes
    template.render({"Site": codes[0]})
    assert len(normaliser.seen) == TOPIC_CACHE_SIZE  # still remembered
    template.render({"Site": codes[TOPIC_CACHE_SIZE]})  # the memory is full: emptied first
    template.render({"Site": "PAR"})
    assert normaliser.seen[-2:] == [codes[TOPIC_CACHE_SIZE], "PAR"]


def test_values_that_are_not_text_are_not_remembered_as_text() -> None:
    """True == 1 as a key, but they render 'true' and '1'."""
    template = compile_topic_pattern("p/{Port}", ENVIRONMENT)
    assert [template.render({"Port": value}) for value in (1, True, "1", 1.0)] == ["p/1", "p/true", "p/1", "p/1"]


def test_downlink_values_are_normalised_by_their_rule_and_kept_when_it_refuses() -> None:
    downlink = subscription_for_pattern("sites/{Site}/down", fields=site_fields())
    assert downlink.filter == "sites/+/down"
    assert downlink.match("sites/PAR/down") == {"Site": "par"}
    assert downlink.match("sites/Paris/down") == {"Site": "Paris"}
    assert downlink.match("sites//down") is None
    assert subscription_for_pattern("sites/{Site}/down").match("sites/PAR/down") == {"Site": "PAR"}
    twice = subscription_for_pattern("{Site}/to/{Site}/{Name}", fields=site_fields())
    assert (twice.filter, twice.placeholders) == ("+/to/+/+", ("Site", "Name"))
    assert twice.match("PAR/to/par/x") == {"Site": "par", "Name": "x"}
    assert twice.match("PAR/to/LYS/x") is None


@pytest.mark.parametrize(
    ("topic", "values"),
    [
        ("a/x/b", {"Site": "x"}),
        ("a/x/b/c", None),
        ("a/x", None),
        ("a/x/c", None),
        ("z/x/b", None),
    ],
)
def test_downlink_match_wants_every_level_and_no_more(topic: str, values: dict | None) -> None:
    assert subscription_for_pattern("a/{Site}/b").match(topic) == values


@pytest.mark.parametrize(
    ("topic", "values"),
    [("a/x", {"Site": "x"}), ("a/x/more/levels", {"Site": "x"}), ("a", None), ("b/x", None)],
)
def test_a_multi_level_wildcard_takes_any_further_levels(topic: str, values: dict | None) -> None:
    assert subscription_for_pattern("a/{Site}/#").match(topic) == values


@pytest.mark.parametrize(
    ("uplink", "downlink", "overlap"),
    [
        ("$aws/rules/r/{Site}", "$aws/rules/#", True),
        ("$aws/rules/r/{Site}", "$aws/rules/r/+", True),
        ("$aws/rules/r/{Site}", "+/rules/r/+", False),
        ("$aws/rules/r/{Site}", "$aws/other/#", False),
        ("s/{Site}", "s/PAR", False),  # the rule renders lower case
        ("s/{Site}", "s/par", True),
        ("s/{Site}", "s/paris", False),  # three letters
        ("s/{Site|'none'}", "s/none", True),
        ("s/{Name}", "s/anything", True),
        ("s/{Site}/up", "s/+", False),
        ("s/{Site}", "s/+/up", False),
        ("s/x{{ A }}", "s/xyz", True),
        ("s/{Name}", "s/", False),  # a level made of values only is never empty
        ("s/{Name}", "s/+", True),
        ("s//x", "s//x", True),  # an empty literal level is
        ("s//x", "s/+/x", True),
        ("s/{Site|'a.b'}", "s/a-b", False),  # the literal is text, not a regular expression
        ("s/{Site|'a.b'}", "s/a.b", True),
        ("s/{Site}", "#", True),
        ("s", "s/#", True),
        ("s/{Site}", "t/#", False),
        ("{Name}/x", "/x", False),
        ("{{ A }}/x", "a/x", True),
    ],
)
def test_overlap_follows_the_rules_values(uplink: str, downlink: str, overlap: bool) -> None:
    assert patterns_overlap(uplink, downlink, fields=site_fields()) is overlap


@pytest.mark.parametrize(
    ("pattern", "position"),
    [
        ("ab/{Site", 4),
        ("ab/cd}", 6),
        ("ab/{}", 4),
        ("ab/{Site|'x'|Name}", 14),
        ("ab/{Site|}", 10),
        ("ab/{Site|''}", 10),
        ("ab/{S!te}", 5),
        ("ab/{'x'}", 4),
        ("ab/c+d", 5),
        ("ab/{{ x", 4),
        ("ab/{Site|'a/b'}", 10),
    ],
)
def test_errors_point_at_the_character_at_fault(pattern: str, position: int) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_topic_pattern(pattern, ENVIRONMENT)
    assert str(caught.value).endswith(f" at character {position} of {pattern!r}")


@pytest.mark.parametrize(
    ("pattern", "position"),
    [
        ("ab/#/c", 4),
        ("ab/c/d+/e", 6),
        ("ab/x-{Site}/e", 6),
        ("ab/{Site|Name}/e", 4),
        ("ab/{{ x }}/e", 4),
        ("ab/c\x01/e", 5),
    ],
)
def test_downlink_errors_point_at_the_character_at_fault(pattern: str, position: int) -> None:
    with pytest.raises(TemplateError) as caught:
        subscription_for_pattern(pattern)
    assert str(caught.value).endswith(f" at character {position} of {pattern!r}")


def test_scan_pattern_tells_literals_placeholders_and_jinja_apart() -> None:
    literal, placeholder, jinja, comment = scan_pattern("a/{Site|$.x|'n'}{{ y }}{# c #}", "topic")
    assert (literal.text, literal.position) == ("a/", 0)
    assert placeholder.field_names == ("Site", "$.x")
    assert (placeholder.fallback, placeholder.position, placeholder.is_single_field) == ("n", 2, False)
    assert (jinja.source, jinja.position) == ("{{ y }}", 16)
    assert comment.source == "{# c #}"
    assert scan_pattern("{Site}", "topic")[0].is_single_field
    assert not scan_pattern("{$.Site}", "topic")[0].is_single_field


@pytest.mark.parametrize(
    ("pattern", "topic"),
    [
        ("a/{{ 'x}}' ~ \"y}}\" }}/b", "a/x}}y}}/b"),  # a closer inside quotes does not end the tag
        ("a/{{ 'it\\'s}}' }}", "a/it's}}"),
        ("a/{##}b", "a/b"),
        ("a/{# x #}{Xa}", "a/1"),
        ("a/{ $.Xa | 'n' }", "a/1"),
    ],
)
def test_tags_end_at_their_closer_outside_quotes(pattern: str, topic: str) -> None:
    assert compile_topic_pattern(pattern, ENVIRONMENT).render({"Xa": 1}) == topic


def test_a_jsonpath_is_named_as_written_without_the_spaces_around_it() -> None:
    template = compile_topic_pattern("a/{ $.Xa | Name }", ENVIRONMENT)
    assert template.placeholders == ("$.Xa", "Name")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("ab/{Site Name}", "cannot read placeholder {Site Name} at character 5"),
        (
            "ab/{Site|S!te}/x",
            "bad field name 'S!te' in {Site|S!te}: use letters, digits, '_' or '-', with dots between",
        ),
        ("ab/{Site|S!te}/x", "at character 10 of"),
        ("ab/{Site|$.]}", "bad JsonPath '$.]'"),
        ("ab/{Site|$.]}", "at character 12 of"),
        ("ab/{'x}", "unclosed quote in placeholder at character 4"),
        ("ab/{ $.x[0}", "unclosed bracket, parenthesis, quote or /regex/ in a JsonPath at character 4"),
        ("ab/{Site/{Name}", "unbalanced '{' (no closing '}') at character 4"),
        ("ab}/c}", "unbalanced '}' (no opening '{') at character 3"),
        ("ab/{{}}", "Jinja syntax error on line 1"),
        ("ab/{Site|'a/b'}", "{Site|'a/b'} value 'a/b' contains '/': a value must stay within one topic level"),
    ],
)
def test_errors_say_what_and_where(pattern: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_topic_pattern(pattern, ENVIRONMENT)
    assert message in str(caught.value)


def test_an_error_quotes_a_value_whole_up_to_60_characters_and_cut_beyond() -> None:
    template = compile_topic_pattern("x/{Name}", ENVIRONMENT)
    with pytest.raises(TopicRenderError) as whole:
        template.render({"Name": "a/" + "b" * 58})
    assert f"value 'a/{'b' * 58}' contains '/'" in str(whole.value)
    with pytest.raises(TopicRenderError) as cut:
        template.render({"Name": "a/" + "b" * 59})
    assert f"value 'a/{'b' * 58}...' contains '/'" in str(cut.value)


def test_a_value_of_another_type_renders_as_its_text() -> None:
    assert compile_topic_pattern("p/{Level}", ENVIRONMENT).render({"Level": Decimal("1.50")}) == "p/1.50"


@pytest.mark.parametrize(
    ("pattern", "fields", "outcome"),
    [
        ("x/a{{ Missing }}", {}, "x/a"),
        ("x/{{ Missing }}{{ Missing }}/y", {}, r"topic level 2 of 'x/\{\{ Missing \}\}\{\{ Missing \}\}/y' is empty"),
        ("{{ Missing }}/x", {}, "topic level 1 of"),
        (
            "x/{{ Sign }}",
            {"Sign": "+"},
            r"a \{\{ \}\} expression value '\+' contains '\+': wildcards cannot be published",
        ),
        ("x/{{ Name }}/{Name}", {"Name": ""}, r"topic level \{Name\} is empty|topic level 2"),
    ],
)
def test_jinja_levels_and_values(pattern: str, fields: dict, outcome: str) -> None:
    template = compile_topic_pattern(pattern, ENVIRONMENT)
    if "/" in outcome and " " not in outcome:
        assert template.render(fields) == outcome
        return
    with pytest.raises(TopicRenderError, match=outcome):
        template.render(fields)


def test_a_sandbox_refusal_that_only_some_uplinks_reach_rejects_those_uplinks() -> None:
    template = compile_topic_pattern("x/{% if Port == 9 %}{{ ''.__class__ }}{% endif %}{{ Port }}", ENVIRONMENT)
    assert template.render({"Port": 1}) == "x/1"
    with pytest.raises(TopicRenderError, match=r"topic template .* was refused by the sandbox"):
        template.render({"Port": 9})


def test_the_probe_gives_names_the_callers_probe_lacks_the_text_1() -> None:
    refused = "x/{% if Foo == '1' %}{{ ''.__class__ }}{% endif %}y"
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        compile_topic_pattern(refused, ENVIRONMENT)
    by_probe = "x/{% if Site == 'par' %}{{ ''.__class__ }}{% endif %}y"
    assert compile_topic_pattern(by_probe, ENVIRONMENT).render({}) == "x/y"
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        compile_topic_pattern(by_probe, ENVIRONMENT, fields=site_fields())


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("a" * 65533, True), ("a" * 65534, False), ("é" * 32766, True), ("é" * 32767, False)],
)
def test_a_topic_is_at_most_65535_bytes(value: str, accepted: bool) -> None:
    template = compile_topic_pattern("x/{Name}", ENVIRONMENT)
    if accepted:
        assert template.render({"Name": value}) == "x/" + value
    else:
        with pytest.raises(TopicRenderError, match="rendered topic is longer than 65535 bytes"):
            template.render({"Name": value})


def test_pattern_lengths_at_their_limits() -> None:
    assert compile_topic_pattern("t/" + "a" * 65533, ENVIRONMENT).render({}) == "t/" + "a" * 65533
    with pytest.raises(TemplateError, match="is 65536 characters long; a topic is at most 65535"):
        compile_topic_pattern("t/" + "a" * 65534, ENVIRONMENT)
    jinja = "t/{{ Port }}"
    assert compile_topic_pattern(jinja + "a" * (2048 - len(jinja)), ENVIRONMENT).render({"Port": 1}).startswith("t/1a")
    with pytest.raises(TemplateError, match="is 2049 characters long; with Jinja a pattern may have 2048"):
        compile_topic_pattern(jinja + "a" * (2049 - len(jinja)), ENVIRONMENT)


def test_a_template_shows_its_pattern() -> None:
    assert "'x/{Name}'" in repr(compile_topic_pattern("x/{Name}", ENVIRONMENT))
    assert "'x/{{ Name }}'" in repr(compile_topic_pattern("x/{{ Name }}", ENVIRONMENT))


def test_a_new_environment_leaves_missing_fields_empty_and_html_as_it_is() -> None:
    environment = create_environment()
    template = compile_topic_pattern("x/{{ Name }}{{ Nope.deeper.still }}", environment)
    assert template.is_plain is False
    assert template.render({"Name": "a<b>&c"}) == "x/a<b>&c"


@pytest.mark.parametrize(
    ("pattern", "fields", "message"),
    [
        ("x/{% filter replace('a', '+') %}a{% endfilter %}", {}, r"rendered topic 'x/\+' contains '\+'"),
        ("x/{{ Name }}", {"Name": None}, r"topic level 2 of 'x/\{\{ Name \}\}' is empty"),
        ("x/{A}{B}", {}, r"topic level \{A\}\{B\} is empty"),
        ("x/{Name}", {"Name": "a/b"}, r"\{Name\} value 'a/b' contains '/'"),
    ],
)
def test_what_a_rejected_topic_says(pattern: str, fields: dict, message: str) -> None:
    with pytest.raises(TopicRenderError, match=message):
        compile_topic_pattern(pattern, ENVIRONMENT).render(fields)


@pytest.mark.parametrize(
    ("pattern", "topic"),
    [
        ("t/{Tags.1|'none'}", "t/none"),  # just past the end
        ("t/{Tags.0|'none'}", "t/a"),
        ("t/{Name.0|'none'}", "t/none"),  # text has no items
        ("t/{A}{B}", "t/1x"),
    ],
)
def test_paths_reach_list_items_only(pattern: str, topic: str) -> None:
    assert compile_topic_pattern(pattern, ENVIRONMENT).render({"Tags": ["a"], "Name": "abc", "A": 1, "B": "x"}) == topic


def test_downlink_refusals_say_exactly_what_is_wrong() -> None:
    for pattern, message in [
        ("a/{{ x }}", "downlinkTopicPattern: Jinja is not allowed in a downlink pattern at character 3 of 'a/{{ x }}'"),
        ("a/b\x01", "downlinkTopicPattern: control character at character 4 of 'a/b\\x01'"),
        ("a/b#", "downlinkTopicPattern: '+' and '#' must fill a whole topic level at character 3 of 'a/b#'"),
    ]:
        with pytest.raises(TemplateError) as caught:
            subscription_for_pattern(pattern)
        assert str(caught.value) == message
    assert subscription_for_pattern("a/{Site}").pattern == "a/{Site}"
    with pytest.raises(TemplateError, match=r"^uplinkTopicPattern: unbalanced"):
        patterns_overlap("a/{", "a/b")
