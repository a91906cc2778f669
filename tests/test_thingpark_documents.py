"""Every root of ThingPark's message reference is a document; anything else is refused with the roots it knows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowhost.flow_yaml import FlowValidationError
from flowhost.flowfile import validate_flow
from flowhost_builtins.thingpark import DocumentError, parse_uplink
from flowhost_builtins.thingpark_documents import DOCUMENT_ROOTS, read_document, topic_fields
from tests.support.mqtt_helpers import wait_until
from tests.support.sample_nodes import Collector

SAMPLES = Path(__file__).parent / "data" / "thingpark"
KINDS = {
    "uplink.json": "DevEUI_uplink",
    "uplink-legacy.json": "DevEUI_uplink",
    "location.json": "DevEUI_location",
    "notification.json": "DevEUI_notification",
    "alarm.json": "DevEUI_alarm",
    "base-station-alarm.json": "BS_alarm",
    "multicast-summary.json": "DevEUI_multicast_summary",
    "downlink-sent.json": "DevEUI_downlink_Sent",
    "downlink-rejected.json": "DevEUI_downlink_Rejected",
}


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


@pytest.mark.parametrize(("name", "kind"), KINDS.items())
def test_every_published_document_is_read_with_its_kind(name: str, kind: str) -> None:
    document = sample(name)
    read = read_document(document)
    found, fields, wrapped = read
    assert found == kind
    assert wrapped == (name != "uplink-legacy.json")
    assert fields is (document[kind] if wrapped else document)
    assert topic_fields(read)["DocumentType"] == kind


def test_parse_uplink_keeps_the_root_and_upper_cases_the_dev_eui() -> None:
    document = parse_uplink((SAMPLES / "location.json").read_bytes())
    assert list(document) == ["DevEUI_location"]
    assert document["DevEUI_location"]["DevEUI"] == "000000000F1D8693"
    assert document["DevEUI_location"]["DevLAT"] == 10.11212
    assert parse_uplink((SAMPLES / "base-station-alarm.json").read_bytes()) == sample("base-station-alarm.json")


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"DevEUI_location": {"DevLAT": 1.0}}, r"^DevEUI_location has no DevEUI$"),
        ({"DevEUI_alarm": {"DevEUI": "12"}}, r"^DevEUI must be 16 hexadecimal digits, got '12'$"),
        ({"DevEUI_notification": ["join"]}, r"^DevEUI_notification must be an object, got an array$"),
        ({"BS_alarm": {"DevEUI": 7}}, r"^DevEUI must be 16 hexadecimal digits, got 7$"),
        ({"DevEUI_uplink": {"DevEUI": ["0018B20000000B20"]}}, r"^DevEUI must be 16 hexadecimal digits, got \['0018"),
        (
            {"DevEUI_uplink": {"DevEUI": "0018B20000000B20"}, "DevEUI_location": {}},
            r"^a ThingPark document has one root, found DevEUI_uplink, DevEUI_location$",
        ),
        (
            {"DevEUI_downlink": {"DevEUI": "0018B20000000B20", "FPort": 1, "payload_hex": "00"}},
            r"^DevEUI_downlink is a downlink command, not a document for applications: send it to the connection's",
        ),
        ({"DevEUI_uplinks": {"DevEUI": "0018B20000000B20"}}, r"found 'DevEUI_uplinks'$"),
        ({}, r"found no keys$"),
    ],
)
def test_documents_refused_with_the_reason(document: dict, reason: str) -> None:
    with pytest.raises(DocumentError, match=reason):
        read_document(document)


def test_an_unknown_root_is_refused_naming_every_root_known() -> None:
    with pytest.raises(DocumentError) as caught:
        read_document({"DevEUI_unknown": {"DevEUI": "0018B20000000B20"}})
    reason = str(caught.value)
    assert reason.startswith("not a ThingPark document: it has none of the roots ")
    assert all(root in reason for root in DOCUMENT_ROOTS)


@pytest.mark.parametrize(
    ("document", "hint"),
    [
        ({"deduplicationId": "3ac7e3c4", "deviceInfo": {"devEui": "0101010101010101"}}, "from-chirpstack"),
        ({"end_device_ids": {"device_id": "dev1"}, "uplink_message": {}}, "from-tts"),
    ],
)
def test_a_network_servers_own_document_is_named_with_the_bridge_to_use(document: dict, hint: str) -> None:
    with pytest.raises(DocumentError, match=rf"^not a ThingPark document: .* convert it with a {hint} node first$"):
        read_document(document)


def filter_flow(documents: list[dict], config: dict) -> dict:
    return {
        "flowhost": 1,
        "id": "kinds",
        "nodes": [
            {"id": "source", "type": "test-emit", "config": {"payloads": documents}, "wires": {"out": ["filter"]}},
            {
                "id": "filter",
                "type": "filter",
                "config": config,
                "wires": {"out": ["matched"], "unmatched": ["others"]},
            },
            {"id": "matched", "type": "test-collect"},
            {"id": "others", "type": "test-collect"},
        ],
    }


async def test_filter_chooses_by_kind_and_reads_the_fields_of_every_root(runtime) -> None:
    Collector.received.clear()
    documents = [sample(name) for name in KINDS] + [{"deviceInfo": {"devEui": "0101010101010101"}}]
    config = {"documentTypes": ["DevEUI_location", "DevEUI_alarm"], "tags": ["tag1"]}
    await runtime.deploy(validate_flow(filter_flow(documents, config), runtime.registry))
    await wait_until(lambda: len(Collector.received["matched"]) + len(Collector.received["others"]) == 10)
    assert [next(iter(msg.payload)) for msg in Collector.received["matched"]] == ["DevEUI_location", "DevEUI_alarm"]


def test_filter_refuses_a_document_type_that_thingpark_does_not_have(runtime) -> None:
    with pytest.raises(FlowValidationError, match="documentTypes are ThingPark roots: DevEUI_uplink, DevEUI_location"):
        validate_flow(filter_flow([], {"documentTypes": ["DevEUI_up"]}), runtime.registry)
