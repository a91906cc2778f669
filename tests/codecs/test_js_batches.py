"""Batches of calls in one crossing into a sandbox (``JsSandbox.call_batch``): each call's failure is its own, a
crossing that fails as a whole raises, slow calls are spread over several crossings, and on the sandbox's thread a
batch is awaited while the event loop goes on."""

from __future__ import annotations

import asyncio

import pytest

from flowhost_builtins.js_sandbox import AWAIT_FROM, JsSandbox, SandboxError

MIXED = """
function f(x) {
  switch (x) {
    case "throw": throw new TypeError("bad input");
    case "throw-null": throw null;
    case "memory": { const hoard = []; for (;;) hoard.push(new Array(100000).fill(1)); }
    case "stack": return (function deeper(n) { return deeper(n + 1) + 1; })(0);
    case "bigint": return { data: 1n };
    case "cyclic": { const o = {}; o.self = o; return o; }
    case "large": return "x".repeat(2000000);
    case "undefined": return undefined;
    case "host": return require("fs");
    default: return { value: x };
  }
}
function spin() { for (;;); }
function wait(ms) { const end = Date.now() + ms; while (Date.now() < end); return ms; }
"""

BAD = {
    "throw": ("exception", "TypeError: bad input"),
    "throw-null": ("memory", "the script needed more memory than its limit (or threw null)"),
    "memory": ("memory", "the script needed more memory than its limit"),
    "stack": ("stack", "stack overflow: RangeError: Maximum call stack size exceeded"),
    "bigint": ("exception", "TypeError: BigInt are forbidden in JSON.stringify"),
    "cyclic": ("exception", "TypeError: circular reference"),
    "large": ("result", "the result is 2000002 characters of JSON, more than 1048576"),
    "host": ("exception", "ReferenceError: require is not defined"),
}


@pytest.fixture
def sandbox():
    sandbox = JsSandbox(MIXED, "mixed", memory_limit=16 * 1024 * 1024)
    yield sandbox
    sandbox.close()


@pytest.mark.parametrize("bad", sorted(BAD))
def test_a_call_that_fails_in_the_middle_of_a_batch_fails_alone(sandbox, bad):
    results = sandbox.call_batch("f", [["a"], ["b"], [bad], ["c"], ["undefined"], ["d"]])
    assert results[:2] == [{"value": "a"}, {"value": "b"}]
    assert results[3:] == [{"value": "c"}, None, {"value": "d"}]
    assert isinstance(results[2], SandboxError)
    reason, message = BAD[bad]
    assert (results[2].reason, results[2].message.splitlines()[0][: len(message)]) == (reason, message)
    assert sandbox.call_batch("f", [["again"]]) == [{"value": "again"}]  # the sandbox answers the next batch


def test_a_batch_that_runs_out_of_time_fails_as_a_whole_and_the_next_batch_answers(sandbox):
    with pytest.raises(SandboxError, match="longer than its time limit") as caught:
        sandbox.call_batch("spin", [[], [], []])
    assert caught.value.reason == "timeout"
    assert sandbox.call_batch("f", [["a"], ["b"]]) == [{"value": "a"}, {"value": "b"}]


def test_calls_that_would_outlast_the_time_limit_together_are_spread_over_several_crossings():
    """40 calls of 5 ms (wall clock) take 200 ms together, the limit is 40 ms a crossing: each crossing stops
    taking calls after a quarter of it, so none runs out of time."""
    sandbox = JsSandbox(MIXED, "slow-calls", timeout=0.04)
    assert sandbox.call_batch("wait", [[5]] * 40) == [5] * 40
    sandbox.close()


def test_a_script_that_breaks_the_batch_wrapper_fails_the_batch_not_the_host():
    """A script that replaces Array.prototype.join makes the batch's text wrong: the crossing fails as a whole
    (the caller then calls one at a time), and single calls still work."""
    sandbox = JsSandbox(MIXED + "Array.prototype.join = function () { return '[0,1],[0,2],[0,3],[0,4]'; };")
    with pytest.raises(SandboxError, match="not as the host made them") as caught:
        sandbox.call_batch("f", [["a"], ["b"]])
    assert caught.value.reason == "result"
    assert sandbox.call("f", "a") == {"value": "a"}
    sandbox.close()


def test_a_large_batch_on_the_sandboxs_thread_is_awaited_while_the_loop_goes_on():
    sandbox = JsSandbox(MIXED, "threaded", timeout=1, inline=False)
    assert not sandbox.slow

    async def batch_while_the_loop_ticks() -> tuple[list, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        results = await sandbox.call_batch_async("wait", [[10]] * AWAIT_FROM)  # 160 ms in one crossing
        during = ticks - before
        task.cancel()
        return results, during

    results, during = asyncio.run(batch_while_the_loop_ticks())
    assert results == [10] * AWAIT_FROM and during > 1
    sandbox.close()


def test_a_batch_that_runs_away_on_the_thread_fails_as_a_runaway_and_the_sandbox_recovers():
    source = "let calls = 0; function slow(n) { calls++; let x = 0; for (let i = 0; i < n; i++) x += i; return calls; }"
    sandbox = JsSandbox(source, timeout=30, runaway_cpu=0.2, wall_limit=30, inline=False)

    async def batches() -> None:
        with pytest.raises(SandboxError, match=r"^timeout: a call of slow ran away") as caught:
            await sandbox.call_batch_async("slow", [[5e7]] + [[1]] * AWAIT_FROM)  # about 1 s of CPU, bound 0.2 s
        assert caught.value.reason == "runaway" and sandbox.slow
        with pytest.raises(SandboxError, match="busy"):
            await sandbox.call_batch_async("slow", [[1]] * AWAIT_FROM)
        for _ in range(2400):  # bounded: 120 s at most
            if not sandbox.busy:
                break
            await asyncio.sleep(0.05)
        assert await sandbox.call_batch_async("slow", [[1], [1]]) == [1, 2]  # a fresh context

    asyncio.run(batches())
    sandbox.close()
