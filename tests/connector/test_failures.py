"""Connections that must not open: wrong CA, wrong host name, bad password, a broker that never answers."""

from __future__ import annotations

import time

import pytest

from tests.connector.conftest import connector_flow
from tests.support.brokers import free_port
from tests.support.mqtt_helpers import wait_until

PATTERN = {"uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink"}
NO_UPLINKS = {"type": "test-emit", "config": {"payloads": []}}


async def test_a_server_certificate_from_another_ca_is_refused(mosquitto, pki, deploy, states):
    configuration = {
        **PATTERN,
        "hostName": f"127.0.0.1:{mosquitto.tls_port}",
        "protocol": "SSL",
        "trustedCaCertficate": pki.wrong_ca.cert_pem,
    }
    connection = await deploy(connector_flow(configuration, source=NO_UPLINKS))
    await wait_until(lambda: connection.state == "UNREACHABLE")
    assert "CERTIFICATE_VERIFY_FAILED" in connection.last_error
    assert "OPENED" not in [state for state, _ in states]


async def test_a_server_certificate_for_another_host_name_is_refused(mosquitto_factory, pki, deploy):
    wrong, port = pki.wrong_host_server, free_port()
    mosquitto_factory(extra_config=f"listener {port} 127.0.0.1\ncertfile {wrong.cert_path}\nkeyfile {wrong.key_path}\n")
    configuration = {
        **PATTERN,
        "hostName": f"localhost:{port}",
        "protocol": "SSL",
        "trustedCaCertficate": pki.ca.cert_pem,
    }
    connection = await deploy(connector_flow(configuration, source=NO_UPLINKS))
    await wait_until(lambda: connection.state == "UNREACHABLE")
    assert "CERTIFICATE_VERIFY_FAILED" in connection.last_error
    assert "localhost" in connection.last_error or "Hostname mismatch" in connection.last_error


async def test_a_wrong_password_gives_authentication_failed(mosquitto_factory, deploy, states):
    broker = mosquitto_factory(users={"integrator": "right-password"}, allow_anonymous=False)
    configuration = {
        **PATTERN,
        "hostName": f"127.0.0.1:{broker.tcp_port}",
        "protocol": "TCP",
        "username": "integrator",
        "password": "wrong-password",
    }
    connection = await deploy(connector_flow(configuration, source=NO_UPLINKS))
    await wait_until(lambda: connection.state == "AUTHENTICATION_FAILED")
    assert [state for state, _ in states][:3] == ["OPENING", "AUTHENTICATING", "AUTHENTICATION_FAILED"]
    assert "wrong-password" not in (connection.last_error or "")
    assert ("OPENING", None) in states


async def test_the_right_password_opens(mosquitto_factory, deploy):
    broker = mosquitto_factory(users={"integrator": "right-password"}, allow_anonymous=False)
    configuration = {
        **PATTERN,
        "hostName": f"127.0.0.1:{broker.tcp_port}",
        "protocol": "TCP",
        "username": "integrator",
        "password": "right-password",
    }
    connection = await deploy(connector_flow(configuration, source=NO_UPLINKS))
    await wait_until(lambda: connection.state == "OPENED")


@pytest.mark.parametrize("timeout_ms", [300, 1200])
async def test_a_broker_that_never_answers_fails_after_connection_timeout(silent_listener, deploy, runtime, timeout_ms):
    host, port = silent_listener
    changes: list[tuple[float, str]] = []
    runtime.add_listener(
        lambda event: (
            changes.append((time.monotonic(), event.data["state"])) if event.kind == "connection_state" else None
        )
    )
    configuration = {
        **PATTERN,
        "hostName": f"{host}:{port}",
        "protocol": "TCP",
        "connectionTimeout": timeout_ms,
    }
    connection = await deploy(connector_flow(configuration, source=NO_UPLINKS))
    await wait_until(lambda: connection.state == "UNREACHABLE", timeout=5)
    opening = next(moment for moment, state in changes if state == "OPENING")
    unreachable = next(moment for moment, state in changes if state == "UNREACHABLE")
    elapsed_ms = (unreachable - opening) * 1000
    # Not before the timeout (timers fire late on a busy machine, never early); the upper bound is generous yet
    # tells the configured timeout from the default of 5 s.
    assert timeout_ms * 0.9 <= elapsed_ms < timeout_ms + 3000, elapsed_ms
    # TCP was accepted and CONNECT sent: the broker had the credentials and never answered
    assert [state for _, state in changes][:3] == ["OPENING", "AUTHENTICATING", "UNREACHABLE"]
    assert "ConnectTimeoutError" in connection.last_error
