"""The ``flowhost`` command: run, validate, test, broker, plugins."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from . import __version__, cli_help, flowtest_cli, keys
from ._started import seconds_since_start
from .app import StartupError, create_app, create_runtime, default_data_dir
from .broker import EmbeddedBroker
from .collector import settle_after_start
from .flow_links import check_across_flows
from .flow_origin import default_demo, demo_left_out, why_it_runs
from .flowfile import FlowSpec, FlowValidationError, load_flow_file
from .http_guard import ServerLog
from .plugins import PluginHost, load_plugins
from .registry import Registry
from .secrets.encryption import SecretKeyError
from .store import CONNECTIONS_FILE_NAME, SECRETS_FILE_NAME, TOKEN_ENV, Store, StoreError, api_token
from .workspace import Workspace

log = logging.getLogger("flowhost")

STOP_TIMEOUT = 5.0
BROKER_ADDRESS_ENV = "FLOWHOST_BROKER_ADDRESS"
LOG_LEVELS = ["debug", "info", "warning", "error"]


def main(argv: Sequence[str] | None = None) -> int:
    plugins = load_plugins()
    parser = _parser(plugins)
    args = parser.parse_args(argv)
    args.plugins = plugins
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return args.handler(args)


def _parser(plugins: PluginHost) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowhost", description="A flow runtime for LoRaWAN integrators.")
    parser.add_argument("--version", action="version", version=f"flowhost {__version__}")
    parser.add_argument("--log-level", default="info", choices=LOG_LEVELS, help=cli_help.LOG_LEVEL_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(commands)
    _add_validate(commands)

    broker = commands.add_parser("broker", help="run the local test broker (amqtt) alone")
    broker.add_argument("--host", default="127.0.0.1")
    broker.add_argument("--port", type=int, default=1883)
    broker.set_defaults(handler=_broker)

    flowtest_cli.add_command(commands)

    listing = commands.add_parser("plugins", help="list plugins, their distributions and node types")
    listing.set_defaults(handler=_plugins)

    for _ in plugins.call_each("flowhost_register_commands", subcommands=commands):
        pass
    return parser


def _documented_command(commands, name: str, summary: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A command whose help has a description and examples laid out as written (``cli_help``)."""
    command = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _log_level_here(command)
    return command


def _add_run(commands) -> None:
    run = _documented_command(
        commands,
        "run",
        "run flows with the web server and the local test broker",
        cli_help.RUN_DESCRIPTION,
        cli_help.RUN_EPILOG,
    )
    run.add_argument(
        "flow_files", nargs="*", type=Path, metavar="FLOW_FILE", help="flow files to run (default: see above)"
    )
    run.add_argument(
        "--host",
        default="127.0.0.1",
        help=f"web server address (default 127.0.0.1); another address needs {TOKEN_ENV} set",
    )
    run.add_argument("--port", type=int, default=8080, help="web server port (default 8080)")
    run.add_argument(
        "--allowed-hosts",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=[],
        metavar="NAME[,NAME...]",
        help="names clients may use for this server in the Host header besides its address and localhost "
        "(others get 421, against DNS rebinding); '*' allows any",
    )
    run.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the event loop: asyncio's own (default) or uvloop (pip install 'flowhost[uvloop]')",
    )
    run.add_argument("--broker-port", type=int, default=1883, help="local test broker port (default 1883)")
    run.add_argument("--no-broker", action="store_true", help="do not start the local test broker")
    run.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="saved flows, API connections, encrypted secrets, API token (default $FLOWHOST_DATA_DIR, ~/.flowhost)",
    )
    run.set_defaults(handler=_run)


def _add_validate(commands) -> None:
    validate = _documented_command(
        commands,
        "validate",
        "check flow files; print every error with FILE:LINE:COL",
        cli_help.VALIDATE_DESCRIPTION,
        cli_help.VALIDATE_EPILOG,
    )
    validate.add_argument("flow_files", nargs="+", type=Path, metavar="FLOW_FILE", help="flow files to check")
    validate.add_argument(
        "--data-dir", type=Path, default=None, help="connections and secrets stored by the API (default: as run)"
    )
    validate.set_defaults(handler=_validate)


def _log_level_here(command: argparse.ArgumentParser) -> None:
    """``flowhost run --log-level debug`` works as ``flowhost --log-level debug run`` does."""
    command.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS, help=cli_help.LOG_LEVEL_HELP)


def _load_flows(paths: Sequence[Path], registry: Registry) -> tuple[list[FlowSpec], list[str]]:
    flows, errors = [], []
    for path in paths:
        try:
            flows.append(load_flow_file(path, registry))
        except FlowValidationError as exc:
            errors.extend(str(error) for error in exc.errors)
    seen: dict[str, Path | None] = {}
    for flow in flows:
        if flow.id in seen:
            errors.append(f"{flow.source}: flow id '{flow.id}' is also used by {seen[flow.id]}")
        seen[flow.id] = flow.source
    return flows, errors


def _validate(args: argparse.Namespace) -> int:
    plugins = args.plugins
    for problem in plugins.errors:
        print(f"warning: {problem}", file=sys.stderr)
    data_dir = args.data_dir or default_data_dir()
    if (data_dir / CONNECTIONS_FILE_NAME).exists() or (data_dir / SECRETS_FILE_NAME).exists():
        # Flow files may use the connections and secrets that the API stored on this machine.
        try:
            workspace = Workspace(create_runtime(data_dir, plugins), Store(data_dir))
        except (SecretKeyError, StoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        errors = workspace.load_connections()
        errors += workspace.load_flow_files(args.flow_files, include_stored=False)
        flows = [record.spec for record in workspace.flows.values()]
        registry = workspace.registry
    else:
        registry = Registry.from_plugins(plugins)
        flows, errors = _load_flows(args.flow_files, registry)
    errors += [str(error) for error in check_across_flows(flows, registry)]
    for warning in _connection_warnings(plugins, flows):
        print(f"warning: {warning}", file=sys.stderr)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"{len(errors)} error(s)", file=sys.stderr)
        return 1
    print(f"{len(args.flow_files)} flow file(s) valid")
    return 0


def _connection_warnings(plugins: PluginHost, flows: Sequence[FlowSpec]) -> list[str]:
    """What the plugins say about the flows' valid connections (hook ``flowhost_connection_warnings``)."""
    warnings = []
    reported = len(plugins.errors)
    for flow in flows:
        for spec in flow.connections:
            answers = plugins.call_each(
                "flowhost_connection_warnings",
                connector_id=spec.connector_id,
                connection_id=spec.id,
                configuration=spec.configuration,
            )
            for _, messages in answers:
                texts = [messages] if isinstance(messages, str) else list(messages or ())
                warnings.extend(f"{flow.source}: connection '{spec.id}': {text}" for text in texts)
    return warnings + plugins.errors[reported:]


def _plugins(args: argparse.Namespace) -> int:
    plugins = args.plugins
    registry = Registry.from_plugins(plugins)
    for name, info in sorted(plugins.plugins.items()):
        loaded = plugins.manager.get_plugin(name) is not None
        dist = f"{info.distribution} {info.version}" if info.distribution else "(not installed)"
        print(f"{name}  [{dist}]{'' if loaded else '  NOT LOADED'}")
        for provided in registry.types_of_plugin(name):
            kind, type_name = provided.split(":", 1)
            print(f"    {kind} type: {type_name}")
    for problem in plugins.errors:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if plugins.errors else 0


def _broker(args: argparse.Namespace) -> int:
    async def serve() -> None:
        broker = EmbeddedBroker(args.host, args.port)
        await broker.start()
        try:
            await _until_stopped(
                lambda: print(f"local test broker (amqtt) on mqtt://{broker.address}  (Ctrl-C to stop)", flush=True)
            )
        finally:
            await broker.stop()

    return _run_async(serve())


def _run(args: argparse.Namespace) -> int:
    try:
        loop_factory = _loop_factory(args.loop)
    except ImportError:
        print("error: --loop uvloop needs the uvloop package: pip install 'flowhost[uvloop]'", file=sys.stderr)
        return 2
    return _run_async(_serve(args), loop_factory)


def _loop_factory(name: str):
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def _run_async(coro, loop_factory=None) -> int:
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(coro) or 0
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _until_stopped(ready: Callable[[], None] = lambda: None) -> None:
    """Wait for SIGINT or SIGTERM; ``ready()`` runs once both are handled."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        ready()
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _serve(args: argparse.Namespace) -> int:
    if not _is_loopback(args.host) and not os.environ.get(TOKEN_ENV):
        print(
            f"error: --host {args.host} would expose the API beyond this machine with a generated token; "
            f"set {TOKEN_ENV} to a long random token of your own first (or leave --host at 127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    for problem in args.plugins.errors:
        print(f"warning: {problem}", file=sys.stderr)
    if not args.no_broker:
        # Flows reach the embedded broker through `!env_var FLOWHOST_BROKER_ADDRESS` (see flows/demo.yaml).
        os.environ[BROKER_ADDRESS_ENV] = f"127.0.0.1:{args.broker_port}"
    demo = None if args.flow_files else default_demo()
    try:
        app = create_app(
            args.data_dir or default_data_dir(),
            args.plugins,
            flow_files=args.flow_files,
            demo=demo,
            broker=None if args.no_broker else EmbeddedBroker("127.0.0.1", args.broker_port),
            allowed_hosts=args.allowed_hosts,
            exposed_on=None if _is_loopback(args.host) else args.host,
        )
    except (SecretKeyError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except StartupError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"not started: {len(exc.errors)} error(s) in the flow files", file=sys.stderr)
        return 1
    workspace = app[keys.WORKSPACE]
    for problem in check_across_flows([record.spec for record in workspace.flows.values()], workspace.registry):
        # A warning only: a flow may link to one that the API creates later; the link fails per message meanwhile.
        print(f"warning: {problem}", file=sys.stderr)
    runtime = app[keys.RUNTIME]
    runner = web.AppRunner(app, access_log=None, handle_signals=False, logger=ServerLog(runtime.http.refused))
    try:
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        try:
            await site.start()
        except OSError as exc:
            raise OSError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from exc
        settle_after_start()
        # The ready lines come once SIGTERM stops cleanly: a supervisor may send it as soon as it reads them.
        await _until_stopped(lambda: _print_ready(args, app, demo))
        print("stopping...", flush=True)
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.cleanup(), STOP_TIMEOUT)
    return 0


def _print_ready(args: argparse.Namespace, app: web.Application, demo: Path | None) -> None:
    workspace, broker = app[keys.WORKSPACE], app[keys.BROKER]
    data_dir = workspace.runtime.data_dir
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"flowhost {__version__} ready in {seconds_since_start():.2f}s", flush=True)
    print(f"  editor:  http://{host}:{args.port}/?token={api_token(data_dir)[0]}", flush=True)
    print(f"  data:    {data_dir}", flush=True)
    if broker is not None:
        print(f"  broker:  mqtt://{broker.address} (amqtt, local testing only)", flush=True)
    for record in workspace.flows.values():
        why = why_it_runs(record, demo, data_dir)
        print(f"  flow:    {record.id} ({len(record.spec.nodes)} nodes) from {record.spec.source}: {why}", flush=True)
    if left_out := demo_left_out(list(workspace.flows.values()), demo):
        print(f"  demo:    {left_out}", flush=True)
    for connection_id in workspace.connections:
        print(f"  connection: {connection_id} (created through the API)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
