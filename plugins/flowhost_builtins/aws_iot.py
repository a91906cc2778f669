"""AWS IoT Core: device endpoints, regions, least-privilege policies and the message broker's limits.

Everything here works on plain values and on ``MqttConnectionSettings``; nothing talks to AWS. The limits are
AWS IoT Core's documented message broker quotas that cannot be raised (topic size and depth, payload size,
client id size, keep-alive range, QoS 0 and 1 only); breaking one makes AWS drop the message or the
connection, so flowhost refuses the configuration when it is validated, or the uplink before it is sent.

Policies follow AWS's authorization model for MQTT: ``iot:Connect`` is checked against ``client/<clientId>``,
``iot:Publish``, ``iot:RetainPublish`` and ``iot:Receive`` against ``topic/<topic name>``, and
``iot:Subscribe`` against ``topicfilter/<topic filter>``, where ``+`` and ``#`` have no special meaning and
``*`` and ``?`` are the policy's own wildcards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowhost.templating import (
    PatternJinja,
    PatternLiteral,
    PatternPlaceholder,
    TemplateError,
    scan_pattern,
    subscription_for_pattern,
)
from flowhost.validation import closest

if TYPE_CHECKING:
    from .mqtt_connection_config import MqttConnectionSettings

__all__ = [
    "AWS_IOT_REGIONS",
    "MAX_CLIENT_ID_BYTES",
    "MAX_KEEP_ALIVE",
    "MAX_PAYLOAD_BYTES",
    "MAX_QOS",
    "MAX_TOPIC_BYTES",
    "MAX_TOPIC_SLASHES",
    "MIN_KEEP_ALIVE",
    "AwsIotError",
    "PolicyStatement",
    "UplinkLimits",
    "account_prefix_warning",
    "check_account_id",
    "check_region",
    "configuration_problems",
    "configuration_warnings",
    "endpoint_host",
    "is_aws_iot_host",
    "policy_document",
    "policy_for_connection",
    "policy_statements",
    "topic_problem",
    "uplink_limits_for",
]

# ---------------------------------------------------------------------------------------------- regions

_COM, _CN = "amazonaws.com", "amazonaws.com.cn"
AWS_IOT_REGIONS: Mapping[str, str] = {
    # Regions where AWS IoT Core offers its device data endpoint, with their DNS suffix.
    "us-east-1": _COM,
    "us-east-2": _COM,
    "us-west-1": _COM,
    "us-west-2": _COM,
    "ca-central-1": _COM,
    "sa-east-1": _COM,
    "eu-central-1": _COM,
    "eu-west-1": _COM,
    "eu-west-2": _COM,
    "eu-west-3": _COM,
    "eu-north-1": _COM,
    "eu-south-1": _COM,
    "me-south-1": _COM,
    "me-central-1": _COM,
    "ap-east-1": _COM,
    "ap-south-1": _COM,
    "ap-northeast-1": _COM,
    "ap-northeast-2": _COM,
    "ap-southeast-1": _COM,
    "ap-southeast-2": _COM,
    "us-gov-east-1": _COM,
    "us-gov-west-1": _COM,
    "cn-north-1": _CN,
    "cn-northwest-1": _CN,
}
"""AWS IoT Core regions and the DNS suffix of their endpoints (``.amazonaws.com.cn`` in China)."""

_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))
_REGION_SHAPE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]").fullmatch
_AWS_IOT_HOST = re.compile(
    r"(?P<prefix>[a-z0-9-]+)\.iot\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?",
    re.IGNORECASE,
).fullmatch
_ACCOUNT_PREFIX = re.compile(r"[a-z0-9]+(?:-ats)?").fullmatch
_ACCOUNT_ID = re.compile(r"[0-9]{12}").fullmatch


class AwsIotError(ValueError):
    """A region, account prefix, account id or connection that cannot be used with AWS IoT Core."""


def check_region(region: str, *, allow_unlisted: bool = False) -> str:
    """The region name if AWS IoT Core is offered there; else AwsIotError naming the closest known region.

    ``allow_unlisted`` accepts any well-formed name, for regions opened after this list was written.
    """
    name = region.strip().lower() if isinstance(region, str) else region
    if name in AWS_IOT_REGIONS or (allow_unlisted and isinstance(name, str) and _REGION_SHAPE(name)):
        return name
    suggestion = closest(str(name), AWS_IOT_REGIONS)
    hint = f"; did you mean {suggestion!r}?" if suggestion else "."
    raise AwsIotError(
        f"{region!r} is not an AWS IoT Core region{hint} Known regions: {', '.join(AWS_IOT_REGIONS)} "
        "(if AWS opened IoT Core in a region after this list was written, pass --any-region)"
    )


def _partition(region: str) -> str:
    return next((partition for start, partition in _PARTITIONS if region.startswith(start)), "aws")


def _dns_suffix(region: str) -> str:
    return AWS_IOT_REGIONS.get(region) or (_CN if region.startswith("cn-") else _COM)


def check_account_id(account_id: Any) -> str:
    text = str(account_id).strip() if isinstance(account_id, str | int) and not isinstance(account_id, bool) else ""
    if not _ACCOUNT_ID(text):
        raise AwsIotError(
            f"the AWS account id must be 12 digits (as shown under your account name in the AWS console), "
            f"got {account_id!r}"
        )
    return text


# ---------------------------------------------------------------------------------------------- endpoint

ATS_SUFFIX = "-ats"
_ATS_ADVICE = (
    "account prefix {prefix!r} does not end in '-ats': it names the legacy endpoint (iot:Data) whose server "
    "certificate is signed by Symantec/VeriSign, a CA that browsers and operating systems have distrusted and "
    "removed; TLS connections to it may fail. Use the Amazon Trust Services endpoint instead: "
    "'aws iot describe-endpoint --endpoint-type iot:Data-ATS' (or AWS IoT console > Settings > Device data "
    "endpoint) prints it, and its server certificate chains to Amazon Root CA 1 "
    "(https://www.amazontrust.com/repository/AmazonRootCA1.pem)."
)


def _check_account_prefix(prefix: str) -> str:
    text = prefix.strip().lower()
    if ".iot." in text or "amazonaws" in text:
        raise AwsIotError(
            f"give only the account prefix (the part before '.iot.'), e.g. 'd4g5d321sd465d-ats', not {prefix!r}"
        )
    if not _ACCOUNT_PREFIX(text):
        raise AwsIotError(
            f"account prefix {prefix!r} must be letters and digits, optionally followed by '-ats' "
            "(e.g. 'd4g5d321sd465d-ats')"
        )
    return text


def account_prefix_warning(prefix: str) -> str | None:
    """Why a prefix without ``-ats`` is a problem and what to use instead; None for an ATS prefix."""
    text = prefix.strip().lower()
    return None if text.endswith(ATS_SUFFIX) else _ATS_ADVICE.format(prefix=text)


def endpoint_host(account_prefix: str, region: str, *, allow_unlisted_region: bool = False) -> str:
    """The device data endpoint, ``<prefix>.iot.<region>.amazonaws.com`` (``.com.cn`` in China)."""
    prefix = _check_account_prefix(account_prefix)
    name = check_region(region, allow_unlisted=allow_unlisted_region)
    return f"{prefix}.iot.{name}.{_dns_suffix(name)}"


def is_aws_iot_host(host: str) -> bool:
    """Whether ``host`` is an AWS IoT Core device data endpoint (``*.iot.<region>.amazonaws.com[.cn]``).

    Custom domains (AWS IoT "configurable endpoints") cannot be recognised by name.
    """
    return bool(_AWS_IOT_HOST(host.rstrip(".")))


# ---------------------------------------------------------------------------------------------- limits

MAX_QOS = 1
MAX_TOPIC_BYTES = 256
MAX_TOPIC_SLASHES = 7
MAX_PAYLOAD_BYTES = 128 * 1024
MAX_CLIENT_ID_BYTES = 128
MIN_KEEP_ALIVE, MAX_KEEP_ALIVE = 30, 1200
PORTS = (8883, 443)
BASIC_INGEST_PREFIX = "$aws/rules/"
"""Basic Ingest topics start ``$aws/rules/<rule>/``; AWS does not count those three slashes."""


def _counted_slashes(topic: str) -> int:
    slashes = topic.count("/")
    if topic.lower().startswith(BASIC_INGEST_PREFIX):
        slashes -= min(3, slashes)
    return slashes


def topic_problem(topic: str, what: str = "topic") -> str | None:
    """Which AWS IoT topic limit ``topic`` breaks (size in bytes, number of '/'), or None."""
    size = len(topic.encode())
    if size > MAX_TOPIC_BYTES:
        return f"AWS IoT Core limit: a {what} is at most {MAX_TOPIC_BYTES} bytes, {topic[:60]!r}... has {size} bytes"
    slashes = _counted_slashes(topic)
    if slashes > MAX_TOPIC_SLASHES:
        return f"AWS IoT Core limit: a {what} has at most {MAX_TOPIC_SLASHES} '/', {topic!r} has {slashes}"
    return None


@dataclass(frozen=True, slots=True)
class UplinkLimits:
    """AWS IoT Core's limits on what one PUBLISH may carry, checked on every uplink before it is queued
    (AWS would drop the message, or the connection, instead of answering with an error)."""

    def check(self, topic: str, payload: bytes) -> str | None:
        """None when AWS IoT Core accepts this message; else the reason, naming the limit."""
        problem = topic_problem(topic)
        if problem is not None:
            return f"uplink not published: {problem}"
        if len(payload) > MAX_PAYLOAD_BYTES:
            return (
                f"uplink not published: AWS IoT Core limit: a message payload is at most 128 KB "
                f"({MAX_PAYLOAD_BYTES} bytes), this one has {len(payload)} bytes"
            )
        return None


def uplink_limits_for(host: str) -> UplinkLimits | None:
    """The limits to check each uplink against: AWS IoT Core's for an AWS IoT host, else None."""
    return UplinkLimits() if is_aws_iot_host(host) else None


def _pattern_slashes_and_bytes(tokens: Iterable[Any]) -> tuple[int, int, bool]:
    """(slashes, bytes) that every topic rendered from the pattern has at least, and whether they are exact."""
    slashes = size = 0
    exact = True
    for token in tokens:
        if isinstance(token, PatternLiteral):
            slashes += token.text.count("/")
            size += len(token.text.encode())
        elif isinstance(token, PatternPlaceholder):
            size += 1  # a placeholder never renders empty nor holds '/'
        elif not token.source.startswith("{#"):
            exact = False  # Jinja can add any text, '/' included, in {% %} blocks
    return slashes, size, exact


def _uplink_pattern_problem(pattern: str) -> str | None:
    try:
        tokens = scan_pattern(pattern, "uplinkTopicPattern")
    except TemplateError:
        return None  # reported by the pattern's own check
    slashes, size, exact = _pattern_slashes_and_bytes(tokens)
    if tokens and isinstance(tokens[0], PatternLiteral) and tokens[0].text.lower().startswith(BASIC_INGEST_PREFIX):
        slashes -= min(3, slashes)
    at_least = "" if exact else "at least "
    if slashes > MAX_TOPIC_SLASHES:
        return (
            f"AWS IoT Core limit: a topic has at most {MAX_TOPIC_SLASHES} '/', topics of {pattern!r} have "
            f"{at_least}{slashes}"
        )
    if size > MAX_TOPIC_BYTES:
        return (
            f"AWS IoT Core limit: a topic is at most {MAX_TOPIC_BYTES} bytes, topics of this pattern have at "
            f"least {size}"
        )
    return None


def configuration_problems(configuration: Mapping[str, Any], host: str, port: int) -> list[tuple[str, str]]:
    """(key, message) for each setting AWS IoT Core would refuse; empty for other hosts.

    ``configuration`` has passed the field validators (defaults filled in); ``port`` is the effective port.
    """
    if not is_aws_iot_host(host):
        return []
    problems: list[tuple[str, str]] = []
    protocol = configuration["protocol"]
    if protocol == "TCP":
        problems.append(("protocol", "AWS IoT Core accepts only TLS connections: use protocol SSL on port 8883"))
    elif protocol == "WSS" and "certificate" in configuration:
        problems.append(
            (
                "protocol",
                "AWS IoT Core does not take client certificates over WebSocket (WSS needs SigV4 signing): "
                "use protocol SSL (port 8883, or 443 with ALPN x-amzn-mqtt-ca)",
            )
        )
    elif protocol == "SSL" and port not in PORTS:
        problems.append(
            ("hostName", f"AWS IoT Core takes MQTT over TLS on port 8883 or 443 (with ALPN), not on port {port}")
        )
    if configuration["qos"] > MAX_QOS:
        problems.append(("qos", "AWS IoT Core supports QoS 0 and 1 only, not QoS 2: use qos 1"))
    client_id = configuration.get("clientId")
    if client_id is not None and len(client_id.encode()) > MAX_CLIENT_ID_BYTES:
        problems.append(
            (
                "clientId",
                f"AWS IoT Core limit: a client id is at most {MAX_CLIENT_ID_BYTES} bytes, "
                f"this one has {len(client_id.encode())}",
            )
        )
    keep_alive = configuration["keepAlive"]
    if not MIN_KEEP_ALIVE <= keep_alive <= MAX_KEEP_ALIVE:
        problems.append(
            (
                "keepAlive",
                f"AWS IoT Core accepts a keep-alive between {MIN_KEEP_ALIVE} s and {MAX_KEEP_ALIVE} s, "
                f"got {keep_alive:g} s",
            )
        )
    uplink = _uplink_pattern_problem(configuration["uplinkTopicPattern"])
    if uplink is not None:
        problems.append(("uplinkTopicPattern", uplink))
    downlink = configuration.get("downlinkTopicPattern")
    if downlink is not None and configuration["downlinkEnabled"]:
        downlink_filter = _downlink_filter(downlink)
        problem = topic_problem(downlink_filter, "topic filter") if downlink_filter is not None else None
        if problem is not None:
            problems.append(("downlinkTopicPattern", problem))
    return problems


def _downlink_filter(pattern: str) -> str | None:
    try:
        return subscription_for_pattern(pattern).filter
    except TemplateError:
        return None  # reported by the pattern's own check


def configuration_warnings(settings: MqttConnectionSettings) -> list[str]:
    """What an AWS IoT Core user should know about settings that are valid (empty for other hosts)."""
    if not is_aws_iot_host(settings.host):
        return []
    warnings = []
    if settings.retain:
        warnings.append(
            "retain is on: AWS IoT Core refuses a retained PUBLISH unless the policy also allows "
            "iot:RetainPublish on the topic (the policy flowhost generates includes it), and keeps one retained "
            "message per topic, billed as storage"
        )
    prefix_warning = account_prefix_warning(settings.host.split(".", 1)[0])
    if prefix_warning is not None:
        warnings.append(prefix_warning)
    return warnings


# ---------------------------------------------------------------------------------------------- policy


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


def _escape(text: str) -> str:
    """Literal text for a policy resource: '*' and '?' are wildcards there and '${' starts a variable, so they
    are written as the policy variables ${*}, ${?} and ${$}."""
    return _POLICY_SPECIAL.sub(lambda match: "${" + match.group() + "}", text)


def topic_resource_for_uplink_pattern(pattern: str) -> tuple[str, bool]:
    """The ``topic/`` resource body matching every topic the pattern renders: literal text kept, each
    placeholder (fallbacks included) and each Jinja expression as ``*``. A ``{% %}`` block can make any text,
    so everything from the first block to the last is one ``*``. Returns (resource, uses Jinja)."""
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
            piece = "*"
        elif token.source.startswith("{#"):
            piece = ""
        else:
            piece = "*"
            uses_jinja = True
        if piece and not (piece == "*" and parts and parts[-1] == "*"):
            parts.append(piece)
    return "".join(parts), uses_jinja


_SHARE_PREFIX = re.compile(r"\$share/[^/]+/")


def _receive_resources(topic_filter: str) -> list[str]:
    """``topic/`` bodies for the topics a filter matches: '+' as '*'; a final '#' as the parent and parent/*.
    A shared subscription ``$share/<group>/<filter>`` receives on the topics of ``<filter>``."""
    shared = _SHARE_PREFIX.match(topic_filter)
    levels = [
        "*" if level == "+" else level if level == "#" else _escape(level)
        for level in topic_filter[shared.end() if shared else 0 :].split("/")
    ]
    if levels[-1] != "#":
        return ["/".join(levels)]
    if len(levels) == 1:
        return ["*"]
    parent = "/".join(levels[:-1])
    return [parent, f"{parent}/*"]


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
    account = check_account_id(account_id)
    arn = f"arn:{_partition(name)}:iot:{name}:{account}"
    client_id = settings.client_id
    if len(client_id.encode()) > MAX_CLIENT_ID_BYTES:
        raise AwsIotError(f"clientId {client_id!r} is longer than AWS IoT Core's {MAX_CLIENT_ID_BYTES} bytes")
    statements = [
        PolicyStatement(
            "Connect",
            ("iot:Connect",),
            (f"{arn}:client/{_escape(client_id)}",),
            f"the connection connects with client id {client_id!r} (clientId, default flowhost-<connection "
            "id>); AWS checks iot:Connect against client/<client id>, so a copy of this certificate cannot "
            "connect as any other client",
        )
    ]
    uplink, uses_jinja = topic_resource_for_uplink_pattern(settings.uplink_topic.pattern)
    jinja_note = (
        " Native Jinja parts of the pattern can render any text, so they are '*' too: check that the topics "
        "they make are ones you want to allow."
        if uses_jinja
        else ""
    )
    statements.append(
        PolicyStatement(
            "PublishUplinks",
            ("iot:Publish",),
            (f"{arn}:topic/{uplink}",),
            f"uplinks are published on uplinkTopicPattern {settings.uplink_topic.pattern!r}; AWS checks "
            "iot:Publish against topic/<topic name>; each placeholder (with its fallbacks) is '*', which in a "
            f"policy matches any characters.{jinja_note}",
        )
    )
    if settings.retain:
        statements.append(
            PolicyStatement(
                "RetainUplinks",
                ("iot:RetainPublish",),
                (f"{arn}:topic/{uplink}",),
                "retain is on: AWS IoT Core also checks iot:RetainPublish on the topic of a retained PUBLISH "
                "and refuses it without",
            )
        )
    downlink = settings.downlink_topic
    if downlink is not None:
        subscription = settings.downlink_subscription or downlink.filter
        shared = ""
        if settings.shared_subscription_group:
            shared = (
                f" With sharedSubscriptionGroup {settings.shared_subscription_group!r} the connection subscribes "
                "to $share/<group>/<filter>, and that whole string is the topic filter AWS checks."
            )
        statements.append(
            PolicyStatement(
                "SubscribeDownlinks",
                ("iot:Subscribe",),
                (f"{arn}:topicfilter/{_escape(subscription)}",),
                f"downlinks arrive on the subscription {subscription!r} made from downlinkTopicPattern "
                f"{downlink.pattern!r}; AWS checks iot:Subscribe against topicfilter/<filter> (not topic/), "
                "and '+' and '#' are plain characters in a policy, so this allows exactly the filter the "
                f"connection subscribes to.{shared}",
            )
        )
        statements.append(
            PolicyStatement(
                "ReceiveDownlinks",
                ("iot:Receive",),
                tuple(f"{arn}:topic/{body}" for body in _receive_resources(downlink.filter)),
                "AWS checks iot:Receive against topic/<topic name> of every message it delivers; these are "
                f"the topics the filter {downlink.filter!r} matches ('+' as '*'). A shared subscription "
                "receives on the topic itself, without $share/<group>/.",
            )
        )
    filters = list(dict.fromkeys(other_subscriptions))
    if filters:
        statements.append(
            PolicyStatement(
                "SubscribeMqttIn",
                ("iot:Subscribe",),
                tuple(f"{arn}:topicfilter/{_escape(topic_filter)}" for topic_filter in filters),
                "mqtt-in nodes subscribe to these topic filters through this connection; AWS checks "
                "iot:Subscribe against topicfilter/<filter>, where '+' and '#' are plain characters",
            )
        )
        receive = dict.fromkeys(f"{arn}:topic/{body}" for item in filters for body in _receive_resources(item))
        statements.append(
            PolicyStatement(
                "ReceiveMqttIn",
                ("iot:Receive",),
                tuple(receive),
                "the topics the mqtt-in nodes' filters match ('+' as '*', a final '#' as the parent topic and "
                "everything below it), on which AWS checks iot:Receive",
            )
        )
    return statements


def policy_for_connection(
    settings: MqttConnectionSettings,
    region: str,
    account_id: str,
    *,
    other_subscriptions: Iterable[str] = (),
    allow_unlisted_region: bool = False,
) -> dict[str, Any]:
    """The least-privilege AWS IoT policy document for one ``actility-mqtt-iot`` connection.

    Raises AwsIotError (a ValueError; its message says what to fix) for an account id that is not 12 digits,
    a region where AWS IoT Core is not offered (unless ``allow_unlisted_region``) or a client id too long.
    """
    statements = policy_statements(
        settings,
        region,
        account_id,
        other_subscriptions=other_subscriptions,
        allow_unlisted_region=allow_unlisted_region,
    )
    return policy_document(statements)


def policy_document(statements: Iterable[PolicyStatement]) -> dict[str, Any]:
    """The policy document (JSON-ready) holding ``statements``."""
    return {"Version": "2012-10-17", "Statement": [statement.as_json() for statement in statements]}
