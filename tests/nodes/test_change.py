"""``change``: set (literal, copied, expression), delete, move and rename, in order, at any depth."""

from __future__ import annotations

import re

import pytest
import voluptuous as vol

from flowhost.api.forms import form_fields
from flowhost.message import FrozenDict
from flowhost_builtins.change_node import ChangeNode

from .conftest import wait_for

UPLINK = {"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FPort": "2", "payload": {"temperature": 21.5}}}


def flow(changes: str) -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - id: change
        type: change
        config:
          changes:
{changes}
        wires: {{out: [sink]}}
      - {{id: sink, type: test-collect}}
    """


async def test_changes_apply_in_order_and_make_a_new_message(harness):
    await harness.deploy(
        flow(
            """
            - {action: set, path: uplink.payload.fahrenheit, expression: "uplink.payload.temperature * 1.8 + 32"}
            - {action: set, path: payload.site, value: {name: Grenoble, floors: [1, 2]}}
            - {action: set, path: "payload.site.floors[2]", value: 3}
            - {action: set, path: payload.device, from: uplink.DevEUI}
            - {action: rename, path: uplink.payload.temperature, to: celsius}
            - {action: move, path: uplink.FPort, to: meta.fport}
            - {action: delete, path: payload.site.name}
            - {action: set, path: topic, expression: "'devices/' ~ payload.device"}
            """
        )
    )
    sent = await harness.send("change", UPLINK)
    await harness.settle()
    [out] = harness.received("sink")
    assert out.parent_id == sent.id and sent.payload == UPLINK  # the original is untouched
    assert out.payload == {
        "DevEUI_uplink": {"DevEUI": "78AF580300000345", "payload": {"celsius": 21.5, "fahrenheit": 70.7}},
        "site": {"floors": (1, 2, 3)},  # frozen: lists become tuples
        "device": "78AF580300000345",
    }
    assert isinstance(out.payload, FrozenDict)
    assert out.topic == "devices/78AF580300000345" and out.meta == {"fport": "2"}


async def test_a_literal_value_is_copied_for_each_message(harness):
    await harness.deploy(
        flow(
            """
            - {action: set, path: payload.tags, value: []}
            - {action: set, path: "payload.tags[0]", from: payload.name}
            """
        )
    )
    await harness.send("change", {"name": "a"})
    await harness.send("change", {"name": "b"})
    await harness.settle()
    assert harness.payloads("sink") == [{"name": "a", "tags": ("a",)}, {"name": "b", "tags": ("b",)}]


async def test_moving_or_deleting_a_missing_field_leaves_the_message_as_it_was(harness):
    await harness.deploy(
        flow(
            """
            - {action: move, path: payload.nothing, to: payload.elsewhere}
            - {action: delete, path: payload.a.b.c}
            - {action: set, path: payload, expression: 'payload.readings[1:]'}
            """
        )
    )
    await harness.send("change", {"readings": [1, 2, 3]})
    await harness.settle()
    assert harness.payloads("sink") == [(2, 3)]


@pytest.mark.expect_node_errors
@pytest.mark.parametrize(
    ("change", "bad", "good", "error"),
    [
        ("{action: set, path: payload.a.b, value: 1}", {"a": 5}, {}, "payload.a is a number, which has no fields"),
        ("{action: set, path: payload.x, from: payload.y}", {}, {"y": 0}, "the message has no payload.y to copy"),
        ('{action: set, path: "payload.l[5]", value: 1}', {"l": [1]}, {"l": [0] * 5}, "index 5 is outside the list"),
        ("{action: set, path: topic, from: payload.t}", {"t": 5}, {"t": "a"}, "topic must be text or null"),
        ("{action: set, path: payload.x, expression: 'payload.r'}", {"r": "x"}, {}, None),
        ("{action: set, path: payload.x, expression: 'range(payload.n)'}", {"n": 2}, None, "not a JSON value"),
        ("{action: set, path: payload.x, expression: 'payload.__class__'}", {}, None, "refused by the sandbox"),
        ("{action: set, path: uplink.x, value: 1}", "text", {}, "the payload is a string, not an uplink document"),
    ],
)
async def test_a_change_that_cannot_apply_fails_that_message_alone(
    harness, fail_on_node_error, change, bad, good, error
):
    await harness.deploy(flow(f"            - {change}"))
    await harness.send("change", bad)
    if error is None:  # a case that works, to show the bad ones fail for their stated reason only
        await harness.settle()
        assert harness.payloads("sink") == [{"r": "x", "x": "x"}]
        return
    await wait_for(lambda: harness.counters("change").get("errors") == 1)
    assert error in fail_on_node_error.records[0].getMessage()
    if good is not None:
        await harness.send("change", good)
        await harness.settle()
        assert len(harness.received("sink")) == 1 and harness.counters("change")["errors"] == 1


@pytest.mark.expect_node_errors
async def test_the_error_names_the_path(harness, fail_on_node_error):
    await harness.deploy(flow("            - {action: set, path: payload.a.b, value: 1}"))
    await harness.send("change", {"a": "text"})
    await wait_for(lambda: fail_on_node_error.records)
    assert "payload.a.b: payload.a is a string, which has no fields" in fail_on_node_error.records[0].getMessage()


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"action": "set", "path": "payload.a"}, "changes.0.value", "exactly one of value, from or expression"),
        ({"action": "set", "path": "payload.a", "value": 1, "from": "payload.b"}, "changes.0.value", "exactly one"),
        ({"action": "delete", "path": "payload.a", "value": 1}, "changes.0.value", "delete takes no value"),
        ({"action": "move", "path": "payload.a"}, "changes.0.to", "move needs to: a path"),
        ({"action": "move", "path": "payload.a", "to": "nowhere"}, "changes.0.to", "must start with one of"),
        ({"action": "move", "path": "payload", "to": "payload.x"}, "changes.0.path", "not the whole payload"),
        ({"action": "rename", "path": "payload.a", "to": "b.c"}, "changes.0.to", "the new key alone"),
        ({"action": "rename", "path": "payload.list[0]", "to": "b"}, "changes.0.path", "not a list item"),
        ({"action": "copy", "path": "payload.a"}, "changes.0.action", "value must be one of"),
        ({"action": "set", "path": "payload..a", "value": 1}, "changes.0.path", "unexpected '..a' at character 8"),
        ({"action": "set", "path": "topic.x", "value": 1}, "changes.0.path", "the topic is text"),
    ],
)
def test_bad_changes_are_refused_naming_the_field(change, path, message):
    with pytest.raises(vol.Invalid) as caught:
        ChangeNode.config_schema({"changes": [change]})
    assert ".".join(str(item) for item in caught.value.path) == path
    assert message in str(caught.value)


def test_the_form_lists_the_fields_of_a_change():
    [changes] = form_fields(ChangeNode.config_schema)
    fields = {field["name"]: field for field in changes["items"]["fields"]}
    assert list(fields) == ["action", "path", "value", "from", "expression", "to"]
    assert fields["path"]["format"] == "message-path" and fields["expression"]["format"] == "jinja-expression"
    assert fields["action"]["type"] == "select"


# ---- flow.x and global.x: the shared context --------------------------------------------------------------------


async def test_changes_read_and_write_the_flow_and_global_context(harness):
    await harness.deploy(
        flow(
            """
            - {action: set, path: flow.last, from: uplink.DevEUI}
            - {action: set, path: global.sites.grenoble.devices, value: [1]}
            - {action: set, path: payload.site, from: global.sites}
            - {action: set, path: payload.site.grenoble.floor, value: 2}
            - {action: set, path: payload.last, from: flow.last}
            """
        )
    )
    await harness.send("change", UPLINK)
    await harness.settle()
    node = harness.node("change")
    assert node.store("flow").get("last") == "78AF580300000345"
    assert node.store("global").get("sites") == {"grenoble": {"devices": (1,)}}
    [out] = harness.payloads("sink")
    assert out["site"] == {"grenoble": {"devices": (1,), "floor": 2}}  # a copy: the context is unchanged
    assert out["last"] == "78AF580300000345"


async def test_context_keys_move_rename_and_delete(harness):
    await harness.deploy(
        flow(
            """
            - {action: move, path: payload.count, to: flow.count}
            - {action: rename, path: flow.count, to: total}
            - {action: set, path: flow.gone, value: 1}
            - {action: delete, path: flow.gone}
            - {action: move, path: flow.missing, to: payload.nothing}
            """
        )
    )
    await harness.send("change", {"count": 7, "keep": True})
    await harness.settle()
    store = harness.node("change").store("flow")
    assert store.keys() == ["total"] and store.get("total") == 7
    assert harness.payloads("sink") == [{"keep": True}]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("flow.", "after flow. give the context key"),
        ("global[0]", "must start with one of"),
        ("flow.[0]", "after flow. give the context key"),
    ],
)
def test_bad_context_paths_are_refused_naming_them(path, message):
    with pytest.raises(vol.Invalid, match=re.escape(message)):
        ChangeNode.config_schema({"changes": [{"action": "delete", "path": path}]})


@pytest.mark.expect_node_errors
async def test_a_full_context_fails_that_message_alone(harness):
    harness.runtime.context.max_bytes = 64
    await harness.deploy(flow("            - {action: set, path: flow.big, from: payload}"))
    await harness.send("change", {"text": "x" * 100})
    await harness.send("change", {"text": "small"})
    await harness.settle()
    assert harness.counters("change")["errors"] == 1
    assert harness.node("change").store("flow").get("big") == {"text": "small"}
