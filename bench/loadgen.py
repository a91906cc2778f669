"""The load generator of bench/run.py: raw-socket MQTT and HTTP clients that cost little per message.

The publisher writes pre-encoded MQTT 3.1.1 PUBLISH packets in batches (QoS 1 with packet ids, PUBACKs counted);
the subscriber parses only each packet's fixed header and topic (and, when asked, the FCntUp of the payload to
measure latency). The HTTP client keeps a fixed number of keep-alive connections busy with pre-encoded POSTs.
Every wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, DISCONNECT = 1, 2, 3, 4, 8, 9, 14
UPLINK_SIZE = 720
_FCNT = re.compile(rb'"FCntUp":(\d+)')


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str, keep_alive: int = 60) -> bytes:
    body = _string("MQTT") + bytes([4, 0x02]) + keep_alive.to_bytes(2, "big") + _string(client_id)
    return bytes([CONNECT << 4]) + _remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int, packet_id: int = 0) -> bytes:
    body = _string(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes([PUBLISH << 4 | qos << 1]) + _remaining_length(len(body)) + body


def subscribe_packet(packet_id: int, topic_filter: str, qos: int) -> bytes:
    body = packet_id.to_bytes(2, "big") + _string(topic_filter) + bytes([qos])
    return bytes([SUBSCRIBE << 4 | 0x02]) + _remaining_length(len(body)) + body


def dev_eui(index: int) -> str:
    return f"70B3D57ED0{index:06X}"


def uplink(seq: int, device: int) -> bytes:
    """A ThingPark DevEUI_uplink document padded to 720 bytes; FCntUp carries the sequence number."""
    body = (
        (
            '{"DevEUI_uplink":{"Time":"2026-11-26T08:00:00.000+00:00","DevEUI":"%s","FPort":2,"FCntUp":%d,'
            '"ADRbit":1,"MType":4,"FCntDn":7,"payload_hex":"0367f600046882","mic_hex":"a1b2c3d4",'
            '"Lrcid":"00000201","LrrRSSI":-87.0,"LrrSNR":9.25,"LrrESP":-87.5,"SpFact":7,"SubBand":"G1",'
            '"Channel":"LC1","DevLrrCnt":1,"Lrrid":"FF0109A4","Late":0,"LrrLAT":48.8566,"LrrLON":2.3522,'
            '"Lrrs":{"Lrr":[{"Lrrid":"FF0109A4","Chain":0,"LrrRSSI":-87.0,"LrrSNR":9.25}]},'
            '"CustomerID":"100000000","CustomerData":{"alr":{"pro":"ADRF/DEMO","ver":"2"},"tags":["bench"],'
            '"name":"sensor"},"ModelCfg":"0","InstantPER":0.0,"MeanPER":0.0,"DevAddr":"04A2B3C4",'
            '"AckRequested":0,"rawMacCommands":"","TxPower":14.0,"NbTrans":1,"Frequency":868.1,'
            '"DynamicClass":"A"}}'
        )
        .replace("%s", dev_eui(device))
        .replace("%d", str(seq))
    )
    data = body.encode()
    return data + b" " * max(0, UPLINK_SIZE - len(data))


def uplink_packets(topic: str, seqs: range, devices: int, qos: int) -> list[bytes]:
    return [publish_packet(topic, uplink(seq, seq % devices), qos, seq % 65535 + 1 if qos else 0) for seq in seqs]


def downlink_packets(count: int, devices: int) -> list[bytes]:
    return [
        publish_packet(
            f"mqtt/things/{dev_eui(seq % devices)}/downlink",
            b'{"DevEUI_downlink":{"FPort":1,"payload_hex":"%04x"}}' % (seq % 65536),
            1,
            seq % 65535 + 1,
        )
        for seq in range(count)
    ]


class MqttRaw(asyncio.Protocol):
    """One MQTT 3.1.1 connection: publishes pre-encoded packets, counts PUBACKs and received PUBLISHes."""

    def __init__(self, record_latency: bool = False, first_seq: int = 0, last_seq: int = 0) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.connack: asyncio.Future = asyncio.get_running_loop().create_future()
        self.suback: asyncio.Future = asyncio.get_running_loop().create_future()
        self.acked = 0
        self.received = 0
        self.last_arrival = 0.0
        self.record_latency = record_latency
        self.first_seq, self.last_seq = first_seq, last_seq  # count only this run's uplinks (FCntUp)
        self.seen = bytearray(last_seq - first_seq)
        self.duplicates = 0
        self.arrivals: dict[int, float] = {}
        self._drained: asyncio.Future | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    @classmethod
    async def open(cls, port: int, client_id: str, record_latency: bool = False, seqs: range | None = None) -> MqttRaw:
        loop = asyncio.get_running_loop()
        bounds = (seqs.start, seqs.stop) if seqs is not None else (0, 0)
        _, protocol = await loop.create_connection(lambda: cls(record_latency, *bounds), "127.0.0.1", port)
        protocol.transport.set_write_buffer_limits(high=4 * 1024 * 1024)
        protocol.transport.write(connect_packet(client_id))
        await asyncio.wait_for(protocol.connack, 5)
        return protocol

    async def subscribe(self, topic_filter: str, qos: int) -> None:
        self.transport.write(subscribe_packet(1, topic_filter, qos))
        await asyncio.wait_for(self.suback, 5)

    def pause_writing(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    async def write(self, packets: Sequence[bytes]) -> None:
        self.transport.writelines(packets)
        if self._drained is not None:
            await asyncio.wait_for(asyncio.shield(self._drained), 30)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes([DISCONNECT << 4, 0]))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos, end = 0, len(buf)
        acks = []
        received = 0
        while end - pos >= 2:
            first = buf[pos]
            length, shift, index, complete = 0, 0, pos + 1, False
            while index < end:
                byte = buf[index]
                index += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
            if not complete or index + length > end:
                break
            kind = first >> 4
            if kind == PUBLISH:
                if first & 0x06:
                    topic_length = buf[index] << 8 | buf[index + 1]
                    packet_id = buf[index + 2 + topic_length : index + 4 + topic_length]
                    acks.append(b"\x40\x02" + packet_id)
                match = _FCNT.search(buf, index, index + length)
                seq = int(match.group(1)) if match else -1
                if self.first_seq <= seq < self.last_seq:
                    if self.seen[seq - self.first_seq]:
                        self.duplicates += 1
                    else:
                        self.seen[seq - self.first_seq] = 1
                        received += 1
                        if self.record_latency:
                            self.arrivals[seq] = time.perf_counter()
            elif kind == PUBACK:
                self.acked += 1
            elif kind == CONNACK and not self.connack.done():
                self.connack.set_result(buf[index + 1])
            elif kind == SUBACK and not self.suback.done():
                self.suback.set_result(buf[index + 2])
            pos = index + length
        del buf[:pos]
        if received:
            self.received += received
            self.last_arrival = time.perf_counter()
        if acks:
            self.transport.writelines(acks)


class HttpLoad(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending pre-encoded requests one after another."""

    def __init__(self, requests: Sequence[bytes], deadline: float, budget: list[int], done: asyncio.Future) -> None:
        self.requests = requests
        self.deadline = deadline
        self.budget = budget  # shared: requests left to send
        self.done = done
        self.buffer = bytearray()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.sent_at = 0.0
        self.index = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._next()

    def _next(self) -> None:
        if self.budget[0] <= 0 or time.perf_counter() > self.deadline:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)
            return
        self.budget[0] -= 1
        self.index += 1
        self.sent_at = time.perf_counter()
        self.transport.write(self.requests[self.index % len(self.requests)])

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while True:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(buf[:head_end]).lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at)
                length = int(head[at + 15 : line_end if line_end > 0 else None])
            if len(buf) < head_end + 4 + length:
                return
            status = int(head[9:12])
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.latencies.append(time.perf_counter() - self.sent_at)
            del buf[: head_end + 4 + length]
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def http_requests(path: str, devices: int, count: int = 1000) -> list[bytes]:
    out = []
    for seq in range(count):
        body = uplink(seq, seq % devices).rstrip()
        out.append(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
    return out


async def http_load(port: int, requests: Sequence[bytes], concurrency: int, total: int, seconds: float) -> dict:
    """Keep `concurrency` connections busy until `total` requests were sent or `seconds` passed."""
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    budget = [total]
    protocols: list[HttpLoad] = []
    waiters = []
    started = time.perf_counter()
    for _ in range(concurrency):
        done = loop.create_future()
        _, protocol = await loop.create_connection(
            lambda done=done: HttpLoad(requests, deadline, budget, done), "127.0.0.1", port
        )
        protocols.append(protocol)
        waiters.append(done)
    await asyncio.wait(waiters, timeout=seconds + 10)
    elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for protocol in protocols:
        for status, count in protocol.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        protocol.transport.close()
    latencies = sorted(latency for protocol in protocols for latency in protocol.latencies)
    return {"elapsed": elapsed, "latencies": latencies, "statuses": statuses}
