"""Micro-benchmark: flowhost.mqtt against gmqtt and aiomqtt, on a Mosquitto started for the run.

Run by hand from the repository root (needs mosquitto, mosquitto_sub and the `bench` extra):

    /work/venv/bin/python bench/mqtt_client.py [--count 30000] [--protocol 5] [--repeat 2]

Shapes, each at QoS 0 and 1, over TCP and TLS:
- publish: one client publishes `count` ~720-byte ThingPark uplinks; the clock stops when a C subscriber
  (mosquitto_sub, another process) has received all of them.
- relay: `count` uplinks wait in the broker for the relay's persistent session; the relay connects, parses
  each JSON, re-publishes it to mqtt/things/<DevEUI>/uplink; the clock stops when mosquitto_sub has them all.

Rates are messages per second end to end (best of `--repeat`); CPU is the benchmark process's CPU time per
message, which is the client's cost. Broker, subscriber and client share the machine: compare ratios within
one run, not absolute numbers between machines. Every wait is bounded; a run that times out is reported with
what arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import gmqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowhost.mqtt import MQTT_5, MQTTClient, TcpEndpoint
from tests.support.brokers import MosquittoBroker
from tests.support.certs import make_pki

RUN_TIMEOUT = 60.0
RELAY_ID = "bench-relay"
SOURCE_TOPIC = "src/uplink"
PUBLISH_TOPIC = "bench/publish"
LIBRARIES = ("flowhost", "gmqtt", "aiomqtt")
# aiomqtt warns for every batch of overlapping publish() calls; the benchmark overlaps them on purpose.
QUIET_LOGGER = logging.getLogger("bench.aiomqtt")
QUIET_LOGGER.setLevel(logging.ERROR)
_ids = itertools.count()
# --flowhost-max-inflight; None keeps the client's default (20 on MQTT 3.1.1, the broker's limit on 5).
flowhost_max_inflight: int | None = None


def uplink(i: int) -> bytes:
    """A ThingPark DevEUI_uplink of about 720 bytes, from one of 100 devices."""
    dev_eui = f"70B3D57ED00{i % 100:05X}"
    body = {
        "DevEUI_uplink": {
            "Time": "2026-11-26T08:00:00.000+00:00",
            "DevEUI": dev_eui,
            "FPort": 2,
            "FCntUp": i,
            "ADRbit": 1,
            "MType": 4,
            "FCntDn": 7,
            "payload_hex": "0367f600046882",
            "mic_hex": "a1b2c3d4",
            "Lrcid": "00000201",
            "LrrRSSI": -87.0,
            "LrrSNR": 9.25,
            "LrrESP": -87.5,
            "SpFact": 7,
            "SubBand": "G1",
            "Channel": "LC1",
            "DevLrrCnt": 1,
            "Lrrid": "FF0109A4",
            "Late": 0,
            "LrrLAT": 48.8566,
            "LrrLON": 2.3522,
            "Lrrs": {"Lrr": [{"Lrrid": "FF0109A4", "Chain": 0, "LrrRSSI": -87.0, "LrrSNR": 9.25}]},
            "CustomerID": "100000000",
            "CustomerData": {"alr": {"pro": "ADRF/DEMO", "ver": "2"}, "tags": ["bench"], "name": "sensor"},
            "ModelCfg": "0",
            "InstantPER": 0.0,
            "MeanPER": 0.0,
            "DevAddr": "04A2B3C4",
            "AckRequested": 0,
            "rawMacCommands": "",
            "TxPower": 14.0,
            "NbTrans": 1,
            "Frequency": 868.1,
            "DynamicClass": "A",
        }
    }
    data = json.dumps(body, separators=(",", ":")).encode()
    return data + b" " * max(0, 720 - len(data))


@dataclass
class Target:
    name: str
    host: str
    port: int
    ssl: object | None

    def endpoint(self) -> TcpEndpoint:
        return TcpEndpoint(self.host, self.port, ssl=self.ssl)


class Stopwatch:
    """Started by the client under test once it is ready; stopped by the counting subscriber."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.started = self.cpu_started = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()

    async def finished(self) -> None:
        await self.counter.wait()


class Counter:
    """mosquitto_sub in its own process counts arrivals (-F prints one short line per message)."""

    def __init__(self, target: Target, topic: str, qos: int, count: int, ca_file: Path, output: Path) -> None:
        self.count = count
        self.output = output
        command = ["mosquitto_sub", "-h", target.host, "-p", str(target.port), "-t", topic, "-q", str(qos)]
        command += ["-F", "x", "-C", str(count + 1), "-V", "mqttv311"]
        if target.ssl is not None:
            command += ["--cafile", str(ca_file)]
        with output.open("wb") as stdout:
            self.process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL)
        self.elapsed_at: float | None = None

    def received(self) -> int:
        return max(0, self.output.read_bytes().count(b"\n") - 1)  # minus the readiness probe

    async def wait_ready(self, probe: Callable[[], Awaitable[None]]) -> None:
        """Send probes until the subscriber has printed one: it is then subscribed."""
        async with asyncio.timeout(10):
            while not self.output.read_bytes():
                await probe()
                await asyncio.sleep(0.05)

    async def wait(self) -> None:
        async with asyncio.timeout(RUN_TIMEOUT):
            while self.process.poll() is None:
                await asyncio.sleep(0.002)
        self.elapsed_at = time.perf_counter()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


# --- publishers ---------------------------------------------------------------------------------------------


async def flowhost_publish(target: Target, protocol: int, qos: int, payloads: list[bytes], watch: Stopwatch):
    client = MQTTClient(
        target.endpoint(),
        f"bench-pub-{next(_ids)}",
        protocol_version=protocol,
        max_inflight=flowhost_max_inflight,
    )
    await client.connect()
    watch.start()
    for payload in payloads:
        await client.publish(PUBLISH_TOPIC, payload, qos)
    await watch.finished()
    await client.disconnect()


async def gmqtt_disconnect(client: gmqtt.Client) -> None:
    # gmqtt 0.8.0 over TLS sometimes raises APPLICATION_DATA_AFTER_CLOSE_NOTIFY from disconnect(); the
    # measurement is over by then.
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        await client.disconnect()


async def gmqtt_publish(target: Target, protocol: int, qos: int, payloads: list[bytes], watch: Stopwatch):
    client = gmqtt.Client(f"bench-pub-{next(_ids)}")
    await client.connect(target.host, target.port, ssl=target.ssl or False, version=protocol)
    watch.start()
    for payload in payloads:
        while True:
            try:
                client.publish(PUBLISH_TOPIC, payload, qos)
                break
            except OverflowError:  # gmqtt raises when the in-flight window is full
                await asyncio.sleep(0.0005)
    await watch.finished()
    await gmqtt_disconnect(client)


async def aiomqtt_publish(target: Target, protocol: int, qos: int, payloads: list[bytes], watch: Stopwatch):
    async with aiomqtt.Client(
        target.host,
        target.port,
        identifier=f"bench-pub-{next(_ids)}",
        protocol=aiomqtt.ProtocolVersion(protocol),
        tls_context=target.ssl,
        logger=QUIET_LOGGER,
    ) as client:
        watch.start()
        # publish() waits for the acknowledgement: overlap them in batches, as a throughput-minded user would.
        for start in range(0, len(payloads), 500):
            await asyncio.gather(*(client.publish(PUBLISH_TOPIC, p, qos) for p in payloads[start : start + 500]))
        await watch.finished()


# --- relays -------------------------------------------------------------------------------------------------


def relay_topic(payload: bytes) -> str:
    return f"mqtt/things/{json.loads(payload)['DevEUI_uplink']['DevEUI']}/uplink"


async def flowhost_relay(target: Target, protocol: int, qos: int, watch: Stopwatch) -> None:
    def on_message(message) -> None:
        client.publish_nowait(relay_topic(message.payload), message.payload, qos)

    client = MQTTClient(
        target.endpoint(),
        RELAY_ID,
        protocol_version=protocol,
        max_inflight=flowhost_max_inflight,
        clean_start=False,
        session_expiry_interval=300,
        on_message=on_message,
    )
    watch.start()
    await client.connect()
    await watch.finished()
    await client.disconnect()


async def gmqtt_relay(target: Target, protocol: int, qos: int, watch: Stopwatch) -> None:
    waiting: deque[tuple[str, bytes]] = deque()

    def on_message(client, topic, payload, qos_, properties) -> int:
        outgoing = (relay_topic(payload), payload)
        if waiting:
            waiting.append(outgoing)
            return 0
        try:
            client.publish(*outgoing, qos)
        except OverflowError:  # window full: a gmqtt relay must queue and retry itself
            waiting.append(outgoing)
        return 0

    async def retry_waiting() -> None:
        while True:
            while waiting:
                try:
                    client.publish(*waiting[0], qos)
                except OverflowError:
                    break
                waiting.popleft()
            await asyncio.sleep(0.0005)

    options = {"session_expiry_interval": 300} if protocol == MQTT_5 else {}
    client = gmqtt.Client(RELAY_ID, clean_session=False, **options)
    client.on_message = on_message
    watch.start()
    await client.connect(target.host, target.port, ssl=target.ssl or False, version=protocol)
    retrier = asyncio.create_task(retry_waiting())
    try:
        await watch.finished()
    finally:
        retrier.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retrier
        await gmqtt_disconnect(client)


async def aiomqtt_relay(target: Target, protocol: int, qos: int, watch: Stopwatch) -> None:
    if protocol == MQTT_5:
        properties = PahoProperties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 300
        session = {"clean_start": False, "properties": properties}
    else:
        session = {"clean_session": False}
    watch.start()
    async with aiomqtt.Client(
        target.host,
        target.port,
        identifier=RELAY_ID,
        protocol=aiomqtt.ProtocolVersion(protocol),
        tls_context=target.ssl,
        logger=QUIET_LOGGER,
        **session,
    ) as client:

        async def relay() -> None:
            async for message in client.messages:
                await client.publish(relay_topic(message.payload), message.payload, qos)

        relaying = asyncio.create_task(relay())
        try:
            await watch.finished()
        finally:
            relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying


PUBLISHERS = {"flowhost": flowhost_publish, "gmqtt": gmqtt_publish, "aiomqtt": aiomqtt_publish}
RELAYS = {"flowhost": flowhost_relay, "gmqtt": gmqtt_relay, "aiomqtt": aiomqtt_relay}


# --- harness ------------------------------------------------------------------------------------------------


@dataclass
class Result:
    rate: float
    cpu_us: float
    received: int


class Bench:
    def __init__(self, broker: MosquittoBroker, targets: dict[str, Target], args: argparse.Namespace) -> None:
        self.broker = broker
        self.targets = targets
        self.count = args.count
        self.protocol = args.protocol
        self.payloads = [uplink(i) for i in range(args.count)]

    def setup_client(self, client_id: str | None = None, **options) -> MQTTClient:
        endpoint = TcpEndpoint(self.broker.host, self.broker.tcp_port)
        return MQTTClient(endpoint, client_id or f"bench-setup-{next(_ids)}", protocol_version=self.protocol, **options)

    async def probe(self, topic: str) -> None:
        client = self.setup_client()
        await client.connect()
        await client.publish_and_wait(topic, b"probe", qos=1)
        await client.disconnect()

    async def measure(self, label: str, target: Target, topic: str, qos: int, probe_topic: str, run) -> Result:
        with tempfile.NamedTemporaryFile(prefix="bench-counter-") as output:
            counter = Counter(target, topic, qos, self.count, self.broker.pki.ca.cert_path, Path(output.name))
            try:
                await counter.wait_ready(lambda: self.probe(probe_topic))
                watch = Stopwatch(counter)
                try:
                    await asyncio.wait_for(run(watch), RUN_TIMEOUT + 10)
                except Exception as exc:
                    # A client that fails or stalls is reported with what arrived ("only N" in the table);
                    # an error after the last arrival (in a disconnect) does not spoil the measurement.
                    print(f"{label} failed: {exc!r}", file=sys.stderr)
                received = counter.received()
            finally:
                counter.stop()
        end = counter.elapsed_at or time.perf_counter()
        cpu = time.process_time() - watch.cpu_started
        return Result(received / (end - watch.started), cpu / max(received, 1) * 1e6, received)

    async def publish(self, library: str, target: Target, qos: int) -> Result:
        publisher = PUBLISHERS[library]
        return await self.measure(
            f"{library} publish {target.name} QoS {qos}",
            target,
            PUBLISH_TOPIC,
            qos,
            PUBLISH_TOPIC,
            lambda watch: publisher(target, self.protocol, qos, self.payloads, watch),
        )

    async def relay(self, library: str, target: Target, qos: int) -> Result:
        await self.load_relay_session(qos)
        relay = RELAYS[library]
        result = await self.measure(
            f"{library} relay {target.name} QoS {qos}",
            target,
            "mqtt/things/+/uplink",
            qos,
            "mqtt/things/probe/uplink",
            lambda watch: relay(target, self.protocol, qos, watch),
        )
        # Drop the relay's session so that the next run starts from an empty queue.
        cleaner = self.setup_client(RELAY_ID)
        await cleaner.connect()
        await cleaner.disconnect()
        return result

    async def load_relay_session(self, qos: int) -> None:
        """Create the relay's persistent session, subscribed, and queue `count` uplinks in it."""
        # The previous run's clean connect left no session; clean_start=False keeps this one on MQTT 3.1.1 too.
        relay = self.setup_client(RELAY_ID, clean_start=False, session_expiry_interval=300)
        await relay.connect()
        await relay.subscribe(SOURCE_TOPIC, qos)
        await relay.disconnect()
        feeder = self.setup_client(max_inflight=100)
        await feeder.connect()
        futures = [await feeder.publish(SOURCE_TOPIC, payload, qos) for payload in self.payloads]
        await asyncio.wait_for(asyncio.gather(*(f for f in futures if f is not None)), RUN_TIMEOUT)
        await feeder.publish_and_wait("bench/fence", b"", qos=1)  # the broker has handled every QoS 0 too
        await feeder.disconnect()


def rate_cell(result: Result, count: int) -> str:
    text = f"{result.rate:,.0f}"
    return text if result.received >= count else f"{text} (only {result.received:,})"


def format_table(rows: list[tuple[str, str, int, dict[str, Result]]], count: int) -> str:
    lines = [
        "| shape | transport | QoS | flowhost msg/s | gmqtt msg/s | aiomqtt msg/s | flowhost / gmqtt "
        "| flowhost / aiomqtt | CPU µs/msg (flowhost, gmqtt, aiomqtt) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for shape, transport, qos, results in rows:
        rates = " | ".join(rate_cell(results[name], count) for name in LIBRARIES)
        flowhost, gmqtt_, aiomqtt_ = (results[name].rate for name in LIBRARIES)
        cpu = ", ".join(f"{results[name].cpu_us:.0f}" for name in LIBRARIES)
        lines.append(
            f"| {shape} | {transport} | {qos} | {rates} | {flowhost / gmqtt_:.2f} | {flowhost / aiomqtt_:.2f} | {cpu} |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as directory:
        pki = make_pki(Path(directory) / "pki")
        broker = MosquittoBroker(
            Path(directory) / "mosquitto", pki, max_queued=0, extra_config="queue_qos0_messages true"
        )
        broker.start()
        try:
            targets = {
                "TCP": Target("TCP", broker.host, broker.tcp_port, None),
                "TLS": Target("TLS", broker.host, broker.tls_port, pki.client_context()),
            }
            bench = Bench(broker, targets, args)
            rows = []
            for shape in ("publish", "relay"):
                for transport, target in targets.items():
                    for qos in (0, 1):
                        best: dict[str, Result] = {}
                        for _ in range(args.repeat):
                            for library in LIBRARIES:
                                result = await getattr(bench, shape)(library, target, qos)
                                if library not in best or result.rate > best[library].rate:
                                    best[library] = result
                        rows.append((shape, transport, qos, best))
                        print(format_table(rows[-1:], args.count).splitlines()[-1], flush=True)
        finally:
            broker.stop()
    return format_table(rows, args.count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=30_000, help="messages per run (default 30000)")
    parser.add_argument("--protocol", type=int, choices=(4, 5), default=5, help="MQTT 3.1.1 (4) or 5 (default)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the best is kept (default 1)")
    parser.add_argument(
        "--flowhost-max-inflight",
        type=int,
        help="flowhost's max_inflight (default: the client's, 20 on MQTT 3.1.1; gmqtt has no limit on 3.1.1)",
    )
    args = parser.parse_args()
    global flowhost_max_inflight
    flowhost_max_inflight = args.flowhost_max_inflight
    mosquitto = subprocess.run(["/usr/sbin/mosquitto", "-h"], capture_output=True, text=True).stdout.split("\n")[0]
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; Python "
        f"{sys.version.split()[0]}; {mosquitto}; MQTT {'5' if args.protocol == 5 else '3.1.1'}; "
        f"{args.count} messages of {len(uplink(0))} bytes; "
        f"flowhost max_inflight {flowhost_max_inflight or 'default'}",
        flush=True,
    )
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
