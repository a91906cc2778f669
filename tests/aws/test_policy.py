"""Least-privilege policies: golden documents for the shapes of patterns a connection can have."""

from __future__ import annotations

import json

import pytest

from flowhost_builtins.aws_iot import AwsIotError
from flowhost_builtins.aws_policy import policy_for_connection, policy_statements
from tests.aws.conftest import ACCOUNT, ARN, aws_settings, policy_allows


def statements(**overrides) -> dict[str, tuple[object, object]]:
    document = policy_for_connection(aws_settings(**overrides), "eu-central-1", ACCOUNT)
    assert document["Version"] == "2012-10-17"
    assert all(statement["Effect"] == "Allow" for statement in document["Statement"])
    return {statement["Sid"]: (statement["Action"], statement["Resource"]) for statement in document["Statement"]}


def test_thingpark_patterns() -> None:
    document = policy_for_connection(aws_settings(), "eu-central-1", ACCOUNT)
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Connect",
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"{ARN}:client/flowhost-aws",
            },
            {
                "Sid": "PublishUplinks",
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": f"{ARN}:topic/mqtt/things/????????????????/uplink",
            },
            {
                "Sid": "SubscribeDownlinks",
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": f"{ARN}:topicfilter/mqtt/things/+/downlink",
            },
            {
                "Sid": "ReceiveDownlinks",
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": f"{ARN}:topic/mqtt/things/*/downlink",
            },
        ],
    }
    json.dumps(document)  # plain JSON types only


def test_several_placeholders_and_fallbacks() -> None:
    assert statements(
        uplinkTopicPattern="lora/{CustomerData.site|CustomerData.alr.pro|'unassigned'}/{DevEUI}-{FPort}/up",
        downlinkTopicPattern="lora/{site}/{DevEUI}/down",
        clientId="thingpark-eu-1",
    ) == {
        "Connect": ("iot:Connect", f"{ARN}:client/thingpark-eu-1"),
        "PublishUplinks": ("iot:Publish", f"{ARN}:topic/lora/*/????????????????-*/up"),
        "SubscribeDownlinks": ("iot:Subscribe", f"{ARN}:topicfilter/lora/+/+/down"),
        "ReceiveDownlinks": ("iot:Receive", f"{ARN}:topic/lora/*/*/down"),
    }


@pytest.mark.parametrize(
    ("pattern", "resource"),
    [
        ("up/{CustomerData.a}{FPort}", "up/*"),
        ("up/{FPort}{# a comment #}{CustomerData.a}", "up/*"),
        ("up/{{ a }}{FPort}", "up/*"),
        ("up/{DevEUI}{FPort}", "up/????????????????*"),
        ("up/{{ a }}{DevEUI}", "up/*????????????????"),
    ],
)
def test_adjacent_wildcards_make_one(pattern: str, resource: str) -> None:
    assert statements(uplinkTopicPattern=pattern)["PublishUplinks"][1] == f"{ARN}:topic/{resource}"


def test_native_jinja_parts_become_wildcards_and_are_explained() -> None:
    settings = aws_settings(uplinkTopicPattern="sites/{{ CustomerData.site | lower }}/{DevEUI}/uplink{# note #}")
    [_, publish, *_] = policy_statements(settings, "eu-central-1", ACCOUNT)
    assert publish.resources == (f"{ARN}:topic/sites/*/????????????????/uplink",)
    assert "Jinja" in publish.reason


def test_jinja_blocks_make_everything_between_them_a_wildcard() -> None:
    pattern = "up/{% if FPort == 2 %}alarm{% else %}data{% endif %}/{DevEUI}"
    assert statements(uplinkTopicPattern=pattern)["PublishUplinks"][1] == f"{ARN}:topic/up/*/????????????????"


def test_retain_adds_retain_publish_on_the_uplink_topics() -> None:
    found = statements(retain=True)
    assert found["RetainUplinks"] == ("iot:RetainPublish", f"{ARN}:topic/mqtt/things/????????????????/uplink")
    assert "RetainUplinks" not in statements(retain=False)


def test_shared_subscription_subscribes_to_the_share_filter_and_receives_on_the_topic() -> None:
    found = statements(sharedSubscriptionGroup="flowhost", mqttVersion="5")
    assert found["SubscribeDownlinks"] == ("iot:Subscribe", f"{ARN}:topicfilter/$share/flowhost/mqtt/things/+/downlink")
    # Receive on the published topic only, as AWS's shared-subscription tutorial policy grants it
    # (aws-samples/sample-developer-tutorials, tuts/063-aws-iot-core-gs/aws-iot-core-gs.md).
    assert found["ReceiveDownlinks"] == ("iot:Receive", f"{ARN}:topic/mqtt/things/*/downlink")
    receive = found["ReceiveDownlinks"][1].removeprefix(f"{ARN}:topic/")
    assert policy_allows(receive, "mqtt/things/78AF580300000345/downlink")
    for topic in ("mqtt/things/78AF580300000345/uplink", "$share/flowhost/mqtt/things/78AF580300000345/downlink"):
        assert not policy_allows(receive, topic), topic


def test_multi_level_wildcard_receives_on_the_parent_and_below() -> None:
    found = statements(downlinkTopicPattern="mqtt/things/{DevEUI}/downlink/#")
    assert found["SubscribeDownlinks"][1] == f"{ARN}:topicfilter/mqtt/things/+/downlink/#"
    assert found["ReceiveDownlinks"][1] == [
        f"{ARN}:topic/mqtt/things/*/downlink",
        f"{ARN}:topic/mqtt/things/*/downlink/*",
    ]


@pytest.mark.parametrize("overrides", [{"downlinkEnabled": False}, {"downlinkTopicPattern": None}])
def test_no_downlink_means_no_subscribe_nor_receive(overrides) -> None:
    assert list(statements(**overrides)) == ["Connect", "PublishUplinks"]


def test_policy_wildcards_in_names_are_escaped() -> None:
    found = statements(clientId="gw*?", uplinkTopicPattern="a*b/{DevEUI}", downlinkTopicPattern="d?/{DevEUI}")
    assert found["Connect"][1] == f"{ARN}:client/gw${{*}}${{?}}"
    assert found["PublishUplinks"][1] == f"{ARN}:topic/a${{*}}b/????????????????"
    assert found["SubscribeDownlinks"][1] == f"{ARN}:topicfilter/d${{?}}/+"
    assert found["ReceiveDownlinks"][1] == f"{ARN}:topic/d${{?}}/*"


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("cn-north-1", f"arn:aws-cn:iot:cn-north-1:{ACCOUNT}"),
        ("us-gov-west-1", f"arn:aws-us-gov:iot:us-gov-west-1:{ACCOUNT}"),
        ("us-east-1", f"arn:aws:iot:us-east-1:{ACCOUNT}"),
    ],
)
def test_partition_follows_the_region(region: str, arn: str) -> None:
    document = policy_for_connection(aws_settings(), region, ACCOUNT)
    assert document["Statement"][0]["Resource"] == f"{arn}:client/flowhost-aws"


def test_bad_account_id_and_region_are_refused() -> None:
    with pytest.raises(AwsIotError, match="12 digits"):
        policy_for_connection(aws_settings(), "eu-central-1", "1234")
    with pytest.raises(AwsIotError, match="did you mean 'eu-west-1'"):
        policy_for_connection(aws_settings(), "eu-wst-1", ACCOUNT)


def test_every_statement_says_why_it_is_there() -> None:
    settings = aws_settings(retain=True, sharedSubscriptionGroup="g", mqttVersion="5")
    for statement in policy_statements(settings, "eu-central-1", ACCOUNT):
        assert len(statement.reason) > 40, statement
    subscribe = next(s for s in policy_statements(settings, "eu-central-1", ACCOUNT) if s.sid == "SubscribeDownlinks")
    assert "topicfilter" in subscribe.reason and "$share" in subscribe.reason


@pytest.mark.parametrize(
    ("pattern", "fields"),
    [
        ("mqtt/things/{DevEUI}/uplink", {}),
        ("lora/{CustomerData.site|CustomerData.alr.pro|'unassigned'}/{DevEUI}-{FPort}/up", {}),
        (
            "lora/{CustomerData.site|CustomerData.alr.pro|'unassigned'}/{DevEUI}-{FPort}/up",
            {"CustomerData": {"site": "s1"}},
        ),
        ("a*b?/{DevEUI}", {}),
        ("sites/{{ CustomerData.site | default('none') | lower }}/{DevEUI}", {"CustomerData": {"site": "HQ"}}),
        ("up/{% if FPort == 2 %}alarm/x{% else %}data{% endif %}/{DevEUI}", {}),
        ("up/{% if FPort == 2 %}alarm/x{% else %}data{% endif %}/{DevEUI}", {"FPort": 3}),
    ],
)
def test_every_rendered_uplink_topic_is_allowed_by_the_policy(pattern: str, fields: dict) -> None:
    settings = aws_settings(uplinkTopicPattern=pattern)
    topic = settings.uplink_topic.render({"DevEUI": "78af580300000345", "FPort": 2, **fields})
    [resource] = [
        s.resources[0] for s in policy_statements(settings, "eu-central-1", ACCOUNT) if s.sid == "PublishUplinks"
    ]
    assert policy_allows(resource.removeprefix(f"{ARN}:topic/"), topic), (resource, topic)
    downlink = "mqtt/things/78AF580300000345/downlink"
    [receive] = [
        s.resources[0] for s in policy_statements(settings, "eu-central-1", ACCOUNT) if s.sid == "ReceiveDownlinks"
    ]
    assert policy_allows(receive.removeprefix(f"{ARN}:topic/"), downlink)
    assert not policy_allows(receive.removeprefix(f"{ARN}:topic/"), topic)


def test_mqtt_in_subscriptions_get_their_own_statements() -> None:
    document = policy_for_connection(
        aws_settings(),
        "eu-central-1",
        ACCOUNT,
        other_subscriptions=["$aws/events/presence/+/+", "ns/#", "ns/#", "$share/workers/jobs/+"],
    )
    found = {statement["Sid"]: statement["Resource"] for statement in document["Statement"]}
    assert found["SubscribeMqttIn"] == [
        f"{ARN}:topicfilter/$aws/events/presence/+/+",
        f"{ARN}:topicfilter/ns/#",
        f"{ARN}:topicfilter/$share/workers/jobs/+",
    ]
    assert found["ReceiveMqttIn"] == [
        f"{ARN}:topic/$aws/events/presence/*/*",
        f"{ARN}:topic/ns",
        f"{ARN}:topic/ns/*",
        f"{ARN}:topic/jobs/*",
    ]
