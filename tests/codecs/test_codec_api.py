"""POST /api/codecs/decode and /api/codecs/encode: trying a running node's codecs, or inline code, over real HTTP."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowhost.app import create_web_app

TOKEN = "codec-api-test-token-0123"
GOOD = Path(__file__).parent.parent / "data" / "codecs" / "good"
FLOW = {
    "flowhost": 1,
    "id": "codecs",
    "nodes": [
        {
            "id": "codec",
            "type": "codec",
            "config": {"codecs": str(GOOD), "devices": {"00000000000000A1": "ttn-counter"}, "default": "temp-hum"},
        }
    ],
}


@pytest.fixture
async def api(runtime, load_flow, aiohttp_client):
    await runtime.deploy(load_flow(json.dumps(FLOW)))
    client = await aiohttp_client(create_web_app(runtime, token=TOKEN))
    client.session.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


async def post(api, path: str, body) -> tuple[int, dict]:
    response = await api.post(path, json=body)
    return response.status, await response.json()


async def test_flowhost_web_routes_decode_with_a_running_nodes_codecs(api):
    body = {"flow": "codecs", "node": "codec", "bytes": "0100e7022d", "fPort": 1}
    assert await post(api, "/api/codecs/decode", body) == (
        200,
        {"codec": "temp-hum", "data": {"temperature": 23.1, "humidity": 45}, "warnings": [], "errors": []},
    )
    by_device = await post(api, "/api/codecs/decode", {**body, "devEUI": "00000000000000a1", "bytes": "00000100fa"})
    assert by_device[1]["codec"] == "ttn-counter" and by_device[1]["data"]["pulses"] == 256
    named = await post(api, "/api/codecs/decode", {**body, "codec": "tp-meter", "bytes": "0001e24003e8"})
    assert named[1]["points"]["energy"] == {"unitId": "Wh", "record": 123456}


async def test_a_codec_failure_is_a_result_with_errors(api):
    body = {"flow": "codecs", "node": "codec", "bytes": "01", "fPort": 1}
    assert await post(api, "/api/codecs/decode", body) == (
        200,
        {"codec": "temp-hum", "warnings": [], "errors": ["not a temperature/humidity frame"]},
    )


async def test_encode_with_a_running_nodes_codec(api):
    body = {"flow": "codecs", "node": "codec", "data": {"interval": 600}}
    assert await post(api, "/api/codecs/encode", body) == (
        200,
        {"codec": "temp-hum", "bytes": "100258", "fPort": 2, "warnings": [], "errors": []},
    )
    refused = await post(api, "/api/codecs/encode", {**body, "data": {"interval": 0}})
    assert refused[1]["errors"] == ["interval must be a number of seconds 1..65535"]


async def test_inline_source_is_tried_in_the_same_sandbox(api):
    source = "function decodeUplink(input) { for (;;) {} }"
    status, result = await post(api, "/api/codecs/decode", {"source": source, "bytes": "00", "fPort": 1})
    assert status == 200 and result["errors"] == ["decodeUplink: the script ran longer than its time limit"]
    broken = await post(api, "/api/codecs/decode", {"source": "function (", "bytes": "00", "fPort": 1})
    assert broken[0] == 422 and "SyntaxError" in broken[1]["errors"][0]["message"]
    encoder = "function Encoder(object, port) { return [object.on ? 1 : 0, port]; }"
    assert (await post(api, "/api/codecs/encode", {"source": encoder, "data": {"on": True}, "fPort": 9}))[1][
        "bytes"
    ] == "0109"


@pytest.mark.parametrize(
    ("path", "body", "status", "field", "message"),
    [
        ("decode", {"flow": "codecs", "node": "codec", "bytes": "0g", "fPort": 1}, 400, "bytes", "hexadecimal"),
        ("decode", {"flow": "codecs", "node": "codec", "bytes": "00"}, 400, "fPort", "fPort must be an integer"),
        ("decode", {"bytes": "00", "fPort": 1}, 400, "node", "give flow and node"),
        ("decode", {"flow": "codecs", "node": "nope", "bytes": "00", "fPort": 1}, 404, "node", "no codec node"),
        ("decode", {"flow": "codecs", "node": "codec", "codec": "x", "bytes": "00", "fPort": 1}, 404, "codec", "x"),
        ("decode", {"flow": "codecs", "node": "codec", "devEUI": "12", "bytes": "", "fPort": 1}, 400, "devEUI", "16"),
        ("decode", [1, 2], 400, "", "JSON object"),
        ("encode", {"flow": "codecs", "node": "codec"}, 400, "data", "data (the downlink's payload) is required"),
    ],
)
async def test_bad_requests_name_the_field(api, path, body, status, field, message):
    got_status, result = await post(api, f"/api/codecs/{path}", body)
    assert got_status == status
    [error] = result["errors"]
    assert error["path"] == field and message in error["message"]


async def test_the_codec_routes_need_the_api_token(api):
    api.session.headers.pop("Authorization")
    response = await api.post("/api/codecs/decode", json={"source": "function Decoder(){}", "bytes": "", "fPort": 1})
    assert response.status == 401


async def test_a_flow_saved_through_the_api_finds_its_codec_folder_beside_its_saved_file(api, runtime):
    """A relative codec folder is relative to the flow's file: for a flow created through the API, the file it is
    saved to in the data directory (NodeContext.flow_dir)."""
    shutil.copytree(GOOD, runtime.data_dir / "flows" / "shared-codecs")
    body = {
        "flowhost": 1,
        "id": "api-made",
        "nodes": [{"id": "codec", "type": "codec", "config": {"codecs": "shared-codecs", "default": "temp-hum"}}],
    }
    response = await api.post("/api/flows", json=body)
    assert response.status == 201, await response.text()
    status, result = await post(
        api, "/api/codecs/decode", {"flow": "api-made", "node": "codec", "bytes": "0100e7022d", "fPort": 1}
    )
    assert (status, result["data"]) == (200, {"temperature": 23.1, "humidity": 45})
