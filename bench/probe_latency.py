"""How long the API takes to answer while it refuses issue 13's bombs (YAML alias bombs, template bombs).

    python bench/probe_latency.py

Starts ``flowhost run --no-broker`` on a free port, then sends each bomb while a GET /api/flows probe runs
every 10 ms beside it, and prints the refusal's status and the slowest probe.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bombs import ISSUE_TEMPLATE_BOMBS, alias_bomb, merge_key_bomb

TOKEN = "probe-latency-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_until_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with session.get(f"{url}/api/flows") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("flowhost did not start within 30 s")


async def probe_while(session: aiohttp.ClientSession, url: str, path: str, **request) -> tuple[int, float, int]:
    async def send() -> int:
        async with session.post(f"{url}{path}", **request) as response:
            return response.status

    sent, worst, probes = asyncio.create_task(send()), 0.0, 0
    for _ in range(1000):
        started = time.monotonic()
        async with session.get(f"{url}/api/flows") as response:
            await response.read()
        worst, probes = max(worst, time.monotonic() - started), probes + 1
        if sent.done():
            break
        await asyncio.sleep(0.01)
    return await sent, worst * 1000, probes


def cases() -> list[tuple[str, str, dict]]:
    found = [
        ("alias bomb", "/api/flows/import", {"data": alias_bomb()}),
        ("merge-key bomb", "/api/flows/import", {"data": merge_key_bomb()}),
    ]
    for name, (pattern, _) in ISSUE_TEMPLATE_BOMBS.items():
        configuration = {"uplinkTopicPattern": pattern, "hostName": "127.0.0.1:1", "protocol": "TCP"}
        body = {"connectorId": "actility-mqtt-iot", "name": name, "configuration": configuration}
        found.append((name, "/api/connections", {"json": body}))
    return found


async def main() -> None:
    port, data_dir = free_port(), tempfile.mkdtemp(prefix="flowhost-probe-")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flowhost", "run", "--no-broker", "--port", str(port), "--data-dir", data_dir,
        env={**os.environ, "FLOWHOST_TOKEN": TOKEN},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            await wait_until_up(session, url)
            for name, path, request in cases():
                status, worst, probes = await probe_while(session, url, path, **request)
                print(f"{name:20} {status}  slowest of {probes} probes: {worst:6.1f} ms")
    finally:
        process.terminate()
        await process.wait()


if __name__ == "__main__":
    asyncio.run(main())
