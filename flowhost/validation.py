"""Named voluptuous validators shared by the core and plugins, each with a message a person can act on.

Each validator carries its own ``form``: a mapping merged into the editor's field for it (``{"type": "string",
"format": "pem"}``), the only thing ``flowhost.api.forms`` reads of a validator. A plugin's validator does the same
(see docs/plugins.md); the ones made by a factory (``whole_number("qos", 0, 2)``) carry their bounds.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import voluptuous as vol

from .templating import TemplateError, TopicFields, compile_topic_pattern, subscription_for_pattern

if TYPE_CHECKING:
    from cryptography import x509
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "client_certificate",
    "closest",
    "duration",
    "duration_between",
    "eui64",
    "hex_string",
    "host_port",
    "identifier",
    "load_pem_certificates",
    "load_pem_private_key",
    "parse_duration",
    "pem_certificates",
    "pkcs8_private_key",
    "port_number",
    "positive_duration",
    "publish_topic_pattern",
    "split_host_port",
    "subscribe_filter",
    "subscribe_topic_pattern",
    "whole_number",
    "with_form",
]

V = TypeVar("V", bound=Callable[..., Any])


def with_form(**form: Any) -> Callable[[V], V]:
    """Decorator: give a validator the ``form`` the editor shows for it."""

    def attach(validator: V) -> V:
        validator.form = form  # type: ignore[attr-defined]
        return validator

    return attach


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_EUI64 = re.compile(r"^[0-9A-Fa-f]{16}$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def parse_duration(value: Any) -> float:
    """Seconds from ``500ms``, ``30s``, ``10m``, ``72h`` or ``1d``; raises ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a duration such as 500ms, 30s, 10m, 72h or 1d, got {value!r}")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a duration; use a number and a unit: 500ms, 30s, 10m, 72h or 1d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@with_form(type="string", format="duration")
def duration(value: Any) -> float:
    """Voluptuous validator: a duration string -> seconds (float)."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


def duration_between(minimum: float, maximum: float) -> vol.All:
    """A duration from ``minimum`` to ``maximum`` seconds."""

    @with_form(min=minimum, max=maximum, unit="s")
    def in_range(seconds: float) -> float:
        if not minimum <= seconds <= maximum:
            raise vol.Invalid(f"must be between {minimum:g}s and {maximum:g}s")
        return seconds

    return vol.All(duration, in_range)


def eui64(name: str) -> Callable[[Any], str]:
    """Voluptuous validator: an EUI-64 (16 hex digits; a device's or a join server's) -> upper case. ``name`` is
    what the message calls it (ThingPark's plugin makes its ``dev_eui`` with this)."""

    @with_form(type="string", format="eui64")
    def validate(value: Any) -> str:
        if not isinstance(value, str) or not _EUI64.match(value):
            raise vol.Invalid(f"{name} must be 16 hexadecimal digits, got {value!r}")
        return value.upper()

    return validate


@with_form(type="string", format="hex")
def hex_string(value: Any) -> str:
    """Voluptuous validator: an even-length hexadecimal string -> lower case."""
    if not isinstance(value, str) or len(value) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", value):
        raise vol.Invalid(f"expected an even number of hexadecimal digits, got {value!r}")
    return value.lower()


@with_form(type="string", format="identifier")
def identifier(value: Any) -> str:
    """Voluptuous validator: an id for a flow, node or connection."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise vol.Invalid(
            f"id must start with a letter or digit and hold only letters, digits, '_', '.', '-', got {value!r}"
        )
    return value


@with_form(type="integer", min=1, max=65535)
def port_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise vol.Invalid(f"port must be 1..65535, got {value!r}")
    return value


@with_form(type="string", format="duration")
def positive_duration(value: Any) -> float:
    """Voluptuous validator: a duration longer than 0s -> seconds."""
    seconds = duration(value)
    if seconds <= 0:
        raise vol.Invalid(f"must be longer than 0s, got {value!r}")
    return seconds


def whole_number(name: str, minimum: int, maximum: int, unit: str = "") -> Callable[[Any], int]:
    """A whole number (or its digits as text) from ``minimum`` to ``maximum``; ``unit`` (``"ms"``) is shown."""
    shown = f" {unit}" if unit else ""

    @with_form(type="integer", min=minimum, max=maximum, **({"unit": unit} if unit else {}))
    def validate(value: Any) -> int:
        number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
        if isinstance(number, bool) or not isinstance(number, int):
            raise vol.Invalid(f"{name} must be a whole number{shown}, got {value!r}")
        if not minimum <= number <= maximum:
            raise vol.Invalid(f"{name} must be between {minimum} and {maximum}{shown}, got {number}")
        return number

    return validate


# ---------------------------------------------------------------------------------------------- host:port

_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?").fullmatch
_PORT = re.compile(r"[0-9]{1,5}").fullmatch


def _split_bracketed(text: str, name: str) -> tuple[str, str | None]:
    end = text.find("]")
    if end < 0:
        raise vol.Invalid(f"{name} {text!r} has no ']' after the IPv6 address")
    host, rest = text[1:end], text[end + 1 :]
    if rest and not rest.startswith(":"):
        raise vol.Invalid(f"{name} {text!r}: only ':port' may follow the bracketed address")
    if host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise vol.Invalid(f"{name} {text!r}: {host!r} is not an IPv6 address") from None
    return host, rest[1:] if rest else None


def split_host_port(value: str, name: str = "hostName") -> tuple[str, int | None]:
    """``host:port``, ``host``, ``[v6addr]:port`` or ``[v6addr]`` -> (host, port or None); errors name ``name``."""
    text = value.strip()
    if "://" in text:
        raise vol.Invalid(f"{name} is host:port without a scheme; remove {text.split('://')[0]}:// from {text!r}")
    if text.startswith("["):
        host, port_text = _split_bracketed(text, name)
    elif text.count(":") > 1:
        raise vol.Invalid(f"{name} {text!r}: put an IPv6 address in brackets, e.g. [2001:db8::1]:8883")
    else:
        host, colon, port_text = text.partition(":")
        port_text = port_text if colon else None
        if host and not _HOST(host):
            raise vol.Invalid(f"{name} {text!r}: {host!r} is not a host name or an IP address")
    if not host:
        raise vol.Invalid(f"{name} {text!r} has no host; write host:port, e.g. broker.example.com:8883")
    if port_text is None:
        return host, None
    if not _PORT(port_text) or not 1 <= int(port_text) <= 65535:
        raise vol.Invalid(f"{name} {text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def host_port(name: str = "hostName") -> Callable[[Any], str]:
    """Voluptuous validator: ``host[:port]`` text (see :func:`split_host_port`) -> the text, stripped."""

    @with_form(type="string", format="host-port")
    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"{name} must be text such as broker.example.com:8883")
        split_host_port(value, name)
        return value.strip()

    return validate


# ---------------------------------------------------------------------------------------------- MQTT topics


def publish_topic_pattern(environment: SandboxedEnvironment, fields: TopicFields | None = None) -> Callable[[Any], str]:
    """Voluptuous validator: a topic pattern to publish to (``{DevEUI}`` fields, JsonPath, Jinja), compiled with
    ``environment`` (the host's, with the plugins' filters) and the caller's ``fields`` (their rules and probe)."""

    @with_form(type="string", format="topic-pattern")
    def validate(value: Any) -> str:
        try:
            compile_topic_pattern(value, environment, fields=fields or TopicFields())
        except TemplateError as exc:
            raise vol.Invalid(str(exc)) from None
        return value

    return validate


@with_form(type="string", format="topic-pattern")
def subscribe_topic_pattern(value: Any) -> str:
    """Voluptuous validator: a topic pattern to subscribe to, its ``{Field}`` levels becoming wildcards."""
    try:
        subscription_for_pattern(value)
    except TemplateError as exc:
        raise vol.Invalid(str(exc)) from None
    return value


@with_form(type="string", format="topic-filter")
def subscribe_filter(value: Any) -> str:
    """Voluptuous validator: a plain MQTT topic filter (``+`` and ``#`` as whole levels, ``#`` last)."""
    if not isinstance(value, str) or not value or "\x00" in value or len(value.encode()) > 65535:
        raise vol.Invalid(f"topic must be a non-empty MQTT topic filter, got {value!r}")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise vol.Invalid(f"'#' must be a whole level and the last one: {value!r}")
        if "+" in level and level != "+":
            raise vol.Invalid(f"'+' must be a whole level: {value!r}")
    return value


# ---------------------------------------------------------------------------------------------- PEM
# cryptography (some 10 MB) is imported where PEM text is checked, not at start.

_TO_PKCS8 = "convert it with: openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8"
_DATE_FORMAT = "%Y-%m-%d %H:%M UTC"


def load_pem_certificates(value: Any, name: str) -> list[x509.Certificate]:
    """The certificates of PEM text; vol.Invalid naming ``name`` when it is not that."""
    from cryptography import x509

    if not isinstance(value, str) or "-----BEGIN CERTIFICATE-----" not in value:
        raise vol.Invalid(f"{name} must be PEM text from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
    try:
        return x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise vol.Invalid(f"{name} could not be read: the PEM text is damaged or incomplete") from None


def pem_certificates(name: str) -> Callable[[Any], str]:
    """Voluptuous validator: PEM text holding one or more certificates (a CA bundle)."""

    @with_form(type="string", format="pem")
    def validate(value: Any) -> str:
        load_pem_certificates(value, name)
        return value

    return validate


def client_certificate(name: str) -> Callable[[Any], str]:
    """Voluptuous validator: a PEM certificate valid now (its period is named when it is not)."""

    @with_form(type="string", format="pem")
    def validate(value: Any) -> str:
        certificate = load_pem_certificates(value, name)[0]
        now = datetime.now(UTC)
        valid_from, valid_until = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        period = f"valid from {valid_from:{_DATE_FORMAT}} to {valid_until:{_DATE_FORMAT}}"
        if now > valid_until:
            raise vol.Invalid(f"{name} expired on {valid_until:{_DATE_FORMAT}} ({period}); give a renewed certificate")
        if now < valid_from:
            raise vol.Invalid(f"{name} is not valid yet ({period}); check the clock or the certificate")
        return value

    return validate


def load_pem_private_key(value: str, name: str = "privateKey") -> Any:
    """The unencrypted private key of PEM text (a cryptography key object)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise vol.Invalid(f"{name} could not be read: the PEM text is damaged or incomplete") from None


def pkcs8_private_key(name: str = "privateKey") -> Callable[[Any], str]:
    """Voluptuous validator: an unencrypted PKCS#8 PEM key; other forms are refused with the command that
    converts them. The key never appears in a message."""

    @with_form(type="string", format="pem")
    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"{name} must be PEM text (-----BEGIN PRIVATE KEY-----)")
        if "-----BEGIN ENCRYPTED PRIVATE KEY-----" in value or "Proc-Type: 4,ENCRYPTED" in value:
            raise vol.Invalid(f"{name} is encrypted; give it unencrypted in PKCS#8 form: {_TO_PKCS8}")
        for header, form in (("RSA PRIVATE KEY", "PKCS#1"), ("EC PRIVATE KEY", "SEC1")):
            if f"-----BEGIN {header}-----" in value:
                raise vol.Invalid(
                    f"{name} must be PKCS#8 (-----BEGIN PRIVATE KEY-----), this is {form} "
                    f"(-----BEGIN {header}-----); {_TO_PKCS8}"
                )
        if "-----BEGIN PRIVATE KEY-----" not in value:
            raise vol.Invalid(f"{name} must be a PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)")
        load_pem_private_key(value, name)
        return value

    return validate


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt word, or None."""
    matches = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
