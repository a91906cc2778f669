"""The client against a real Mosquitto: every transport, both protocol versions, errors and flow control."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from flowhost.mqtt import (
    MQTT_5,
    MQTT_311,
    BadCredentialsError,
    ConnectionFailedError,
    ConnectRefusedError,
    ConnectTimeoutError,
    KeepAliveTimeoutError,
    MQTTClient,
    NotAuthorizedError,
    NotConnectedError,
    TcpEndpoint,
    WebSocketEndpoint,
    Will,
)
from flowhost.mqtt.transports import READ_SIZE
from tests.support.brokers import PASSWORD, USER

from .helpers import Inbox, client_id, connected, endpoints

VERSIONS = [pytest.param(MQTT_311, id="mqtt311"), pytest.param(MQTT_5, id="mqtt5")]
TRANSPORTS = ["tcp", "tls", "mtls", "ws", "wss"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_publish_and_receive_at_every_qos(mosquitto, pki, transport: str, version: int) -> None:
    endpoint = endpoints(mosquitto, pki)[transport]
    inbox = Inbox()
    topic = f"pubsub/{transport}/{version}"
    async with connected(endpoint, protocol_version=version, on_message=inbox) as client:
        for qos in (0, 1, 2):
            assert await client.subscribe(f"{topic}/{qos}", qos) == qos
        for qos in (0, 1, 2):
            assert await client.publish_and_wait(f"{topic}/{qos}", f"qos {qos}", qos=qos) in (0, 0x10)
        await inbox.wait_for(3)
    received = sorted((message.topic, message.payload, message.qos) for message in inbox.messages)
    assert received == [(f"{topic}/{qos}", f"qos {qos}".encode(), qos) for qos in (0, 1, 2)]


@pytest.mark.parametrize("version", VERSIONS)
async def test_many_qos2_messages_arrive_exactly_once(mosquitto, version: int) -> None:
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    inbox = Inbox()
    async with (
        connected(endpoint, protocol_version=version, on_message=inbox) as subscriber,
        connected(endpoint, protocol_version=version) as publisher,
    ):
        await subscriber.subscribe("exactly-once/#", 2)
        futures = [await publisher.publish("exactly-once/t", str(i), qos=2) for i in range(300)]
        await asyncio.wait_for(asyncio.gather(*futures), 20)
        await inbox.wait_for(300)
        await asyncio.sleep(0.1)  # the behaviour under test: no second copy follows
    assert inbox.payloads == [str(i).encode() for i in range(300)]


async def test_username_and_password(mosquitto) -> None:
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    async with connected(endpoint, username=USER, password=PASSWORD) as client:
        assert client.is_connected


@pytest.mark.parametrize("version", VERSIONS)
async def test_bad_credentials_raise_a_typed_error(mosquitto, version: int) -> None:
    client = MQTTClient(
        TcpEndpoint(mosquitto.host, mosquitto.tcp_port),
        client_id(),
        protocol_version=version,
        username=USER,
        password="wrong",
    )
    with pytest.raises(ConnectRefusedError) as caught:
        await client.connect()
    assert isinstance(caught.value, BadCredentialsError | NotAuthorizedError)
    assert caught.value.reason_code in ((4, 5) if version == MQTT_311 else (0x86, 0x87))
    assert not client.is_connected


@pytest.mark.parametrize("version", VERSIONS)
async def test_anonymous_client_not_authorized(mosquitto_factory, version: int) -> None:
    broker = mosquitto_factory(users={USER: PASSWORD}, allow_anonymous=False)
    client = MQTTClient(TcpEndpoint(broker.host, broker.tcp_port), client_id(), protocol_version=version)
    with pytest.raises(NotAuthorizedError) as caught:
        await client.connect()
    assert caught.value.reason_code == (5 if version == MQTT_311 else 0x87)


async def test_receive_maximum_is_honoured_for_thousands_of_publishes(mosquitto) -> None:
    """Mosquitto announces Receive Maximum 20; 5,000 QoS 1 publishes must neither raise nor get lost."""
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    inbox = Inbox()
    count = 5000
    async with (
        connected(endpoint, on_message=inbox) as subscriber,
        connected(endpoint, max_inflight=1000) as publisher,
    ):
        await subscriber.subscribe("window/#", 1)
        assert publisher.receive_maximum == 20
        futures = []
        highest_inflight = 0
        for i in range(count // 2):
            futures.append(await publisher.publish("window/awaited", b"%d" % i, qos=1))
            highest_inflight = max(highest_inflight, publisher.inflight_count)
        # The fast path never waits: what does not fit the window waits in the client's backlog.
        futures += [publisher.publish_nowait("window/nowait", b"%d" % i, qos=1) for i in range(count // 2, count)]
        assert publisher.backlog_count > 0
        assert publisher.inflight_count <= 20
        await asyncio.wait_for(asyncio.gather(*futures), 60)
        await inbox.wait_for(count, 30)
    assert highest_inflight <= 20
    assert sorted(int(payload) for payload in inbox.payloads) == list(range(count))


async def test_keep_alive_detects_a_silent_broker(mosquitto_factory) -> None:
    broker = mosquitto_factory()
    lost: list[BaseException] = []
    client = MQTTClient(
        TcpEndpoint(broker.host, broker.tcp_port), client_id(), keep_alive=3, on_connection_lost=lost.append
    )
    await client.connect()
    await asyncio.sleep(3.5)  # pings keep an idle connection alive beyond the keep-alive interval
    assert client.is_connected
    broker.pause()
    try:
        # The client checks four times per interval, so it notices within 1.25 x keep-alive; the bound is a
        # generous 2 x (TCP alone would notice nothing for minutes), and the error says keep-alive found it.
        reason = await asyncio.wait_for(client.wait_closed(), 2 * 3)
    finally:
        broker.resume()
    assert isinstance(reason, KeepAliveTimeoutError)
    assert lost == [reason]


@pytest.mark.parametrize("transport", ["tcp", "tls", "ws"])
async def test_connect_timeout_when_the_server_never_answers(silent_listener, pki, transport: str) -> None:
    """The timeout covers every stage: CONNACK over TCP, the TLS handshake, the WebSocket upgrade."""
    host, port = silent_listener
    endpoint = {
        "tcp": TcpEndpoint(host, port),
        "tls": TcpEndpoint(host, port, ssl=pki.client_context()),
        "ws": WebSocketEndpoint(f"ws://{host}:{port}/mqtt"),
    }[transport]
    client = MQTTClient(endpoint, client_id(), connect_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ConnectTimeoutError):
        async with asyncio.timeout(10):  # generous: without the connect timeout, connect() would never end
            await client.connect()
    assert time.monotonic() - started >= 0.9  # not before the timeout: a busy machine is late, never early
    assert not client.is_connected


async def test_connection_refused_is_a_connection_failure() -> None:
    from tests.support.brokers import free_port

    client = MQTTClient(TcpEndpoint("127.0.0.1", free_port()), client_id())
    with pytest.raises(ConnectionFailedError) as caught:
        await client.connect()
    assert isinstance(caught.value.__cause__, OSError)


async def test_tls13_broker_refusing_a_missing_client_certificate_fails_fast(mosquitto_factory, pki) -> None:
    """With TLS 1.3 the handshake completes before the server checks the client certificate; the refusal
    arrives afterwards and must still end connect() well within the connect timeout."""
    broker = mosquitto_factory(tls13_only=True)
    client = MQTTClient(
        TcpEndpoint(broker.host, broker.mtls_port, ssl=pki.client_context()), client_id(), connect_timeout=5.0
    )
    # The refusal ended connect(), not the connect timeout: that would be a ConnectTimeoutError, which is no
    # ConnectionFailedError.
    with pytest.raises(ConnectionFailedError):
        await client.connect()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_ca", "CERTIFICATE_VERIFY_FAILED"),
        ("wrong_host", "CERTIFICATE_VERIFY_FAILED"),
        ("expired", None),
    ],
)
async def test_tls_verification_failures(mosquitto, pki, case: str, expected: str | None) -> None:
    if case == "wrong_ca":
        endpoint = TcpEndpoint(mosquitto.host, mosquitto.tls_port, ssl=pki.client_context(ca=pki.wrong_ca))
    elif case == "wrong_host":
        endpoint = TcpEndpoint(
            mosquitto.host, mosquitto.tls_port, ssl=pki.client_context(), server_hostname="wrong.example.com"
        )
    else:
        # The broker refuses an expired client certificate.
        endpoint = TcpEndpoint(mosquitto.host, mosquitto.mtls_port, ssl=pki.client_context(pki.expired))
    with pytest.raises(ConnectionFailedError) as caught:
        await MQTTClient(endpoint, client_id(), connect_timeout=5.0).connect()
    if expected:
        assert isinstance(caught.value.__cause__, ssl.SSLError)
        assert expected in str(caught.value.__cause__)


@pytest.mark.parametrize("key", ["client", "client_ec_sec1", "client_rsa_pkcs1", "client_encrypted"])
async def test_client_certificate_key_formats(mosquitto, pki, key: str) -> None:
    context = pki.client_context(getattr(pki, key), password="test-key-password")
    async with connected(TcpEndpoint(mosquitto.host, mosquitto.mtls_port, ssl=context)) as client:
        assert client.is_connected


async def test_shared_subscription_splits_messages_between_two_clients(mosquitto) -> None:
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    first, second = Inbox(), Inbox()
    async with (
        connected(endpoint, on_message=first) as one,
        connected(endpoint, on_message=second) as two,
        connected(endpoint) as publisher,
    ):
        await one.subscribe("$share/g1/shared/#", 1)
        await two.subscribe("$share/g1/shared/#", 1)
        futures = [await publisher.publish("shared/t", b"%d" % i, qos=1) for i in range(400)]
        await asyncio.wait_for(asyncio.gather(*futures), 20)
        async with asyncio.timeout(10):
            while len(first.messages) + len(second.messages) < 400:
                await asyncio.sleep(0.02)
    assert first.messages and second.messages
    assert sorted(int(payload) for payload in first.payloads + second.payloads) == list(range(400))


async def test_user_properties_round_trip(mosquitto) -> None:
    inbox = Inbox()
    properties = {"user_property": [("DevEUI", "70B3D57ED0000001"), ("k", "v1"), ("k", "v2")]}
    async with connected(TcpEndpoint(mosquitto.host, mosquitto.tcp_port), on_message=inbox) as client:
        await client.subscribe("props/#", 1)
        await client.publish_and_wait("props/t", b"{}", qos=1, properties=properties)
        (message,) = await inbox.wait_for(1)
    assert message.user_properties == properties["user_property"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_will_is_published_when_the_connection_is_lost(mosquitto, version: int) -> None:
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    inbox = Inbox()
    will_topic = f"will/{version}"
    async with connected(endpoint, on_message=inbox) as watcher:
        await watcher.subscribe(will_topic, 1)
        doomed = MQTTClient(endpoint, client_id(), protocol_version=version, will=Will(will_topic, b"gone", qos=1))
        await doomed.connect()
        doomed.abort()
        (message,) = await inbox.wait_for(1)
        assert (message.topic, message.payload) == (will_topic, b"gone")
        assert await doomed.wait_closed() is None


async def test_clean_disconnect_does_not_publish_the_will(mosquitto) -> None:
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    inbox = Inbox()
    async with connected(endpoint, on_message=inbox) as watcher:
        await watcher.subscribe("will/clean", 1)
        client = MQTTClient(endpoint, client_id(), will=Will("will/clean", b"gone", qos=1))
        await client.connect()
        await client.disconnect()
        await watcher.publish_and_wait("will/clean", b"marker", qos=1)
        await inbox.wait_for(1)
    assert inbox.payloads == [b"marker"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_subscriptions_are_restored_after_reconnecting(mosquitto, version: int) -> None:
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    inbox = Inbox()
    client = MQTTClient(endpoint, client_id(), protocol_version=version, on_message=inbox)
    await client.connect()
    await client.subscribe("resub/a", 1)
    await client.subscribe("resub/b", 0)
    client.abort()
    await client.wait_closed()
    with pytest.raises(NotConnectedError):
        client.publish_nowait("resub/a", b"x")
    result = await client.connect()
    assert not result.session_present
    async with connected(endpoint) as publisher:
        await publisher.publish_and_wait("resub/a", b"a", qos=1)
        await publisher.publish_and_wait("resub/b", b"b", qos=1)
    await inbox.wait_for(2)
    assert sorted(inbox.payloads) == [b"a", b"b"]
    await client.disconnect()


async def test_unsubscribe_stops_delivery(mosquitto) -> None:
    inbox = Inbox()
    async with connected(TcpEndpoint(mosquitto.host, mosquitto.tcp_port), on_message=inbox) as client:
        await client.subscribe("unsub/a", 1)
        await client.subscribe("unsub/b", 1)
        await client.unsubscribe("unsub/a")
        assert list(client.subscriptions) == ["unsub/b"]
        await client.publish_and_wait("unsub/a", b"a", qos=1)
        await client.publish_and_wait("unsub/b", b"b", qos=1)
        await inbox.wait_for(1)
    assert inbox.payloads == [b"b"]


async def test_websocket_refused_upgrade_is_a_connection_failure(mosquitto) -> None:
    # The plain MQTT listener answers an HTTP upgrade with garbage, never with 101.
    endpoint = WebSocketEndpoint(f"ws://{mosquitto.host}:{mosquitto.tcp_port}/mqtt")
    with pytest.raises(ConnectionFailedError):
        await MQTTClient(endpoint, client_id(), connect_timeout=5.0).connect()


@pytest.mark.parametrize("transport", ["ws", "wss"])
async def test_websocket_one_packet_per_frame(mosquitto, pki, transport: str) -> None:
    context = pki.client_context() if transport == "wss" else None
    url = mosquitto.wss_url if transport == "wss" else mosquitto.ws_url
    endpoint = WebSocketEndpoint(url, ssl=context, one_packet_per_frame=True)
    inbox = Inbox()
    async with connected(endpoint, on_message=inbox) as client:
        await client.subscribe("frames/#", 1)
        futures = [client.publish_nowait("frames/t", b"%d" % i, qos=1) for i in range(50)]
        await asyncio.wait_for(asyncio.gather(*futures), 10)
        await inbox.wait_for(50)
    assert inbox.payloads == [b"%d" % i for i in range(50)]


async def test_messages_larger_than_a_read_arrive_whole_in_order(mosquitto) -> None:
    """TCP is read READ_SIZE bytes at a time: a packet spread over many reads, and small ones around it, arrive
    whole and in order, the small ones' acknowledgements included."""
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    inbox = Inbox()
    big = bytes(range(256)) * (3 * READ_SIZE // 256 + 7)
    async with (
        connected(endpoint, on_message=inbox) as subscriber,
        connected(endpoint) as publisher,
    ):
        assert subscriber._connection.transport.max_size == READ_SIZE
        await subscriber.subscribe("reads/#", 1)
        futures = []
        for i in range(20):
            payload = big if i % 5 == 2 else str(i).encode()
            futures.append(await publisher.publish(f"reads/{i}", payload, qos=1))
        await asyncio.wait_for(asyncio.gather(*futures), 20)
        await inbox.wait_for(20)
    assert [message.topic for message in inbox.messages] == [f"reads/{i}" for i in range(20)]
    assert [message.payload for message in inbox.messages] == [
        big if i % 5 == 2 else str(i).encode() for i in range(20)
    ]
