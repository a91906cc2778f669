"""The ``configuration`` of an ``actility-mqtt-iot`` connection: schema, typed settings and TLS context.

Keys keep ThingPark's names (including its ``trustedCaCertficate`` spelling); flowhost's extensions sit beside
them. Certificates and keys are checked while validating, so a mistake shows up when the flow is saved rather
than as a failed TLS handshake later. Key material never appears in an error message.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import voluptuous as vol
from jinja2.sandbox import SandboxedEnvironment

from flowhost.templating import (
    DownlinkTopic,
    TopicTemplate,
    compile_topic_pattern,
    create_environment,
    patterns_overlap,
    subscription_for_pattern,
)
from flowhost.validation import (
    client_certificate,
    duration_between,
    host_port,
    load_pem_private_key,
    pem_certificates,
    pkcs8_private_key,
    positive_duration,
    publish_topic_pattern,
    split_host_port,
    subscribe_topic_pattern,
    whole_number,
    with_form,
)

from .aws_iot import UplinkLimits, configuration_problems, is_aws_iot_host, uplink_limits_for
from .connection_alarms import AlarmDefinition, alarm_definitions, alarms_field
from .schema_keys import unknown_keys
from .thingpark_fields import THINGPARK_TOPIC_FIELDS

__all__ = [
    "CONFIGURATION_SCHEMA",
    "CONNECTOR_ID",
    "DEFAULT_PORTS",
    "SECRET_FIELDS",
    "MqttConnectionSettings",
    "build_ssl_context",
    "configuration_schema",
    "settings_from_configuration",
    "split_host_name",
]

CONNECTOR_ID = "actility-mqtt-iot"
SECRET_FIELDS = frozenset({"password", "privateKey", "downlinkAsKey"})
DEFAULT_PORTS = {"TCP": 1883, "SSL": 8883, "WSS": 443}
CA_KEY = "trustedCaCertficate"
"""ThingPark's spelling; ``trustedCaCertificate`` is accepted too and stored under this key."""
CA_KEY_CORRECTED = "trustedCaCertificate"
TLS_KEYS = (CA_KEY, "certificate", "privateKey")
AWS_IOT_ALPN = "x-amzn-mqtt-ca"

_TOPIC_UNSAFE = re.compile(r"[/+#\x00-\x1f\x7f]").search


# ---------------------------------------------------------------------------------------------- fields


def split_host_name(value: str) -> tuple[str, int | None]:
    """``host:port``, ``host``, ``[v6addr]:port`` or ``[v6addr]`` -> (host, port or None)."""
    return split_host_port(value, "hostName")


@with_form(type="select", options=[["SSL", "SSL"], ["WSS", "WSS"], ["TCP", "TCP"]])
def _protocol(value: Any) -> str:
    protocol = value.upper() if isinstance(value, str) else None
    if protocol not in DEFAULT_PORTS:
        raise vol.Invalid(f"protocol must be SSL, WSS or TCP, got {value!r}")
    return protocol


def _milliseconds(name: str) -> Any:
    return whole_number(name, 100, 10_000, "ms")


@with_form(type="select", options=[["3.1.1", "3.1.1"], ["5", "5"]])
def _mqtt_version(value: Any) -> str:
    version = {"3.1.1": "3.1.1", "5": "5", "5.0": "5"}.get(str(value).strip())
    if version is None or isinstance(value, bool):
        raise vol.Invalid(f"mqttVersion must be '3.1.1' or '5', got {value!r}")
    return version


@with_form(type="string", format="path")
def _ws_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(char.isspace() for char in value):
        raise vol.Invalid(f"wsPath must start with '/' and hold no spaces, got {value!r}")
    return value


@with_form(type="string")
def _share_group(value: Any) -> str:
    if not isinstance(value, str) or not value or _TOPIC_UNSAFE(value):
        raise vol.Invalid(f"sharedSubscriptionGroup must be a name without '/', '+' or '#', got {value!r}")
    return value


def _text(name: str) -> Any:
    @with_form(type="string")
    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"{name} must be text")  # the value may be a password: never echo it
        return value

    return validate


def _public_key_bytes(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# ---------------------------------------------------------------------------------------------- schema

DEFAULT_SESSION_EXPIRY = 86_400.0
"""A day: what a broker keeps for flowhost while it is stopped, restarting or crashed (AWS IoT Core caps it at the
account's persistent session expiry, 1 hour unless raised)."""
MAX_SESSION_EXPIRY = 0xFFFF_FFFE  # MQTT 5's largest finite Session Expiry Interval, in seconds


def _fields(environment: SandboxedEnvironment) -> dict[Any, Any]:
    return {
        vol.Required("uplinkTopicPattern"): publish_topic_pattern(environment, THINGPARK_TOPIC_FIELDS),
        vol.Optional("downlinkTopicPattern"): subscribe_topic_pattern,
        vol.Required("hostName"): host_port("hostName"),
        vol.Optional("protocol", default="SSL"): _protocol,
        vol.Optional("username"): _text("username"),
        vol.Optional("password"): _text("password"),
        vol.Optional(CA_KEY): pem_certificates(CA_KEY),
        vol.Optional("certificate"): client_certificate("certificate"),
        vol.Optional("privateKey"): pkcs8_private_key("privateKey"),
        vol.Optional("connectionTimeout", default=5000): _milliseconds("connectionTimeout"),
        vol.Optional("actionTimeout", default=1000): _milliseconds("actionTimeout"),
        vol.Optional("uplinkTimeValidity"): positive_duration,
        vol.Optional("description", default=""): _text("description"),
        vol.Optional("qos", default=1): whole_number("qos", 0, 2),
        vol.Optional("retain", default=False): vol.Boolean(),
        vol.Optional("clientId"): vol.All(_text("clientId"), vol.Length(min=1, max=256)),
        vol.Optional("keepAlive", default="60s"): duration_between(0, 65535),
        vol.Optional("mqttVersion", default="3.1.1"): _mqtt_version,
        vol.Optional("wsPath", default="/mqtt"): _ws_path,
        vol.Optional("wsOnePacketPerFrame", default=False): vol.Boolean(),
        vol.Optional("outboxSize", default=10_000): whole_number("outboxSize", 1, 1_000_000),
        vol.Optional("outboxOverflow", default="refuse"): vol.In(
            ["refuse", "dropOldest"], msg="outboxOverflow must be 'refuse' (new uplinks) or 'dropOldest'"
        ),
        vol.Optional("durableOutbox", default=True): vol.Boolean(),
        vol.Optional("outboxSync", default=False): vol.Boolean(),
        vol.Optional("deadLetterLimit", default=1000): whole_number("deadLetterLimit", 0, 100_000),
        vol.Optional("reconnectMaxDelay", default="60s"): duration_between(1, 3600),
        vol.Optional("sessionExpiry", default="1d"): duration_between(0, MAX_SESSION_EXPIRY),
        vol.Optional("sharedSubscriptionGroup"): _share_group,
        vol.Optional("downlinkEnabled", default=True): vol.Boolean(),
        vol.Optional("downlinkPort"): whole_number("downlinkPort", 1, 224),
        vol.Optional("downlinkAsId"): vol.All(_text("downlinkAsId"), vol.Length(min=1, msg="downlinkAsId is empty")),
        vol.Optional("downlinkAsKey"): vol.All(_text("downlinkAsKey"), vol.Length(min=1, msg="downlinkAsKey is empty")),
        vol.Optional("acceptRetainedDownlinks", default=False): vol.Boolean(),
        vol.Optional("sendMetadata", default=False): vol.Boolean(),
        vol.Optional("sendRawDecodedFormat", default=False): vol.Boolean(),
        vol.Optional("alarms"): alarms_field,
    }


def _known_keys(known: frozenset[str]) -> Any:
    def validate(value: Any) -> dict[str, Any]:
        """Refuse unknown keys (naming the closest valid one) and store the CA under ThingPark's spelling."""
        if not isinstance(value, Mapping):
            raise vol.Invalid("configuration must be a mapping of keys to values")
        errors = unknown_keys(value, known)
        if errors:
            raise vol.MultipleInvalid(errors)
        configuration = dict(value)
        if CA_KEY_CORRECTED in configuration:
            certificates = configuration.pop(CA_KEY_CORRECTED)
            if configuration.setdefault(CA_KEY, certificates) != certificates:
                raise vol.Invalid(
                    f"{CA_KEY} and {CA_KEY_CORRECTED} are the same setting with different values; keep one",
                    path=[CA_KEY_CORRECTED],
                )
        return configuration

    return validate


def _combination(configuration: dict[str, Any]) -> dict[str, Any]:
    """Checks that involve several keys."""
    errors: list[vol.Invalid] = []
    if configuration["protocol"] == "TCP":
        errors.extend(
            vol.Invalid(f"{key} applies only to the SSL and WSS protocols; remove it or use SSL", path=[key])
            for key in TLS_KEYS
            if key in configuration
        )
    has_certificate, has_key = "certificate" in configuration, "privateKey" in configuration
    if has_certificate and not has_key:
        errors.append(vol.Invalid("certificate is given without its privateKey; give both", path=["privateKey"]))
    elif has_key and not has_certificate:
        errors.append(vol.Invalid("privateKey is given without its certificate; give both", path=["certificate"]))
    elif has_key and not _key_matches_certificate(configuration["privateKey"], configuration["certificate"]):
        errors.append(
            vol.Invalid(
                "privateKey does not belong to certificate (their public keys differ); give the pair",
                path=["privateKey"],
            )
        )
    downlink = configuration.get("downlinkTopicPattern")
    if downlink is not None and patterns_overlap(
        configuration["uplinkTopicPattern"], downlink, fields=THINGPARK_TOPIC_FIELDS
    ):
        errors.append(
            vol.Invalid(
                f"downlinkTopicPattern {downlink!r} would also match uplink topics of "
                f"{configuration['uplinkTopicPattern']!r}; the connection would receive its own uplinks",
                path=["downlinkTopicPattern"],
            )
        )
    if configuration["outboxSync"] and not configuration["durableOutbox"]:
        errors.append(vol.Invalid("outboxSync needs durableOutbox: true (nothing is written)", path=["outboxSync"]))
    if "sharedSubscriptionGroup" in configuration and configuration["mqttVersion"] != "5":
        errors.append(vol.Invalid("sharedSubscriptionGroup needs mqttVersion 5", path=["sharedSubscriptionGroup"]))
    host, port = split_host_name(configuration["hostName"])
    errors.extend(
        vol.Invalid(message, path=[key])
        for key, message in configuration_problems(
            configuration, host, port or DEFAULT_PORTS[configuration["protocol"]]
        )
    )
    if errors:
        raise vol.MultipleInvalid(errors)
    return configuration


def _key_matches_certificate(private_key: str, certificate: str) -> bool:
    from cryptography import x509

    leaf = x509.load_pem_x509_certificates(certificate.encode())[0]
    return _public_key_bytes(load_pem_private_key(private_key).public_key()) == _public_key_bytes(leaf.public_key())


@functools.lru_cache(maxsize=8)  # one per environment: the host has one, tests a few
def configuration_schema(environment: SandboxedEnvironment | None = None) -> vol.Schema:
    """The schema, compiling ``uplinkTopicPattern`` with ``environment`` (the host's, with plugin filters)."""
    fields = _fields(environment or create_environment())
    known = frozenset([*(key.schema for key in fields), CA_KEY_CORRECTED])
    return vol.Schema(vol.All(_known_keys(known), vol.Schema(fields), _combination))


CONFIGURATION_SCHEMA = configuration_schema()
"""Validates with a plain environment; patterns using plugins' filters need ``configuration_schema``."""


# ---------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class MqttConnectionSettings:
    """A validated configuration as typed values; durations in seconds."""

    connection_id: str
    host: str
    port: int
    protocol: Literal["SSL", "WSS", "TCP"]
    uplink_topic: TopicTemplate
    downlink_topic: DownlinkTopic | None
    """None when ``downlinkEnabled`` is false or there is no downlink pattern."""
    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    trusted_ca_certificates: str | None = None
    certificate: str | None = None
    private_key: str | None = field(default=None, repr=False)
    connection_timeout: float = 5.0
    action_timeout: float = 1.0
    uplink_time_validity: float | None = None
    qos: int = 1
    retain: bool = False
    keep_alive: float = 60.0
    mqtt_version: Literal["3.1.1", "5"] = "3.1.1"
    ws_path: str = "/mqtt"
    ws_one_packet_per_frame: bool = False
    """WSS: each MQTT packet in a WebSocket frame of its own, for gateways that expect the boundaries to match."""
    outbox_size: int = 10_000
    outbox_overflow: Literal["refuse", "dropOldest"] = "refuse"
    durable_outbox: bool = True
    outbox_sync: bool = False
    dead_letter_limit: int = 1000
    """How many refused uplinks the dead-letter store keeps (0: none, they are dropped and counted)."""
    reconnect_max_delay: float = 60.0
    session_expiry: float = DEFAULT_SESSION_EXPIRY
    """Seconds the broker keeps this client's session (subscriptions, unacknowledged and queued messages) while
    it is away; 0 for a clean session on every connection."""
    shared_subscription_group: str | None = None
    downlink_enabled: bool = True
    downlink_port: int | None = None
    downlink_application_server: Mapping[str, str] | None = field(default=None, repr=False)
    """``AS_ID`` / ``AS_KEY`` from ``downlinkAsId`` / ``downlinkAsKey``, for downlinks that have neither."""
    accept_retained_downlinks: bool = False
    """Take retained downlinks: the broker sends them again on every reconnect, so by default they are ignored."""
    send_metadata: bool = False
    send_raw_decoded_format: bool = False
    description: str = ""
    alarms: tuple[AlarmDefinition, ...] = ()
    """ThingPark's low-rate alarms (connection_alarms.py)."""
    uplink_limits: UplinkLimits | None = field(default=None, repr=False, compare=False)
    """AWS IoT Core's per-message limits for an AWS IoT host, checked on every uplink; None for other hosts."""

    @property
    def uses_tls(self) -> bool:
        return self.protocol != "TCP"

    @property
    def downlink_subscription(self) -> str | None:
        """The filter to subscribe to: ``$share/<group>/<filter>`` with a shared subscription group."""
        if self.downlink_topic is None:
            return None
        if self.shared_subscription_group:
            return f"$share/{self.shared_subscription_group}/{self.downlink_topic.filter}"
        return self.downlink_topic.filter

    @property
    def websocket_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"wss://{host}:{self.port}{self.ws_path}"

    @property
    def alpn_protocols(self) -> tuple[str, ...]:
        """AWS IoT takes MQTT with client certificates on port 443 only when asked by ALPN."""
        if self.port == 443 and self.protocol == "SSL" and is_aws_iot_host(self.host):
            return (AWS_IOT_ALPN,)
        return ()


_COPIED = (
    ("qos", "qos"),
    ("retain", "retain"),
    ("keep_alive", "keepAlive"),
    ("mqtt_version", "mqttVersion"),
    ("ws_path", "wsPath"),
    ("ws_one_packet_per_frame", "wsOnePacketPerFrame"),
    ("outbox_size", "outboxSize"),
    ("outbox_overflow", "outboxOverflow"),
    ("durable_outbox", "durableOutbox"),
    ("outbox_sync", "outboxSync"),
    ("dead_letter_limit", "deadLetterLimit"),
    ("reconnect_max_delay", "reconnectMaxDelay"),
    ("session_expiry", "sessionExpiry"),
    ("accept_retained_downlinks", "acceptRetainedDownlinks"),
    ("send_metadata", "sendMetadata"),
    ("send_raw_decoded_format", "sendRawDecodedFormat"),
    ("description", "description"),
)
"""Settings taken as they are from configuration keys the schema always fills (its defaults): (setting, key)."""
_OPTIONAL = (
    ("username", "username"),
    ("trusted_ca_certificates", CA_KEY),
    ("password", "password"),
    ("certificate", "certificate"),
    ("private_key", "privateKey"),
    ("uplink_time_validity", "uplinkTimeValidity"),
    ("shared_subscription_group", "sharedSubscriptionGroup"),
    ("downlink_port", "downlinkPort"),
)
"""Settings taken from configuration keys that may be absent (None then)."""


def settings_from_configuration(
    connection_id: str,
    configuration: Mapping[str, Any],
    environment: SandboxedEnvironment | None = None,
) -> MqttConnectionSettings:
    """Typed settings from a configuration that ``CONFIGURATION_SCHEMA`` has validated."""
    host, port = split_host_name(configuration["hostName"])
    protocol = configuration["protocol"]
    downlink_pattern = configuration.get("downlinkTopicPattern")
    downlink_enabled = configuration["downlinkEnabled"]
    return MqttConnectionSettings(
        connection_id=connection_id,
        host=host,
        port=port or DEFAULT_PORTS[protocol],
        protocol=protocol,
        uplink_topic=compile_topic_pattern(
            configuration["uplinkTopicPattern"], environment or create_environment(), fields=THINGPARK_TOPIC_FIELDS
        ),
        downlink_topic=subscription_for_pattern(downlink_pattern, fields=THINGPARK_TOPIC_FIELDS)
        if downlink_enabled and downlink_pattern
        else None,
        client_id=configuration.get("clientId") or f"flowhost-{connection_id}",
        connection_timeout=configuration["connectionTimeout"] / 1000,
        action_timeout=configuration["actionTimeout"] / 1000,
        **{name: configuration[key] for name, key in _COPIED},
        **{name: configuration.get(key) for name, key in _OPTIONAL},
        downlink_enabled=downlink_enabled,
        downlink_application_server=_application_server(configuration),
        alarms=alarm_definitions(configuration.get("alarms", [])),
        uplink_limits=uplink_limits_for(host),
    )


def _application_server(configuration: Mapping[str, Any]) -> dict[str, str] | None:
    """ThingPark's common parameters for authenticated downlinks, as the fields a downlink carries them in."""
    fields = {
        name: configuration[key]
        for key, name in (("downlinkAsId", "AS_ID"), ("downlinkAsKey", "AS_KEY"))
        if key in configuration
    }
    return fields or None


# ---------------------------------------------------------------------------------------------- TLS


def build_ssl_context(settings: MqttConnectionSettings) -> ssl.SSLContext:
    """A client context: TLS 1.2 or later, the server always verified (the configured CA, else the system's),
    the client certificate loaded without an unencrypted key ever reaching the disk."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=settings.trusted_ca_certificates)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.certificate and settings.private_key:
        _load_client_certificate(context, settings.certificate, settings.private_key)
    if settings.alpn_protocols:
        context.set_alpn_protocols(list(settings.alpn_protocols))
    return context


def _load_client_certificate(context: ssl.SSLContext, certificate: str, private_key: str) -> None:
    # load_cert_chain only reads files. An anonymous memory file (Linux) keeps the key off the disk; elsewhere
    # the key goes to a private temporary file encrypted with a one-time password.
    if not _load_from_memory_file(context, certificate, private_key):
        _load_from_encrypted_file(context, certificate, private_key)


def _load_from_memory_file(context: ssl.SSLContext, certificate: str, private_key: str) -> bool:
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is None:
        return False
    try:
        descriptor = memfd_create("flowhost-client-certificate", os.MFD_CLOEXEC)
    except OSError:  # refused by the kernel or a seccomp policy
        return False
    try:
        path = f"/proc/self/fd/{descriptor}"
        if not os.path.exists(path):  # /proc not mounted
            return False
        _write_all(descriptor, f"{certificate.strip()}\n{private_key.strip()}\n".encode())
        context.load_cert_chain(path)
        return True
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _load_from_encrypted_file(context: ssl.SSLContext, certificate: str, private_key: str) -> None:
    from cryptography.hazmat.primitives import serialization

    password = secrets.token_urlsafe(32).encode()
    encrypted_key = load_pem_private_key(private_key).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    descriptor, path = tempfile.mkstemp(prefix="flowhost-client-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(certificate.strip().encode() + b"\n" + encrypted_key)
        context.load_cert_chain(path, password=password)
    finally:
        os.unlink(path)
