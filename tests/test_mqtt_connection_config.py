"""The actility-mqtt-iot connection configuration: every rule, the typed settings and the TLS context."""

from __future__ import annotations

import os
import ssl
import stat
import tempfile
from pathlib import Path

import pytest
import voluptuous as vol

from flowhost.templating import create_environment
from flowhost_builtins.mqtt_connection_config import (
    CONFIGURATION_SCHEMA,
    SECRET_FIELDS,
    build_ssl_context,
    configuration_schema,
    settings_from_configuration,
)
from tests.support.certs import PKI, CertKey

THINGPARK_EXAMPLE = {
    "description": "MQTT (SSL) connection test",
    "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
    "downlinkTopicPattern": "mqtt/things/{DevEUI}/downlink",
    "hostName": "b-6a3pom65-375p-0c13-8c99-ce3zg05cp137-1.mq.eu-central-1.amazonaws.com:8883",
    "protocol": "SSL",
    "username": "myusername",
    "password": "mypassword",
    "uplinkTimeValidity": "10m",
}
MINIMAL = {"uplinkTopicPattern": "up/{DevEUI}", "hostName": "broker.example.com"}


def errors_of(configuration: dict) -> dict[str, str]:
    """Each error message keyed by the configuration key it is about."""
    with pytest.raises(vol.MultipleInvalid) as caught:
        CONFIGURATION_SCHEMA(configuration)
    return {str(error.path[0]) if error.path else "": error.msg for error in caught.value.errors}


def error_of(configuration: dict, key: str) -> str:
    errors = errors_of(configuration)
    assert key in errors, errors
    return errors[key]


def with_client(pki: PKI, cert_key: CertKey, **extra: object) -> dict:
    return {**MINIMAL, "certificate": cert_key.cert_pem, "privateKey": cert_key.key_pem, **extra}


# ------------------------------------------------------------------------------------ the ThingPark example


def test_thingpark_example_validates_with_defaults() -> None:
    configuration = CONFIGURATION_SCHEMA(THINGPARK_EXAMPLE)
    assert configuration["uplinkTimeValidity"] == 600.0
    assert {key: configuration[key] for key in configuration if key not in THINGPARK_EXAMPLE} == {
        "connectionTimeout": 5000,
        "actionTimeout": 1000,
        "qos": 1,
        "retain": False,
        "keepAlive": 60.0,
        "mqttVersion": "3.1.1",
        "wsPath": "/mqtt",
        "wsOnePacketPerFrame": False,
        "outboxSize": 10_000,
        "outboxOverflow": "refuse",
        "durableOutbox": True,
        "outboxSync": False,
        "deadLetterLimit": 1000,
        "reconnectMaxDelay": 60.0,
        "sessionExpiry": 86_400.0,
        "downlinkEnabled": True,
        "acceptRetainedDownlinks": False,
        "sendMetadata": False,
        "sendRawDecodedFormat": False,
    }


def test_thingpark_example_settings() -> None:
    settings = settings_from_configuration("aws-mq", CONFIGURATION_SCHEMA(THINGPARK_EXAMPLE))
    assert settings.host == "b-6a3pom65-375p-0c13-8c99-ce3zg05cp137-1.mq.eu-central-1.amazonaws.com"
    assert (settings.port, settings.protocol, settings.uses_tls) == (8883, "SSL", True)
    assert (settings.connection_timeout, settings.action_timeout, settings.uplink_time_validity) == (
        5,
        1,
        600,
    )
    assert settings.client_id == "flowhost-aws-mq"
    assert settings.uplink_topic.render({"DevEUI": "0018b20000000b20"}) == "mqtt/things/0018B20000000B20/uplink"
    assert settings.downlink_subscription == "mqtt/things/+/downlink"
    assert settings.alpn_protocols == ()


def test_secrets_are_named_and_not_in_the_settings_repr() -> None:
    assert SECRET_FIELDS == {"password", "privateKey", "downlinkAsKey"}
    settings = settings_from_configuration("c", CONFIGURATION_SCHEMA(THINGPARK_EXAMPLE))
    assert settings.password == "mypassword"
    assert "mypassword" not in repr(settings)


# ------------------------------------------------------------------------------------ keys


def test_unknown_key_is_refused_with_the_closest_valid_key() -> None:
    errors = errors_of({**MINIMAL, "hostname": "x", "zzzzzz": 1})
    assert errors["hostname"] == "unknown key 'hostname' (did you mean 'hostName'?)"
    assert errors["zzzzzz"] == "unknown key 'zzzzzz'"


def test_required_keys() -> None:
    assert "required key not provided" in error_of({"hostName": "h"}, "uplinkTopicPattern")
    assert "required key not provided" in error_of({"uplinkTopicPattern": "u/{DevEUI}"}, "hostName")


def test_configuration_must_be_a_mapping() -> None:
    with pytest.raises(vol.Invalid, match="configuration must be a mapping"):
        CONFIGURATION_SCHEMA(["hostName"])


# ------------------------------------------------------------------------------------ hostName and protocol


@pytest.mark.parametrize(
    ("host_name", "protocol", "host", "port"),
    [
        ("broker.example.com", "TCP", "broker.example.com", 1883),
        ("broker.example.com", "SSL", "broker.example.com", 8883),
        ("broker.example.com", "WSS", "broker.example.com", 443),
        ("broker.example.com:9001", "WSS", "broker.example.com", 9001),
        ("10.0.0.7:1884", "TCP", "10.0.0.7", 1884),
        ("[2001:db8::1]:8884", "SSL", "2001:db8::1", 8884),
        ("[::1]", "TCP", "::1", 1883),
        (" localhost:1883 ", "TCP", "localhost", 1883),
    ],
)
def test_host_name_and_default_port_by_protocol(host_name: str, protocol: str, host: str, port: int) -> None:
    configuration = CONFIGURATION_SCHEMA({**MINIMAL, "hostName": host_name, "protocol": protocol})
    settings = settings_from_configuration("c", configuration)
    assert (settings.host, settings.port) == (host, port)


@pytest.mark.parametrize(
    ("host_name", "message"),
    [
        (":1883", "hostName ':1883' has no host; write host:port"),
        ("", "has no host"),
        ("[]:1883", "has no host"),
        ("mqtts://broker.example.com:8883", "hostName is host:port without a scheme; remove mqtts://"),
        ("broker.example.com:0", "the port must be a number from 1 to 65535"),
        ("broker.example.com:65536", "the port must be a number from 1 to 65535"),
        ("broker.example.com:", "the port must be a number"),
        ("broker.example.com:http", "the port must be a number"),
        ("2001:db8::1", "put an IPv6 address in brackets, e.g. [2001:db8::1]:8883"),
        ("[2001:db8::1:8883", "has no ']' after the IPv6 address"),
        ("[broker]:8883", "'broker' is not an IPv6 address"),
        ("[::1]8883", "only ':port' may follow the bracketed address"),
        ("bad host:1883", "'bad host' is not a host name or an IP address"),
        (1883, "hostName must be text"),
    ],
)
def test_bad_host_name(host_name: object, message: str) -> None:
    assert message in error_of({**MINIMAL, "hostName": host_name}, "hostName")


def test_protocol_is_ssl_by_default_and_case_insensitive() -> None:
    assert CONFIGURATION_SCHEMA(MINIMAL)["protocol"] == "SSL"
    assert CONFIGURATION_SCHEMA({**MINIMAL, "protocol": "wss"})["protocol"] == "WSS"
    assert error_of({**MINIMAL, "protocol": "HTTP"}, "protocol") == "protocol must be SSL, WSS or TCP, got 'HTTP'"


def test_websocket_url_uses_ws_path_and_brackets_ipv6() -> None:
    configuration = CONFIGURATION_SCHEMA({**MINIMAL, "hostName": "[::1]:9001", "protocol": "WSS", "wsPath": "/ws"})
    assert settings_from_configuration("c", configuration).websocket_url == "wss://[::1]:9001/ws"


# ------------------------------------------------------------------------------------ numbers and durations


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("connectionTimeout", 20_000, "connectionTimeout must be between 100 and 10000 ms, got 20000"),
        ("connectionTimeout", 10, "connectionTimeout must be between 100 and 10000 ms, got 10"),
        ("actionTimeout", 10_001, "actionTimeout must be between 100 and 10000 ms, got 10001"),
        ("actionTimeout", True, "actionTimeout must be a whole number ms, got True"),
        ("actionTimeout", 1.5, "actionTimeout must be a whole number ms"),
        ("qos", 3, "qos must be between 0 and 2, got 3"),
        ("downlinkPort", 0, "downlinkPort must be between 1 and 224, got 0"),
        ("downlinkPort", 225, "downlinkPort must be between 1 and 224, got 225"),
        ("outboxSize", 0, "outboxSize must be between 1 and 1000000"),
        ("uplinkTimeValidity", "10 minutes", "'10 minutes' is not a duration"),
        ("uplinkTimeValidity", "0s", "must be longer than 0s"),
        ("keepAlive", "20h", "must be between 0s and 65535s"),
        ("reconnectMaxDelay", "2h", "must be between 1s and 3600s"),
        ("mqttVersion", "4", "mqttVersion must be '3.1.1' or '5', got '4'"),
        ("wsPath", "mqtt", "wsPath must start with '/'"),
        ("retain", "perhaps", "expected boolean"),
        ("clientId", "", "length of value must be at least 1"),
        ("sharedSubscriptionGroup", "a/b", "sharedSubscriptionGroup must be a name without '/'"),
    ],
)
def test_value_out_of_range_names_its_key(key: str, value: object, message: str) -> None:
    assert message in error_of({**MINIMAL, key: value}, key)


def test_numbers_given_as_text_and_durations_become_seconds() -> None:
    configuration = CONFIGURATION_SCHEMA(
        {
            **MINIMAL,
            "connectionTimeout": "10000",
            "actionTimeout": 100,
            "uplinkTimeValidity": "72h",
            "keepAlive": "30s",
            "reconnectMaxDelay": "5m",
            "qos": "0",
            "retain": "true",
            "mqttVersion": 5,
            "downlinkPort": 224,
            "clientId": "gateway-1",
        }
    )
    settings = settings_from_configuration("c", configuration)
    assert (settings.connection_timeout, settings.action_timeout) == (10.0, 0.1)
    assert (settings.uplink_time_validity, settings.keep_alive, settings.reconnect_max_delay) == (
        259200,
        30,
        300,
    )
    assert (settings.qos, settings.retain, settings.mqtt_version) == (0, True, "5")
    assert (settings.downlink_port, settings.client_id) == (224, "gateway-1")


# ------------------------------------------------------------------------------------ topics


def test_uplink_pattern_error_comes_from_the_template_compiler() -> None:
    message = error_of({**MINIMAL, "uplinkTopicPattern": "up/{DevEUI"}, "uplinkTopicPattern")
    assert message == "uplinkTopicPattern: unbalanced '{' (no closing '}') at character 4 of 'up/{DevEUI'"


def test_uplink_pattern_may_use_filters_of_the_given_environment() -> None:
    configuration = {**MINIMAL, "uplinkTopicPattern": "up/{{ DevEUI | site }}"}
    assert "No filter named 'site'" in error_of(configuration, "uplinkTopicPattern")

    def prepare(environment) -> None:
        environment.filters["site"] = lambda dev_eui: f"site-{dev_eui[-4:]}"

    environment = create_environment(prepare)
    validated = configuration_schema(environment)(configuration)
    settings = settings_from_configuration("c", validated, environment)
    assert settings.uplink_topic.render({"DevEUI": "0018B20000000B20"}) == "up/site-0B20"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("down/{{ DevEUI }}", "Jinja is not allowed in a downlink pattern"),
        ("down/{DevEUI|'x'}", "a downlink placeholder names one field only"),
        ("down/x{DevEUI}", "must fill a whole topic level"),
    ],
)
def test_downlink_pattern_holds_only_plain_placeholders(pattern: str, message: str) -> None:
    assert message in error_of({**MINIMAL, "downlinkTopicPattern": pattern}, "downlinkTopicPattern")


def test_downlink_pattern_that_would_receive_uplinks_is_refused() -> None:
    configuration = {**THINGPARK_EXAMPLE, "downlinkTopicPattern": "mqtt/things/{DevEUI}/+"}
    message = error_of(configuration, "downlinkTopicPattern")
    assert message.startswith("downlinkTopicPattern 'mqtt/things/{DevEUI}/+' would also match uplink topics")


def test_downlink_disabled_means_no_subscription() -> None:
    configuration = CONFIGURATION_SCHEMA({**THINGPARK_EXAMPLE, "downlinkEnabled": False})
    settings = settings_from_configuration("c", configuration)
    assert settings.downlink_topic is None
    assert settings.downlink_subscription is None


def test_shared_subscription_needs_mqtt_5_and_prefixes_the_filter() -> None:
    shared = {**THINGPARK_EXAMPLE, "sharedSubscriptionGroup": "workers"}
    assert error_of(shared, "sharedSubscriptionGroup") == "sharedSubscriptionGroup needs mqttVersion 5"
    settings = settings_from_configuration("c", CONFIGURATION_SCHEMA({**shared, "mqttVersion": "5"}))
    assert settings.downlink_subscription == "$share/workers/mqtt/things/+/downlink"


def test_publishing_options() -> None:
    configuration = CONFIGURATION_SCHEMA({**MINIMAL, "sendMetadata": True, "sendRawDecodedFormat": "yes"})
    settings = settings_from_configuration("c", configuration)
    assert (settings.send_metadata, settings.send_raw_decoded_format) == (True, True)


# ------------------------------------------------------------------------------------ certificates and keys


def test_client_certificate_and_pkcs8_key(pki: PKI) -> None:
    configuration = CONFIGURATION_SCHEMA(with_client(pki, pki.client, trustedCaCertficate=pki.ca.cert_pem))
    settings = settings_from_configuration("c", configuration)
    assert (settings.certificate, settings.private_key) == (pki.client.cert_pem, pki.client.key_pem)
    assert settings.trusted_ca_certificates == pki.ca.cert_pem
    assert pki.client.key_pem not in repr(settings)


def test_ca_key_with_corrected_spelling_is_stored_under_thingparks(pki: PKI) -> None:
    configuration = CONFIGURATION_SCHEMA({**MINIMAL, "trustedCaCertificate": pki.ca.cert_pem})
    assert configuration["trustedCaCertficate"] == pki.ca.cert_pem
    assert "trustedCaCertificate" not in configuration


def test_ca_given_twice_with_different_values_is_refused(pki: PKI) -> None:
    configuration = {
        **MINIMAL,
        "trustedCaCertficate": pki.ca.cert_pem,
        "trustedCaCertificate": pki.wrong_ca.cert_pem,
    }
    assert "same setting with different values" in error_of(configuration, "trustedCaCertificate")


def test_several_ca_certificates_are_accepted(pki: PKI) -> None:
    bundle = pki.ca.cert_pem + pki.wrong_ca.cert_pem
    assert CONFIGURATION_SCHEMA({**MINIMAL, "trustedCaCertficate": bundle})["trustedCaCertficate"] == bundle


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("client_rsa_pkcs1", "this is PKCS#1 (-----BEGIN RSA PRIVATE KEY-----)"),
        ("client_ec_sec1", "this is SEC1 (-----BEGIN EC PRIVATE KEY-----)"),
        ("client_encrypted", "privateKey is encrypted; give it unencrypted in PKCS#8 form"),
    ],
)
def test_key_that_is_not_plain_pkcs8_gets_the_conversion_command(pki: PKI, case: str, message: str) -> None:
    error = error_of(with_client(pki, getattr(pki, case)), "privateKey")
    assert message in error
    assert error.endswith("openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8")


def test_key_of_another_certificate_is_refused(pki: PKI) -> None:
    configuration = {**with_client(pki, pki.client), "privateKey": pki.server.key_pem}
    assert "privateKey does not belong to certificate" in error_of(configuration, "privateKey")


def test_expired_certificate_is_refused_with_its_dates(pki: PKI) -> None:
    message = error_of(with_client(pki, pki.expired), "certificate")
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(pki.expired.cert_pem.encode())
    until = certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    since = certificate.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")
    assert message == f"certificate expired on {until} (valid from {since} to {until}); give a renewed certificate"


def test_certificate_not_yet_valid_is_refused(pki: PKI) -> None:
    assert "certificate is not valid yet (valid from" in error_of(with_client(pki, pki.not_yet_valid), "certificate")


def test_certificate_and_key_come_together(pki: PKI) -> None:
    only_certificate = {**MINIMAL, "certificate": pki.client.cert_pem}
    only_key = {**MINIMAL, "privateKey": pki.client.key_pem}
    assert "certificate is given without its privateKey" in error_of(only_certificate, "privateKey")
    assert "privateKey is given without its certificate" in error_of(only_key, "certificate")


def test_tls_material_is_refused_for_tcp(pki: PKI) -> None:
    errors = errors_of(with_client(pki, pki.client, protocol="TCP", trustedCaCertficate=pki.ca.cert_pem))
    for key in ("trustedCaCertficate", "certificate", "privateKey"):
        assert errors[key] == f"{key} applies only to the SSL and WSS protocols; remove it or use SSL"


@pytest.mark.parametrize(
    ("key", "damage", "message"),
    [
        (
            "certificate",
            lambda pem: "not a certificate",
            "certificate must be PEM text from -----BEGIN CERTIFICATE",
        ),
        ("certificate", lambda pem: pem[:120] + pem[-30:], "certificate could not be read"),
        ("trustedCaCertficate", lambda pem: pem[:100] + pem[-26:], "trustedCaCertficate could not be read"),
        ("privateKey", lambda pem: pem[:80] + pem[-30:], "privateKey could not be read"),
        ("privateKey", lambda pem: "ssh-ed25519 AAAA", "privateKey must be a PKCS#8 PEM key"),
    ],
)
def test_unreadable_pem_is_refused(pki: PKI, key: str, damage, message: str) -> None:
    configuration = with_client(pki, pki.client, trustedCaCertficate=pki.ca.cert_pem)
    source = {"privateKey": pki.client.key_pem, "certificate": pki.client.cert_pem}.get(key, pki.ca.cert_pem)
    configuration[key] = damage(source)
    assert message in error_of(configuration, key)


def key_body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----") and ":" not in line]


def test_key_material_never_appears_in_an_error(pki: PKI) -> None:
    cases = [
        with_client(pki, pki.client_rsa_pkcs1),
        with_client(pki, pki.client_encrypted),
        {**with_client(pki, pki.client), "privateKey": pki.server.key_pem},
        {**with_client(pki, pki.client), "privateKey": pki.client.key_pem[:100]},
        {**MINIMAL, "privateKey": pki.client.key_pem, "protocol": "TCP"},
        {**MINIMAL, "privateKey": pki.client.key_pem, "hostname": "typo"},
        {**MINIMAL, "password": 12345678},
    ]
    for configuration in cases:
        with pytest.raises(vol.Invalid) as caught:
            CONFIGURATION_SCHEMA(configuration)
        text = str(caught.value) + repr(caught.value)
        for key in (pki.client_rsa_pkcs1, pki.client_encrypted, pki.client, pki.server):
            assert not any(line in text for line in key_body_lines(key.key_pem))
        assert "12345678" not in text


# ------------------------------------------------------------------------------------ TLS context


def handshake(client_context: ssl.SSLContext, server_context: ssl.SSLContext) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """A TLS handshake between two contexts through memory buffers, as a broker would do it."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(client_in, client_out, server_hostname="localhost")
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    pending = {client, server}
    for _ in range(20):
        for side in list(pending):
            try:
                side.do_handshake()
                pending.discard(side)
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if not pending:
            return client, server
    raise AssertionError("handshake did not finish")


def broker_context(pki: PKI, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server.cert_path, pki.server.key_path)
    context.load_verify_locations(cafile=pki.ca.cert_path)
    context.verify_mode = ssl.CERT_REQUIRED
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def tls_settings(pki: PKI, **extra: object):
    configuration = with_client(pki, pki.client, trustedCaCertficate=pki.ca.cert_pem, **extra)
    return settings_from_configuration("c", CONFIGURATION_SCHEMA(configuration))


def test_context_verifies_the_server_with_tls_1_2_or_later(pki: PKI) -> None:
    context = build_ssl_context(tls_settings(pki))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName", "flowhost test CA"),),)]


def test_context_without_ca_trusts_the_system_store() -> None:
    settings = settings_from_configuration("c", CONFIGURATION_SCHEMA(MINIMAL))
    context = build_ssl_context(settings)
    default = ssl.create_default_context()
    assert len(context.get_ca_certs()) == len(default.get_ca_certs())
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_client_certificate_reaches_the_broker_from_memory(pki: PKI, monkeypatch, tmp_path: Path) -> None:
    loaded_from: list[str] = []
    original = ssl.SSLContext.load_cert_chain

    def spy(self, certfile, keyfile=None, password=None):
        loaded_from.append(str(certfile))
        return original(self, certfile, keyfile, password)

    broker = broker_context(pki)
    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _, server = handshake(build_ssl_context(tls_settings(pki)), broker)
    assert dict(item[0] for item in server.getpeercert()["subject"])["commonName"] == "flowhost-test-client"
    assert loaded_from and loaded_from[0].startswith("/proc/self/fd/")
    assert list(tmp_path.iterdir()) == []


def test_without_memfd_the_key_goes_to_disk_only_encrypted(pki: PKI, monkeypatch, tmp_path: Path) -> None:
    seen: list[tuple[str, int, str]] = []
    original = ssl.SSLContext.load_cert_chain

    def spy(self, certfile, keyfile=None, password=None):
        seen.append((str(certfile), stat.S_IMODE(os.stat(certfile).st_mode), Path(certfile).read_text()))
        return original(self, certfile, keyfile, password)

    monkeypatch.delattr(os, "memfd_create", raising=False)
    broker = broker_context(pki)
    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _, server = handshake(build_ssl_context(tls_settings(pki)), broker)
    assert dict(item[0] for item in server.getpeercert()["subject"])["commonName"] == "flowhost-test-client"
    [(path, mode, content)] = seen
    assert Path(path).parent == tmp_path
    assert mode == 0o600
    assert "-----BEGIN ENCRYPTED PRIVATE KEY-----" in content
    assert "-----BEGIN PRIVATE KEY-----" not in content
    assert list(tmp_path.iterdir()) == []


def test_wrong_server_certificate_fails_the_handshake(pki: PKI) -> None:
    settings = settings_from_configuration(
        "c", CONFIGURATION_SCHEMA({**MINIMAL, "trustedCaCertficate": pki.wrong_ca.cert_pem})
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(build_ssl_context(settings), broker_context(pki))


@pytest.mark.parametrize(
    ("host_name", "alpn"),
    [
        ("a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com:443", "x-amzn-mqtt-ca"),
        ("a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com:8883", None),
        ("broker.example.com:443", None),
    ],
)
def test_alpn_for_aws_iot_on_port_443(pki: PKI, host_name: str, alpn: str | None) -> None:
    settings = tls_settings(pki, hostName=host_name)
    client, _ = handshake(build_ssl_context(settings), broker_context(pki, alpn=["x-amzn-mqtt-ca"]))
    assert client.selected_alpn_protocol() == alpn


def test_outbox_sync_needs_a_durable_outbox() -> None:
    configuration = {**MINIMAL, "durableOutbox": False, "outboxSync": True}
    assert "outboxSync needs durableOutbox: true" in error_of(configuration, "outboxSync")
    validated = CONFIGURATION_SCHEMA({**MINIMAL, "outboxSync": True})
    assert settings_from_configuration("c", validated).outbox_sync is True
