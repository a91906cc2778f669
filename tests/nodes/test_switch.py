"""``switch``: rules on paths and Jinja expressions, one named port per rule, first or every match, otherwise."""

from __future__ import annotations

import pytest

from flowhost.api.forms import form_fields
from flowhost.flowfile import FlowValidationError
from flowhost_builtins.message_paths import MISSING
from flowhost_builtins.switch_node import SwitchNode, make_test

from .conftest import wait_for

FLOW = """
flowhost: 1
id: t
nodes:
  - id: route
    type: switch
    config:
      property: uplink.FPort
      mode: {mode}
      rules:
        - {{name: port2, operator: "==", value: 2}}
        - {{name: hot, expression: "uplink.payload.temperature", operator: ">", value: 30}}
        - {{name: sensor, property: uplink.DevEUI, operator: regex, value: "^78AF58"}}
    wires: {{port2: [port2], hot: [hot], sensor: [sensor], otherwise: [other]}}
  - {{id: port2, type: test-collect}}
  - {{id: hot, type: test-collect}}
  - {{id: sensor, type: test-collect}}
  - {{id: other, type: test-collect}}
"""


def uplink(dev_eui="78AF580300000345", fport="2", temperature=20.0):
    # ThingPark sends FPort as text ("FPort": "2"), as in its default DevEUI_uplink document
    return {"DevEUI_uplink": {"DevEUI": dev_eui, "FPort": fport, "payload": {"temperature": temperature}}}


async def test_the_first_matching_rule_takes_the_message_and_otherwise_the_rest(harness):
    await harness.deploy(FLOW.format(mode="first"))
    await harness.send("route", uplink(fport="2", temperature=35))
    await harness.send("route", uplink(fport="3", temperature=35))
    await harness.send("route", uplink(dev_eui="0018B20000000B20", fport="5"))
    await harness.send("route", uplink(fport="5"))
    await harness.settle()
    assert [m["DevEUI_uplink"]["FPort"] for m in harness.payloads("port2")] == ["2"]
    assert [m["DevEUI_uplink"]["FPort"] for m in harness.payloads("hot")] == ["3"]
    assert [m["DevEUI_uplink"]["FPort"] for m in harness.payloads("sensor")] == ["5"]
    assert [m["DevEUI_uplink"]["DevEUI"] for m in harness.payloads("other")] == ["0018B20000000B20"]
    counters = harness.counters("route")
    assert counters["to port2"] == counters["to hot"] == counters["to sensor"] == counters["to otherwise"] == 1


async def test_every_matching_rule_gets_the_message_in_mode_all(harness):
    await harness.deploy(FLOW.format(mode="all"))
    sent = await harness.send("route", uplink(fport="2", temperature=35))
    await harness.settle()
    for port in ("port2", "hot", "sensor"):
        [msg] = harness.received(port)
        assert msg is sent  # routed unchanged: the same immutable message
    assert harness.received("other") == []


async def test_the_running_node_has_one_port_per_rule(harness):
    await harness.deploy(FLOW.format(mode="first"))
    assert harness.node("route").snapshot()["outputs"] == ["port2", "hot", "sensor", "otherwise"]
    config = harness.node("route").spec.config
    assert SwitchNode.output_ports(config) == ("port2", "hot", "sensor", "otherwise")


@pytest.mark.parametrize(
    ("operator", "value", "subject", "expected"),
    [
        ("==", 2, "2", True),  # numeric text compares as its number
        ("==", 2, 2.0, True),
        ("==", 1, True, False),  # a boolean is not a number
        ("==", "a", "a", True),
        ("==", {"a": 1}, {"a": 1}, True),
        ("==", 2, MISSING, False),
        ("!=", 2, "3", True),
        ("!=", 2, MISSING, False),
        ("<", 10, 9.5, True),
        ("<", 10, "abc", False),  # text that is no number cannot be ordered against one
        ("<=", 10, 10, True),
        (">", "m", "z", True),
        (">=", -5, -5, True),
        (">", 10, None, False),
        ("between", [1, 3], 1, True),
        ("between", [1, 3], "3", True),
        ("between", [1, 3], 3.01, False),
        ("regex", "^78af", "78af5803", True),
        ("regex", "^78af", "78AF5803", False),
        ("regex", "(?i)^78af", "78AF5803", True),
        ("regex", "x", 5, False),
        ("in", [1, 2, "b"], "2", True),
        ("in", [1, 2, "b"], "c", False),
        ("has", "DevEUI_uplink", {"DevEUI_uplink": {}}, True),
        ("has", "DevEUI_uplink", "DevEUI_uplink", False),
        ("type", "string", "x", True),
        ("type", "number", True, False),
        ("type", "integer", 3.0, True),
        ("type", "integer", 3.5, False),
        ("type", "boolean", False, True),
        ("type", "null", None, True),
        ("type", "object", {"a": 1}, True),
        ("type", "array", (1, 2), True),
        ("type", "missing", MISSING, True),
        ("type", "null", MISSING, False),
    ],
)
def test_each_operator(operator, value, subject, expected):
    assert make_test(operator, value)(subject) is expected


def test_a_regex_cannot_backtrack_for_ever():
    # Catastrophic for a backtracking engine ((a+)+$ on aaaa...b); RE2 answers in linear time.
    assert make_test("regex", "(a+)+$")("a" * 100_000 + "b") is False


@pytest.mark.parametrize(
    ("rules", "path", "message"),
    [
        ([{"name": "a", "operator": "=="}], "rules.0.value", "operator == needs a value"),
        ([{"name": "a", "operator": "between", "value": [3, 1]}], "rules.0.value", "low must not be above high"),
        ([{"name": "a", "operator": "between", "value": 3}], "rules.0.value", "between takes value: [low, high]"),
        ([{"name": "a", "operator": "regex", "value": "(a"}], "rules.0.value", "not a valid RE2 regular expression"),
        ([{"name": "a", "operator": "regex", "value": "(a)\\1"}], "rules.0.value", "not a valid RE2"),
        ([{"name": "a", "operator": "type", "value": "float"}], "rules.0.value", "type takes value: one of string"),
        ([{"name": "a", "operator": "in", "value": []}], "rules.0.value", "in takes value: a list"),
        ([{"name": "a", "operator": "~", "value": 1}], "rules.0.operator", "value must be one of"),
        ([{"name": "otherwise", "operator": "==", "value": 1}], "rules.0.name", "'otherwise' is the port"),
        ([{"name": "a b", "operator": "==", "value": 1}], "rules.0.name", "a rule name is its output port"),
        (
            [{"name": "a", "operator": "==", "value": 1}, {"name": "a", "operator": "==", "value": 2}],
            "rules.1.name",
            "rule name 'a' is used twice",
        ),
        (
            [{"name": "a", "property": "payload.x", "expression": "payload.x", "operator": "==", "value": 1}],
            "rules.0",
            "give property or expression, not both",
        ),
        ([{"name": "a", "property": "DevEUI", "operator": "==", "value": 1}], "rules.0.property", "must start with"),
        ([{"name": "a", "property": "payload.a[x]", "operator": "==", "value": 1}], "rules.0.property", "unexpected"),
        ([{"name": "a", "expression": "payload.(", "operator": "==", "value": 1}], "rules.0.expression", "syntax"),
        ([{"name": "a", "expression": "{{ payload }}", "operator": "==", "value": 1}], "rules.0.expression", "without"),
        ([], "rules", "length of value must be at least 1"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(harness, rules, path, message):
    import voluptuous as vol

    with pytest.raises(vol.Invalid) as caught:
        SwitchNode.config_schema({"rules": rules})
    assert ".".join(str(item) for item in caught.value.path) == path
    assert message in str(caught.value)


async def test_a_wire_from_a_port_no_rule_names_is_refused(harness):
    text = """
    flowhost: 1
    id: t
    nodes:
      - id: route
        type: switch
        config: {rules: [{name: cold, operator: "<", value: 5}]}
        wires: {hot: [sink]}
      - {id: sink, type: test-collect}
    """
    with pytest.raises(FlowValidationError) as caught:
        await harness.deploy(text)
    assert "has no output 'hot' (outputs: cold, otherwise)" in str(caught.value)


@pytest.mark.expect_node_errors
async def test_an_expression_the_sandbox_refuses_fails_that_message_alone(harness):
    text = """
    flowhost: 1
    id: t
    nodes:
      - id: route
        type: switch
        config:
          rules:
            - {name: odd, expression: "payload if payload is number else payload.__class__", operator: "==", value: 1}
        wires: {otherwise: [sink]}
      - {id: sink, type: test-collect}
    """
    await harness.deploy(text)
    await harness.send("route", {"a": 1})
    await harness.send("route", 7)
    await wait_for(lambda: harness.counters("route").get("errors") == 1)
    await harness.settle()
    assert harness.payloads("sink") == [7]


async def test_an_unknown_filter_stops_the_node_from_starting_with_a_clear_status(harness, fail_on_node_error):
    text = """
    flowhost: 1
    id: t
    nodes:
      - id: route
        type: switch
        config: {rules: [{name: a, expression: "payload | no_such_filter", operator: "==", value: 1}]}
    """
    await harness.deploy(text)
    status = harness.node("route").snapshot()["status"]
    assert status["level"] == "error" and "no_such_filter" in status["text"]
    fail_on_node_error.records.clear()  # the start failure is the point of this test


def test_the_form_lists_each_rule_field():
    [prop, rules, mode] = form_fields(SwitchNode.config_schema)
    assert prop == {
        "name": "property",
        "type": "string",
        "format": "message-path",
        "required": False,
        "default": "payload",
        "description": "the field the rules test",
    }
    assert rules["type"] == "list" and rules["items"]["type"] == "mapping"
    names = [field["name"] for field in rules["items"]["fields"]]
    assert names == ["name", "property", "expression", "operator", "value"]
    operator = rules["items"]["fields"][3]
    assert operator["type"] == "select"
    assert ("between", "between (value: [low, high], inclusive)") in [tuple(o) for o in operator["options"]]
    assert mode["options"] == [["first", "first match"], ["all", "every match"]]
