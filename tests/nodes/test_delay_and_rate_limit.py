"""``delay`` and ``rate-limit`` on the manual clock: fixed delays, rates overall and per DevEUI, queue or drop,
bounded queues and key tables, every case counted."""

from __future__ import annotations

import pytest
import voluptuous as vol

from flowhost_builtins.delay_node import DelayNode
from flowhost_builtins.rate_limit_node import RateLimitNode

from .conftest import wait_for


def flow(node_type: str, config: str) -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - {{id: limit, type: {node_type}, config: {config}, wires: {{out: [sink]}}}}
      - {{id: sink, type: test-collect}}
    """


def uplink(dev_eui: str, fcnt: int) -> dict:
    return {"DevEUI_uplink": {"DevEUI": dev_eui, "FCntUp": fcnt}}


async def send_all(harness, *payloads) -> None:
    for payload in payloads:
        await harness.send("limit", payload)
    await harness.settle()


# ---- delay ---------------------------------------------------------------------------------------------------


async def test_delay_holds_each_message_for_the_delay_in_order(harness):
    await harness.deploy(flow("delay", "{delay: 5s}"))
    await send_all(harness, "a", "b")
    await harness.advance(2)
    await send_all(harness, "c")
    await harness.advance(2.999)
    await harness.settle()
    assert harness.payloads("sink") == []
    await harness.advance(0.001)
    await wait_for(lambda: harness.payloads("sink") == ["a", "b"])
    await harness.advance(2)
    await wait_for(lambda: harness.payloads("sink") == ["a", "b", "c"])
    assert harness.counters("limit")["sent"] == 3


async def test_delay_drops_what_a_full_queue_cannot_hold_and_says_so(harness):
    await harness.deploy(flow("delay", "{delay: 1m, maxQueued: 2}"))
    await send_all(harness, 1, 2, 3)
    limit = harness.node("limit")
    assert limit.counters["overflow"] == 1
    assert limit.snapshot()["status"] == {"text": "queue full (2): dropping", "level": "warning"}
    await harness.advance(60)
    await wait_for(lambda: harness.payloads("sink") == [1, 2])
    assert limit.snapshot()["status"]["level"] == "ok"


async def test_delay_counts_what_it_still_held_when_closed(harness):
    await harness.deploy(flow("delay", "{delay: 1h}"))
    await send_all(harness, 1, 2)
    limit = harness.node("limit")
    await harness.runtime.remove_flow("t")
    assert limit.counters["discarded"] == 2


# ---- rate-limit ----------------------------------------------------------------------------------------------


async def test_an_overall_rate_queues_what_goes_over_and_sends_it_as_tokens_return(harness):
    await harness.deploy(flow("rate-limit", "{rate: 2, per: 1s}"))
    await send_all(harness, 1, 2, 3, 4, 5)
    assert harness.payloads("sink") == [1, 2]
    await harness.advance(0.5)
    await wait_for(lambda: harness.payloads("sink") == [1, 2, 3])
    await harness.advance(0.5)
    await wait_for(lambda: harness.payloads("sink") == [1, 2, 3, 4])
    await harness.advance(0.5)
    await wait_for(lambda: harness.payloads("sink") == [1, 2, 3, 4, 5])
    assert harness.counters("limit") == {"passed": 5, "queued": 3, "processed": 5}


async def test_a_rate_per_dev_eui_drops_what_goes_over(harness):
    await harness.deploy(flow("rate-limit", "{rate: 1, per: 10s, key: uplink.DevEUI, overLimit: drop}"))
    a, b = "78AF580300000345", "0018B20000000B20"
    await send_all(harness, uplink(a, 1), uplink(a, 2), uplink(b, 1), {"no": "key"})
    await harness.clock.advance(10)
    await send_all(harness, uplink(a, 3))
    assert [(m["DevEUI_uplink"]["DevEUI"], m["DevEUI_uplink"]["FCntUp"]) for m in harness.payloads("sink")[:2]] == [
        (a, 1),
        (b, 1),
    ]
    assert harness.payloads("sink")[2:] == [{"no": "key"}, uplink(a, 3)]
    counters = harness.counters("limit")
    assert (counters["passed"], counters["dropped"], counters["unkeyed"]) == (4, 1, 1)


async def test_the_queue_is_bounded_over_every_key(harness):
    await harness.deploy(flow("rate-limit", "{rate: 1, per: 1s, maxQueued: 2}"))
    await send_all(harness, 1, 2, 3, 4)
    counters = harness.counters("limit")
    assert (counters["passed"], counters["queued"], counters["overflow"]) == (1, 2, 1)
    await harness.advance(1)
    await harness.advance(1)
    await wait_for(lambda: harness.payloads("sink") == [1, 2, 3])


async def test_the_key_table_is_bounded_and_forgets_idle_keys_first(harness):
    await harness.deploy(flow("rate-limit", "{rate: 1, per: 1h, key: payload.k, maxKeys: 2}"))
    await send_all(harness, {"k": "a"}, {"k": "b"}, {"k": "c"})  # a is idle: forgotten for c
    assert harness.counters("limit")["evicted"] == 1
    await send_all(harness, {"k": "c", "n": 2}, {"k": "b", "n": 2})  # c and b now wait: both busy
    await send_all(harness, {"k": "d"})
    counters = harness.counters("limit")
    assert (counters["passed"], counters["queued"], counters["overflow"]) == (3, 2, 1)


@pytest.mark.parametrize(
    ("node_class", "config", "path", "message"),
    [
        (DelayNode, {}, "delay", "required key not provided"),
        (DelayNode, {"delay": "0s"}, "delay", "must be between 0.001s and 604800s"),
        (DelayNode, {"delay": "1s", "maxQueued": 0}, "maxQueued", "at least 1"),
        (RateLimitNode, {"rate": 0}, "rate", "at least 1"),
        (RateLimitNode, {"rate": 1, "per": "soon"}, "per", "'soon' is not a duration"),
        (RateLimitNode, {"rate": 1, "key": "DevEUI"}, "key", "must start with one of payload, topic, meta, uplink"),
        (RateLimitNode, {"rate": 1, "key": ["uplink.DevEUI", "x"]}, "key.1", "must start with one of"),
        (RateLimitNode, {"rate": 1, "overLimit": "wait"}, "overLimit", "value must be one of"),
        (RateLimitNode, {"rate": 1, "maxKeys": 0}, "maxKeys", "at least 1"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(node_class, config, path, message):
    with pytest.raises(vol.Invalid) as caught:
        node_class.config_schema(config)
    assert ".".join(str(item) for item in caught.value.path) == path
    assert message in str(caught.value)
