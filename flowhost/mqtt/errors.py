"""Typed errors: every way a connection, publish or subscription can fail has its own class.

Callers catch `MQTTError` for "anything from the MQTT client", or a subclass to react to one cause.
"""

from __future__ import annotations

REASON_NAMES: dict[int, str] = {
    0x00: "success",
    0x01: "granted QoS 1",
    0x02: "granted QoS 2",
    0x04: "disconnect with will message",
    0x10: "no matching subscribers",
    0x11: "no subscription existed",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8C: "bad authentication method",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x90: "topic name invalid",
    0x91: "packet identifier in use",
    0x92: "packet identifier not found",
    0x93: "receive maximum exceeded",
    0x94: "topic alias invalid",
    0x95: "packet too large",
    0x96: "message rate too high",
    0x97: "quota exceeded",
    0x98: "administrative action",
    0x99: "payload format invalid",
    0x9A: "retain not supported",
    0x9B: "QoS not supported",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9E: "shared subscriptions not supported",
    0x9F: "connection rate exceeded",
    0xA0: "maximum connect time",
    0xA1: "subscription identifiers not supported",
    0xA2: "wildcard subscriptions not supported",
}

# MQTT 3.1.1 CONNACK return codes mean something else than the same numbers in MQTT 5.
CONNACK_V311_NAMES: dict[int, str] = {
    0: "connection accepted",
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


def reason_name(code: int) -> str:
    return REASON_NAMES.get(code, f"reason code 0x{code:02X}")


class MQTTError(Exception):
    """Base class of every error raised by flowhost.mqtt."""


class ConnectionFailedError(MQTTError):
    """The transport could not be opened: TCP refused, TLS handshake failed, WebSocket upgrade refused...

    The original exception is the `__cause__`.
    """


class ConnectTimeoutError(MQTTError, TimeoutError):
    """No CONNACK (or no transport) within the connect timeout."""


class ConnectRefusedError(MQTTError):
    """The broker answered CONNACK with a failure code; `reason_code` holds it (MQTT 3.1.1 or 5 numbering)."""

    def __init__(self, reason_code: int, protocol_version: int, reason_string: str | None = None) -> None:
        self.reason_code = reason_code
        self.protocol_version = protocol_version
        names = CONNACK_V311_NAMES if protocol_version < 5 else REASON_NAMES
        text = names.get(reason_code, f"reason code 0x{reason_code:02X}")
        if reason_string:
            text = f"{text}: {reason_string}"
        super().__init__(f"connection refused by broker ({reason_code:#04x} {text})")


class UnsupportedProtocolVersionError(ConnectRefusedError):
    """CONNACK 1 (3.1.1) / 0x84 (5)."""


class ClientIdRejectedError(ConnectRefusedError):
    """CONNACK 2 (3.1.1) / 0x85 (5)."""


class ServerUnavailableError(ConnectRefusedError):
    """CONNACK 3 (3.1.1) / 0x88 server unavailable, 0x89 server busy (5)."""


class BadCredentialsError(ConnectRefusedError):
    """CONNACK 4 (3.1.1) / 0x86 (5): wrong user name or password."""


class NotAuthorizedError(ConnectRefusedError):
    """CONNACK 5 (3.1.1) / 0x87 (5)."""


_CONNECT_REFUSED_V311: dict[int, type[ConnectRefusedError]] = {
    1: UnsupportedProtocolVersionError,
    2: ClientIdRejectedError,
    3: ServerUnavailableError,
    4: BadCredentialsError,
    5: NotAuthorizedError,
}
_CONNECT_REFUSED_V5: dict[int, type[ConnectRefusedError]] = {
    0x84: UnsupportedProtocolVersionError,
    0x85: ClientIdRejectedError,
    0x86: BadCredentialsError,
    0x87: NotAuthorizedError,
    0x88: ServerUnavailableError,
    0x89: ServerUnavailableError,
}


def connect_refused(reason_code: int, protocol_version: int, reason_string: str | None = None) -> ConnectRefusedError:
    """The most specific `ConnectRefusedError` subclass for a CONNACK code."""
    if protocol_version >= 5 and reason_code in _CONNECT_REFUSED_V311:
        # No MQTT 5 CONNACK fails below 0x80: an MQTT 3.1.1 broker answered in its own numbering (20 02 00 01).
        if reason_code == 1:
            reason_string = "the broker does not speak MQTT 5; connect with MQTT 3.1.1"
        return _CONNECT_REFUSED_V311[reason_code](reason_code, 4, reason_string)
    table = _CONNECT_REFUSED_V311 if protocol_version < 5 else _CONNECT_REFUSED_V5
    return table.get(reason_code, ConnectRefusedError)(reason_code, protocol_version, reason_string)


class NotConnectedError(MQTTError):
    """An operation needs a connection and there is none."""


class ConnectionLostError(MQTTError):
    """The connection ended without the caller asking for it; the reason is the `__cause__` or a subclass."""


class KeepAliveTimeoutError(ConnectionLostError):
    """Nothing was received from the broker within the keep-alive interval: the broker or the path is dead."""


class BrokerStalledError(ConnectionLostError):
    """A publish went unacknowledged for the action timeout, nothing at all came from the broker meanwhile, and a
    PINGREQ then went unanswered for as long: the broker (or the path to it) stopped working before the
    keep-alive interval could tell."""


class ProtocolError(ConnectionLostError):
    """The peer sent bytes that are not valid MQTT; the connection is closed."""


class ServerDisconnectedError(ConnectionLostError):
    """The broker sent DISCONNECT (MQTT 5) with `reason_code`."""

    def __init__(self, reason_code: int, reason_string: str | None = None) -> None:
        self.reason_code = reason_code
        text = reason_name(reason_code)
        if reason_string:
            text = f"{text}: {reason_string}"
        super().__init__(f"broker closed the connection ({reason_code:#04x} {text})")


class AckTimeoutError(MQTTError, TimeoutError):
    """The broker did not acknowledge a request within the action timeout."""


class PublishTimeoutError(AckTimeoutError):
    """No PUBACK / PUBCOMP within the action timeout while the broker sent nothing else and left a PINGREQ
    unanswered; the connection is dropped (`BrokerStalledError`) and the message stays in the session: resent
    with DUP on a resumed session, otherwise listed in `ConnectResult.undelivered`."""


class PublishRefusedError(MQTTError):
    """MQTT 5 PUBACK / PUBREC with a failure code (>= 0x80): the broker will not deliver the message."""

    def __init__(self, reason_code: int, topic: str) -> None:
        self.reason_code = reason_code
        self.topic = topic
        super().__init__(f"publish to {topic!r} refused ({reason_code:#04x} {reason_name(reason_code)})")


class SubscribeRefusedError(MQTTError):
    """SUBACK refused a topic filter (0x80 on 3.1.1, any code >= 0x80 on 5)."""

    def __init__(self, topic_filter: str, reason_code: int) -> None:
        self.topic_filter = topic_filter
        self.reason_code = reason_code
        super().__init__(f"subscription to {topic_filter!r} refused ({reason_code:#04x} {reason_name(reason_code)})")


class UnsubscribeRefusedError(MQTTError):
    """MQTT 5 UNSUBACK with a failure code for a topic filter."""

    def __init__(self, topic_filter: str, reason_code: int) -> None:
        self.topic_filter = topic_filter
        self.reason_code = reason_code
        super().__init__(f"unsubscribe from {topic_filter!r} refused ({reason_code:#04x} {reason_name(reason_code)})")
