"""flowhost against Node-RED on the uplink path, measured in one run: one command, one table.

    /work/venv/bin/python bench/run.py [--count 30000] [--quick] [--node-red-dir DIR] [--no-durable]

Starts Mosquitto (set_tcp_nodelay) on a free loopback port, installs Node-RED 4 from npm into --node-red-dir
(once; default /tmp/flowhost-bench-node-red), then for QoS 0 and QoS 1 starts each system in turn with the same
flow and measures, with the raw-socket load generator of bench/loadgen.py:

- relay: mqtt-in (src/uplink) -> mqtt-connector (mqtt/things/{DevEUI}/uplink) against mqtt in -> function ->
  mqtt out: burst throughput (`count` messages, time to the last arrival), the highest paced rate with zero loss
  and no growing backlog, p50/p99 latency at 1,000 msg/s;
- HTTP ingestion (QoS 1 run): http-uplink -> connector against http in -> function -> mqtt out + http response,
  keep-alive clients at a fixed concurrency: requests/s and p99;
- downlinks (QoS 1 run): mqtt/things/+/downlink -> connector -> http-downlink to an aiohttp sink: msg/s;
- memory (RSS idle after start, peak = VmHWM at the end), start-up (launch to the first 202 of POST /uplink);
- scale (QoS 1 run): burst throughput and RSS with 10, 1,000 and 100,000 distinct DevEUIs.

Every loop is bounded in count and time. Run by hand; never part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SOURCE_TOPIC = "src/uplink"
UPLINK_FILTER = "mqtt/things/+/uplink"
DEVICES = 1000
HTTP_CONCURRENCY = 32
STALL_SECONDS = 15.0
VARIANTS = ("volatile", "ack-received", "fsync", "uvloop")
"""flowhost with durableOutbox: false; flowhost whose mqtt-in acknowledges on receipt (acknowledge: received);
flowhost with outboxSync: true (fdatasync after every journal write); flowhost run --loop uvloop."""
TESTS = ("burst", "paced", "latency", "http", "downlinks", "scale", "decoder")
DECODER_TOPIC = "src/coded"  # the decoder test: mqtt-in -> codec -> connector against mqtt in -> function -> mqtt out
DECODER_CODEC = Path(__file__).resolve().parent / "codecs" / "bench-lpp.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB."""
    values = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 when it is unknown)."""
    if not pid:
        return 0.0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


# -- Mosquitto -------------------------------------------------------------------------------------------------
class Mosquitto:
    def __init__(self, directory: Path, name: str = "mosquitto") -> None:
        self.port = free_port()
        self.config = directory / f"{name}.conf"
        # Unlimited queues so that neither relay loses messages in the broker during a burst; the same for both.
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            "max_queued_messages 0\nlog_type error\n"
        )
        self.log = open(directory / f"{name}.log", "w")
        self.process = subprocess.Popen(
            ["/usr/sbin/mosquitto", "-c", str(self.config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.log.close()


# -- the systems under test ---------------------------------------------------------------------------------------
@dataclass
class System:
    name: str
    http_port: int
    process: subprocess.Popen | None = None
    startup: float = 0.0
    idle_rss: int = 0
    log_path: Path | None = None
    profiler: subprocess.Popen | None = None

    def stop(self) -> int:
        """Stop the process; returns its peak RSS (KiB)."""
        if self.process is None:
            return 0
        _, peak = rss_kib(self.process.pid)
        if self.profiler is not None:
            self.profiler.send_signal(signal.SIGINT)
            self.profiler.wait(30)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None
        return peak


def flowhost_flow(
    directory: Path,
    broker_port: int,
    qos: int,
    sink_url: str,
    durable: bool,
    acknowledge: str = "stored",
    sync: bool = False,
    decoder: bool = False,
) -> Path:
    flow = {
        "flowhost": 1,
        "id": "bench",
        "label": "bench relay",
        "connections": [
            {
                "id": "broker",
                "connectorId": "actility-mqtt-iot",
                "name": "bench broker",
                "configuration": {
                    "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
                    "downlinkTopicPattern": "mqtt/things/{DevEUI}/downlink",
                    "hostName": f"127.0.0.1:{broker_port}",
                    "protocol": "TCP",
                    "qos": qos,
                    "durableOutbox": durable,
                    "outboxSync": sync,
                },
            }
        ],
        "nodes": [
            {
                "id": "source",
                "type": "mqtt-in",
                "config": {"connection": "broker", "topic": SOURCE_TOPIC, "qos": qos, "acknowledge": acknowledge},
                "wires": {"out": ["connector"]},
            },
            {"id": "http", "type": "http-uplink", "config": {"path": "/uplink"}, "wires": {"out": ["connector"]}},
            {
                "id": "connector",
                "type": "mqtt-connector",
                "config": {"connection": "broker"},
                "wires": {"downlink": ["sink"]},
            },
            {"id": "sink", "type": "http-downlink", "config": {"url": sink_url}},
        ],
    }
    if decoder:
        flow["nodes"] += decoder_nodes_flowhost(qos, acknowledge)
    directory.mkdir(exist_ok=True)
    path = directory / f"flowhost-qos{qos}.yaml"
    path.write_text(json.dumps(flow))  # JSON is YAML
    return path


def decoder_nodes_flowhost(qos: int, acknowledge: str) -> list[dict]:
    """The decoder test's path: the codec node at its default settings (timeout 100ms, memoryLimit 32MB)."""
    return [
        {
            "id": "coded-in",
            "type": "mqtt-in",
            "config": {"connection": "broker", "topic": DECODER_TOPIC, "qos": qos, "acknowledge": acknowledge},
            "wires": {"out": ["decode"]},
        },
        {
            "id": "decode",
            "type": "codec",
            "config": {"codecs": str(DECODER_CODEC.parent), "default": DECODER_CODEC.stem},
            "wires": {"out": ["connector"], "error": ["connector"]},
        },
    ]


def node_red_mqtt_in(node_id: str, topic: str, qos: str, wired_to: str) -> dict:
    """A Node-RED `mqtt in` node on the bench's broker, wired to one node."""
    return {
        "id": node_id,
        "type": "mqtt in",
        "z": "tab",
        "topic": topic,
        "qos": qos,
        "datatype": "auto-detect",
        "broker": "broker",
        "nl": False,
        "rap": True,
        "rh": 0,
        "inputs": 0,
        "wires": [[wired_to]],
    }


def decoder_nodes_node_red(qos: int) -> list[dict]:
    """The same JS file's decodeUplink in a function node, its result put as ThingPark's decoded document does
    (``payload`` in the DevEUI_uplink, or ``payloadDecodedError``)."""
    body = DECODER_CODEC.read_text() + (
        "\nconst uplink = msg.payload.DevEUI_uplink;\n"
        "const hex = uplink.payload_hex;\n"
        "const bytes = new Array(hex.length >> 1);\n"
        "for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(2 * i, 2), 16);\n"
        "const result = decodeUplink({bytes, fPort: uplink.FPort, recvTime: new Date(uplink.Time)});\n"
        "if (result.errors && result.errors.length) {\n"
        "  uplink.payloadDecodedError = {message: result.errors.join('; '), warnings: result.warnings || []};\n"
        "} else {\n"
        "  uplink.payload = result.data;\n"
        "}\n"
        "msg.topic = `mqtt/things/${uplink.DevEUI}/uplink`;\n"
        "return msg;\n"
    )
    return [
        node_red_mqtt_in("coded-in", DECODER_TOPIC, str(qos), "decode"),
        {"id": "decode", "type": "function", "z": "tab", "func": body, "outputs": 1, "wires": [["out"]]},
    ]


def node_red_flow(directory: Path, broker_port: int, qos: int, sink_url: str, decoder: bool = False) -> Path:
    topic_fn = "msg.topic = `mqtt/things/${msg.payload.DevEUI_uplink.DevEUI}/uplink`;\n"
    flow = [
        {"id": "tab", "type": "tab", "label": "bench"},
        {
            "id": "broker",
            "type": "mqtt-broker",
            "name": "bench",
            "broker": "127.0.0.1",
            "port": str(broker_port),
            "clientid": "",
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": True,
            "autoUnsubscribe": True,
        },
        node_red_mqtt_in("in", SOURCE_TOPIC, str(qos), "fn"),
        {
            "id": "fn",
            "type": "function",
            "z": "tab",
            "func": topic_fn + "return msg;",
            "outputs": 1,
            "wires": [["out"]],
        },
        {
            "id": "out",
            "type": "mqtt out",
            "z": "tab",
            "topic": "",
            "qos": str(qos),
            "retain": "false",
            "broker": "broker",
            "wires": [],
        },
        {
            "id": "httpin",
            "type": "http in",
            "z": "tab",
            "url": "/uplink",
            "method": "post",
            "upload": False,
            "wires": [["httpfn"]],
        },
        {
            "id": "httpfn",
            "type": "function",
            "z": "tab",
            "outputs": 2,
            "func": topic_fn + "return [msg, {_msgid: msg._msgid, req: msg.req, res: msg.res, statusCode: 202, "
            "payload: {accepted: true}}];",
            "wires": [["out"], ["httpout"]],
        },
        {"id": "httpout", "type": "http response", "z": "tab", "statusCode": "", "headers": {}, "wires": []},
        node_red_mqtt_in("down", "mqtt/things/+/downlink", "1", "post"),
        {
            "id": "post",
            "type": "http request",
            "z": "tab",
            "method": "POST",
            "ret": "txt",
            "paytoqs": "ignore",
            "url": sink_url,
            "tls": "",
            "persist": True,
            "wires": [[]],
        },
    ]
    if decoder:
        flow += decoder_nodes_node_red(qos)
    path = directory / f"node-red-qos{qos}.json"
    path.write_text(json.dumps(flow))
    return path


def ensure_node_red(directory: Path) -> Path:
    red = directory / "node_modules" / "node-red" / "red.js"
    if not red.exists():
        print(f"installing node-red@4 into {directory} ...", flush=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(directory), "node-red@4", "--no-audit", "--no-fund"],
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )
    return red


def wait_until_accepting(port: int, process: subprocess.Popen, started: float, timeout: float = 30) -> float:
    """Seconds from launch to the first 202 answer to POST /uplink."""
    body = loadgen.uplink(0, 0).rstrip()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/uplink", data=body, headers={"Content-Type": "application/json"}
        )
        with contextlib.suppress(OSError, urllib.error.URLError):
            with urllib.request.urlopen(request, timeout=1) as response:
                if response.status == 202:
                    return time.monotonic() - started
        time.sleep(0.02)
    raise RuntimeError(f"nothing accepted POST /uplink on port {port} within {timeout:g}s")


def start_flowhost(
    directory: Path,
    flow: Path,
    qos: int,
    py_spy: Path | None = None,
    source: Path | None = None,
    loop: str = "asyncio",
) -> System:
    """flowhost as installed in the venv, or (`source`: a checkout of another commit) as the baseline."""
    system = System("flowhost" if source is None else "baseline", free_port())
    data_dir = directory / f"{system.name}-data-qos{qos}"
    shutil.rmtree(data_dir, ignore_errors=True)
    system.log_path = directory / f"{system.name}-qos{qos}.log"
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = f"{source}:{source / 'plugins'}"
    with open(system.log_path, "w") as log:
        started = time.monotonic()
        system.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowhost",
                "--log-level",
                "warning",
                "run",
                str(flow),
                "--no-broker",
                "--port",
                str(system.http_port),
                "--data-dir",
                str(data_dir),
                *(["--loop", loop] if loop != "asyncio" else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=source or ROOT,
            env=env,
        )
    system.startup = wait_until_accepting(system.http_port, system.process, started)
    if py_spy is not None:
        command = ["record", "--format", "raw", "-r", "250", "-o", str(py_spy), "--pid", str(system.process.pid)]
        system.profiler = subprocess.Popen([str(VENV_BIN / "py-spy"), *command], stdout=subprocess.DEVNULL)
    return system


def start_node_red(directory: Path, red: Path, flow: Path, qos: int) -> System:
    system = System("Node-RED", free_port())
    user_dir = directory / f"node-red-user-qos{qos}"
    shutil.rmtree(user_dir, ignore_errors=True)
    user_dir.mkdir()
    settings = user_dir / "settings.js"
    settings.write_text(
        "module.exports = {\n"
        f"  uiPort: {system.http_port}, uiHost: '127.0.0.1', flowFile: {json.dumps(str(flow))},\n"
        f"  userDir: {json.dumps(str(user_dir))}, credentialSecret: false, httpAdminRoot: false,\n"
        "  httpNodeRoot: '/', logging: {console: {level: 'warn', metrics: false, audit: false}},\n"
        "  editorTheme: {tours: false}, diagnostics: {enabled: false}, telemetry: {enabled: false},\n"
        "};\n"
    )
    system.log_path = directory / f"node-red-qos{qos}.log"
    with open(system.log_path, "w") as log:
        started = time.monotonic()
        system.process = subprocess.Popen(
            ["/usr/bin/node", str(red), "--settings", str(settings), "--userDir", str(user_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=user_dir,
        )
    system.startup = wait_until_accepting(system.http_port, system.process, started)
    return system


# -- measurements --------------------------------------------------------------------------------------------------
@dataclass
class Results:
    values: dict[tuple[str, str], float | str] = field(default_factory=dict)

    def put(self, row: str, system: str, value: float | str) -> None:
        self.values[(row, system)] = value
        print(f"  {system:9} {row}: {value if isinstance(value, str) else round(value, 2)}", flush=True)


class Bench:
    def __init__(self, broker_port: int, count: int, quick: bool) -> None:
        self.broker_port = broker_port
        self.count = count
        self.quick = quick
        self._ids = 0
        self._next_seq = 1_000_000

    def client_id(self) -> str:
        self._ids += 1
        return f"bench-{os.getpid()}-{self._ids}"

    def seqs(self, count: int) -> range:
        """Sequence numbers (FCntUp) no other measurement uses, so late arrivals of one never count in another."""
        start = self._next_seq
        self._next_seq += count
        return range(start, start + count)

    async def _pair(
        self, qos: int, seqs: range, record_latency: bool = False
    ) -> tuple[loadgen.MqttRaw, loadgen.MqttRaw]:
        subscriber = await loadgen.MqttRaw.open(self.broker_port, self.client_id(), record_latency, seqs)
        await subscriber.subscribe(UPLINK_FILTER, qos)
        publisher = await loadgen.MqttRaw.open(self.broker_port, self.client_id())
        return publisher, subscriber

    async def burst(
        self, qos: int, count: int, devices: int = DEVICES, pid: int = 0, topic: str = SOURCE_TOPIC
    ) -> tuple[float, int, int, float]:
        """(msg/s from the first publish to the last arrival, messages lost, duplicates, CPU us per message of
        process `pid`)."""
        seqs = self.seqs(count)
        packets = loadgen.uplink_packets(topic, seqs, devices, qos)
        publisher, subscriber = await self._pair(qos, seqs)
        try:
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            for start in range(0, count, 500):
                await publisher.write(packets[start : start + 500])
                if qos:
                    await self._bounded_inflight(publisher, start + 500, 10_000)
            await self._wait_arrivals(subscriber, count, timeout=max(60.0, count / 1000))
            elapsed = subscriber.last_arrival - started
            rate = subscriber.received / elapsed if elapsed > 0 else 0.0
            cpu = (cpu_seconds(pid) - cpu_before) / max(1, subscriber.received) * 1e6
            return rate, count - subscriber.received, subscriber.duplicates, cpu
        finally:
            publisher.close()
            subscriber.close()
            await asyncio.sleep(0.5)  # let the relay settle (acks, outbox deletes) before the next measurement

    async def _bounded_inflight(self, publisher: loadgen.MqttRaw, sent: int, window: int) -> None:
        deadline = time.monotonic() + 30
        while sent - publisher.acked > window and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

    async def _wait_arrivals(self, subscriber: loadgen.MqttRaw, expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last, last_change = -1, time.monotonic()
        while subscriber.received < expected and time.monotonic() < deadline:
            if subscriber.received != last:
                last, last_change = subscriber.received, time.monotonic()
            elif time.monotonic() - last_change > STALL_SECONDS:
                return
            await asyncio.sleep(0.005)

    async def paced(self, qos: int, rate: float, seconds: float, record_latency: bool = False) -> dict:
        """Publish at `rate` msg/s for `seconds`; how many arrived, the backlog (published, not yet arrived: the
        median of the samples taken in the last second), latencies."""
        count = int(rate * seconds)
        seqs = self.seqs(count)
        packets = loadgen.uplink_packets(SOURCE_TOPIC, seqs, DEVICES, qos)
        publisher, subscriber = await self._pair(qos, seqs, record_latency)
        sent_at: list[float] = [0.0] * count
        tick = 0.001 if rate <= 2000 else 0.005
        try:
            started = time.perf_counter()
            sent = 0
            backlogs: list[int] = []
            while sent < count:
                elapsed = time.perf_counter() - started
                if elapsed > seconds - 1.0:
                    backlogs.append(sent - subscriber.received)
                due = min(count, int(elapsed * rate) + 1)
                if due > sent:
                    now = time.perf_counter()
                    for seq in range(sent, due):
                        sent_at[seq] = now
                    await publisher.write(packets[sent:due])
                    sent = due
                await asyncio.sleep(tick)
            backlog = sorted(backlogs)[len(backlogs) // 2] if backlogs else 0
            await self._wait_arrivals(subscriber, count, timeout=10)
            latencies = sorted(arrival - sent_at[seq - seqs.start] for seq, arrival in subscriber.arrivals.items())
            return {"sent": count, "received": subscriber.received, "backlog": backlog, "latencies": latencies}
        finally:
            publisher.close()
            subscriber.close()
            await asyncio.sleep(0.5)

    async def max_paced(self, qos: int, burst_rate: float) -> float:
        """The highest rate with no loss and, in the last second of a step, a median backlog under 0.25 s of
        input (above capacity the backlog grows: 10% too fast for 4 s leaves 0.35 s). Steps go up from half
        the burst rate, or down from there when that already fails; 8 steps at most."""
        seconds = 2.5 if self.quick else 4.0
        best, rate, factor = 0.0, max(500.0, round(burst_rate * 0.5 / 500) * 500), 1.2
        for _ in range(8):
            result = await self.paced(qos, rate, seconds)
            ok = result["received"] >= result["sent"] and result["backlog"] <= rate * 0.25
            print(
                f"    paced {rate:.0f} msg/s: received {result['received']}/{result['sent']}, "
                f"median backlog {result['backlog']} -> {'ok' if ok else 'no'}",
                flush=True,
            )
            if ok:
                best = max(best, rate)
            if (ok and factor < 1) or (not ok and best) or (not ok and rate <= 500):
                break
            factor = factor if ok else 0.7
            rate = max(500.0, round(rate * factor / 250) * 250)
        return best

    async def http(self, port: int, pid: int) -> tuple[float, float, dict, float]:
        """(requests/s, p99 ms, statuses, CPU us per request of process `pid`)."""
        requests = loadgen.http_requests("/uplink", DEVICES)
        seconds = 4.0 if self.quick else 8.0
        cpu_before, own_before = cpu_seconds(pid), time.process_time()
        result = await loadgen.http_load(port, requests, HTTP_CONCURRENCY, total=200_000, seconds=seconds)
        cpu = cpu_seconds(pid) - cpu_before
        own = time.process_time() - own_before
        print(f"    load generator: {own / result['elapsed']:.0%} of a core", flush=True)
        latencies = result["latencies"]
        answered = len(latencies)
        p99 = latencies[int(answered * 0.99)] if answered else float("nan")
        await asyncio.sleep(1.0)
        return answered / result["elapsed"], p99 * 1000, result["statuses"], cpu / max(1, answered) * 1e6

    async def downlinks(self, sink: Sink, count: int) -> float:
        packets = loadgen.downlink_packets(count, DEVICES)
        publisher = await loadgen.MqttRaw.open(self.broker_port, self.client_id())
        sink.received = 0
        try:
            started = time.perf_counter()
            for start in range(0, count, 500):
                await publisher.write(packets[start : start + 500])
            deadline = time.monotonic() + 60
            last, last_change = -1, time.monotonic()
            while sink.received < count and time.monotonic() < deadline:
                if sink.received != last:
                    last, last_change = sink.received, time.monotonic()
                elif time.monotonic() - last_change > STALL_SECONDS:
                    break
                await asyncio.sleep(0.005)
            elapsed = sink.last_arrival - started
            return sink.received / elapsed if elapsed > 0 else 0.0
        finally:
            publisher.close()
            await asyncio.sleep(0.5)


class Sink:
    """The downlink receiver: an aiohttp server counting POSTs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received = 0
        self.last_arrival = 0.0
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def receive(request: web.Request) -> web.Response:
            await request.read()
            self.received += 1
            self.last_arrival = time.perf_counter()
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/downlink", receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/downlink"


# -- the run --------------------------------------------------------------------------------------------------------
@dataclass
class Subject:
    """A system under test with its own broker (same configuration for all) and the bench that drives it."""

    system: System
    bench: Bench

    @property
    def name(self) -> str:
        return self.system.name

    @property
    def pid(self) -> int:
        return self.system.process.pid


async def measure(subjects: list[Subject], results: Results, qos: int, sink: Sink, args: argparse.Namespace) -> None:
    """Every measurement runs for each system in turn, back to back (repeats alternate), so that what else
    runs on the machine weighs on all of them alike."""
    for subject in subjects:
        results.put(f"start-up to first 202 (s), QoS {qos} flow", subject.name, subject.system.startup)
    await asyncio.sleep(2.0)
    for subject in subjects:
        results.put(f"RSS idle (MB), QoS {qos} flow", subject.name, rss_kib(subject.pid)[0] / 1024)
        await subject.bench.burst(qos, 2000)  # warm-up: connections, caches
    tests = set(args.tests)
    rates = dict.fromkeys((subject.name for subject in subjects), 0.0)
    if tests & {"burst", "paced"}:
        runs: dict[str, list] = {subject.name: [] for subject in subjects}
        for _ in range(args.repeat):
            for subject in subjects:
                runs[subject.name].append(await subject.bench.burst(qos, args.count, pid=subject.pid))
        for subject in subjects:
            rate, lost, duplicates, _ = max(runs[subject.name])
            rates[subject.name] = rate
            results.put(f"relay QoS {qos}: burst {args.count:,} (msg/s, best of {args.repeat})", subject.name, rate)
            results.put(f"relay QoS {qos}: burst lost / duplicated", subject.name, f"{lost} / {duplicates}")
            cpu = min(run[3] for run in runs[subject.name])
            results.put(f"relay QoS {qos}: CPU per message (us, least of {args.repeat})", subject.name, cpu)
    if "paced" in tests:
        for subject in subjects:
            best = await subject.bench.max_paced(qos, rates[subject.name])
            results.put(f"relay QoS {qos}: max paced, no loss (msg/s)", subject.name, best)
    if "latency" in tests:
        samples: dict[str, list[tuple[float, float]]] = {subject.name: [] for subject in subjects}
        for _ in range(2):
            for subject in subjects:
                values = (await subject.bench.paced(qos, 1000, 3.0 if args.quick else 5.0, True))["latencies"]
                if values:
                    samples[subject.name].append((values[int(len(values) * 0.99)], values[len(values) // 2]))
        for subject in subjects:
            if samples[subject.name]:
                p99, p50 = min(samples[subject.name])
                results.put(
                    f"relay QoS {qos}: p50 at 1,000 msg/s (ms, run with the best p99 of 2)", subject.name, p50 * 1000
                )
                results.put(f"relay QoS {qos}: p99 at 1,000 msg/s (ms, best of 2)", subject.name, p99 * 1000)
    if qos == 1 and "http" in tests:
        http_runs: dict[str, list] = {subject.name: [] for subject in subjects}
        for _ in range(2):
            for subject in subjects:
                http_runs[subject.name].append(await subject.bench.http(subject.system.http_port, subject.pid))
        for subject in subjects:
            rps, p99, statuses, cpu = max(http_runs[subject.name], key=lambda run: run[0])
            results.put(f"HTTP ingestion, {HTTP_CONCURRENCY} keep-alive clients (req/s, best of 2)", subject.name, rps)
            results.put("HTTP ingestion p99 (ms, same run)", subject.name, p99)
            results.put("HTTP ingestion CPU per request (us, same run)", subject.name, cpu)
            print(f"    {subject.name} HTTP statuses: {statuses}", flush=True)
    if qos == 1 and "downlinks" in tests:
        for subject in subjects:
            rate = await subject.bench.downlinks(sink, args.downlinks)
            results.put("downlinks MQTT -> HTTP sink (msg/s)", subject.name, rate)
    if qos == 1 and "scale" in tests:
        for devices in (10, 1000, 100_000):
            count = min(100_000, max(args.count, devices))
            for subject in subjects:
                rate, lost, duplicates, _ = await subject.bench.burst(qos, count, devices)
                results.put(f"scale QoS 1: {devices:,} DevEUIs, burst {count:,} (msg/s)", subject.name, rate)
                results.put(
                    f"scale QoS 1: {devices:,} DevEUIs, lost / duplicated", subject.name, f"{lost} / {duplicates}"
                )
                rss = rss_kib(subject.pid)[0] / 1024
                results.put(f"scale QoS 1: {devices:,} DevEUIs, RSS after (MB)", subject.name, rss)
    if "decoder" in tests:
        await measure_decoder(subjects, results, qos, args)
    for subject in subjects:
        results.put(f"RSS peak (MB), QoS {qos} flow", subject.name, subject.system.stop() / 1024)


async def measure_decoder(subjects: list[Subject], results: Results, qos: int, args: argparse.Namespace) -> None:
    """The relay with a TS013 decoder in the path (bench/codecs/bench-lpp.js): bursts, as for the relay."""
    runs: dict[str, list] = {subject.name: [] for subject in subjects}
    for subject in subjects:
        await subject.bench.burst(qos, 2000, topic=DECODER_TOPIC)  # warm-up: the codec's first calls
    for _ in range(args.repeat):
        for subject in subjects:
            runs[subject.name].append(await subject.bench.burst(qos, args.count, pid=subject.pid, topic=DECODER_TOPIC))
    for subject in subjects:
        rate, lost, duplicates, _ = max(runs[subject.name])
        results.put(f"decoder QoS {qos}: burst {args.count:,} (msg/s, best of {args.repeat})", subject.name, rate)
        results.put(f"decoder QoS {qos}: burst lost / duplicated", subject.name, f"{lost} / {duplicates}")
        cpu = min(run[3] for run in runs[subject.name])
        results.put(f"decoder QoS {qos}: CPU per message (us, least of {args.repeat})", subject.name, cpu)


def print_table(results: Results) -> str:
    rows = list(dict.fromkeys(row for row, _ in results.values))
    systems = {system for _, system in results.values}
    lower_is_better = ("(ms)", "(ms,", "(MB", "(s)", "(us")
    columns = [name for name in ("flowhost", "Node-RED", "baseline", *VARIANTS) if name in systems]
    pairs = (("flowhost", "Node-RED"), ("flowhost", "baseline"), *(("flowhost", variant) for variant in VARIANTS))
    ratios = [(a, b) for a, b in pairs if {a, b} <= systems]
    lines = [
        "| measurement | " + " | ".join(columns) + "".join(f" | {a} / {b}" for a, b in ratios) + " |",
        "| --- |" + " ---: |" * (len(columns) + len(ratios)),
    ]
    for row in rows:
        cells = [_fmt(results.values.get((row, name))) for name in columns]
        for a, b in ratios:
            ours, theirs = results.values.get((row, a)), results.values.get((row, b))
            ratio = ""
            if isinstance(ours, float | int) and isinstance(theirs, float | int) and theirs and ours:
                ratio = f"{ours / theirs:.2f}x"
                if any(mark in row for mark in lower_is_better):
                    ratio += " (lower is better)"
            cells.append(ratio)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print("\n" + table)
    return table


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def describe_machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mosquitto = subprocess.run(["/usr/sbin/mosquitto", "-h"], capture_output=True, text=True).stdout.split("\n")[0]
    node = subprocess.run(["/usr/bin/node", "-v"], capture_output=True, text=True).stdout.strip()
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; {cpu}; "
        f"Python {platform.python_version()}; Node {node}; {mosquitto}"
    )


async def main_async(args: argparse.Namespace) -> None:
    red = ensure_node_red(args.node_red_dir)
    red_version = json.loads((red.parent / "package.json").read_text())["version"]
    print(describe_machine() + f"; Node-RED {red_version}", flush=True)
    with tempfile.TemporaryDirectory(prefix="flowhost-bench-") as tmp:
        directory = Path(tmp)
        brokers = {name: Mosquitto(directory, f"mosquitto-{name}") for name in args.systems}
        sink = Sink()
        await sink.start()
        results = Results()
        try:
            for qos in args.qos:
                print(f"\n== QoS {qos}: {', '.join(args.systems)}", flush=True)
                subjects = []
                try:
                    for which in args.systems:
                        broker = brokers[which]
                        subjects.append(
                            Subject(
                                start_system(which, directory, broker, qos, sink, red, args),
                                Bench(broker.port, args.count, args.quick),
                            )
                        )
                    await measure(subjects, results, qos, sink, args)
                finally:
                    for subject in subjects:
                        subject.system.stop()
                        if args.keep_logs and subject.system.log_path:
                            shutil.copy(subject.system.log_path, args.keep_logs)
        finally:
            await sink.runner.cleanup()
            for broker in brokers.values():
                broker.stop()
        print_table(results)


def start_system(
    which: str, directory: Path, broker: Mosquitto, qos: int, sink: Sink, red: Path, args: argparse.Namespace
) -> System:
    if which == "Node-RED":
        flow = node_red_flow(directory, broker.port, qos, sink.url, "decoder" in args.tests)
        return start_node_red(directory, red, flow, qos)
    durable = not args.no_durable and which != "volatile"
    acknowledge = "received" if which == "ack-received" else "stored"
    flow = flowhost_flow(
        directory / which, broker.port, qos, sink.url, durable, acknowledge, which == "fsync", "decoder" in args.tests
    )
    source = args.baseline if which == "baseline" else args.source
    profile = args.py_spy.with_name(f"{args.py_spy.stem}-{which}-qos{qos}{args.py_spy.suffix}") if args.py_spy else None
    loop = "uvloop" if which == "uvloop" else "asyncio"
    system = start_flowhost(directory / which, flow, qos, profile, source, loop)
    system.name = which
    return system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30_000, help="messages per burst (default 30000)")
    parser.add_argument("--downlinks", type=int, default=5_000, help="downlinks sent (default 5000)")
    parser.add_argument("--repeat", type=int, default=3, help="relay bursts per system and QoS (default 3)")
    parser.add_argument("--quick", action="store_true", help="shorter paced steps and HTTP run")
    parser.add_argument("--qos", type=int, nargs="+", default=[0, 1], choices=[0, 1])
    parser.add_argument(
        "--systems",
        nargs="+",
        default=["flowhost", "Node-RED"],
        choices=["flowhost", "Node-RED", "baseline", *VARIANTS],
        help="volatile: flowhost with durableOutbox: false; ack-received: its mqtt-in with acknowledge: received; "
        "fsync: with outboxSync: true; uvloop: flowhost run --loop uvloop",
    )
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a checkout of another commit, measured as system 'baseline'"
    )
    parser.add_argument("--node-red-dir", type=Path, default=Path("/tmp/flowhost-bench-node-red"))
    parser.add_argument("--no-durable", action="store_true", help="flowhost with durableOutbox: false")
    default_tests = [test for test in TESTS if test != "decoder"]  # the decoder test only when asked for
    parser.add_argument("--tests", nargs="+", default=default_tests, choices=TESTS)
    parser.add_argument(
        "--source", type=Path, default=None, help="run flowhost from this checkout (default: the installed one)"
    )
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="record each flowhost with py-spy (raw) into FILE-<system>-qos<N>"
    )
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy the systems' logs into this folder")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
