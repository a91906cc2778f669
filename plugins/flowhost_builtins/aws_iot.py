"""AWS IoT Core: device endpoints, regions and the message broker's limits.

Everything here works on plain values and on ``MqttConnectionSettings``; nothing talks to AWS. The limits are
AWS IoT Core's documented message broker quotas that cannot be raised (topic size and depth, payload size,
client id size, keep-alive range, QoS 0 and 1 only); breaking one makes AWS drop the message or the
connection, so flowhost refuses the configuration when it is validated, or the uplink before it is sent.

The least-privilege policies are written by ``aws_policy``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowhost.templating import (
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
    "UplinkLimits",
    "account_prefix_warning",
    "check_account_id",
    "check_region",
    "configuration_problems",
    "configuration_warnings",
    "endpoint_host",
    "is_aws_iot_host",
    "partition",
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


def partition(region: str) -> str:
    """The ARN partition of a region: ``aws``, ``aws-cn`` (China) or ``aws-us-gov`` (GovCloud)."""
    return next((name for start, name in _PARTITIONS if region.startswith(start)), "aws")


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
