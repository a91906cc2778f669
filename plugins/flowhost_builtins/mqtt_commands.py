"""``flowhost sub`` and ``flowhost pub``: what users reach mosquitto_sub / mosquitto_pub for, against the broker of
a connection of their flows, with its TLS settings and credentials, without copying certificates around.

flowhost sub 'mqtt/things/+/uplink' [FLOW_FILE...] [--connection ID] [-C COUNT] [-W SECONDS]
flowhost pub mqtt/things/78AF580300000345/downlink '{"DevEUI_downlink": {...}}' [FLOW_FILE...] [--connection ID]

With no FLOW_FILE the connections are those of the data directory (the flows and connections `flowhost run`
keeps there), so a connection made in the editor works too.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

import voluptuous as vol

from flowhost import hookimpl
from flowhost.connection_lookup import ConnectionLookupError, choose_connection, connection_specs
from flowhost.mqtt import Message as MqttMessage
from flowhost.mqtt import MQTTError
from flowhost.validation import subscribe_filter

from .command_errors import fail
from .mqtt_client_factory import client_for
from .mqtt_connection_config import CONNECTOR_ID, settings_from_configuration

NOT_CONNECTED = 3


@hookimpl
def flowhost_register_commands(subcommands):
    sub = subcommands.add_parser(
        "sub",
        help="print the messages of a topic filter on the broker of a flow's connection (like mosquitto_sub -v)",
        description="Subscribe to TOPIC on the broker of an actility-mqtt-iot connection and print each message "
        "as 'topic payload', one per line. The connection's host, protocol, TLS certificates and credentials are "
        "used as flowhost run uses them; the client id is the connection's with a random suffix, so that a running "
        "flowhost keeps its own session.",
        epilog="examples:\n  flowhost sub 'mqtt/things/+/uplink'\n  flowhost sub '#' flows/site.yaml "
        "--connection cloud -C 10 -W 30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("topic", metavar="TOPIC", help="an MQTT topic filter (+ and # allowed)")
    _common_options(sub)
    sub.add_argument("-C", "--count", type=int, help="exit after this many messages")
    sub.add_argument("-W", "--timeout", type=float, help="exit after this many seconds (exit code 0)")
    sub.set_defaults(handler=_sub)

    pub = subcommands.add_parser(
        "pub",
        help="publish a message on the broker of a flow's connection (like mosquitto_pub)",
        description="Publish MESSAGE on TOPIC through an actility-mqtt-iot connection's broker, with its TLS "
        "settings and credentials, and wait for the broker's acknowledgement at QoS 1/2.",
        epilog="example:\n  flowhost pub mqtt/things/78AF580300000345/downlink "
        '\'{"DevEUI_downlink": {"FPort": 2, "payload_hex": "01ff"}}\'',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pub.add_argument("topic", metavar="TOPIC", help="the topic to publish on (no wildcards)")
    pub.add_argument("message", metavar="MESSAGE", help="the payload, as text ('-' reads it from standard input)")
    _common_options(pub)
    pub.add_argument("-r", "--retain", action="store_true", help="publish a retained message")
    pub.set_defaults(handler=_pub)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("flow_files", nargs="*", type=Path, metavar="FLOW_FILE", help="default: the data dir's")
    parser.add_argument("--connection", help="connection id; needed when there are several MQTT connections")
    parser.add_argument("--data-dir", type=Path, help="default: ~/.flowhost (env FLOWHOST_DATA_DIR)")
    parser.add_argument("-q", "--qos", type=int, choices=[0, 1, 2], default=1, help="default 1")
    parser.add_argument("--client-id", help="default: the connection's client id with a random suffix")


def _settings(args: argparse.Namespace):
    from flowhost.app import default_data_dir

    specs = connection_specs(args.flow_files, args.data_dir or default_data_dir(), args.plugins)
    spec = choose_connection(specs, args.connection, CONNECTOR_ID)
    return settings_from_configuration(spec.id, spec.configuration)


def _client_id(args: argparse.Namespace, settings) -> str:
    return args.client_id or f"{settings.client_id}-cli-{secrets.token_hex(3)}"[:128]


def _sub(args: argparse.Namespace) -> int:
    try:
        subscribe_filter(args.topic)
        settings = _settings(args)
    except ConnectionLookupError as exc:
        return fail("\n".join(exc.errors))
    except vol.Invalid as exc:
        return fail(f"TOPIC: {exc}")
    return asyncio.run(_subscribe(args, settings))


async def _subscribe(args: argparse.Namespace, settings) -> int:
    done = asyncio.Event()
    seen = 0

    def show(message: MqttMessage) -> None:
        nonlocal seen
        if done.is_set():
            return
        seen += 1
        payload = message.payload.decode("utf-8", errors="backslashreplace")
        print(f"{message.topic} {payload}", flush=True)
        if args.count is not None and seen >= args.count:
            done.set()

    client = client_for(settings, client_id=_client_id(args, settings), persistent=False, on_message=show)
    try:
        await client.connect()
        await client.subscribe(args.topic, args.qos)
    except (MQTTError, OSError) as exc:
        return fail(f"connection {settings.connection_id}: {exc}", NOT_CONNECTED)
    print(f"connection {settings.connection_id}: subscribed to {args.topic}", file=sys.stderr, flush=True)
    try:
        async with asyncio.timeout(args.timeout):
            closed = asyncio.ensure_future(client.wait_closed())
            finished = asyncio.ensure_future(done.wait())
            await asyncio.wait({closed, finished}, return_when=asyncio.FIRST_COMPLETED)
            for task in (closed, finished):
                task.cancel()
    except TimeoutError:
        pass
    if not client.is_connected:
        return fail(f"connection {settings.connection_id}: {client.disconnect_reason}", NOT_CONNECTED)
    await client.disconnect()
    return 0


def _pub(args: argparse.Namespace) -> int:
    if any(character in args.topic for character in "+#\x00") or not args.topic:
        return fail(f"TOPIC: a topic to publish on has no wildcards, got {args.topic!r}")
    try:
        settings = _settings(args)
    except ConnectionLookupError as exc:
        return fail("\n".join(exc.errors))
    message = sys.stdin.read() if args.message == "-" else args.message
    return asyncio.run(_publish(args, settings, message.encode()))


async def _publish(args: argparse.Namespace, settings, payload: bytes) -> int:
    client = client_for(settings, client_id=_client_id(args, settings), persistent=False)
    try:
        await client.connect()
        reason = await client.publish_and_wait(args.topic, payload, args.qos, args.retain)
    except (MQTTError, OSError) as exc:
        return fail(f"connection {settings.connection_id}: {exc}", NOT_CONNECTED)
    finally:
        if client.is_connected:
            await client.disconnect()
    print(
        f"connection {settings.connection_id}: published on {args.topic} (reason code {reason:#04x})", file=sys.stderr
    )
    return 0
