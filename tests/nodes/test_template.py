"""``template``: a new JSON document (or text) from a sandboxed Jinja template, bounded in size and time."""

from __future__ import annotations

import pytest
import voluptuous as vol

from flowhost import template_budget
from flowhost_builtins.template_node import TemplateNode

from .conftest import wait_for

UPLINK = {"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FCntUp": "7", "payload": {"temperature": 21.5}}}


def flow(config: str) -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - id: render
        type: template
        config: {config}
        wires: {{out: [sink]}}
      - {{id: sink, type: test-collect}}
    """


async def test_a_json_template_makes_a_new_document(harness):
    template = (
        '{"device": {{ uplink.DevEUI | tojson }}, "count": {{ uplink.FCntUp | int }}, '
        '"celsius": {{ uplink.payload.temperature }}, "topic": {{ topic | tojson }}}'
    )
    await harness.deploy(flow(f"{{template: '{template}'}}"))
    sent = await harness.send("render", UPLINK, topic="in/78AF580300000345")
    await harness.settle()
    [out] = harness.received("sink")
    assert out.payload == {"device": "78AF580300000345", "count": 7, "celsius": 21.5, "topic": "in/78AF580300000345"}
    assert out.parent_id == sent.id and out.topic == sent.topic


async def test_a_text_template_makes_a_text_payload(harness):
    await harness.deploy(flow("{template: '{% for r in payload.readings %}{{ r }};{% endfor %}', format: text}"))
    await harness.send("render", {"readings": [1, 2, 3]})
    await harness.settle()
    assert harness.payloads("sink") == ["1;2;3;"]


@pytest.mark.expect_node_errors
@pytest.mark.parametrize(
    ("config", "error"),
    [
        ("{template: '{{ payload.name }}'}", "template output is not JSON"),
        ("{template: '{% for i in range(10000) %}xxxxxxxx{% endfor %}', maxBytes: 1000}", "larger than 1000 bytes"),
        (
            # the host's template limits refuse it (loop iterations) before the node's own time limit
            "{template: '{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}',"
            " timeLimit: 5s}",
            "loops ran more than 100000 times",
        ),
        ("{template: '{{ payload.__class__ }}'}", "refused by the sandbox"),
        ("{template: '{{ \"a\" * 100000000 }}'}", "refused by the sandbox"),
        ("{template: '{{ payload.name + 1 }}'}", "template failed: TypeError"),
    ],
)
async def test_a_rendering_past_a_limit_or_failing_drops_that_message_alone(
    harness, fail_on_node_error, monkeypatch, config, error
):
    # Each case names its bound: the host's 50 ms of CPU time, which a busy machine may reach first, is not one.
    monkeypatch.setattr(template_budget, "RENDER_SECONDS", 2.0)
    await harness.deploy(flow(config))
    await harness.send("render", {"name": "x"})
    await wait_for(lambda: harness.counters("render").get("errors") == 1)
    assert error in fail_on_node_error.records[0].getMessage()
    assert harness.received("sink") == []


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"template": "{% for x in y %}"}, "template", "Jinja syntax error on line 1"),
        ({"template": ""}, "template", "expected a Jinja template"),
        ({"template": "{}", "format": "xml"}, "format", "value must be one of"),
        ({"template": "{}", "maxBytes": 0}, "maxBytes", "value must be at least 1"),
        ({"template": "{}", "maxBytes": 2_000_000}, "maxBytes", "value must be at most 1048576"),
        ({"template": "{}", "timeLimit": "1m"}, "timeLimit", "must be between 0.001s and 10s"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(config, path, message):
    with pytest.raises(vol.Invalid) as caught:
        TemplateNode.config_schema(config)
    assert ".".join(str(item) for item in caught.value.path) == path
    assert message in str(caught.value)


@pytest.mark.expect_node_errors
async def test_loops_over_the_messages_own_lists_stop_at_the_time_limit(harness, fail_on_node_error):
    # 5,000 x 5,000 x 5,000 empty iterations: far beyond any limit, and writing nothing to look at the time with.
    loops = "{% for a in payload.xs %}{% for b in payload.xs %}{% for c in payload.xs %}{% endfor %}{% endfor %}"
    await harness.deploy(flow(f"{{template: '{loops}{{% endfor %}}', timeLimit: 50ms, format: text}}"))
    await harness.send("render", {"xs": list(range(5000))})
    await harness.send("render", {"xs": [1, 2]})
    await wait_for(lambda: harness.counters("render").get("errors") == 1)
    await harness.settle()
    error = fail_on_node_error.records[0].getMessage()
    # whichever bound comes first: the node's time limit or the host's loop-iteration limit
    assert "took longer than 0.05s" in error or "loops ran more than 100000 times" in error, error
    assert harness.payloads("sink") == [""]


async def test_templates_still_read_lists_and_objects_as_json(harness):
    template = "{{ payload | tojson }}|{{ payload.xs | length }}|{% for k, v in payload.o.items() %}{{ k }}={{ v }}"
    template += "{% endfor %}"
    await harness.deploy(flow(f"{{template: '{template}', format: text}}"))
    await harness.send("render", {"xs": [1, 2], "o": {"a": 1}})
    await harness.settle()
    assert harness.payloads("sink") == ['{"o": {"a": 1}, "xs": [1, 2]}|2|a=1']  # tojson sorts keys
