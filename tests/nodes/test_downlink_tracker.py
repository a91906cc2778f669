"""``downlink-tracker`` on the manual clock, with the reports Actility, ChirpStack and The Things Stack publish
(tests/data, sources in each README): joined by CorrelationID or by DevEUI, sent, rejected, not sent, timed out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowhost_builtins.chirpstack import thingpark_document as from_chirpstack
from flowhost_builtins.downlink_tracker import delivery_failed_cause
from flowhost_builtins.tts import thingpark_document as from_tts
from flowhost_builtins.tts import tts_downlink

from .conftest import wait_for

DATA = Path(__file__).resolve().parents[1] / "data"
FLOW = """
flowhost: 1
id: t
nodes:
  - id: tracker
    type: downlink-tracker
    config: {timeout: 5m, maxPending: 3}
    wires: {out: [out], sent: [sent], rejected: [rejected], timeout: [timeout], unmatched: [unmatched]}
  - {id: out, type: test-collect}
  - {id: sent, type: test-collect}
  - {id: rejected, type: test-collect}
  - {id: timeout, type: test-collect}
  - {id: unmatched, type: test-collect}
"""


def data(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def downlink(dev_eui: str, **fields) -> dict:
    return {"DevEUI_downlink": {"DevEUI": dev_eui, "FPort": 1, "payload_hex": "01", **fields}}


def with_correlation(document: dict, correlation_id: str) -> dict:
    [(root, fields)] = document.items()
    return {root: {**fields, "CorrelationID": correlation_id}}


async def test_a_downlink_without_correlation_id_gets_one_and_actilitys_sent_report_is_joined(harness):
    await harness.deploy(FLOW)
    sent_report = data("thingpark/downlink-sent.json")
    device = sent_report["DevEUI_downlink_Sent"]["DevEUI"]
    await harness.send("tracker", downlink(device))
    await harness.settle()
    [out] = harness.payloads("out")
    correlation_id = out["DevEUI_downlink"]["CorrelationID"]
    assert len(correlation_id) == 16 and int(correlation_id, 16) >= 0
    # Actility's example says DeliveryStatus 0 (not sent over the air) with cause B0 on RX1.
    await harness.send("tracker", with_correlation(sent_report, correlation_id))
    await harness.settle()
    [failed] = harness.received("rejected")
    assert failed.payload == out
    outcome = failed.meta["downlink"]
    assert (outcome["outcome"], outcome["cause"], outcome["matchedBy"]) == (
        "notSent",
        "RX1: B0 too late",
        "CorrelationID",
    )
    assert outcome["report"]["DevEUI_downlink_Sent"]["DeliveryFailedCause1"] == "B0"
    assert harness.counters("tracker")["correlationIdsAdded"] == 1


async def test_a_sent_report_with_delivery_status_1_goes_to_sent(harness):
    await harness.deploy(FLOW)
    report = data("thingpark/downlink-sent.json")["DevEUI_downlink_Sent"]
    await harness.send("tracker", downlink(report["DevEUI"], CorrelationID="4434704901c7450b"))
    sent = {
        "DevEUI_downlink_Sent": {
            **report,
            "DeliveryStatus": 1,
            "CorrelationID": "4434704901C7450B",
            "DeliveryFailedCause1": "00",
        }
    }
    await harness.send("tracker", sent)
    await harness.settle()
    [msg] = harness.received("sent")
    assert msg.payload["DevEUI_downlink"]["CorrelationID"] == "4434704901c7450b"  # kept as written
    assert msg.meta["downlink"]["outcome"] == "sent" and "cause" not in msg.meta["downlink"]


async def test_actilitys_rejected_report_without_correlation_id_is_joined_by_dev_eui_oldest_first(harness):
    await harness.deploy(FLOW)
    report = data("thingpark/downlink-rejected.json")
    device = report["DevEUI_downlink_Rejected"]["DevEUI"]
    await harness.send("tracker", downlink(device, CorrelationID="0000000000000001"))
    await harness.send("tracker", downlink(device, CorrelationID="0000000000000002"))
    await harness.send("tracker", report)
    await harness.settle()
    [msg] = harness.received("rejected")
    assert msg.payload["DevEUI_downlink"]["CorrelationID"] == "0000000000000001"
    outcome = msg.meta["downlink"]
    assert outcome["outcome"] == "rejected" and outcome["matchedBy"] == "DevEUI"
    assert outcome["cause"] == "Downlink counter value already used. Expected=1238"


async def test_chirpstack_txack_and_unacknowledged_ack_through_from_chirpstack(harness):
    await harness.deploy(FLOW)
    txack = from_chirpstack(data("chirpstack/txack.json"), "txack")
    ack = from_chirpstack({**data("chirpstack/ack.json"), "acknowledged": False}, "ack")
    device = txack["DevEUI_downlink_Sent"]["DevEUI"]
    await harness.send("tracker", downlink(device))
    await harness.send("tracker", downlink(device))
    await harness.send("tracker", txack)
    await harness.send("tracker", ack)
    await harness.settle()
    first, second = harness.payloads("out")
    assert [m.payload for m in harness.received("sent")] == [first]
    [rejected] = harness.received("rejected")
    assert rejected.payload == second
    assert "did not acknowledge" in rejected.meta["downlink"]["cause"]
    # A confirmed downlink reports twice, txack then ack, on the same frame (fCntDown): the first report decided.
    await harness.send("tracker", downlink(device))
    again = from_chirpstack({**data("chirpstack/ack.json"), "fCntDown": 2}, "ack")
    await harness.send("tracker", again)
    await harness.settle()
    [repeated] = harness.payloads("unmatched")
    assert repeated["DevEUI_downlink_Sent"]["chirpstack"]["event"] == "ack"
    assert len(harness.received("sent")) == 1  # the third downlink still waits for its own report
    assert harness.counters("tracker")["repeatedReports"] == 1


async def test_tts_returns_the_correlation_id_to_tts_sent_and_from_tts_reads_it(harness):
    await harness.deploy(FLOW)
    device = "0004A30B001C0530"
    await harness.send("tracker", downlink(device))
    await harness.send("tracker", downlink(device))
    await harness.settle()
    _, second = harness.payloads("out")
    # The Things Stack's ack example, carrying the correlation id to-tts gave the second downlink.
    pushed = tts_downlink(second["DevEUI_downlink"], "NORMAL")["downlinks"][0]
    event = data("tts/down-ack.json")
    event["downlink_ack"]["correlation_ids"] += pushed["correlation_ids"]
    await harness.send("tracker", from_tts(event, "down/ack"))
    await harness.settle()
    [msg] = harness.received("sent")
    assert msg.payload == second
    assert msg.meta["downlink"]["matchedBy"] == "CorrelationID"


async def test_a_downlink_without_report_times_out_and_a_late_report_is_unmatched(harness):
    await harness.deploy(FLOW)
    await harness.send("tracker", downlink("0018B20000000D48", CorrelationID="00000000000000AA"))
    await harness.settle()
    await harness.advance(299)
    assert harness.received("timeout") == []
    await harness.advance(1)
    await wait_for(lambda: len(harness.received("timeout")) == 1)
    outcome = harness.received("timeout")[0].meta["downlink"]
    assert outcome == {"outcome": "timeout", "seconds": 300.0, "cause": "no report within 300s"}
    late = with_correlation(data("thingpark/downlink-sent.json"), "00000000000000AA")
    await harness.send("tracker", late)
    await harness.settle()
    assert harness.payloads("unmatched") == [late]
    assert harness.counters("tracker")["unmatched"] == 1


async def test_the_table_is_bounded_the_oldest_is_let_go_on_timeout(harness):
    await harness.deploy(FLOW)
    for number in range(4):
        await harness.send("tracker", downlink("0018B20000000D48", CorrelationID=f"{number:016X}"))
    await harness.settle()
    [evicted] = harness.received("timeout")
    assert evicted.payload["DevEUI_downlink"]["CorrelationID"] == f"{0:016X}"
    assert "maxPending" in evicted.meta["downlink"]["cause"]
    assert harness.counters("tracker")["evicted"] == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"DevEUI_uplink": {"DevEUI": "0018B20000000D48"}}, "expected a DevEUI_downlink going out"),
        ({"DevEUI_downlink": {"FPort": 1}}, "DevEUI_downlink.DevEUI must be 16 hexadecimal digits"),
        (downlink("0018B20000000D48", CorrelationID="xyz"), "CorrelationID must be 16 hexadecimal digits"),
        ("text", "expected a DevEUI_downlink"),
    ],
)
async def test_what_is_neither_a_downlink_nor_a_report_is_refused_alone(harness, caplog, payload, reason):
    await harness.deploy(FLOW)
    await harness.send("tracker", payload)
    await harness.send("tracker", downlink("0018B20000000D48"))
    await harness.settle()
    assert len(harness.payloads("out")) == 1
    assert harness.counters("tracker")["refused"] == 1
    assert any(reason in record.getMessage() for record in caplog.records)


def test_delivery_failed_causes_in_words() -> None:
    report = {"DeliveryFailedCause1": "D0", "DeliveryFailedCause2": "E0", "DeliveryFailedCause3": "00"}
    assert delivery_failed_cause(report) == (
        "RX1: D0 duty cycle constraint detected by the LRR; RX2: E0 max delay for class C (60 seconds)"
    )
    assert delivery_failed_cause({"DeliveryFailedCause1": "00"}) is None


async def test_tts_down_failed_carries_the_correlation_id_back_and_its_error_as_the_cause(harness):
    await harness.deploy(FLOW)
    device = "0004A30B001C0530"
    await harness.send("tracker", downlink(device, CorrelationID="00000000000000F1"))
    await harness.settle()
    [out] = harness.payloads("out")
    pushed = tts_downlink(out["DevEUI_downlink"], "NORMAL")["downlinks"][0]
    # The documentation's down/failed example has no dev_eui ("empty fields are omitted"): added to this copy.
    event = data("tts/down-failed.json")
    event["end_device_ids"]["dev_eui"] = device
    event["downlink_failed"]["downlink"]["correlation_ids"] += pushed["correlation_ids"]
    await harness.send("tracker", from_tts(event, "down/failed"))
    await harness.settle()
    [msg] = harness.received("rejected")
    outcome = msg.meta["downlink"]
    assert (outcome["matchedBy"], outcome["cause"]) == ("CorrelationID", "application downlink payload is too long")
