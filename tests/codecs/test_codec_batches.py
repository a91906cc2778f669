"""The ``codec`` node takes its inbox in batches, one crossing into a codec's sandbox per batch: an uplink that
throws, loops for ever, allocates without end, recurses without end, returns a malformed result or reaches for
the host in the middle of a batch fails alone (``payloadDecodedError``, the ``error`` port, its counter); the
others decode, in order. Decoded fields are written into an uplink's JSON bytes."""

from __future__ import annotations

import json

import orjson
import pytest

from flowhost.message import Message
from flowhost_builtins.codec_node import _with_uplink_fields, _Work
from tests.codecs.test_codec_node import fields, run, uplink
from tests.support.sample_nodes import Collector

MIXED = """// a TS013 codec that misbehaves on the first byte E1..E7 and decodes every other frame
function decodeUplink(input) {
  const first = input.bytes[0];
  switch (first) {
    case 0xe1: throw new RangeError("cannot decode frame type e1");
    case 0xe2: for (;;) {}
    case 0xe3: { const hoard = []; for (;;) hoard.push(new Array(100000).fill(first)); }
    case 0xe4: return (function deeper(n) { return deeper(n + 1) + 1; })(0);
    case 0xe5: return 42;
    case 0xe6: return { data: require("fs").readFileSync("/etc/passwd", "utf8") };
    case 0xe7: return { errors: ["frame type e7 is reserved"], warnings: ["check the firmware"] };
  }
  return { data: { first, length: input.bytes.length } };
}
"""

BAD = {
    "e1": ("exception", "decodeUplink: RangeError: cannot decode frame type e1"),
    "e2": ("timeout", "decodeUplink: the script ran longer than its time limit"),
    "e3": ("memory", "decodeUplink: the script needed more memory than its limit"),
    "e4": ("stack", "decodeUplink: stack overflow: RangeError: Maximum call stack size exceeded"),
    "e5": ("malformed", "malformed result: decodeUplink must return an object with data, warnings, errors"),
    "e6": ("exception", "decodeUplink: ReferenceError: require is not defined"),
    "e7": ("errors", "frame type e7 is reserved"),
}


@pytest.fixture(autouse=True)
def _clean():
    Collector.received.clear()


@pytest.mark.parametrize("bad", sorted(BAD))
async def test_a_bad_uplink_in_the_middle_of_a_batch_fails_alone_and_the_others_decode(
    runtime, load_flow, tmp_path, bad
):
    (tmp_path / "mixed.js").write_text(MIXED)
    config = {"codecs": str(tmp_path), "default": "mixed", "timeout": "50ms", "memoryLimit": "16MB"}
    good = [f"{index:02x}00" for index in range(1, 9)]
    payloads = [uplink("00000000000000D1", frame) for frame in [*good[:4], bad + "00", *good[4:]]]
    await run(runtime, load_flow, config, payloads, 9)  # the emitter fills the inbox at once: one batch
    assert [item["payload"] for item in fields("ok")] == [{"first": n, "length": 2} for n in range(1, 9)]
    [failed] = fields("bad")
    reason, message = BAD[bad]
    assert failed["payload_hex"] == bad + "00" and failed["payloadDecodedError"]["message"] == message
    assert "payload" not in failed
    counters = runtime.node("codecs", "codec").counters
    assert (counters["decoded"], counters["decode-errors"], counters[f"decode-errors-{reason}"]) == (8, 1, 1)
    # a timeout ends the whole crossing (QuickJS's interrupt cannot be caught): the batch is decoded again one
    # uplink at a time, each with its own timeout; every other failure is caught for its uplink in the batch
    assert counters.get("batches-redone", 0) == (1 if reason == "timeout" else 0)


async def test_uplinks_for_several_codecs_in_one_batch_leave_in_the_order_they_came(runtime, load_flow, tmp_path):
    (tmp_path / "mixed.js").write_text(MIXED)
    (tmp_path / "other.js").write_text("function Decoder(bytes, port) { return { other: bytes[0], port }; }")
    config = {"codecs": str(tmp_path), "devices": {"00000000000000D2": "other"}, "default": "mixed"}
    devices = ["00000000000000D1", "00000000000000D2"] * 4
    payloads = [uplink(dev_eui, f"{index:02x}", fport=3) for index, dev_eui in enumerate(devices, 1)]
    payloads.insert(3, {"DevEUI_downlink": {"DevEUI": "00000000000000D1", "payload_hex": "00"}})  # passes
    await run(runtime, load_flow, config, payloads, 9)
    results = [message.payload.thaw() for message in Collector.received["ok"]]
    assert "DevEUI_downlink" in results[3]
    decoded = [result["DevEUI_uplink"]["payload"] for result in results if "DevEUI_uplink" in result]
    assert decoded == [
        {"first": index, "length": 1} if index % 2 else {"other": index, "port": 3} for index in range(1, 9)
    ]
    counters = runtime.node("codecs", "codec").counters
    assert (counters["decoded"], counters["passed"]) == (8, 1)


def _work(data: bytes) -> _Work:
    message = Message.from_bytes(data)
    document = orjson.loads(data)
    return _Work("decode", message, document, document["DevEUI_uplink"])


@pytest.mark.parametrize(
    "text",
    [
        '{"DevEUI_uplink": {"DevEUI": "A1", "payload_hex": "01"}}',
        '{"DevEUI_uplink":{"DevEUI":"A1","payload_hex":"01"}}\n',
        '  { "DevEUI_uplink" : { "DevEUI" : "A1", "payload_hex" : "01" } \r\n}\t ',
        '{"DevEUI_uplink": {"DevEUI": "A0"}, "DevEUI_uplink": {"DevEUI": "A1", "payload_hex": "01"}}',
    ],
    ids=["plain", "compact", "whitespace", "repeated-key"],
)
def test_decoded_fields_are_written_into_the_uplinks_bytes(text):
    result = _with_uplink_fields(_work(text.encode()), {"payload": {"t": 1.5, "name": "é\n"}})
    assert result.source_bytes is not None
    assert json.loads(result.source_bytes) == {
        "DevEUI_uplink": {"DevEUI": "A1", "payload_hex": "01", "payload": {"t": 1.5, "name": "é\n"}}
    }


@pytest.mark.parametrize(
    "text",
    [
        '{"DevEUI_uplink": {"DevEUI": "A1", "payload_hex": "01", "payload": {"old": 1}}}',
        '{"DevEUI_uplink": {"DevEUI": "A1", "payload_hex": "01"}, "other": {}}',
    ],
    ids=["payload-already-there", "other-top-level-keys"],
)
def test_a_document_that_cannot_take_the_fields_in_place_is_rebuilt(text):
    document = json.loads(text)
    result = _with_uplink_fields(_work(text.encode()), {"payload": {"t": 1}})
    document["DevEUI_uplink"]["payload"] = {"t": 1}
    assert json.loads(result.source_bytes) == document
