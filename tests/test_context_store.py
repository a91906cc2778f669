"""Shared state (``NodeContext.store``): node, flow and global scopes in the data directory, written in groups,
private, bounded, and read back after a restart."""

from __future__ import annotations

import asyncio
import stat

import orjson
import pytest

from flowhost.clock import ManualClock
from flowhost.context_store import ContextError, ContextFull, ContextStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_store(tmp_path, clock, **kwargs) -> ContextStore:
    return ContextStore(tmp_path / "data" / "context", clock, **kwargs)


async def test_values_are_kept_by_key_and_read_back_frozen(tmp_path, clock):
    scope = make_store(tmp_path, clock).scope("global")
    scope.set("sites", {"grenoble": [1, 2]})
    scope.set("count", 3)
    assert scope.get("sites") == {"grenoble": (1, 2)} and scope.get("missing", "none") == "none"
    with pytest.raises(TypeError):
        scope.get("sites")["lyon"] = []  # a reader cannot change the stored value behind the store's back
    assert scope.keys() == ["sites", "count"]
    assert scope.delete("count") is True and scope.delete("count") is False
    with pytest.raises(ValueError, match="'bad' must be a JSON value"):
        scope.set("bad", object())


async def test_writes_are_grouped_and_reach_the_disk_after_the_interval_with_mode_0600(tmp_path, clock):
    store = make_store(tmp_path, clock, flush_interval=2.0)
    scope = store.scope("flow", "site")
    for number in range(100):
        scope.set("n", number)
    path = tmp_path / "data" / "context" / "flows" / "site.json"
    await clock.advance(1.9)
    assert not path.exists()  # a hundred changes, no write yet
    await clock.advance(0.1)
    async with asyncio.timeout(5):  # the write runs in a thread: wait for it
        while not path.exists():
            await asyncio.sleep(0.005)
    assert orjson.loads(path.read_bytes()) == {"n": 99}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    await store.close()


async def test_state_survives_a_restart_and_scopes_are_separate(tmp_path, clock):
    store = make_store(tmp_path, clock)
    store.scope("node", "site", "watch").set("devices", {"78AF580300000345": {"interval": 600}})
    store.scope("flow", "site").set("mode", "night")
    store.scope("global").set("mode", "day")
    await store.close()  # at stop, without waiting for the interval
    again = make_store(tmp_path, clock)
    assert again.scope("node", "site", "watch").get("devices") == {"78AF580300000345": {"interval": 600}}
    assert again.scope("flow", "site").get("mode") == "night" and again.scope("global").get("mode") == "day"
    assert again.scope("node", "site", "other").keys() == [] and again.scope("flow", "other").keys() == []
    with pytest.raises(ValueError, match="context scope must be one of node, flow, global"):
        again.scope("session")


async def test_a_scope_is_bounded_and_a_refused_set_keeps_the_old_value(tmp_path, clock):
    scope = make_store(tmp_path, clock, max_bytes=100).scope("flow", "site")
    scope.set("a", "x" * 40)
    with pytest.raises(ContextFull, match=r"the context of flow site would hold \d+ bytes, over its bound of 100"):
        scope.set("b", "y" * 60)
    assert scope.keys() == ["a"]
    scope.set("a", "short")  # replacing a value counts only the new one
    scope.set("b", "y" * 60)


async def test_a_file_that_cannot_be_read_is_named_with_what_to_do(tmp_path, clock):
    path = tmp_path / "data" / "context" / "global.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ContextError, match=r"global.json \(the global context\) cannot be read: .*move it away"):
        make_store(tmp_path, clock).scope("global")
    path.write_text("[1, 2]")
    with pytest.raises(ContextError, match="not a JSON object"):
        make_store(tmp_path, clock).scope("global")
    path.write_text(orjson.dumps({"big": "z" * 500}).decode())
    with pytest.raises(ContextError, match="over twice the bound of 100"):
        make_store(tmp_path, clock, max_bytes=100).scope("global")


async def test_nodes_reach_their_scopes_through_their_context(runtime, load_flow):
    await runtime.deploy(
        load_flow("flowhost: 1\nid: t\nnodes: [{id: a, type: test-collect}, {id: b, type: test-collect}]\n")
    )
    a, b = runtime.node("t", "a"), runtime.node("t", "b")
    a.store("flow").set("shared", 1)
    a.store().set("own", 1)
    assert b.store("flow").get("shared") == 1 and b.store("node").get("own") is None
    assert a.store("global") is b.store("global")
    await runtime.stop()
    saved = orjson.loads((runtime.data_dir / "context" / "nodes" / "t" / "a.json").read_bytes())
    assert saved == {"own": 1}
