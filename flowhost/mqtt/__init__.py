"""flowhost's asyncio MQTT 3.1.1 / 5 client: TCP, TLS and WebSockets, flow control, typed errors.

This package imports nothing from the rest of flowhost.

    client = MQTTClient(TcpEndpoint("127.0.0.1", 1883), "my-id", on_message=print)
    await client.connect()
    await client.subscribe("a/#", qos=1)
    await client.publish_and_wait("a/b", b"hello", qos=1)
    await client.disconnect()
"""

from .client import ConnectResult, Endpoint, MQTTClient
from .errors import (
    AckTimeoutError,
    BadCredentialsError,
    BrokerStalledError,
    ClientIdRejectedError,
    ConnectionFailedError,
    ConnectionLostError,
    ConnectRefusedError,
    ConnectTimeoutError,
    KeepAliveTimeoutError,
    MQTTError,
    NotAuthorizedError,
    NotConnectedError,
    ProtocolError,
    PublishRefusedError,
    PublishTimeoutError,
    ServerDisconnectedError,
    ServerUnavailableError,
    SubscribeRefusedError,
    UnsubscribeRefusedError,
    UnsupportedProtocolVersionError,
)
from .packets import MQTT_5, MQTT_311, Message, Properties, Subscription, Will
from .settlement import Refusal, Settlement
from .transports import TcpEndpoint, WebSocketEndpoint

__all__ = [
    "MQTT_5",
    "MQTT_311",
    "AckTimeoutError",
    "BadCredentialsError",
    "BrokerStalledError",
    "ClientIdRejectedError",
    "ConnectRefusedError",
    "ConnectResult",
    "ConnectTimeoutError",
    "ConnectionFailedError",
    "ConnectionLostError",
    "Endpoint",
    "KeepAliveTimeoutError",
    "MQTTClient",
    "MQTTError",
    "Message",
    "NotAuthorizedError",
    "NotConnectedError",
    "Properties",
    "ProtocolError",
    "PublishRefusedError",
    "PublishTimeoutError",
    "Refusal",
    "ServerDisconnectedError",
    "ServerUnavailableError",
    "Settlement",
    "SubscribeRefusedError",
    "Subscription",
    "TcpEndpoint",
    "UnsubscribeRefusedError",
    "UnsupportedProtocolVersionError",
    "WebSocketEndpoint",
    "Will",
]
