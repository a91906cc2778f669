"""Topic templates: what a user sees for each pattern and uplink, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhost.templating import (
    TemplateError,
    TopicRenderError,
    compile_topic_pattern,
    create_environment,
    patterns_overlap,
    subscription_for_pattern,
)
from flowhost_builtins.thingpark_documents import uplink_fields
from flowhost_builtins.thingpark_fields import THINGPARK_TOPIC_FIELDS as THINGPARK

SAMPLES = Path(__file__).parent / "data" / "thingpark"
ENVIRONMENT = create_environment()


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def render(pattern: str, document: dict) -> str:
    """The topic of a ThingPark document (wrapped or legacy): the plugin unwraps it, the pattern renders fields."""
    return compile_topic_pattern(pattern, ENVIRONMENT, fields=THINGPARK).render(uplink_fields(document))


# ------------------------------------------------------------------------------------ ThingPark syntax


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("uplink.json", "mqtt/things/0018B20000000B20/uplink"),
        ("uplink-decoded.json", "mqtt/things/78AF580300000345/uplink"),
        ("uplink-legacy.json", "mqtt/things/78AF580300000345/uplink"),
    ],
)
def test_dev_eui_topic_for_every_sample_uplink(name: str, topic: str) -> None:
    assert render("mqtt/things/{DevEUI}/uplink", sample(name)) == topic


def test_fallbacks_take_the_first_non_empty_value() -> None:
    pattern = "sites/{CustomerData.name|DevEUI|'None'}/{FPort}"
    assert render(pattern, sample("uplink.json")) == "sites/My Demo Device/1"
    assert render(pattern, sample("uplink-legacy.json")) == "sites/78AF580300000345/2"
    assert render(pattern, {"DevEUI_uplink": {"FPort": 3}}) == "sites/None/3"
    assert render(pattern, {"DevEUI_uplink": {"FPort": 3, "CustomerData": {"name": ""}}}) == "sites/None/3"


def test_double_quoted_literal_and_spaces_inside_placeholder() -> None:
    assert render('a/{ Missing | "fallback" }', {}) == "a/fallback"


def test_dotted_path_reaches_nested_fields_and_list_items() -> None:
    document = sample("uplink.json")
    assert render("{CustomerData.alr.pro}", {"CustomerData": {"alr": {"pro": "ADRF"}}}) == "ADRF"
    assert render("tags/{CustomerData.tags.0}", document) == "tags/site=Paris"
    assert render("gw/{Lrrs.Lrr.0.Lrrid}", document) == "gw/004A18E3"


def test_numbers_render_in_decimal() -> None:
    assert render("p/{FPort}", {"FPort": "1"}) == "p/1"
    assert render("p/{FPort}", {"FPort": 1}) == "p/1"
    assert render("p/{LrrRSSI}", {"LrrRSSI": -85.0}) == "p/-85"
    assert render("p/{LrrSNR}", {"LrrSNR": 7.25}) == "p/7.25"
    assert render("p/{Late}", {"Late": False}) == "p/false"


def test_dev_eui_is_normalised_to_upper_case() -> None:
    assert render("d/{DevEUI}", {"DevEUI": "0018b20000000b20"}) == "d/0018B20000000B20"


def test_dev_eui_that_is_not_an_eui64_is_refused() -> None:
    with pytest.raises(TopicRenderError, match=r"DevEUI '12345' is not 16 hexadecimal digits"):
        render("d/{DevEUI}", {"DevEUI": "12345"})


def test_one_compiled_pattern_renders_each_uplink_from_its_own_values() -> None:
    """A compiled pattern is reused for every uplink (and remembers the topics it made): each uplink still gets
    the topic of its own values, and a bad value is refused however many good ones came before."""
    template = compile_topic_pattern("d/{DevEUI}/{Port}", ENVIRONMENT, fields=THINGPARK)
    first, second = {"DevEUI": "0018b20000000b20", "Port": "1"}, {"DevEUI": "0018B20000000B21", "Port": "1"}
    for _ in range(2):
        assert template.render(first) == "d/0018B20000000B20/1"
        assert template.render(second) == "d/0018B20000000B21/1"
    assert template.render({"DevEUI": "0018b20000000b20", "Port": True}) == "d/0018B20000000B20/true"
    assert template.render({"DevEUI": "0018b20000000b20", "Port": 1}) == "d/0018B20000000B20/1"
    with pytest.raises(TopicRenderError, match="not 16 hexadecimal digits"):
        template.render({"DevEUI": "0018b20000000b2", "Port": "1"})
    with pytest.raises(TopicRenderError, match="empty"):
        template.render({"DevEUI": "0018b20000000b20", "Port": ""})


def test_literal_text_stays_as_written() -> None:
    assert render("/lora/{DevEUI}/up", sample("uplink.json")) == "/lora/0018B20000000B20/up"
    assert render("lora//{DevEUI}/", sample("uplink.json")) == "lora//0018B20000000B20/"
    assert render("lora/uplink", sample("uplink.json")) == "lora/uplink"


def test_placeholder_may_share_a_level_with_text() -> None:
    assert render("dev-{DevEUI}-port{FPort}", sample("uplink.json")) == "dev-0018B20000000B20-port1"
    assert render("x/port{Missing}", {}) == "x/port"


# ------------------------------------------------------------------------------------ rejected uplinks


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"DevEUI": "0018B20000000B20"}, r"topic level \{CustomerData.name\} is empty"),
        ({"CustomerData": {"name": "a/b"}}, r"'a/b' contains '/': a value must stay within one topic level"),
        ({"CustomerData": {"name": "room+1"}}, r"contains '\+': wildcards cannot be published"),
        ({"CustomerData": {"name": "#"}}, r"contains '#'"),
        ({"CustomerData": {"name": "a\x00b"}}, r"contains '\\x00': brokers refuse"),
        ({"CustomerData": {"name": "line\nbreak"}}, r"contains '\\n'"),
        ({"CustomerData": {"name": {"first": "x"}}}, r"field CustomerData.name is a dict, not a value"),
        ({"CustomerData": "flat"}, r"topic level \{CustomerData.name\} is empty"),
    ],
)
def test_uplink_that_cannot_make_a_topic_is_rejected(document: dict, message: str) -> None:
    with pytest.raises(TopicRenderError, match=message):
        render("sites/{CustomerData.name}/up", {"DevEUI_uplink": document})


def test_error_excerpt_of_a_long_value_is_short() -> None:
    with pytest.raises(TopicRenderError) as caught:
        render("x/{Name}", {"Name": "a/" + "b" * 10_000})
    assert len(str(caught.value)) < 200


def test_topic_longer_than_mqtt_allows_is_rejected() -> None:
    with pytest.raises(TopicRenderError, match="longer than 65535 bytes"):
        render("x/{Name}", {"Name": "é" * 40_000})


# ------------------------------------------------------------------------------------ compile errors


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a/{DevEUI", r"unbalanced '\{' \(no closing '\}'\) at character 3 of 'a/\{DevEUI'"),
        ("a/DevEUI}", r"unbalanced '\}' \(no opening '\{'\) at character 9"),
        ("a/{X|'b}/c", r"unclosed quote in placeholder at character 3"),
        ("a/{}/b", r"empty placeholder '\{\}' at character 3"),
        ("a/{ }/b", r"empty placeholder"),
        ("a/{Dev$EUI}", r"bad field name 'Dev\$EUI'"),
        ("a/{.name}", r"bad field name '.name'"),
        ("a/{'x'|DevEUI}", r"a quoted literal must be the last choice"),
        ("a/{DevEUI|}", r"nothing after '\|'"),
        ("a/{DevEUI|''}", r"the literal in \{DevEUI\|''\} is empty"),
        ("a/{DevEUI|'x/y'}", r"contains '/'"),
        ("a/{'only'}", r"names no field"),
        ("a/+/{DevEUI}", r"'\+' is not allowed in a topic .* at character 3"),
        ("a/#", r"'#' is not allowed in a topic"),
        ("a/{{ DevEUI ", r"unclosed '\{\{' at character 3"),
        (
            "a/{{ DevEUI | no_such_filter }}",
            r"Jinja syntax error on line 1: No filter named 'no_such_filter'",
        ),
        ("a/{% if %}x{% endif %}", r"Jinja syntax error on line 1"),
        ("", r"uplinkTopicPattern is empty"),
    ],
)
def test_bad_pattern_is_refused_at_compile_time_with_its_position(pattern: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message) as caught:
        compile_topic_pattern(pattern, ENVIRONMENT, fields=THINGPARK)
    assert str(caught.value).startswith("uplinkTopicPattern")


def test_compile_error_names_the_given_field() -> None:
    with pytest.raises(TemplateError, match=r"^topic: unbalanced"):
        compile_topic_pattern("{x", ENVIRONMENT, field_name="topic")


def test_pattern_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TemplateError, match="must be a string, got int"):
        compile_topic_pattern(42, ENVIRONMENT)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ plain vs Jinja


def test_plain_pattern_renders_without_jinja(monkeypatch: pytest.MonkeyPatch) -> None:
    template = compile_topic_pattern("mqtt/{CustomerData.name|DevEUI}/{FPort}", ENVIRONMENT, fields=THINGPARK)
    assert template.is_plain
    assert template.placeholders == ("CustomerData.name", "DevEUI", "FPort")

    def no_jinja(*args: object, **kwargs: object) -> None:
        raise AssertionError("Jinja used for a plain pattern")

    monkeypatch.setattr("jinja2.environment.Template.render", no_jinja)
    assert template.render(uplink_fields(sample("uplink.json"))) == "mqtt/My Demo Device/1"


def test_jinja_expressions_and_thingpark_placeholders_mix() -> None:
    template = compile_topic_pattern(
        "{{ DevEUI | lower }}/{FPort}/{{ FCntUp | int + 1 }}", ENVIRONMENT, fields=THINGPARK
    )
    assert not template.is_plain
    assert set(template.placeholders) == {"DevEUI", "FPort", "FCntUp"}
    assert template.render(uplink_fields(sample("uplink.json"))) == "0018b20000000b20/1/1175"


def test_jinja_gets_the_normalised_dev_eui_and_missing_fields_are_empty() -> None:
    assert render("{{ DevEUI }}/{{ Nope.deeper }}x", {"DevEUI": "0018b20000000b20"}) == "0018B20000000B20/x"


def test_jinja_statements_build_a_topic() -> None:
    pattern = "{% if FPort|int == 1 %}status{% else %}data{% endif %}/{DevEUI}"
    assert render(pattern, sample("uplink.json")) == "status/0018B20000000B20"
    assert render(pattern, sample("uplink-decoded.json")) == "data/78AF580300000345"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("x/{{ Missing }}", r"topic level 2 of 'x/\{\{ Missing \}\}' is empty"),
        ("x/{{ 'a/b' }}", r"contains '/'"),
        ("x/{{ '#' }}", r"contains '#'"),
        ("x/{{ CustomerData }}", r"gave a dict, not a value"),
        ("x/{{ 1 / 0 }}", r"failed: ZeroDivisionError"),
        ("{% if true %}{% endif %}", r"rendered an empty topic"),
    ],
)
def test_jinja_output_is_checked_like_placeholders(pattern: str, message: str) -> None:
    with pytest.raises(TopicRenderError, match=message):
        render(pattern, sample("uplink.json"))


@pytest.mark.parametrize(
    "pattern",
    [
        "x/{{ ''.__class__.__mro__ }}",
        "x/{{ ''.__class__ }}",
        "x/{{ DevEUI.__class__.__base__.__subclasses__() }}",
        "x/{{ cycler.__init__.__globals__ }}",
        "x/{{ 'a' * 1000000 }}",
        "x/{{ 10 ** 100000 }}",
    ],
)
def test_template_injection_is_refused_when_the_pattern_is_compiled(pattern: str) -> None:
    with pytest.raises(TemplateError, match=r"uplinkTopicPattern: .* refused by the sandbox"):
        compile_topic_pattern(pattern, create_environment(), fields=THINGPARK)


def test_prepare_adds_filters_for_plugins() -> None:
    def prepare(environment) -> None:
        environment.filters["site"] = lambda tags: tags[0].split("=", 1)[1]

    environment = create_environment(prepare)
    template = compile_topic_pattern("sites/{{ CustomerData.tags | site }}", environment)
    assert template.render(uplink_fields(sample("uplink.json"))) == "sites/Paris"


def test_environment_does_not_escape_html() -> None:
    assert render("{{ Name }}", {"Name": "a<b>&c"}) == "a<b>&c"


# ------------------------------------------------------------------------------------ property tests

FIELD_VALUES = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
PATTERNS = [
    "mqtt/things/{DevEUI}/uplink",
    "sites/{CustomerData.name|DevEUI|'None'}/{FPort}",
    "{Name}",
    "a/pre{Name}post/{FPort|'0'}",
    "x/{{ Name }}/{{ FPort }}",
    "{{ Name }}{Other}/z",
]
TEMPLATES = [compile_topic_pattern(pattern, ENVIRONMENT, fields=THINGPARK) for pattern in PATTERNS]


def assert_publishable(topic: str) -> None:
    assert topic
    assert not set(topic) & {"+", "#", "\x00"}
    assert all(ord(char) >= 0x20 for char in topic)
    topic.encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(
    template_index=st.integers(0, len(TEMPLATES) - 1),
    fields=st.fixed_dictionaries(
        {},
        optional={
            "DevEUI": st.one_of(FIELD_VALUES, st.from_regex(r"[0-9a-fA-F]{16}", fullmatch=True)),
            "FPort": FIELD_VALUES,
            "Name": FIELD_VALUES,
            "Other": FIELD_VALUES,
            "CustomerData": st.one_of(FIELD_VALUES, st.fixed_dictionaries({}, optional={"name": FIELD_VALUES})),
        },
    ),
    wrapped=st.booleans(),
)
def test_random_field_values_give_a_valid_topic_or_a_render_error(
    template_index: int, fields: dict, wrapped: bool
) -> None:
    template = TEMPLATES[template_index]
    document = {"DevEUI_uplink": fields} if wrapped else fields
    try:
        topic = template.render(uplink_fields(document))
    except TopicRenderError:
        return
    assert_publishable(topic)
    # Every placeholder-only level was filled and no value leaked extra levels.
    assert len(topic.split("/")) == len(template.pattern.replace("{{", "").split("/"))
    assert all(topic.split("/"))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(alphabet="{}|'\"/.+#%aDevEUI FPort\x00", max_size=30)))
def test_random_patterns_compile_or_give_a_template_error(pattern: str) -> None:
    try:
        template = compile_topic_pattern(pattern, ENVIRONMENT, fields=THINGPARK)
    except TemplateError:
        return
    try:
        topic = template.render({"DevEUI": "0018B20000000B20", "FPort": 1})
    except TopicRenderError:
        return
    assert_publishable(topic)


# ------------------------------------------------------------------------------------ downlink subscriptions


def test_downlink_placeholder_becomes_a_single_level_wildcard() -> None:
    downlink = subscription_for_pattern("mqtt/things/{DevEUI}/downlink", fields=THINGPARK)
    assert downlink.filter == "mqtt/things/+/downlink"
    assert downlink.placeholders == ("DevEUI",)
    assert downlink.match("mqtt/things/0018b20000000b20/downlink") == {"DevEUI": "0018B20000000B20"}


@pytest.mark.parametrize(
    "topic",
    [
        "mqtt/things/0018B20000000B20/uplink",
        "mqtt/things//downlink",
        "mqtt/things/a/b/downlink",
        "mqtt/things",
    ],
)
def test_downlink_match_refuses_other_topics(topic: str) -> None:
    assert subscription_for_pattern("mqtt/things/{DevEUI}/downlink", fields=THINGPARK).match(topic) is None


def test_downlink_pattern_without_placeholders_matches_itself() -> None:
    downlink = subscription_for_pattern("lora/downlink", fields=THINGPARK)
    assert downlink.filter == "lora/downlink"
    assert downlink.match("lora/downlink") == {}
    assert downlink.match("lora/downlinks") is None


def test_downlink_pattern_with_several_fields_and_explicit_wildcards() -> None:
    downlink = subscription_for_pattern("app/{Site}/+/{DevEUI}/{FPort}/#", fields=THINGPARK)
    assert downlink.filter == "app/+/+/+/+/#"
    assert downlink.match("app/paris/any/0018b20000000b20/2") == {
        "Site": "paris",
        "DevEUI": "0018B20000000B20",
        "FPort": "2",
    }
    assert downlink.match("app/paris/any/0018b20000000b20/2/more/levels")["FPort"] == "2"


def test_downlink_placeholder_used_twice_must_hold_the_same_value() -> None:
    downlink = subscription_for_pattern("{DevEUI}/to/{DevEUI}", fields=THINGPARK)
    assert downlink.match("0018B20000000B20/to/0018b20000000b20") == {"DevEUI": "0018B20000000B20"}
    assert downlink.match("0018B20000000B20/to/0018B20000000B21") is None


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (
            "a/{DevEUI|'x'}/down",
            r"a downlink placeholder names one field only \(no JsonPath, no fallback\) at character 3",
        ),
        ("a/{{ DevEUI }}/down", r"Jinja is not allowed in a downlink pattern"),
        ("a/dev-{DevEUI}/down", r"\{DevEUI\} must fill a whole topic level"),
        ("a/{DevEUI}{FPort}/down", r"must fill a whole topic level"),
        ("a/#/down", r"'#' must be the last topic level at character 3"),
        ("a/b+/down", r"'\+' and '#' must fill a whole topic level"),
        ("a/{DevEUI/down", r"unbalanced"),
        ("a/\x01/down", r"control character"),
    ],
)
def test_bad_downlink_pattern_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message) as caught:
        subscription_for_pattern(pattern, fields=THINGPARK)
    assert str(caught.value).startswith("downlinkTopicPattern")


@pytest.mark.parametrize(
    ("uplink", "downlink", "overlap"),
    [
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/{DevEUI}/downlink", False),
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/{DevEUI}/+", True),
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/{DevEUI}/uplink", True),
        ("mqtt/things/{DevEUI}/uplink", "mqtt/#", True),
        ("mqtt/things/{DevEUI}/uplink", "#", True),
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/#", True),
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/+", False),
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/{DevEUI}/uplink/more", False),
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/uplink/uplink", False),  # a DevEUI is 16 hex digits
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/0018B20000000B20/uplink", True),
        # topics are case-sensitive and DevEUIs render upper-case
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/0018b20000000b20/uplink", False),
        ("lora/{CustomerData.name|'None'}", "lora/downlink", True),
        ("lora/dev-{Name}", "lora/downlink", False),
        ("lora/dev-{Name}", "lora/dev-1", True),
        ("lora/uplink", "lora/downlink", False),
        ("lora/{{ Name }}", "lora/downlink", True),
        ("$aws/things/{DevEUI}/up", "+/things/{DevEUI}/up", False),  # wildcards never match '$' topics
        ("$aws/things/{DevEUI}/up", "#", False),
        ("$aws/things/{DevEUI}/up", "$aws/things/#", True),
        ("a//{DevEUI}", "a/+/+", True),
    ],
)
def test_patterns_overlap(uplink: str, downlink: str, overlap: bool) -> None:
    assert patterns_overlap(uplink, downlink, fields=THINGPARK) is overlap
