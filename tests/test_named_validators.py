"""The public named validators of flowhost.validation: each carries its form, errors name the field."""

from __future__ import annotations

import pytest
import voluptuous as vol

from flowhost import validation
from flowhost.api.forms import form_fields
from flowhost.templating import create_environment

FACTORIES = {
    "duration_between": (1, 60),
    "whole_number": ("qos", 0, 2),
    "host_port": ("hostName",),
    "eui64": ("JoinEUI",),
    "publish_topic_pattern": (create_environment(),),
    "pem_certificates": ("ca",),
    "client_certificate": ("certificate",),
    "pkcs8_private_key": ("privateKey",),
}
NOT_VALIDATORS = {"closest", "parse_duration", "split_host_port", "load_pem_certificates", "load_pem_private_key"}


@pytest.mark.parametrize("name", sorted(set(validation.__all__) - NOT_VALIDATORS - {"with_form"}))
def test_every_public_validator_describes_its_form(name):
    made = getattr(validation, name)(*FACTORIES[name]) if name in FACTORIES else getattr(validation, name)
    [field] = form_fields(vol.Schema({vol.Required("x"): made}))
    assert field["type"] != "string" or "format" in field, f"{name} would be a bare text box"


def test_forms_carry_bounds_units_and_formats():
    fields = {
        field["name"]: field
        for field in form_fields(
            vol.Schema(
                {
                    vol.Required("timeout"): validation.whole_number("timeout", 100, 10_000, "ms"),
                    vol.Required("qos"): validation.whole_number("qos", 0, 2),
                    vol.Required("wait"): validation.duration_between(1, 60),
                    vol.Required("host"): validation.host_port("host"),
                    vol.Required("filter"): validation.subscribe_filter,
                }
            )
        )
    }
    assert fields["timeout"] == {
        "name": "timeout",
        "type": "integer",
        "min": 100,
        "max": 10000,
        "unit": "ms",
        "required": True,
    }
    assert "unit" not in fields["qos"] and fields["qos"]["max"] == 2
    assert fields["wait"] == {
        "name": "wait",
        "type": "string",
        "format": "duration",
        "min": 1,
        "max": 60,
        "unit": "s",
        "required": True,
    }
    assert fields["host"]["format"] == "host-port" and fields["filter"]["format"] == "topic-filter"


def test_whole_numbers_take_digits_as_text():
    assert validation.whole_number("qos", 0, 2)("2") == 2 and validation.whole_number("qos", 0, 2)(0) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, "qos must be between 0 and 2, got 3"),
        ("two", "qos must be a whole number, got 'two'"),
        (True, "qos must be a whole number, got True"),
    ],
)
def test_whole_numbers_out_of_range_or_not_whole(value, message):
    with pytest.raises(vol.Invalid, match=message):
        validation.whole_number("qos", 0, 2)(value)


def test_a_unit_is_named_in_the_message():
    with pytest.raises(vol.Invalid, match="between 100 and 10000 ms, got 50"):
        validation.whole_number("actionTimeout", 100, 10_000, "ms")(50)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("broker.example.com:8883", ("broker.example.com", 8883)), ("[::1]", ("::1", None)), ("h", ("h", None))],
)
def test_host_port_splits(text, expected):
    assert validation.split_host_port(text, "server") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mqtts://broker:8883", "server is host:port without a scheme; remove mqtts://"),
        ("[::1", "server '\\[::1' has no ']'"),
        ("2001:db8::1", "put an IPv6 address in brackets"),
        ("broker:99999", "the port must be a number from 1 to 65535"),
        (":8883", "has no host"),
    ],
)
def test_host_port_names_the_field_in_its_errors(text, message):
    with pytest.raises(vol.Invalid, match=message):
        validation.host_port("server")(text)


@pytest.mark.parametrize("value", ["a/+/c", "#", "a/b/#", "+"])
def test_subscribe_filters(value):
    assert validation.subscribe_filter(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a/#/b", "'#' must be a whole level"),
        ("a+/b", r"'\+' must be a whole level"),
        ("", "non-empty MQTT topic filter"),
    ],
)
def test_bad_subscribe_filters(value, message):
    with pytest.raises(vol.Invalid, match=message):
        validation.subscribe_filter(value)


def test_topic_patterns_compile_while_validating():
    publish = validation.publish_topic_pattern(create_environment())
    assert publish("up/{DevEUI}") == "up/{DevEUI}"
    with pytest.raises(vol.Invalid):
        publish("up/{{ DevEUI")
    assert validation.subscribe_topic_pattern("down/{DevEUI}") == "down/{DevEUI}"
    with pytest.raises(vol.Invalid):
        validation.subscribe_topic_pattern("down/#/{DevEUI}")


def test_pem_validators_name_the_field_and_never_echo_a_key(pki):
    assert validation.pem_certificates("ca")(pki.ca.cert_pem) == pki.ca.cert_pem
    assert validation.client_certificate("cert")(pki.client.cert_pem) == pki.client.cert_pem
    assert validation.pkcs8_private_key("key")(pki.client.key_pem) == pki.client.key_pem
    with pytest.raises(vol.Invalid, match=r"^ca must be PEM text"):
        validation.pem_certificates("ca")("not a certificate")
    with pytest.raises(vol.Invalid, match=r"^cert expired on"):
        validation.client_certificate("cert")(pki.expired.cert_pem)
    with pytest.raises(vol.Invalid, match=r"^cert is not valid yet"):
        validation.client_certificate("cert")(pki.not_yet_valid.cert_pem)
    for pem, form in ((pki.client_rsa_pkcs1.key_pem, "PKCS#1"), (pki.client_ec_sec1.key_pem, "SEC1")):
        with pytest.raises(vol.Invalid, match=f"^key must be PKCS#8 .*this is {form}.*openssl pkcs8") as caught:
            validation.pkcs8_private_key("key")(pem)
        assert pem.splitlines()[1] not in str(caught.value)
    with pytest.raises(vol.Invalid, match=r"^key is encrypted"):
        validation.pkcs8_private_key("key")(pki.client_encrypted.key_pem)
    damaged = pki.client.key_pem.replace(pki.client.key_pem.splitlines()[1], "AAAA")
    with pytest.raises(vol.Invalid, match=r"^key could not be read"):
        validation.pkcs8_private_key("key")(damaged)
