"""How many uplinks a second the ``codec`` node decodes, alone (no broker): run by hand, never by the tests.

    .venv/bin/python bench/codec_node.py [--count 50000] [--repeat 3] [--codec temp-hum] [--on-thread]

A flow of three nodes runs in one process: a source sends ``--count`` ThingPark uplink documents as JSON bytes
(as ``mqtt-in`` does, so the codec node parses and freezes each one, as it would behind a broker), the ``codec``
node decodes them with a TS013 codec from tests/data/codecs/good, and a sink counts them. Printed: decodes per
second of wall-clock time and per second of the process's CPU time (the steadier figure on a shared machine), best
of ``--repeat``, with the CPU time per decode, and the codec's own share (the JavaScript call alone, JSON in and
out). The codec runs at the node's default settings (timeout 100ms, memoryLimit 32MB): inline, on the event loop;
``--on-thread`` measures the mode of a codec that once used up its time (its own thread, awaited by the node).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from flowhost import Message, Node, hookimpl
from flowhost.app import create_runtime
from flowhost.flowfile import validate_flow
from flowhost.plugins import load_plugins
from flowhost_builtins import codec_apis
from flowhost_builtins.codec_apis import Codec
from flowhost_builtins.thingpark import make_uplink

CODECS = Path(__file__).resolve().parent.parent / "tests" / "data" / "codecs" / "good"
PAYLOADS = {"temp-hum": ("0100e7022d", 1), "tracker": ("011aef37c803697d4800d403", 10)}


class BenchSource(Node):
    type = "bench-source"
    has_input = False
    batches: list[list[bytes]] = []

    async def start(self) -> None:
        self.context.create_task(self._send(), "send")

    async def _send(self) -> None:
        for document in self.batches.pop(0):
            message = Message.from_bytes(document)
            if not self.context.send_nowait(message):
                await self.context.send(message)


class BenchSink(Node):
    type = "bench-sink"
    outputs = ()
    expected = 0
    done: asyncio.Event | None = None
    received = 0

    async def on_input(self, msg: Message) -> None:
        type(self).received += 1
        if type(self).received == self.expected and self.done is not None:
            self.done.set()


@hookimpl
def flowhost_register_node_types(register):
    register(BenchSource)
    register(BenchSink)


def documents(count: int, payload_hex: str, fport: int) -> list[bytes]:
    rng = random.Random(1)
    now = datetime.now(UTC)
    devices = [f"70B3D5E75E{index:06X}" for index in range(1000)]
    return [
        orjson.dumps(make_uplink(devices[index % 1000], index, fport, payload_hex, now, rng)) for index in range(count)
    ]


async def one_run(count: int, codec: str, run: int) -> tuple[float, float]:
    payload_hex, fport = PAYLOADS[codec]
    BenchSource.batches = [documents(count, payload_hex, fport)]
    BenchSink.expected, BenchSink.received, BenchSink.done = count, 0, asyncio.Event()
    flow = {
        "flowhost": 1,
        "id": f"bench-{run}",
        "nodes": [
            {"id": "source", "type": "bench-source", "wires": {"out": ["codec"]}},
            {
                "id": "codec",
                "type": "codec",
                "config": {"codecs": str(CODECS), "default": codec},
                "wires": {"out": ["sink"], "error": ["sink"]},
            },
            {"id": "sink", "type": "bench-sink"},
        ],
    }
    with tempfile.TemporaryDirectory() as data_dir:
        runtime = create_runtime(Path(data_dir), load_plugins(extra=[("bench", sys.modules[__name__])]))
        await runtime.start()
        spec = validate_flow(json.loads(json.dumps(flow)), runtime.registry)
        started, cpu_started = time.perf_counter(), time.process_time()
        await runtime.deploy(spec)
        await asyncio.wait_for(BenchSink.done.wait(), timeout=600)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        counters = dict(runtime.node(spec.id, "codec").counters)
        await runtime.stop()
    if counters.get("decoded") != count:
        raise SystemExit(f"expected {count} decoded uplinks, counters: {counters}")
    return count / wall, count / cpu


def codec_call_rate(codec_name: str, count: int) -> float:
    """The JavaScript call alone: decodes per second of CPU time."""
    codec = Codec(codec_name, (CODECS / f"{codec_name}.js").read_text())
    payload_hex, fport = PAYLOADS[codec_name]
    data = bytes.fromhex(payload_hex)
    started = time.process_time()
    for _ in range(count):
        codec.decode_uplink(data, fport, "2026-12-01T10:00:00.000+00:00")
    return count / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--codec", choices=sorted(PAYLOADS), default="temp-hum")
    parser.add_argument("--on-thread", action="store_true", help="codecs on their own thread (as after a timeout)")
    args = parser.parse_args()
    if args.on_thread:
        codec_apis.JsSandbox = functools.partial(codec_apis.JsSandbox, inline=False)
    results = [asyncio.run(one_run(args.count, args.codec, run)) for run in range(args.repeat)]
    wall = max(rate for rate, _ in results)
    cpu = max(rate for _, rate in results)
    print(f"codec node ({args.codec}), {args.count} uplinks, best of {args.repeat}:")
    print(f"  {wall:,.0f} decodes/s (wall clock)   {cpu:,.0f} decodes/s of CPU time (one core)")
    print(f"  {1e6 / cpu:.1f} us of CPU per decode (the whole process: source, codec node, sink)")
    print(f"  the JavaScript call alone: {codec_call_rate(args.codec, args.count):,.0f} calls/s of CPU time")


if __name__ == "__main__":
    main()
