"""Protocol behaviour that real brokers rarely show, played by small scripted servers (TCP and WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from aiohttp import WSMsgType, web
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhost.mqtt import (
    MQTT_5,
    MQTT_311,
    AckTimeoutError,
    BadCredentialsError,
    BrokerStalledError,
    ClientIdRejectedError,
    ConnectionFailedError,
    ConnectionLostError,
    ConnectRefusedError,
    MQTTClient,
    NotAuthorizedError,
    ProtocolError,
    PublishRefusedError,
    PublishTimeoutError,
    ServerDisconnectedError,
    ServerUnavailableError,
    Settlement,
    SubscribeRefusedError,
    UnsupportedProtocolVersionError,
    WebSocketEndpoint,
)
from flowhost.mqtt import packets as p
from tests.support.mqtt_helpers import wait_until

from .helpers import FakeConnection, Inbox, client_id, fake_broker, websocket_server


async def accept(conn: FakeConnection, version: int = MQTT_5, **properties) -> p.Connect:
    connect = await conn.receive()
    assert isinstance(connect, p.Connect)
    await conn.send(p.Connack(False, 0, properties).encode(version))
    return connect


async def idle(conn: FakeConnection) -> None:
    """Answer PINGREQ and ignore everything else until the client leaves."""
    while True:
        packet = await conn.receive(60)
        if isinstance(packet, p.PingReq):
            await conn.send(p.PINGRESP_BYTES)


GARBAGE = [
    pytest.param(b"\x00\x00", id="reserved packet type"),
    pytest.param(b"\x30\xff\xff\xff\xff\x7f", id="remaining length too long"),
    pytest.param(b"\x30\x04\x00\x02\xc3\x28", id="topic not UTF-8"),
    pytest.param(b"\x36\x03\x00\x01a", id="QoS 3"),
    pytest.param(b"\x20\x02\x00\x00", id="second CONNACK"),
    pytest.param(b"\x82\x05\x00\x01\x00\x00\x00", id="SUBSCRIBE sent to a client"),
    pytest.param(b"\x40\x01\x00", id="PUBACK too short"),
]


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_malformed_packet_closes_the_connection_with_protocol_error(garbage: bytes) -> None:
    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        await conn.receive()  # the SUBSCRIBE
        await conn.send(garbage)
        await idle(conn)

    lost: list[BaseException] = []
    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), on_connection_lost=lost.append)
        await client.connect()
        with pytest.raises(ConnectionLostError):
            await client.subscribe("a", 1)
        reason = await asyncio.wait_for(client.wait_closed(), 5)
    assert isinstance(reason, ProtocolError)
    assert lost == [reason]
    await asyncio.sleep(0)  # the loop keeps running


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=48))
def test_whatever_a_broker_sends_the_client_survives(data: bytes) -> None:
    """Random bytes after CONNACK: the client stays connected (bytes that are valid or incomplete) or the
    connection ends with ProtocolError (or the broker's DISCONNECT); nothing escapes into the event loop."""

    async def script(conn: FakeConnection) -> None:
        await conn.receive()
        await conn.send(p.Connack().encode(MQTT_5) + data)
        await idle(conn)

    async def scenario() -> BaseException | None:
        async with fake_broker(script) as endpoint:
            client = MQTTClient(endpoint, client_id())
            await client.connect()
            await asyncio.sleep(0.01)
            if client.is_connected:
                await client.disconnect()
            return client.disconnect_reason

    errors: list[dict] = []
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    try:
        reason = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert reason is None or isinstance(reason, ProtocolError | ServerDisconnectedError)
    assert errors == []


@pytest.mark.parametrize(
    ("version", "code", "error"),
    [
        (MQTT_311, 1, UnsupportedProtocolVersionError),
        (MQTT_311, 2, ClientIdRejectedError),
        (MQTT_311, 3, ServerUnavailableError),
        (MQTT_311, 4, BadCredentialsError),
        (MQTT_311, 5, NotAuthorizedError),
        (MQTT_5, 0x80, ConnectRefusedError),
        (MQTT_5, 0x84, UnsupportedProtocolVersionError),
        (MQTT_5, 0x85, ClientIdRejectedError),
        (MQTT_5, 0x86, BadCredentialsError),
        (MQTT_5, 0x87, NotAuthorizedError),
        (MQTT_5, 0x88, ServerUnavailableError),
        (MQTT_5, 0x89, ServerUnavailableError),
    ],
)
async def test_connack_codes_become_typed_errors(version: int, code: int, error: type) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.receive()
        await conn.send(p.Connack(False, code, {"reason_string": "go away"}).encode(version))
        await idle(conn)

    async with fake_broker(script, version) as endpoint:
        client = MQTTClient(endpoint, client_id(), protocol_version=version)
        with pytest.raises(error) as caught:
            await client.connect()
    assert type(caught.value) is error
    assert caught.value.reason_code == code
    assert not client.is_connected


async def test_connection_closed_before_connack_is_a_connection_failure() -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.receive()

    async with fake_broker(script) as endpoint:
        with pytest.raises(ConnectionFailedError, match="before CONNACK"):
            await MQTTClient(endpoint, client_id()).connect()


@pytest.mark.parametrize(("version", "code"), [(MQTT_311, 0x80), (MQTT_5, 0x87)])
async def test_refused_subscription_raises_and_is_forgotten(version: int, code: int) -> None:
    async def script(conn: FakeConnection) -> None:
        await accept(conn, version)
        subscribe = await conn.receive()
        await conn.send(p.Suback(subscribe.packet_id, [1, code]).encode(version))
        await idle(conn)

    async with fake_broker(script, version) as endpoint:
        client = MQTTClient(endpoint, client_id(), protocol_version=version)
        await client.connect()
        with pytest.raises(SubscribeRefusedError) as caught:
            await client.subscribe_many([p.Subscription("ok/#", 1), p.Subscription("secret/#", 1)])
        assert (caught.value.topic_filter, caught.value.reason_code) == ("secret/#", code)
        assert list(client.subscriptions) == ["ok/#"]
        await client.disconnect()


async def test_unanswered_subscribe_times_out() -> None:
    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        await idle(conn)

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), action_timeout=0.3)
        await client.connect()
        with pytest.raises(AckTimeoutError):
            await client.subscribe("a", 1)
        await client.disconnect()


async def test_publish_unacknowledged_by_a_silent_broker_times_out_drops_the_connection_and_is_kept() -> None:
    connections = 0

    async def script(conn: FakeConnection) -> None:
        nonlocal connections
        connections += 1
        await accept(conn)
        if connections == 1:
            await conn.receive()  # the PUBLISH, never acknowledged; PINGREQ unanswered: nothing is sent at all
            while True:
                await conn.receive(60)
        await idle(conn)

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), action_timeout=0.4)
        await client.connect()
        started = time.monotonic()
        future = client.publish_nowait("t", b"x", qos=1)
        with pytest.raises(PublishTimeoutError):
            await asyncio.wait_for(future, 10)  # generous: without the action timeout it would never end
        # action_timeout, then as long for an answer to PINGREQ: not before (late on a busy machine, never early)
        assert time.monotonic() - started >= 0.75
        reason = await asyncio.wait_for(client.wait_closed(), 5)
        assert isinstance(reason, BrokerStalledError)
        assert "not even an answer to PINGREQ" in str(reason)
        assert client.inflight_count == 1  # kept: the broker may have it; the next connect() decides
        result = await client.connect()  # a clean session: handed back, to be published again
        assert [(message.topic, message.payload) for message in result.undelivered] == [("t", b"x")]
        assert client.inflight_count == 0
        await client.disconnect()


async def test_a_broker_slow_to_acknowledge_but_answering_pingreq_is_no_timeout() -> None:
    """A broker that acknowledges late but is alive (it answers the PINGREQ the client sends when an
    acknowledgement is overdue) is waited for: no failure, no second copy of the message."""
    publishes = 0

    async def script(conn: FakeConnection) -> None:
        nonlocal publishes
        await accept(conn)
        publish = await conn.receive()
        publishes += 1
        deadline = asyncio.get_running_loop().time() + 1.2  # three times the action timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            with contextlib.suppress(TimeoutError):
                packet = await conn.receive(left)
                if isinstance(packet, p.PingReq):
                    await conn.send(p.PINGRESP_BYTES)
                elif isinstance(packet, p.Message):
                    publishes += 1
        await conn.send(p.PubAck(publish.packet_id).encode(MQTT_5))
        await idle(conn)

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), action_timeout=0.4)
        await client.connect()
        assert await asyncio.wait_for(client.publish_nowait("t", b"x", qos=1), 5) == 0
        assert client.is_connected and publishes == 1
        await client.disconnect()


async def test_an_acknowledgement_late_behind_other_traffic_is_no_timeout() -> None:
    """A broker that is busy sending (acknowledgements queue behind a flood of inbound messages) is not stalled:
    the publish is neither failed nor sent again, and its late acknowledgement completes it."""
    received: list[bytes] = []

    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        publish = await conn.receive()
        for number in range(12):  # 1.2 s of other traffic, three times the action timeout
            await asyncio.sleep(0.1)
            await conn.send(p.Message("flood", str(number).encode()).encode(MQTT_5))
        await conn.send(p.PubAck(publish.packet_id).encode(MQTT_5))
        await idle(conn)

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), action_timeout=0.4, on_message=lambda m: received.append(m.payload))
        await client.connect()
        assert await asyncio.wait_for(client.publish_nowait("t", b"x", qos=1), 5) == 0
        # An ordering, not a timing: the acknowledgement came behind all 1.2 s of the flood, and still counted
        assert len(received) == 12
        assert client.is_connected and client.inflight_count == 0
        await client.disconnect()


async def test_puback_failure_code_is_a_publish_refused_error() -> None:
    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        publish = await conn.receive()
        await conn.send(p.PubAck(publish.packet_id, 0x87).encode(MQTT_5))
        publish = await conn.receive()
        await conn.send(p.PubRec(publish.packet_id, 0x97).encode(MQTT_5))
        await idle(conn)

    async with fake_broker(script) as endpoint:
        async with asyncio.timeout(5):
            client = MQTTClient(endpoint, client_id())
            await client.connect()
            with pytest.raises(PublishRefusedError) as caught:
                await client.publish_and_wait("forbidden", b"x", qos=1)
            assert caught.value.reason_code == 0x87
            with pytest.raises(PublishRefusedError) as caught:
                await client.publish_and_wait("over-quota", b"x", qos=2)
            assert caught.value.reason_code == 0x97
            assert client.inflight_count == 0
            await client.disconnect()


async def test_on_done_reports_each_publish_instead_of_a_future() -> None:
    """publish_nowait(on_done=...): the callback gets (reason code, None) on acknowledgement, (None, error) when
    the broker refuses or the connection is lost, and (0, None) for QoS 0 once written."""

    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        accepted, refused, _unanswered = await conn.receive(), await conn.receive(), await conn.receive()
        await conn.send(p.PubAck(accepted.packet_id).encode(MQTT_5))
        await conn.send(p.PubAck(refused.packet_id, 0x87).encode(MQTT_5))
        await wait_until(lambda: {"accepted", "refused"} <= outcomes.keys(), 5, "both acknowledgements handled")
        await conn.send(p.Disconnect(0x80, {}).encode(MQTT_5))

    outcomes: dict[str, tuple] = {}
    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id())
        await client.connect()
        for topic in ("accepted", "refused", "unanswered"):
            returned = client.publish_nowait(
                topic, b"x", qos=1, on_done=lambda code, error, topic=topic: outcomes.setdefault(topic, (code, error))
            )
            assert returned is None
        client.publish_nowait("qos0", b"x", on_done=lambda code, error: outcomes.setdefault("qos0", (code, error)))
        assert outcomes == {"qos0": (0, None)}
        await asyncio.wait_for(client.wait_closed(), 5)
    assert outcomes["accepted"] == (0, None)
    assert outcomes["refused"][0] is None and isinstance(outcomes["refused"][1], PublishRefusedError)
    assert outcomes["unanswered"][0] is None and isinstance(outcomes["unanswered"][1], ConnectionLostError)


async def test_publishes_beyond_the_limits_announced_in_connack_are_refused_without_sending() -> None:
    received: list[p.Packet] = []

    async def script(conn: FakeConnection) -> None:
        await accept(conn, maximum_qos=1, retain_available=0, maximum_packet_size=200)
        while True:
            packet = await conn.receive()
            received.append(packet)
            if isinstance(packet, p.Message) and packet.qos:
                await conn.send(p.PubAck(packet.packet_id).encode(MQTT_5))

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id())
        await client.connect()
        refused = {
            0x9B: client.publish_nowait("t", b"exactly once", qos=2),
            0x9A: client.publish_nowait("t", b"keep me", qos=0, retain=True),
            0x95: client.publish_nowait("t", b"x" * 200, qos=1),
        }
        for code, future in refused.items():
            with pytest.raises(PublishRefusedError) as caught:
                await future
            assert caught.value.reason_code == code
        assert await client.publish_and_wait("t", b"x" * 100, qos=1) == 0
        await client.disconnect()
    assert [m.payload for m in received if isinstance(m, p.Message)] == [b"x" * 100]


async def test_receive_maximum_from_connack_bounds_the_window() -> None:
    most_unacknowledged = 0

    async def script(conn: FakeConnection) -> None:
        nonlocal most_unacknowledged
        await accept(conn, receive_maximum=3)
        pending: list[int] = []
        while True:
            packet = await conn.receive()
            if isinstance(packet, p.Message):
                pending.append(packet.packet_id)
                most_unacknowledged = max(most_unacknowledged, len(pending))
                if len(pending) == 3:
                    await asyncio.sleep(0.01)  # acknowledge late, in a burst
                    await conn.send(b"".join(p.PubAck(pid).encode(MQTT_5) for pid in pending))
                    pending.clear()

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id())
        await client.connect()
        assert client.receive_maximum == 3
        futures = [await client.publish("t", b"%d" % i, qos=1) for i in range(30)]
        await asyncio.wait_for(asyncio.gather(*futures), 10)
        await client.disconnect()
    assert most_unacknowledged == 3


async def test_inbound_qos2_is_delivered_exactly_once_and_qos1_is_acknowledged() -> None:
    answers: list[p.Packet] = []

    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        message = p.Message("in/2", b"once", 2, packet_id=7)
        await conn.send(message.encode(MQTT_5))
        answers.append(await conn.receive())
        message.dup = True
        await conn.send(message.encode(MQTT_5))
        answers.append(await conn.receive())
        await conn.send(p.PubRel(7).encode(MQTT_5))
        answers.append(await conn.receive())
        await conn.send(p.Message("in/1", b"one", 1, packet_id=8).encode(MQTT_5))
        answers.append(await conn.receive())
        await idle(conn)

    inbox = Inbox()
    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), on_message=inbox)
        await client.connect()
        await inbox.wait_for(2)
        async with asyncio.timeout(5):
            while len(answers) < 4:
                await asyncio.sleep(0.01)
        await client.disconnect()
    assert inbox.payloads == [b"once", b"one"]
    assert answers == [p.PubRec(7), p.PubRec(7), p.PubComp(7), p.PubAck(8)]


async def test_message_in_the_same_read_as_connack_is_delivered() -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.receive()
        queued = p.Message("queued", b"early", 1, packet_id=1)
        await conn.send(p.Connack(True, 0).encode(MQTT_5) + queued.encode(MQTT_5))
        assert await conn.receive() == p.PubAck(1)
        await idle(conn)

    inbox = Inbox()
    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), on_message=inbox)
        assert (await client.connect()).session_present
        await inbox.wait_for(1)
        await client.disconnect()


async def test_on_message_exception_is_reported_and_does_not_break_the_connection() -> None:
    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        await conn.send(p.Message("t", b"boom", 1, packet_id=1).encode(MQTT_5))
        await conn.receive()
        await conn.send(p.Message("t", b"fine", 1, packet_id=2).encode(MQTT_5))
        await idle(conn)

    inbox = Inbox()
    reported = []

    def handler(message: p.Message) -> None:
        if message.payload == b"boom":
            raise RuntimeError("handler bug")
        inbox(message)

    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda loop, context: reported.append(context["exception"]))
    try:
        async with fake_broker(script) as endpoint:
            client = MQTTClient(endpoint, client_id(), on_message=handler)
            await client.connect()
            await inbox.wait_for(1)
            assert client.is_connected
            await client.disconnect()
    finally:
        loop.set_exception_handler(previous)
    assert [str(exc) for exc in reported] == ["handler bug"]


async def test_server_disconnect_reason_is_reported() -> None:
    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        await conn.send(p.Disconnect(0x8B, {"reason_string": "maintenance"}).encode(MQTT_5))
        await idle(conn)

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id())
        await client.connect()
        reason = await asyncio.wait_for(client.wait_closed(), 5)
    assert isinstance(reason, ServerDisconnectedError)
    assert reason.reason_code == 0x8B
    assert "maintenance" in str(reason)


# --- WebSocket servers ------------------------------------------------------------------------------------


def mqtt_websocket(script):
    """An aiohttp handler running `script(ws, packets)` on a WebSocket that agreed to the mqtt subprotocol.
    A failing script is recorded in `handler.failures` (websocket_server raises it at the end)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("mqtt",))
        await ws.prepare(request)
        try:
            await script(ws, p.PacketReader(MQTT_5))
        except Exception as exc:
            handler.failures.append(exc)
        await ws.close()
        return ws

    handler.failures = []
    return handler


async def receive_packets(ws: web.WebSocketResponse, reader: p.PacketReader) -> list[p.Packet]:
    msg = await ws.receive(timeout=5)
    assert msg.type is WSMsgType.BINARY, msg
    return reader.feed(msg.data)


async def test_websocket_packets_split_and_joined_across_frames() -> None:
    async def script(ws: web.WebSocketResponse, reader: p.PacketReader) -> None:
        await receive_packets(ws, reader)  # CONNECT
        connack = p.Connack(False, 0, {"receive_maximum": 5}).encode(MQTT_5)
        await ws.send_bytes(connack[:1])
        await ws.send_bytes(connack[1:3])
        await ws.send_bytes(connack[3:])
        (subscribe,) = await receive_packets(ws, reader)
        first = p.Message("ws/a", b"x" * 300, 1, packet_id=1).encode(MQTT_5)
        second = p.Message("ws/b", b"second", 0).encode(MQTT_5)
        await ws.send_bytes(p.Suback(subscribe.packet_id, [1]).encode(MQTT_5) + first[:100])
        await ws.send_bytes(first[100:] + second[:5])
        await ws.send_bytes(second[5:])
        assert (await receive_packets(ws, reader))[0] == p.PubAck(1)
        await ws.receive(timeout=5)

    inbox = Inbox()
    async with websocket_server(mqtt_websocket(script)) as url:
        client = MQTTClient(WebSocketEndpoint(url), client_id(), on_message=inbox)
        await client.connect()
        assert client.receive_maximum == 5
        await client.subscribe("ws/#", 1)
        await inbox.wait_for(2)
        await client.disconnect()
    assert inbox.payloads == [b"x" * 300, b"second"]


async def test_websocket_text_frame_closes_with_protocol_error() -> None:
    async def script(ws: web.WebSocketResponse, reader: p.PacketReader) -> None:
        await receive_packets(ws, reader)
        await ws.send_bytes(p.Connack().encode(MQTT_5))
        await ws.send_str("hello")
        await ws.receive(timeout=5)

    async with websocket_server(mqtt_websocket(script)) as url:
        client = MQTTClient(WebSocketEndpoint(url), client_id())
        await client.connect()
        reason = await asyncio.wait_for(client.wait_closed(), 5)
    assert isinstance(reason, ProtocolError)


async def test_websocket_refused_upgrade_is_a_connection_failure() -> None:
    async def forbidden(request: web.Request) -> web.StreamResponse:
        raise web.HTTPForbidden()

    async with websocket_server(forbidden) as url:
        with pytest.raises(ConnectionFailedError, match="403"):
            await MQTTClient(WebSocketEndpoint(url), client_id()).connect()


async def test_websocket_without_the_mqtt_subprotocol_is_refused() -> None:
    async def no_subprotocol(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive(timeout=5)
        return ws

    async with websocket_server(no_subprotocol) as url:
        with pytest.raises(ConnectionFailedError, match="subprotocol"):
            await MQTTClient(WebSocketEndpoint(url), client_id()).connect()


async def test_websocket_one_packet_per_frame_option() -> None:
    frames: list[bytes] = []

    async def script(ws: web.WebSocketResponse, reader: p.PacketReader) -> None:
        await receive_packets(ws, reader)
        await ws.send_bytes(p.Connack().encode(MQTT_5))
        async for msg in ws:
            frames.append(msg.data)

    for one_per_frame in (True, False):
        frames.clear()
        async with websocket_server(mqtt_websocket(script)) as url:
            endpoint = WebSocketEndpoint(url, one_packet_per_frame=one_per_frame)
            client = MQTTClient(endpoint, client_id())
            await client.connect()
            for i in range(3):
                client.publish_nowait("t", b"%d" % i)
            await client.disconnect()
        packets = [packet for frame in frames for packet in p.PacketReader(MQTT_5).feed(frame)]
        assert [m.payload for m in packets if isinstance(m, p.Message)] == [b"0", b"1", b"2"]
        assert len(frames) == (4 if one_per_frame else 1)  # three PUBLISH and DISCONNECT


class Pending:
    """What on_message returns to acknowledge later: an asyncio.Future, a Settlement, or one made of two."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "future":
            self.handle = asyncio.get_running_loop().create_future()
        elif kind == "settlement":
            self.handle = Settlement()
        else:  # two handlers matched: both must be done
            self.parts = [Settlement(), asyncio.get_running_loop().create_future()]
            self.handle = Settlement.all_of(self.parts)

    def done(self) -> None:
        if self.kind == "future":
            self.handle.set_result(None)
        elif self.kind == "settlement":
            self.handle.release()
        else:
            self.parts[0].release()
            self.parts[1].set_result(None)

    def fail(self, error: BaseException) -> None:
        if self.kind == "future":
            self.handle.set_exception(error)
        elif self.kind == "settlement":
            self.handle.refuse(str(error), retryable=True)
            self.handle.release()
        else:
            self.parts[0].release()
            self.parts[1].set_exception(error)


HANDLE_KINDS = ["future", "settlement", "all_of"]


@pytest.mark.parametrize("kind", HANDLE_KINDS)
async def test_acknowledgements_wait_until_on_message_says_handled_and_keep_their_order(kind: str) -> None:
    answers: list[p.Packet] = []

    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        for packet_id in (1, 2, 3):
            await conn.send(p.Message(f"in/{packet_id}", b"x", 1, packet_id=packet_id).encode(MQTT_5))
        while True:
            answers.append(await conn.receive(60))

    handled = {packet_id: Pending(kind) for packet_id in (1, 2, 3)}
    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), on_message=lambda message: handled[message.packet_id].handle)
        await client.connect()
        # the two sleeps are the behaviour under test: nothing is acknowledged within them
        await asyncio.sleep(0.1)
        assert answers == []  # nothing acknowledged before it was handled
        handled[2].done()
        await asyncio.sleep(0.1)
        assert answers == []  # 2 waits for 1: acknowledgements go in arrival order
        handled[1].done()
        await wait_until(lambda: len(answers) >= 2, 5, "two acknowledgements")
        assert answers == [p.PubAck(1), p.PubAck(2)]
        handled[3].done()
        await wait_until(lambda: len(answers) >= 3, 5, "three acknowledgements")
        assert answers == [p.PubAck(1), p.PubAck(2), p.PubAck(3)]
        await client.disconnect()


@pytest.mark.parametrize("kind", HANDLE_KINDS)
async def test_a_message_that_could_not_be_handled_is_not_acknowledged_and_the_connection_drops(kind: str) -> None:
    answers: list[p.Packet] = []

    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        await conn.send(p.Message("in/1", b"x", 1, packet_id=1).encode(MQTT_5))
        with contextlib.suppress(Exception):
            while True:
                answers.append(await conn.receive(60))

    lost: list[BaseException] = []
    failing = Pending(kind)
    async with fake_broker(script) as endpoint:
        client = MQTTClient(
            endpoint, client_id(), on_message=lambda message: failing.handle, on_connection_lost=lost.append
        )
        await client.connect()
        failing.fail(OSError("disk full"))
        reason = await asyncio.wait_for(client.wait_closed(), 5)
    assert isinstance(reason, ConnectionLostError) and "could not be handled: disk full" in str(reason)
    assert lost == [reason]
    assert not any(isinstance(answer, p.PubAck) for answer in answers)


async def test_a_message_refused_for_good_is_acknowledged_and_the_connection_stays() -> None:
    """Delivering it again would not help: a settlement refused as not retryable is acknowledged, in order."""
    answers: list[p.Packet] = []

    async def script(conn: FakeConnection) -> None:
        await accept(conn)
        for packet_id in (1, 2):
            await conn.send(p.Message(f"in/{packet_id}", b"x", 1, packet_id=packet_id).encode(MQTT_5))
        while True:
            answers.append(await conn.receive(60))

    handles = {1: Settlement(), 2: Settlement()}
    delivered: list[int] = []

    def on_message(message: p.Message) -> Settlement:
        delivered.append(message.packet_id)
        return handles[message.packet_id]

    async with fake_broker(script) as endpoint:
        client = MQTTClient(endpoint, client_id(), on_message=on_message)
        await client.connect()
        await wait_until(lambda: len(delivered) == 2, 5, "two messages delivered")
        handles[2].release()
        handles[1].refuse("not a document this flow takes", retryable=False)
        handles[1].release()
        await wait_until(lambda: len(answers) >= 2, 5, "two acknowledgements")
        assert answers == [p.PubAck(1), p.PubAck(2)] and client.is_connected
        await client.disconnect()
