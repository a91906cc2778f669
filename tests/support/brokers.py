"""Real brokers for tests: Mosquitto processes, an in-process amqtt broker, and a listener that never answers.

Loaded from tests/conftest.py with `pytest_plugins = ["tests.support.brokers"]`. Fixtures:

- `pki` (session): the test PKI of tests/support/certs.py.
- `mosquitto` (session): one shared `MosquittoBroker` with every listener, anonymous access allowed and the
  user `USER` / `PASSWORD` in its password file. Do not stop or pause it; use `mosquitto_factory` for that.
- `mosquitto_factory` (function): `mosquitto_factory(**options)` starts a fresh `MosquittoBroker` (options
  are `MosquittoBroker`'s keyword arguments); all are stopped at teardown, also when the test failed.
- `amqtt_broker` (function, async): an `AmqttBroker` (amqtt 0.12.1 in-process) with a TCP and a ws listener.
- `silent_listener` (function, async): `(host, port)` of a TCP server that accepts and never sends a byte.

Every broker listens on free loopback ports found by binding port 0. Connect to `broker.host` (127.0.0.1)
only: Mosquitto's WebSocket listeners bind every interface whatever address is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .certs import PKI, make_pki
from .ports import free_port

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = os.environ.get("MOSQUITTO_PASSWD", "mosquitto_passwd")
USER = "flowhost"
PASSWORD = "flowhost-secret"
LOOPBACK = "127.0.0.1"


def wait_for_port(host: str, port: int, timeout: float = 10.0, process: subprocess.Popen | None = None) -> None:
    """Poll until `host:port` accepts TCP connections; fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"broker exited with code {process.returncode} before listening on {port}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listening on {host}:{port} after {timeout} s")
        time.sleep(0.02)


class MosquittoBroker:
    """A Mosquitto process with its own config file, ports, log file and (optionally) persistence directory.

    Listeners (all on `host`): `tcp_port` plain MQTT; `tls_port` TLS with the test server certificate;
    `mtls_port` TLS that requires a client certificate signed by the test CA and uses its common name as
    user name (as AWS IoT does); `ws_port` MQTT over ws://; `wss_port` over wss://. `ws_url` / `wss_url`
    are ready to use.

    `start()` restarts on the same ports with the same persistence directory; `stop()` stops gracefully
    (Mosquitto then saves its persistence database); `pause()` / `resume()` freeze the process with
    SIGSTOP / SIGCONT: a broker that stays connected but goes silent. These methods block for the time the
    broker needs (tens of milliseconds); call them from async tests freely.
    """

    host = LOOPBACK

    def __init__(
        self,
        directory: Path,
        pki: PKI,
        *,
        users: dict[str, str] | None = None,
        allow_anonymous: bool = True,
        acl: str | None = None,
        persistence: bool = False,
        max_inflight: int | None = None,
        max_queued: int | None = None,
        tls13_only: bool = False,
        log_packets: bool = False,
        extra_config: str = "",
    ) -> None:
        """`users` go to a password file (made with mosquitto_passwd); `acl` is the text of an ACL file;
        `persistence` keeps sessions and queued messages across `stop()` / `start()`; `max_inflight` and
        `max_queued` set max_inflight_messages / max_queued_messages; `tls13_only` limits both TLS
        listeners to TLS 1.3; `log_packets` logs every packet (log_type all) to `log_path`."""
        self.directory = directory
        self.pki = pki
        directory.mkdir(parents=True, exist_ok=True)
        self.tcp_port, self.tls_port, self.mtls_port, self.ws_port, self.wss_port = (free_port() for _ in range(5))
        self.ws_url = f"ws://{self.host}:{self.ws_port}/mqtt"
        self.wss_url = f"wss://{self.host}:{self.wss_port}/mqtt"
        self.config_path = directory / "mosquitto.conf"
        self.log_path = directory / "mosquitto.log"
        self.stderr_path = directory / "mosquitto.stderr"
        self.persistence_dir = directory / "persistence" if persistence else None
        self.process: subprocess.Popen | None = None
        self._paused = False
        self.config_path.write_text(
            self._config(users, allow_anonymous, acl, max_inflight, max_queued, tls13_only, log_packets, extra_config)
        )
        # Listeners a test adds open after the standard ones: start() waits for them too.
        self.extra_ports = [int(port) for port in re.findall(r"^listener (\d+)", extra_config, re.MULTILINE)]

    def _config(
        self,
        users: dict[str, str] | None,
        allow_anonymous: bool,
        acl: str | None,
        max_inflight: int | None,
        max_queued: int | None,
        tls13_only: bool,
        log_packets: bool,
        extra_config: str,
    ) -> str:
        pki = self.pki
        server_tls = [
            f"cafile {pki.ca.cert_path}",
            f"certfile {pki.server.cert_path}",
            f"keyfile {pki.server.key_path}",
        ]
        if tls13_only:
            server_tls.append("tls_version tlsv1.3")
        lines = [
            # Started as root, Mosquitto would switch to the user "mosquitto", who cannot read the test files.
            "user root",
            f"log_dest file {self.log_path}",
            *(["log_type all"] if log_packets else ["log_type error", "log_type warning", "log_type notice"]),
            "connection_messages true",
            "set_tcp_nodelay true",
            f"allow_anonymous {'true' if allow_anonymous else 'false'}",
        ]
        if users:
            password_file = self.directory / "passwords"
            password_file.write_text("")
            for name, password in users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(password_file), name, password], check=True)
            lines.append(f"password_file {password_file}")
        if acl is not None:
            acl_file = self.directory / "acl"
            acl_file.write_text(acl)
            lines.append(f"acl_file {acl_file}")
        if self.persistence_dir is not None:
            self.persistence_dir.mkdir(exist_ok=True)
            lines += [
                "persistence true",
                f"persistence_location {self.persistence_dir}/",
                "autosave_interval 0",
            ]
        if max_inflight is not None:
            lines.append(f"max_inflight_messages {max_inflight}")
        if max_queued is not None:
            lines.append(f"max_queued_messages {max_queued}")
        lines += [
            f"listener {self.tcp_port} {self.host}",
            f"listener {self.tls_port} {self.host}",
            *server_tls,
            f"listener {self.mtls_port} {self.host}",
            *server_tls,
            "require_certificate true",
            "use_identity_as_username true",
            f"listener {self.ws_port} {self.host}",
            "protocol websockets",
            f"listener {self.wss_port} {self.host}",
            "protocol websockets",
            *server_tls,
            extra_config,
        ]
        return "\n".join(lines) + "\n"

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        if self.is_running:
            raise RuntimeError("Mosquitto is already running")
        # Errors in the config file go to stderr before the log file is open.
        with self.stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config_path)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            for port in (self.tcp_port, self.tls_port, self.mtls_port, self.ws_port, self.wss_port, *self.extra_ports):
                wait_for_port(self.host, port, timeout, self.process)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"Mosquitto did not start: {exc}\n{self.log_text()}") from exc

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Mosquitto saves persistence), then SIGKILL after `timeout`."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if self._paused:
            self.resume_process(process)
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop without letting Mosquitto save anything."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
            self._paused = False

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.resume_process(self.process)

    def resume_process(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGCONT)
        self._paused = False

    def log_text(self) -> str:
        """The broker's stderr and log file."""
        paths = (self.stderr_path, self.log_path)
        return "".join(path.read_text(errors="replace") for path in paths if path.exists())

    def __repr__(self) -> str:
        return f"<MosquittoBroker tcp={self.tcp_port} tls={self.tls_port} ws={self.ws_port}>"


@dataclass
class AmqttBroker:
    """amqtt (in-process, MQTT 3.1.1 only). A test broker, not a production one: it acknowledges QoS 1
    messages it may never deliver, so tests about delivery guarantees belong on Mosquitto."""

    host: str
    port: int
    ws_port: int
    broker: object = field(repr=False)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}/"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def mosquitto(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"), pki, users={USER: PASSWORD})
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto_factory(pki: PKI, tmp_path: Path) -> Iterator[Callable[..., MosquittoBroker]]:
    brokers: list[MosquittoBroker] = []

    def start(**options) -> MosquittoBroker:
        broker = MosquittoBroker(tmp_path / f"mosquitto-{len(brokers)}", pki, **options)
        brokers.append(broker)
        broker.start()
        return broker

    yield start
    for broker in brokers:
        broker.stop()


@pytest.fixture
async def amqtt_broker() -> AsyncIterator[AmqttBroker]:
    from amqtt.broker import Broker

    port, ws_port = free_port(), free_port()
    config = {
        "listeners": {
            "default": {"type": "tcp", "bind": f"{LOOPBACK}:{port}"},
            "ws": {"type": "ws", "bind": f"{LOOPBACK}:{ws_port}"},
        },
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    try:
        yield AmqttBroker(LOOPBACK, port, ws_port, broker)
    finally:
        await broker.shutdown()


class _SilentServer(asyncio.Protocol):
    def __init__(self, transports: list[asyncio.BaseTransport]) -> None:
        self._transports = transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transports.append(transport)


@pytest.fixture
async def silent_listener() -> AsyncIterator[tuple[str, int]]:
    transports: list[asyncio.BaseTransport] = []
    server = await asyncio.get_running_loop().create_server(lambda: _SilentServer(transports), LOOPBACK, 0)
    try:
        yield LOOPBACK, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for transport in transports:
            transport.abort()
        await server.wait_closed()
