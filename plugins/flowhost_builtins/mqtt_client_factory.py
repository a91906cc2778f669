"""The MQTT client of a connection's settings: transport, TLS, credentials and session, in one place, for the
connection itself and for the commands that talk to its broker (``flowhost sub`` / ``pub``)."""

from __future__ import annotations

from collections.abc import Callable

from flowhost.mqtt import MQTT_5, MQTT_311, MQTTClient, TcpEndpoint, WebSocketEndpoint
from flowhost.mqtt import Message as MqttMessage

from .mqtt_connection_config import MqttConnectionSettings, build_ssl_context

MQTT_311_WINDOW = 100
"""QoS 1 publishes in flight on MQTT 3.1.1, which has no Receive Maximum: AWS IoT Core's documented limit of
unacknowledged messages per client. QoS 2 stays at the client's default of 20, beyond which Mosquitto (its
max_inflight_messages) drops them. On MQTT 5 the broker's Receive Maximum decides."""


def client_for(
    settings: MqttConnectionSettings,
    *,
    client_id: str | None = None,
    persistent: bool | None = None,
    on_message: Callable[[MqttMessage], object] | None = None,
    on_connect_sent: Callable[[], None] | None = None,
) -> MQTTClient:
    """A client for the connection's broker. ``client_id`` defaults to the connection's; ``persistent`` (a session
    the broker keeps for ``sessionExpiry``) defaults to the connection's choice."""
    if persistent is None:
        persistent = settings.session_expiry > 0
    ssl_context = build_ssl_context(settings) if settings.protocol in ("SSL", "WSS") else None
    if settings.protocol == "WSS":
        endpoint = WebSocketEndpoint(
            settings.websocket_url, ssl=ssl_context, one_packet_per_frame=settings.ws_one_packet_per_frame
        )
    else:
        endpoint = TcpEndpoint(settings.host, settings.port, ssl=ssl_context, server_hostname=None)
    return MQTTClient(
        endpoint,
        client_id or settings.client_id,
        protocol_version=MQTT_5 if settings.mqtt_version == "5" else MQTT_311,
        username=settings.username,
        password=settings.password,
        keep_alive=int(settings.keep_alive),
        clean_start=not persistent,
        session_expiry_interval=int(settings.session_expiry) if persistent else 0,
        connect_timeout=settings.connection_timeout,
        max_inflight=MQTT_311_WINDOW if settings.mqtt_version != "5" and settings.qos < 2 else None,
        action_timeout=settings.action_timeout,
        on_message=on_message,
        on_connect_sent=on_connect_sent,
    )
