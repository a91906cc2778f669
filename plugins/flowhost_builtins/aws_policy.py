"""The least-privilege AWS IoT policy of an ``actility-mqtt-iot`` connection, one builder per statement.

Policies follow AWS's authorization model for MQTT: ``iot:Connect`` is checked against ``client/<clientId>``,
``iot:Publish``, ``iot:RetainPublish`` and ``iot:Receive`` against ``topic/<topic name>``, and
``iot:Subscribe`` against ``topicfilter/<topic filter>``, where ``+`` and ``#`` are plain characters and ``*``
(any characters, ``/`` included) and ``?`` (exactly one character) are the policy's own wildcards. Sources: AWS
IoT Core Developer Guide, "AWS IoT Core action resources" and "Publish/Subscribe policy examples".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from flowhost.templating import PatternJinja, PatternLiteral, PatternPlaceholder, scan_pattern

from .aws_iot import MAX_CLIENT_ID_BYTES, AwsIotError, check_account_id, check_region, partition
from .aws_policy_match import first_common_topic, resource_steps, subscription_steps

if TYPE_CHECKING:
    from flowhost.templating import DownlinkTopic

    from .mqtt_connection_config import MqttConnectionSettings

__all__ = [
    "FIXED_LENGTH_FIELDS",
    "PolicyStatement",
    "policy_document",
    "policy_for_connection",
    "policy_statements",
    "policy_warnings",
    "topic_resource_for_uplink_pattern",
]

FIXED_LENGTH_FIELDS: Mapping[str, int] = {"DevEUI": 16}
"""Uplink fields whose rendered value always has this many characters: flowhost refuses to render a ``{DevEUI}``
that is not 16 hex digits, so in a policy it is sixteen ``?``, which cannot span a topic level as ``*`` does."""


@dataclass(frozen=True, slots=True)
class PolicyStatement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions) if len(self.actions) > 1 else self.actions[0],
            "Resource": list(self.resources) if len(self.resources) > 1 else self.resources[0],
        }


_POLICY_SPECIAL = re.compile(r"[*?]|\$(?=\{)")
_SHARE_PREFIX = re.compile(r"\$share/([^/]+)/")


def _escape(text: str) -> str:
    """Literal text for a policy resource: '*' and '?' are wildcards there and '${' starts a variable, so they
    are written as the policy variables ${*}, ${?} and ${$}."""
    return _POLICY_SPECIAL.sub(lambda match: "${" + match.group() + "}", text)


# ---------------------------------------------------------------------------------------------- resources


def _placeholder_resource(placeholder: PatternPlaceholder) -> str:
    """``?`` for each character when every alternative has the same fixed length, else ``*``."""
    lengths = {FIXED_LENGTH_FIELDS.get(name) for name in placeholder.field_names}
    if placeholder.fallback is not None:
        lengths.add(len(placeholder.fallback))
    return "?" * next(iter(lengths)) if len(lengths) == 1 and None not in lengths else "*"


def topic_resource_for_uplink_pattern(pattern: str) -> tuple[str, bool]:
    """The ``topic/`` resource body matching every topic the pattern renders: literal text kept, a placeholder
    of fixed length (``{DevEUI}``) as that many ``?``, any other placeholder (fallbacks included) and each Jinja
    expression as ``*``. A ``{% %}`` block can make any text, so everything from the first block to the last is
    one ``*``. Returns (resource, uses Jinja)."""
    tokens = scan_pattern(pattern, "uplinkTopicPattern")
    blocks = [index for index, token in enumerate(tokens) if isinstance(token, PatternJinja) and token.source[1] == "%"]
    parts: list[str] = []
    uses_jinja = False
    for index, token in enumerate(tokens):
        if blocks and blocks[0] <= index <= blocks[-1]:
            piece = "*"
            uses_jinja = True
        elif isinstance(token, PatternLiteral):
            piece = _escape(token.text)
        elif isinstance(token, PatternPlaceholder):
            piece = _placeholder_resource(token)
        elif token.source.startswith("{#"):
            piece = ""
        else:
            piece = "*"
            uses_jinja = True
        if piece and not (piece == "*" and parts and parts[-1] == "*"):
            parts.append(piece)
    return "".join(parts), uses_jinja


def _receive_resources(topic_filter: str) -> list[str]:
    """``topic/`` bodies for the topics a filter matches: '+' as '*'; a final '#' as the parent and parent/*.

    For a shared subscription ``$share/<group>/<filter>`` the topics of ``<filter>`` alone: a message reaches a
    member of the group under the topic it was published on (see ``_SHARED_RECEIVE``)."""
    shared = _SHARE_PREFIX.match(topic_filter)
    levels = [
        "*" if level == "+" else level if level == "#" else _escape(level)
        for level in topic_filter[shared.end() if shared else 0 :].split("/")
    ]
    if levels[-1] != "#":
        bodies = ["/".join(levels)]
    elif len(levels) == 1:
        bodies = ["*"]
    else:
        parent = "/".join(levels[:-1])
        bodies = [parent, f"{parent}/*"]
    return bodies


_SHARED_RECEIVE = (
    " For a shared subscription iot:Receive is checked on the topic the message was published on, without "
    "$share/<group>/ (AWS's tutorial policy for shared subscriptions grants iot:Receive on topic/test/topic "
    "only, iot:Subscribe on topicfilter/$share/*/test/topic; aws-samples/sample-developer-tutorials, "
    "tuts/063-aws-iot-core-gs)."
)


# ---------------------------------------------------------------------------------------------- statements


def _connect_statement(arn: str, settings: MqttConnectionSettings) -> PolicyStatement:
    client_id = settings.client_id
    if len(client_id.encode()) > MAX_CLIENT_ID_BYTES:
        raise AwsIotError(f"clientId {client_id!r} is longer than AWS IoT Core's {MAX_CLIENT_ID_BYTES} bytes")
    return PolicyStatement(
        "Connect",
        ("iot:Connect",),
        (f"{arn}:client/{_escape(client_id)}",),
        f"the connection connects with client id {client_id!r} (clientId, default flowhost-<connection id>); "
        "AWS checks iot:Connect against client/<client id>, so a copy of this certificate cannot connect as any "
        "other client",
    )


def _publish_statement(arn: str, settings: MqttConnectionSettings) -> PolicyStatement:
    pattern = settings.uplink_topic.pattern
    uplink, uses_jinja = topic_resource_for_uplink_pattern(pattern)
    jinja_note = (
        " Native Jinja parts of the pattern can render any text, so they are '*' too: check that the topics they "
        "make are ones you want to allow."
        if uses_jinja
        else ""
    )
    return PolicyStatement(
        "PublishUplinks",
        ("iot:Publish",),
        (f"{arn}:topic/{uplink}",),
        f"uplinks are published on uplinkTopicPattern {pattern!r}; AWS checks iot:Publish against topic/<topic "
        "name>. {DevEUI} is always 16 hex digits, so it is sixteen '?' (one character each); any other "
        "placeholder (with its fallbacks) is '*', which in a policy matches any characters, '/' included: a "
        "'*' also allows topics with more levels in its place (at most 7 '/' in all, AWS's limit), although "
        f"flowhost itself never puts a '/' in a value.{jinja_note}",
    )


def _retain_statement(arn: str, settings: MqttConnectionSettings) -> PolicyStatement:
    uplink, _ = topic_resource_for_uplink_pattern(settings.uplink_topic.pattern)
    return PolicyStatement(
        "RetainUplinks",
        ("iot:RetainPublish",),
        (f"{arn}:topic/{uplink}",),
        "retain is on: AWS IoT Core also checks iot:RetainPublish on the topic of a retained PUBLISH and refuses "
        "it without",
    )


def _subscribe_downlinks_statement(arn: str, settings: MqttConnectionSettings) -> PolicyStatement:
    downlink: DownlinkTopic = settings.downlink_topic  # type: ignore[assignment]
    subscription = settings.downlink_subscription or downlink.filter
    shared = ""
    if settings.shared_subscription_group:
        shared = (
            f" With sharedSubscriptionGroup {settings.shared_subscription_group!r} the connection subscribes to "
            "$share/<group>/<filter>, and that whole string is the topic filter AWS checks."
        )
    return PolicyStatement(
        "SubscribeDownlinks",
        ("iot:Subscribe",),
        (f"{arn}:topicfilter/{_escape(subscription)}",),
        f"downlinks arrive on the subscription {subscription!r} made from downlinkTopicPattern "
        f"{downlink.pattern!r}; AWS checks iot:Subscribe against topicfilter/<filter> (not topic/), and '+' and "
        f"'#' are plain characters in a policy, so this allows exactly the filter the connection subscribes "
        f"to.{shared}",
    )


def _receive_downlinks_statement(arn: str, settings: MqttConnectionSettings) -> PolicyStatement:
    downlink: DownlinkTopic = settings.downlink_topic  # type: ignore[assignment]
    subscription = settings.downlink_subscription or downlink.filter
    return PolicyStatement(
        "ReceiveDownlinks",
        ("iot:Receive",),
        tuple(f"{arn}:topic/{body}" for body in _receive_resources(subscription)),
        "AWS checks iot:Receive against topic/<topic name> of every message it delivers; these are the topics "
        f"the filter {downlink.filter!r} matches ('+' as '*': the exact iot:Subscribe already keeps deeper "
        f"topics away).{_SHARED_RECEIVE if settings.shared_subscription_group else ''}",
    )


def _mqtt_in_statements(arn: str, filters: list[str]) -> list[PolicyStatement]:
    receive = dict.fromkeys(f"{arn}:topic/{body}" for item in filters for body in _receive_resources(item))
    shared = any(_SHARE_PREFIX.match(item) for item in filters)
    return [
        PolicyStatement(
            "SubscribeMqttIn",
            ("iot:Subscribe",),
            tuple(f"{arn}:topicfilter/{_escape(topic_filter)}" for topic_filter in filters),
            "mqtt-in nodes subscribe to these topic filters through this connection; AWS checks iot:Subscribe "
            "against topicfilter/<filter>, where '+' and '#' are plain characters",
        ),
        PolicyStatement(
            "ReceiveMqttIn",
            ("iot:Receive",),
            tuple(receive),
            "the topics the mqtt-in nodes' filters match ('+' as '*', a final '#' as the parent topic and "
            f"everything below it), on which AWS checks iot:Receive.{_SHARED_RECEIVE if shared else ''}",
        ),
    ]


def policy_statements(
    settings: MqttConnectionSettings,
    region: str,
    account_id: str,
    *,
    other_subscriptions: Iterable[str] = (),
    allow_unlisted_region: bool = False,
) -> list[PolicyStatement]:
    """The statements of the least-privilege policy for one connection, each with the reason it is there.

    ``other_subscriptions`` are the topic filters that ``mqtt-in`` nodes subscribe to through the connection.
    """
    name = check_region(region, allow_unlisted=allow_unlisted_region)
    arn = f"arn:{partition(name)}:iot:{name}:{check_account_id(account_id)}"
    statements = [_connect_statement(arn, settings), _publish_statement(arn, settings)]
    if settings.retain:
        statements.append(_retain_statement(arn, settings))
    if settings.downlink_topic is not None:
        statements += [_subscribe_downlinks_statement(arn, settings), _receive_downlinks_statement(arn, settings)]
    filters = list(dict.fromkeys(other_subscriptions))
    if filters:
        statements += _mqtt_in_statements(arn, filters)
    return statements


class PolicyOptions(TypedDict, total=False):
    """What :func:`policy_for_connection` passes on to :func:`policy_statements`, as keywords."""

    other_subscriptions: Iterable[str]
    allow_unlisted_region: bool


def policy_for_connection(
    settings: MqttConnectionSettings, region: str, account_id: str, **options: Unpack[PolicyOptions]
) -> dict[str, Any]:
    """The least-privilege AWS IoT policy document for one ``actility-mqtt-iot`` connection.

    Raises AwsIotError (a ValueError; its message says what to fix) for an account id that is not 12 digits,
    a region where AWS IoT Core is not offered (unless ``allow_unlisted_region``) or a client id too long.
    """
    return policy_document(policy_statements(settings, region, account_id, **options))


def policy_document(statements: Iterable[PolicyStatement]) -> dict[str, Any]:
    """The policy document (JSON-ready) holding ``statements``."""
    return {"Version": "2012-10-17", "Statement": [statement.as_json() for statement in statements]}


# ---------------------------------------------------------------------------------------------- warnings


def policy_warnings(settings: MqttConnectionSettings) -> list[str]:
    """What the generated policy allows beyond what flowhost does that a user should know: an iot:Publish
    resource for uplinks that also matches downlink topics (the certificate could send downlinks to every
    device)."""
    downlink = settings.downlink_topic
    if downlink is None:
        return []
    pattern = settings.uplink_topic.pattern
    uplink, _ = topic_resource_for_uplink_pattern(pattern)
    try:
        topic = _downlink_topic_allowed(uplink, downlink)
        suggestion = _suggestion(pattern, downlink) if topic is not None else None
    except ValueError as exc:
        return [f"the uplink topics could not be compared with the downlink topics: {exc}"]
    if topic is None:
        return []
    advice = f", e.g. uplinkTopicPattern {suggestion!r}" if suggestion else ""
    return [
        f"the policy's iot:Publish resource for uplinks, topic/{uplink}, also matches downlink topics of "
        f"downlinkTopicPattern {downlink.pattern!r} (for example {topic!r}): a holder of this certificate could "
        "send downlinks to every device. Give the uplink and downlink patterns different fixed text at the same "
        f"topic level{advice}"
    ]


def _downlink_topic_allowed(resource: str, downlink: DownlinkTopic) -> str | None:
    return first_common_topic(resource_steps(resource), subscription_steps(_downlink_levels(downlink)))


def _downlink_levels(downlink: DownlinkTopic) -> list[tuple[str, str]]:
    """Per level of the subscription: literal text, '+', '#', or the field a ``{placeholder}`` level reads."""
    levels = []
    for level, written in zip(downlink.filter.split("/"), downlink.pattern.split("/"), strict=True):
        if level == "+" and written.strip() != "+":
            levels.append(("field", written.strip().strip("{}").strip()))
        elif level in ("+", "#"):
            levels.append((level, level))
        else:
            levels.append(("literal", level))
    return levels


def _suggestion(pattern: str, downlink: DownlinkTopic) -> str | None:
    """The pattern with a fixed level ``up`` before its last one (``tp/{DevEUI}/up/{FPort}``), if that helps."""
    head, _, last = pattern.rpartition("/")
    suggestion = f"{head}/up/{last}" if head else f"up/{pattern}"
    resource, _ = topic_resource_for_uplink_pattern(suggestion)
    return suggestion if _downlink_topic_allowed(resource, downlink) is None else None
