"""``flowhost aws endpoint`` and ``flowhost aws policy``: the AWS IoT Core side of an MQTT connection; and what
``flowhost validate`` warns about an MQTT connection to AWS IoT Core.

flowhost aws endpoint --account-prefix d4g5d321sd465d-ats --region eu-central-1
flowhost aws policy --account-id 123456789012 flow.yaml [--connection ID] [--region R] [--explain]
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from flowhost import hookimpl
from flowhost.connection_lookup import ConnectionLookupError, choose_connection
from flowhost.flowfile import FlowValidationError, load_flow_file
from flowhost.registry import Registry
from flowhost.templating import TemplateError

from .aws_iot import AwsIotError, account_prefix_warning, configuration_warnings, endpoint_host, is_aws_iot_host
from .aws_policy import policy_document, policy_statements, policy_warnings
from .command_errors import fail
from .mqtt_connection_config import CONNECTOR_ID, settings_from_configuration


@hookimpl
def flowhost_register_commands(subcommands):
    aws = subcommands.add_parser(
        "aws",
        help="AWS IoT Core: the endpoint hostName and the least-privilege policy of a connection",
        description="AWS IoT Core helpers for actility-mqtt-iot connections.",
    )
    commands = aws.add_subparsers(dest="aws_command", metavar="AWS_COMMAND", required=True)

    endpoint = commands.add_parser(
        "endpoint",
        help="print the hostName of an account's AWS IoT Core endpoint",
        description="Print the hostName (host:port) for the account prefix and region shown in the AWS IoT "
        "console under Settings > Device data endpoint.",
    )
    endpoint.add_argument("--account-prefix", required=True, help="e.g. d4g5d321sd465d-ats")
    endpoint.add_argument("--region", required=True, help="e.g. eu-central-1")
    endpoint.add_argument(
        "--port",
        type=int,
        choices=[8883, 443],
        default=8883,
        help="8883 (default) or 443 (flowhost then asks for MQTT by ALPN x-amzn-mqtt-ca)",
    )
    _any_region_option(endpoint)
    endpoint.set_defaults(handler=_endpoint)

    policy = commands.add_parser(
        "policy",
        help="print the least-privilege AWS IoT policy for a connection of a flow file",
        description="Print the AWS IoT policy document (JSON) that allows exactly what the connection does: "
        "connect with its client id, publish uplinks, subscribe to and receive downlinks.",
    )
    policy.add_argument("flow_file", type=Path, metavar="FLOW_FILE")
    policy.add_argument("--account-id", required=True, help="the 12-digit AWS account id")
    policy.add_argument("--region", help="default: the region in the connection's hostName")
    policy.add_argument("--connection", help="connection id; needed when the flow has several MQTT connections")
    policy.add_argument("--explain", action="store_true", help="also say why each statement is there (on stderr)")
    _any_region_option(policy)
    policy.set_defaults(handler=_policy)


@hookimpl
def flowhost_connection_warnings(connector_id, connection_id, configuration):
    """For an MQTT connection to AWS IoT Core: what its settings and the policy flowhost writes for it allow."""
    if connector_id != CONNECTOR_ID:
        return None
    try:
        settings = settings_from_configuration(connection_id, configuration)
    except TemplateError:
        return None  # a pattern using other plugins' Jinja filters, which validation compiled with them
    if not is_aws_iot_host(settings.host):
        return None
    return [*configuration_warnings(settings), *policy_warnings(settings)]


def _any_region_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--any-region",
        action="store_true",
        help="accept a region name flowhost does not know (for regions AWS opened after this release)",
    )


def _warn(message: str) -> None:
    print(textwrap.fill(f"warning: {message}", width=110, subsequent_indent="  "), file=sys.stderr)


def _endpoint(args: argparse.Namespace) -> int:
    try:
        host = endpoint_host(args.account_prefix, args.region, allow_unlisted_region=args.any_region)
    except AwsIotError as exc:
        return fail(str(exc))
    warning = account_prefix_warning(args.account_prefix)
    if warning is not None:
        _warn(warning)
    print(f"{host}:{args.port}")
    return 0


def _policy(args: argparse.Namespace) -> int:
    try:
        flow = load_flow_file(args.flow_file, Registry.from_plugins(args.plugins))
    except FlowValidationError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    try:
        spec = choose_connection({spec.id: spec for spec in flow.connections}, args.connection, CONNECTOR_ID)
    except ConnectionLookupError as exc:
        return fail(f"{args.flow_file}: {exc}")
    try:
        settings = settings_from_configuration(spec.id, spec.configuration)
        region = _region(args.region, settings.host)
        mqtt_in_filters = [
            node.config["topic"]
            for node in flow.nodes
            if node.type == "mqtt-in" and node.config.get("connection") == spec.id
        ]
        statements = policy_statements(
            settings,
            region,
            args.account_id,
            other_subscriptions=mqtt_in_filters,
            allow_unlisted_region=args.any_region,
        )
    except AwsIotError as exc:
        return fail(str(exc))
    if args.explain:
        for statement in statements:
            print(f"{statement.sid}: {', '.join(statement.actions)}", file=sys.stderr)
            for resource in statement.resources:
                print(f"    on {resource}", file=sys.stderr)
            print(
                textwrap.fill(statement.reason, width=110, initial_indent="    ", subsequent_indent="    "),
                file=sys.stderr,
            )
    if not is_aws_iot_host(settings.host):
        _warn(
            f"hostName {settings.host!r} is not an AWS IoT Core endpoint (<prefix>.iot.<region>.amazonaws.com): "
            "flowhost does not check AWS IoT Core's limits for this connection"
        )
    for warning in [*configuration_warnings(settings), *policy_warnings(settings)]:
        _warn(warning)
    print(json.dumps(policy_document(statements), indent=2))
    return 0


def _region(given: str | None, host: str) -> str:
    host_region = host.split(".")[2].lower() if is_aws_iot_host(host) else None
    if given is None:
        if host_region is None:
            raise AwsIotError(f"hostName {host!r} names no AWS region: give --region")
        return host_region
    if host_region is not None and given.strip().lower() != host_region:
        raise AwsIotError(
            f"--region {given} does not match the region of hostName {host!r} ({host_region}); "
            "a policy only applies in its own region"
        )
    return given
