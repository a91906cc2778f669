"""ChirpStack v4's documented events, each to the ThingPark document of the same meaning, nothing dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowhost_builtins.bridges import BridgeError, downlink_command
from flowhost_builtins.chirpstack import chirpstack_command, thingpark_document
from flowhost_builtins.thingpark_documents import read_document

CHIRPSTACK = Path(__file__).resolve().parents[1] / "data" / "chirpstack"
DEVICE = "0101010101010101"


def event(name: str) -> dict:
    return json.loads((CHIRPSTACK / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("name", "root"),
    [
        ("up", "DevEUI_uplink"),
        ("join", "DevEUI_notification"),
        ("status", "DevEUI_notification"),
        ("ack", "DevEUI_downlink_Sent"),
        ("txack", "DevEUI_downlink_Sent"),
        ("log", "DevEUI_notification"),
        ("location", "DevEUI_location"),
    ],
)
def test_every_documented_event_becomes_a_thingpark_document(name: str, root: str) -> None:
    source = event(name)
    document = thingpark_document(source, name, DEVICE.lower())
    assert read_document(document)[0] == root
    fields = document[root]
    assert fields["DevEUI"] == DEVICE and fields["Time"] == source["time"]
    kept = fields["chirpstack"]
    assert kept["event"] == name
    assert kept["deviceInfo"]["applicationId"] == source["deviceInfo"]["applicationId"]
    moved = {"fPort", "fCnt", "data", "object", "devAddr", "deviceInfo"}
    assert all(kept[key] == value for key, value in source.items() if key not in moved)  # nothing dropped


def test_uplink_fields() -> None:
    fields = thingpark_document(event("up"), "up")["DevEUI_uplink"]
    assert fields["FPort"] == 1 and fields["FCntUp"] == 0  # fCnt 0 is left out of ChirpStack's JSON
    assert fields["payload_hex"] == "aa" and "payload" not in fields
    assert fields["DevAddr"] == "00189440" and fields["MType"] == 2 and fields["ADRbit"] == 0
    assert fields["Lrrs"] == {"Lrr": [{"Lrrid": "0016C001F153A14C", "LrrRSSI": -36, "LrrSNR": 10.5}]}
    assert fields["DevLrrCnt"] == 1 and fields["Frequency"] == 867.1 and fields["SpFact"] == 11
    assert "SubBand" not in fields  # ThingPark's sub-band names are not derivable from ChirpStack's event


def test_the_best_gateway_is_the_one_with_the_best_snr() -> None:
    source = event("up")
    source["rxInfo"] = [
        {"gatewayId": "aa00000000000001", "rssi": -40, "snr": 2.0, "location": {"latitude": 1.0, "longitude": 2.0}},
        {"gatewayId": "aa00000000000002", "rssi": -90, "snr": 9.0, "location": {"latitude": 3.0, "longitude": 4.0}},
    ]
    fields = thingpark_document(source, "up")["DevEUI_uplink"]
    assert (fields["Lrrid"], fields["LrrLAT"], fields["LrrLON"]) == ("AA00000000000002", 3.0, 4.0)
    assert [lrr["Lrrid"] for lrr in fields["Lrrs"]["Lrr"]] == ["AA00000000000002", "AA00000000000001"]


def test_status_reports_the_devstatusans_battery_byte_and_margin() -> None:
    fields = thingpark_document(event("status"), "status")["DevEUI_notification"]
    assert (fields["Type"], fields["Var1"], fields["Var2"]) == ("devstatusans", 224, 10)  # 88.3 % of 254
    assert (
        thingpark_document({**event("status"), "externalPowerSource": True}, "status")["DevEUI_notification"]["Var1"]
        == 0
    )


def test_a_nack_is_a_rejected_downlink_and_log_a_notification() -> None:
    nack = thingpark_document({**event("ack"), "acknowledged": False}, "ack")
    assert nack["DevEUI_downlink_Rejected"]["FCntDn"] == 3
    assert "did not acknowledge" in nack["DevEUI_downlink_Rejected"]["DownlinkRejectionCause"]
    log = thingpark_document(event("log"), "log")["DevEUI_notification"]
    assert (log["Type"], log["Var1"]) == ("log", "UPLINK_MIC")


@pytest.mark.parametrize(
    ("source", "topic_dev_eui", "reason"),
    [
        ([1, 2], None, r"^a ChirpStack up event must be a JSON object"),
        ({"deviceInfo": {}}, None, r"^deviceInfo.devEui must be 16 hexadecimal digits, got None$"),
        ({"deviceInfo": {"devEui": DEVICE}, "data": "%%"}, None, r"^data is not base64"),
        ({"deviceInfo": {"devEui": DEVICE}}, "0202020202020202", r"does not match 0202020202020202 in the topic$"),
    ],
)
def test_events_refused_with_the_reason(source, topic_dev_eui, reason: str) -> None:
    with pytest.raises(BridgeError, match=reason):
        thingpark_document(source, "up", topic_dev_eui)


def test_downlink_to_chirpstack_command_with_an_object() -> None:
    command = downlink_command({"DevEUI_downlink": {"DevEUI": DEVICE, "FPort": "2", "payload": {"on": True}}})
    assert chirpstack_command(command) == {
        "devEui": DEVICE.lower(),
        "confirmed": False,
        "fPort": 2,
        "object": {"on": True},
    }
    with pytest.raises(BridgeError, match="exactly one of payload_hex or payload"):
        downlink_command({"DevEUI_downlink": {"DevEUI": DEVICE, "FPort": 2}})
    with pytest.raises(BridgeError, match="expected a ThingPark DevEUI_downlink document"):
        downlink_command({"devEui": DEVICE})


def test_the_flow_in_docs_bridges_is_valid(load_flow) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "bridges.md").read_text()
    flow = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = load_flow(flow, "chirpstack.yaml")
    assert [node.type for node in spec.nodes] == [
        "mqtt-in",
        "from-chirpstack",
        "mqtt-connector",
        "to-chirpstack",
        "mqtt-out",
    ]
