"""Helpers for the AWS IoT Core tests: settings from a configuration, as the connection makes them."""

from __future__ import annotations

import re
from typing import Any

from flowhost_builtins.mqtt_connection_config import (
    CONFIGURATION_SCHEMA,
    MqttConnectionSettings,
    settings_from_configuration,
)

AWS_HOST = "d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com"
ACCOUNT = "123456789012"
ARN = f"arn:aws:iot:eu-central-1:{ACCOUNT}"
THINGPARK_PATTERNS = {
    "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
    "downlinkTopicPattern": "mqtt/things/{DevEUI}/downlink",
}


def aws_configuration(**overrides: Any) -> dict[str, Any]:
    """ThingPark's patterns on an AWS IoT Core host; an override of None removes the key."""
    configuration = {**THINGPARK_PATTERNS, "hostName": f"{AWS_HOST}:8883", "protocol": "SSL", **overrides}
    return {key: value for key, value in configuration.items() if value is not None}


def aws_settings(connection_id: str = "aws", **overrides: Any) -> MqttConnectionSettings:
    return settings_from_configuration(connection_id, CONFIGURATION_SCHEMA(aws_configuration(**overrides)))


def policy_allows(resource: str, name: str) -> bool:
    """AWS's matching of a policy resource body against a topic or client id, written independently of
    flowhost's code: '*' any characters ('/' included), '?' exactly one, ${*} ${?} ${$} those characters."""
    expression = ""
    for part in re.split(r"(\$\{[*?$]\}|\*|\?)", resource):
        expression += ".*" if part == "*" else "." if part == "?" else re.escape(part[2] if part[:2] == "${" else part)
    return re.fullmatch(expression, name, re.DOTALL) is not None
