"""A real ``flowhost run`` process against hostile HTTP: foreign ``Host`` names (DNS rebinding), bodies nested too
deep, corrupt gzip, chunked uplinks beyond the limit, requests aiohttp refuses itself, clients that leave mid-body.

Every bad request gets 400 or 413 with its reason and is counted; none is a 500 or an ERROR traceback in the log.
"""

from __future__ import annotations

import asyncio
import gzip
import re

import aiohttp
import pytest

from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import wait_until

TOKEN = "hardening-test-token"
API = {"Authorization": f"Bearer {TOKEN}"}
UPLINK = b'{"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": 2, "payload_hex": "0102"}}'
FLOW = """
flowhost: 1
id: inbound
nodes:
  - id: open
    type: http-uplink
    config: {path: /uplinks/open}
    wires: {out: [console]}
  - id: guarded
    type: http-uplink
    config: {path: /uplinks/guarded, token: uplink-token-1}
    wires: {out: [console]}
  - id: console
    type: debug
"""


@pytest.fixture
async def served(flowhost_process, write_flow, tmp_path):
    """``flowhost run`` on a free port with FLOW; yields (process, base URL)."""

    async def start(*args: str):
        port = free_port()
        process = await flowhost_process(
            "--no-broker",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            *args,
            str(write_flow(FLOW)),
            env={"FLOWHOST_TOKEN": TOKEN},
        )
        await process.wait_for_line("flow:    inbound")
        return process, f"http://127.0.0.1:{port}"

    return start


async def counters(session: aiohttp.ClientSession, url: str, node: str) -> dict[str, int]:
    async with session.get(f"{url}/api/flows/inbound/status", headers=API) as response:
        return (await response.json())["nodes"][node]["counters"]


async def raw_request(url: str, request: bytes) -> bytes:
    """Send bytes as they are (aiohttp's client would not send these) and read the answer until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    return answer


async def test_a_foreign_host_name_gets_421_and_allowed_names_are_served(served):
    process, url = await served("--allowed-hosts", "flowhost.lan, Gateway.Example")
    port = url.rsplit(":", 1)[1]
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/api/flows", "/uplinks/open", "/static/index.html"):
            async with session.get(f"{url}{path}", headers={"Host": f"rebound.attacker.example:{port}"}) as response:
                assert response.status == 421, path
                assert "--allowed-hosts rebound.attacker.example" in (await response.json())["errors"][0]["message"]
        async with session.post(f"{url}/uplinks/open", data=UPLINK, headers={"Host": "attacker.example"}) as response:
            assert response.status == 421
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"flowhost.lan:{port}", "gateway.example"):
            async with session.get(f"{url}/api/node-types", headers={**API, "Host": host}) as response:
                assert response.status == 200, host
        async with session.post(f"{url}/uplinks/open", data=UPLINK, headers={"Host": "flowhost.lan"}) as response:
            assert response.status == 202
        assert (await counters(session, url, "open")) == {"accepted": 1}
    assert await process.stop() == 0


async def test_an_uplink_endpoint_without_a_token_beyond_loopback_is_warned_about_at_start(served):
    # 0.0.0.0 is the case to warn about; the test still speaks only to 127.0.0.1
    process, _ = await served("--host", "0.0.0.0")
    line = await process.wait_for_line("without authentication")
    assert "'inbound/open' serves POST /uplinks/open on 0.0.0.0" in line and "WARNING" in line
    assert not any("inbound/guarded" in text for text in process.lines)
    assert await process.stop() == 0

    loopback, _ = await served()
    await loopback.wait_for_line("ready in")
    assert not any("without authentication" in text for text in loopback.lines)
    assert await loopback.stop() == 0


@pytest.mark.parametrize("depth", [70, 490, 1023])
async def test_deeply_nested_bodies_get_400_naming_the_limit(served, depth):
    process, url = await served()
    nested = b"[" * depth + b"]" * depth
    uplink = b'{"DevEUI": "78AF580300000345", "extra": ' + nested + b"}"
    async with aiohttp.ClientSession(headers=API) as session:
        async with session.post(f"{url}/uplinks/open", data=uplink) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "uplink is nested deeper than 32 levels of arrays and objects"
        for path in ("/api/flows", "/api/flows/validate", "/api/connections"):
            async with session.post(f"{url}{path}", data=b'{"id": "x", "config": ' + nested + b"}") as response:
                assert response.status == 400, path
                message = (await response.json())["errors"][0]["message"]
                assert message == "the body is nested deeper than 64 levels of arrays and objects", path
        yaml = b"flowhost: 1\nid: deep\nnodes: " + nested + b"\n"
        async with session.post(f"{url}/api/flows/import", data=yaml) as response:
            assert response.status == 400
            message = (await response.json())["errors"][0]["message"]
            expected = "the body is nested deeper than 64 levels of lists and mappings"  # past 100, the reader's
            assert message in (expected, "invalid YAML: nested deeper than 100 levels")
        assert (await counters(session, url, "open"))["rejected"] == 1
    assert await process.stop() == 0
    assert not [line for line in process.lines if "ERROR" in line or "Traceback" in line]


async def test_corrupt_and_oversized_bodies_get_400_or_413_and_are_counted(served):
    process, url = await served()
    good = gzip.compress(UPLINK + b" " * 2000)
    corrupt = good[:20] + bytes([good[20] ^ 0xFF]) + good[21:]
    big = b'{"DevEUI": "78AF580300000345", "pad": "' + b"x" * (1024 * 1024) + b'"}'

    async def chunks(data: bytes, size: int = 64 * 1024):
        for start in range(0, len(data), size):
            yield data[start : start + size]

    async with aiohttp.ClientSession(headers=API) as session:
        async with session.post(f"{url}/uplinks/open", data=corrupt, headers={"Content-Encoding": "gzip"}) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "the body cannot be read: Can not decode content-encoding: gzip"
        async with session.post(f"{url}/api/flows", data=corrupt, headers={"Content-Encoding": "gzip"}) as response:
            assert response.status == 400
            assert "the body cannot be read" in (await response.json())["errors"][0]["message"]
        async with session.post(f"{url}/uplinks/open", data=chunks(big)) as response:  # chunked: no Content-Length
            assert response.status == 413 and "larger than 262144 bytes" in (await response.json())["error"]
        async with session.post(f"{url}/uplinks/open", data=big) as response:
            assert response.status == 413
        gzipped_big = gzip.compress(big)  # small on the wire, 1 MiB once decompressed
        async with session.post(f"{url}/uplinks/open", data=gzipped_big, headers={"Content-Encoding": "gzip"}) as r:
            assert r.status == 413
        async with session.post(
            f"{url}/uplinks/open", data=gzip.compress(UPLINK), headers={"Content-Encoding": "gzip"}
        ) as r:
            assert r.status == 202  # a sound gzip body is fine
        assert await counters(session, url, "open") == {"rejected": 4, "accepted": 1}
    assert await process.stop() == 0
    assert not [line for line in process.lines if "ERROR" in line or "Traceback" in line]


async def test_requests_aiohttp_refuses_itself_are_400_and_counted_in_the_metrics(served):
    process, url = await served()
    bad_chunk = (
        b"POST /uplinks/open HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    )
    brotli = b"POST /uplinks/open HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nxx"
    assert (await raw_request(url, bad_chunk)).startswith(b"HTTP/1.0 400 Bad Request")
    assert (await raw_request(url, brotli)).startswith(b"HTTP/1.0 400 Bad Request")
    async with aiohttp.ClientSession(headers=API) as session:
        async with session.get(f"{url}/api/metrics") as response:
            text = await response.text()
    assert 'flowhost_http_refused_total{error="BadHttpMessage"} 1.0' in text
    assert 'flowhost_http_refused_total{error="ContentEncodingError"} 1.0' in text
    warnings = [line for line in process.lines if "refused with 400" in line]
    assert len(warnings) == 2 and all("WARNING" in line for line in warnings)
    assert await process.stop() == 0
    assert not [line for line in process.lines if "ERROR" in line or "Traceback" in line]


async def test_each_client_that_leaves_mid_body_is_one_warning_line(served):
    process, url = await served()
    host, port = url.removeprefix("http://").split(":")
    drops = 20
    for path in ["/uplinks/open"] * (drops - 5) + ["/api/flows"] * 5:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n".encode()
        )
        async with asyncio.timeout(5):  # the server routed the request and waits for its body
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b'{"DevEUI": "78AF')
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    gone = re.compile(r"WARNING flowhost\.http: POST (\S+): the client 127\.0\.0\.1 closed the connection")
    await wait_until(lambda: len([line for line in process.lines if gone.search(line)]) == drops, timeout=10)
    async with aiohttp.ClientSession(headers=API) as session:
        assert (await counters(session, url, "open")) == {"dropped": drops - 5}
        async with session.post(f"{url}/uplinks/open", data=UPLINK) as response:
            assert response.status == 202  # the endpoint still serves
    assert await process.stop() == 0
    assert not [line for line in process.lines if "ERROR" in line or "Traceback" in line]
    assert len(process.lines) < 10 + drops


async def test_a_yaml_import_the_parser_takes_seconds_over_does_not_hold_up_other_requests(served):
    process, url = await served()
    deep = b"flowhost: 1\nid: deep\nnodes: " + b"[" * 1023 + b"]" * 1023 + b"\n"  # seconds in ruamel's scanner
    async with aiohttp.ClientSession(headers=API) as session:

        async def request(method: str, path: str, data: bytes | None = None) -> int:
            async with session.request(method, f"{url}{path}", data=data) as response:
                await response.read()
                return response.status

        importing = asyncio.create_task(request("POST", "/api/flows/import", deep))
        answered_meanwhile = 0
        while answered_meanwhile < 3:  # the event loop keeps serving while the YAML parser works in a thread
            assert await request("GET", "/api/node-types") == 200
            assert not importing.done(), f"the import held the server up ({answered_meanwhile} answered meanwhile)"
            answered_meanwhile += 1
        assert await importing == 400
    assert await process.stop() == 0
