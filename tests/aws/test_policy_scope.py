"""What the generated policies allow, evaluated: a {DevEUI} level cannot stretch over several levels, and an
uplink resource that also covers downlink topics is warned about."""

from __future__ import annotations

import pytest

from flowhost.templating import TopicRenderError
from flowhost_builtins.aws_policy import FIXED_LENGTH_FIELDS, policy_statements, policy_warnings
from flowhost_builtins.aws_policy_match import MAX_SEARCH_STATES, first_common_topic, resource_steps
from flowhost_builtins.mqtt_connection_config import CONFIGURATION_SCHEMA, settings_from_configuration
from tests.aws.conftest import ACCOUNT, ARN, aws_configuration, aws_settings, policy_allows

DEV_EUI = "0018B20000000B20"


def publish_resource(pattern: str) -> str:
    [statement] = [
        s
        for s in policy_statements(aws_settings(uplinkTopicPattern=pattern), "eu-central-1", ACCOUNT)
        if s.sid == "PublishUplinks"
    ]
    return statement.resources[0].removeprefix(f"{ARN}:topic/")


def test_a_dev_eui_level_is_sixteen_characters_not_any_levels() -> None:
    resource = publish_resource("lora/{DevEUI}/uplink")
    assert resource == "lora/????????????????/uplink"
    assert policy_allows(resource, f"lora/{DEV_EUI}/uplink")
    assert not policy_allows(resource, "lora/a/b/c/uplink")  # allowed while {DevEUI} was '*'
    assert not policy_allows(resource, "lora/a/uplink")
    assert not policy_allows(resource, f"lora/{DEV_EUI}/x/uplink")


def test_other_placeholders_stay_wildcards_that_span_levels() -> None:
    resource = publish_resource("lora/{CustomerData.site}/{DevEUI}/uplink")
    assert resource == "lora/*/????????????????/uplink"
    assert policy_allows(resource, f"lora/paris/{DEV_EUI}/uplink")
    assert policy_allows(resource, f"lora/a/b/c/{DEV_EUI}/uplink")  # AWS has no one-level wildcard: documented


@pytest.mark.parametrize(
    ("placeholder", "resource"),
    [
        ("{DevEUI|'FFFFFFFFFFFFFFFF'}", "?" * 16),  # every alternative 16 characters long
        ("{DevEUI|'none'}", "*"),
        ("{CustomerData.eui|DevEUI}", "*"),
        ("{CustomerData.DevEUI}", "*"),  # only the top-level DevEUI is checked when rendered
        ("{FPort}", "*"),
    ],
)
def test_fixed_length_needs_every_alternative_fixed(placeholder: str, resource: str) -> None:
    assert publish_resource(f"up/{placeholder}") == f"up/{resource}"


@pytest.mark.parametrize(("field", "length"), sorted(FIXED_LENGTH_FIELDS.items()))
def test_fixed_length_fields_are_refused_at_any_other_length(field: str, length: int) -> None:
    """The table is only right while rendering refuses every other length: a '?' per character relies on it."""
    template = aws_settings(uplinkTopicPattern=f"up/{{{field}}}").uplink_topic
    assert len(template.render({field: "A" * length}).removeprefix("up/")) == length
    for wrong in (length - 1, length + 1):
        with pytest.raises(TopicRenderError):
            template.render({field: "A" * wrong})


def test_every_rendered_dev_eui_topic_is_allowed() -> None:
    resource = publish_resource("lora/{DevEUI}/uplink")
    settings = aws_settings(uplinkTopicPattern="lora/{DevEUI}/uplink")
    for dev_eui in ("78af580300000345", "FFFFFFFFFFFFFFFF", "0000000000000000"):
        assert policy_allows(resource, settings.uplink_topic.render({"DevEUI": dev_eui}))


def unvalidated_settings(uplink: str, downlink: str):
    """Settings for a pattern pair that validation refuses (the connection would receive its own uplinks), to
    show what the policy check says about it alone."""
    configuration = CONFIGURATION_SCHEMA(aws_configuration(uplinkTopicPattern=uplink, downlinkTopicPattern=None))
    return settings_from_configuration("aws", {**configuration, "downlinkTopicPattern": downlink})


def test_the_issues_pair_allows_downlinks_to_every_device() -> None:
    settings = unvalidated_settings("tp/{DevEUI}/{FPort}", "tp/{DevEUI}/down")
    [warning] = policy_warnings(settings)
    assert "topic/tp/????????????????/*" in warning and "'tp/0000000000000000/down'" in warning
    assert "could send downlinks to every device" in warning
    assert "uplinkTopicPattern 'tp/{DevEUI}/up/{FPort}'" in warning
    assert policy_allows("tp/????????????????/*", "tp/0000000000000000/down")


def test_a_wildcard_spanning_levels_can_reach_downlink_topics() -> None:
    """Validation accepts this pair (the levels differ in number), but '*' stands for 'acme/down'."""
    settings = aws_settings(
        uplinkTopicPattern="sites/{CustomerData.site}/{DevEUI}", downlinkTopicPattern="sites/acme/down/{DevEUI}"
    )
    [warning] = policy_warnings(settings)
    assert "'sites/acme/down/0000000000000000'" in warning
    assert policy_allows("sites/*/????????????????", "sites/acme/down/0000000000000000")


@pytest.mark.parametrize(
    ("uplink", "downlink"),
    [
        ("mqtt/things/{DevEUI}/uplink", "mqtt/things/{DevEUI}/downlink"),
        ("tp/{DevEUI}/up/{FPort}", "tp/{DevEUI}/down"),
        ("lora/{DevEUI}/uplink", "lora/+/{DevEUI}/down"),  # '?' per character: no level more or less
        ("lora/{CustomerData.site}/{DevEUI}/uplink", "lora/{DevEUI}/downlink"),
    ],
)
def test_no_warning_when_the_uplink_resource_misses_every_downlink_topic(uplink: str, downlink: str) -> None:
    assert policy_warnings(aws_settings(uplinkTopicPattern=uplink, downlinkTopicPattern=downlink)) == []


def test_no_downlink_no_warning() -> None:
    assert policy_warnings(aws_settings(downlinkEnabled=False, uplinkTopicPattern="{CustomerData.a}/{DevEUI}")) == []


@pytest.mark.parametrize(
    ("resource", "levels", "expected"),
    [
        ("a/#", [("literal", "a"), ("+", "+")], None),  # '#' is a plain character in a policy
        ("a*", [("literal", "a"), ("#", "#")], "a"),  # 'a/#' also matches 'a'
        ("a/?", [("literal", "a"), ("field", "DevEUI")], None),
        ("a/${*}", [("literal", "a"), ("field", "name")], "a/*"),
        ("a/?", [("literal", "a"), ("+", "+")], "a/x"),
    ],
)
def test_first_common_topic(resource: str, levels, expected) -> None:
    from flowhost_builtins.aws_policy_match import subscription_steps

    assert first_common_topic(resource_steps(resource), subscription_steps(levels)) == expected


def test_the_search_is_bounded() -> None:
    long = resource_steps("a" * MAX_SEARCH_STATES)
    with pytest.raises(ValueError, match="too long"):
        first_common_topic(long, [resource_steps("a*")])
