"""Port 443: AWS IoT Core serves MQTT there only to clients that ask for ALPN ``x-amzn-mqtt-ca``.

The connection's own TLS context, over a real loopback socket, to a TLS server that records what was asked.
"""

from __future__ import annotations

import asyncio
import ssl

import pytest

from flowhost_builtins.mqtt_connection_config import AWS_IOT_ALPN, build_ssl_context
from tests.aws.conftest import AWS_HOST, aws_settings
from tests.support.mqtt_helpers import wait_until


@pytest.mark.parametrize(
    ("host_name", "protocols"),
    [
        (f"{AWS_HOST}:443", [AWS_IOT_ALPN]),
        (f"{AWS_HOST}:8883", []),
        ("d4g5d321sd465d.iot.cn-north-1.amazonaws.com.cn:443", [AWS_IOT_ALPN]),
        ("broker.example.com:443", []),
    ],
)
async def test_connection_asks_for_mqtt_by_alpn_on_443_only(pki, host_name: str, protocols: list[str]) -> None:
    settings = aws_settings(
        hostName=host_name,
        trustedCaCertificate=pki.ca.cert_pem,
        certificate=pki.client.cert_pem,
        privateKey=pki.client.key_pem,
    )
    assert list(settings.alpn_protocols) == protocols
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.server.cert_path, pki.server.key_path)
    server_context.load_verify_locations(cafile=pki.ca.cert_path)
    server_context.verify_mode = ssl.CERT_REQUIRED
    server_context.set_alpn_protocols([AWS_IOT_ALPN])
    selected: list[str | None] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        selected.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=build_ssl_context(settings), server_hostname="localhost"
        )
        await wait_until(lambda: selected, 5, "the server's handshake")
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert selected == [protocols[0] if protocols else None]
