"""The JavaScript sandbox: JSON in and out, time and memory limits, no way out to the host."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from pathlib import Path

import pytest
import quickjs

from flowhost_builtins.js_interrupt import WATCHDOG, counter_of
from flowhost_builtins.js_sandbox import JsSandbox, SandboxError

HOSTILE = Path(__file__).parent.parent / "data" / "codecs" / "hostile"


def test_a_script_is_evaluated_once_and_its_functions_called_with_json():
    sandbox = JsSandbox("let calls = 0; const add = (a, b) => ({sum: a.x + b, calls: ++calls});", "adder")
    assert sandbox.call("add", {"x": 1.5}, 2) == {"sum": 3.5, "calls": 1}
    assert sandbox.call("add", {"x": 0}, 0) == {"sum": 0, "calls": 2}  # state kept: loaded once
    assert sandbox.has_function("add") and not sandbox.has_function("calls")


def test_a_function_returning_undefined_gives_none_and_a_missing_one_is_an_error():
    sandbox = JsSandbox("function nothing() {}")
    assert sandbox.call("nothing") is None
    with pytest.raises(SandboxError, match="defines no function missing") as caught:
        sandbox.call("missing")
    assert caught.value.reason == "exception"


def test_has_function_takes_only_identifiers_so_a_name_cannot_inject_code():
    sandbox = JsSandbox("var hit = false; function f() { return hit; }")
    assert not sandbox.has_function("f; hit = true; f")
    assert sandbox.call("f") is False


def test_an_endless_loop_is_stopped_by_the_time_limit_and_the_next_call_works():
    sandbox = JsSandbox((HOSTILE / "loop.js").read_text() + "\nfunction ok() { return 1; }", "loop", timeout=0.05)
    with pytest.raises(SandboxError, match="longer than its time limit") as caught:
        sandbox.call("decodeUplink", {"bytes": [], "fPort": 1})
    assert caught.value.reason == "timeout"
    assert sandbox.call("ok") == 1


def test_the_time_limit_applies_to_each_call_not_to_the_context():
    sandbox = JsSandbox("function busy(n) { let x = 0; for (let i = 0; i < n; i++) x += i; return x; }", timeout=0.05)
    # Calls that each take a few milliseconds: together more than the limit, which a per-context limit would stop.
    for _ in range(40):
        assert sandbox.call("busy", 100_000) == 99_999 * 100_000 // 2


def test_loading_a_script_that_never_ends_is_a_compile_error():
    with pytest.raises(SandboxError, match=r"slow\.js: the script ran longer") as caught:
        JsSandbox("while (true) {}", "slow.js", timeout=0.05)
    assert caught.value.reason == "compile"


def test_endless_allocation_is_stopped_by_the_memory_limit_and_the_next_call_works():
    source = (HOSTILE / "alloc.js").read_text() + "\nfunction ok() { return [1, 2, 3]; }"
    # freeing 32 MB can take a while on a busy machine: this test is about the memory limit, not about runaways
    sandbox = JsSandbox(source, "alloc", runaway_cpu=60, wall_limit=60)
    for _ in range(2):
        with pytest.raises(SandboxError) as caught:
            sandbox.call("decodeUplink", {"bytes": [], "fPort": 1})
        assert caught.value.reason in {"memory", "timeout"}  # it catches its out-of-memory errors to go on
    assert sandbox.call("ok") == [1, 2, 3]


def test_a_string_grown_without_end_is_stopped():
    sandbox = JsSandbox("function grow() { let s = 'x'; while (true) s += s; }", memory_limit=4 * 1024 * 1024)
    with pytest.raises(SandboxError) as caught:
        sandbox.call("grow")
    assert caught.value.reason in {"memory", "exception"}  # "string too long" or out of memory, never a crash


def test_endless_recursion_is_a_stack_error():
    sandbox = JsSandbox("function down(n) { return down(n + 1) + 1; }")
    with pytest.raises(SandboxError, match="stack overflow") as caught:
        sandbox.call("down", 0)
    assert caught.value.reason == "stack"


def test_a_syntax_error_names_the_script():
    with pytest.raises(SandboxError, match=r"^broken.js: SyntaxError") as caught:
        JsSandbox("function (", "broken.js")
    assert caught.value.reason == "compile"


def test_results_that_are_not_json_or_too_large_are_result_errors():
    sandbox = JsSandbox("function big() { return 'x'.repeat(5000); } function bigint() { return 1n; }")
    limited = JsSandbox("function big() { return 'x'.repeat(5000); }", max_result_bytes=1000)
    assert len(sandbox.call("big")) == 5000
    with pytest.raises(SandboxError, match="more than 1000") as caught:
        limited.call("big")
    assert caught.value.reason == "result"
    with pytest.raises(SandboxError, match="BigInt"):
        sandbox.call("bigint")


def test_the_host_is_out_of_reach():
    sandbox = JsSandbox((HOSTILE / "host.js").read_text(), "host.js")
    seen = sandbox.call("decodeUplink", {"bytes": [], "fPort": 1})["data"]
    assert set(seen.values()) == {"undefined"}, seen  # require, process, std, os, fetch, print...
    for fport, name in [(2, "require"), (3, "process"), (4, "std"), (5, "os"), (6, "fetch")]:
        with pytest.raises(SandboxError, match=f"ReferenceError: {name} is not defined"):
            sandbox.call("decodeUplink", {"bytes": [], "fPort": fport})
    # Function("return this") reaches only the sandbox's own global object.
    assert sandbox.call("decodeUplink", {"bytes": [], "fPort": 99}) == {"data": True}


def test_modules_cannot_be_loaded():
    with pytest.raises(SandboxError, match="SyntaxError"):
        JsSandbox("import * as os from 'os';", "static-import.js")
    sandbox = JsSandbox(
        "var outcome = 'pending';"
        "import('os').then(() => { outcome = 'loaded'; }, (error) => { outcome = String(error); });"
        "function result() { return outcome; }"
    )
    assert sandbox.run_pending_jobs() >= 1
    assert sandbox.call("result") == "ReferenceError: could not load module 'os'"


NATIVE_LOOP = "function spin() { for (;;) new Array(1e6).fill(0); }"
"""Each step is a native operation over megabytes (25 ms here): QuickJS, which looks at its time limit every
10,000 steps, would overrun a 100 ms limit by a minute of CPU; the watchdog makes it look at the next step."""


def wait_until_free(sandbox: JsSandbox, deadline: float = 120.0) -> None:
    """Poll (bounded) until the sandbox's thread has ended the call that ran away."""
    started = time.monotonic()
    while sandbox.busy:
        assert time.monotonic() - started < deadline, "the runaway call never ended"
        time.sleep(0.05)


def test_a_call_that_runs_away_fails_and_later_calls_fail_at_once_while_it_still_runs():
    source = "let calls = 0; function slow(n) { calls++; let x = 0; for (let i = 0; i < n; i++) x += i; return calls; }"
    sandbox = JsSandbox(source, timeout=30, runaway_cpu=0.2, wall_limit=30, inline=False)
    assert sandbox.call("slow", 1) == 1
    with pytest.raises(SandboxError, match=r"^timeout: a call of slow ran away: QuickJS did not stop it") as caught:
        sandbox.call("slow", 5e7)  # about 1 s of CPU: within QuickJS's limit of 30 s, beyond the bound of 0.2 s
    assert caught.value.reason == "runaway" and sandbox.runaways == 1
    with pytest.raises(SandboxError, match="busy: a call of slow ran away and still runs") as caught:
        sandbox.call("slow", 1)
    assert caught.value.reason == "busy"
    wait_until_free(sandbox)
    assert sandbox.call("slow", 1) == 1  # a fresh context: the script evaluated anew, its counter at 0 again
    sandbox.close()


def test_a_sandbox_whose_calls_keep_running_away_is_disabled():
    sandbox = JsSandbox(
        "function slow() { let x = 0; for (let i = 0; i < 3e7; i++) x += i; }",  # about half a second of CPU
        timeout=30,
        runaway_cpu=0.1,
        wall_limit=30,
        max_runaways=2,
        inline=False,
    )
    for _ in range(2):
        with pytest.raises(SandboxError) as caught:
            sandbox.call("slow")
        assert caught.value.reason == "runaway"
        wait_until_free(sandbox)
    with pytest.raises(SandboxError, match=r"disabled: 2 calls ran away; load the script again") as caught:
        sandbox.call("slow")
    assert caught.value.reason == "disabled"
    sandbox.close()


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "on-its-thread"])
def test_a_loop_of_large_native_steps_stops_at_its_timeout_and_the_next_call_answers(inline):
    # runaway_cpu far above the timeout: only QuickJS's own limit, asked for by the watchdog, can end the call
    # as a timeout; unwatched, it would have run away (and then kept its thread busy for a minute)
    sandbox = JsSandbox(
        NATIVE_LOOP + " let calls = 0; function ok() { return ++calls; }",
        "native-loop",
        timeout=0.1,
        runaway_cpu=20,
        wall_limit=60,
        inline=inline,
    )
    assert sandbox.call("ok") == 1
    pokes = WATCHDOG.pokes
    with pytest.raises(SandboxError, match="longer than its time limit") as caught:
        sandbox.call("spin")
    assert caught.value.reason == "timeout" and sandbox.runaways == 0 and WATCHDOG.pokes > pokes
    assert not sandbox.busy
    assert sandbox.call("ok") == (1 if inline else 2)  # inline, a fresh context on its thread now: count from 0
    assert sandbox.on_thread
    sandbox.close()


def test_the_watchdog_reaches_quickjs_so_calls_run_inline():
    """If this fails, another build of quickjs-ng moved the counter: every sandbox then runs on a thread (slower,
    still bounded) until js_interrupt.py finds it again."""
    assert counter_of(quickjs.Context()) is not None
    sandbox = JsSandbox("function f() { return 1; }")
    assert not sandbox.on_thread and sandbox.call("f") == 1


def test_an_inline_script_that_uses_up_its_time_moves_to_its_thread_and_calls_async_leave_the_loop_free():
    sandbox = JsSandbox((HOSTILE / "loop.js").read_text() + "\nfunction ok(x) { return x; }", "slow", timeout=0.05)
    with pytest.raises(SandboxError, match="longer than its time limit"):
        sandbox.call("decodeUplink", {"bytes": [], "fPort": 1})
    assert sandbox.on_thread and sandbox.generation == 1

    async def calls_while_the_loop_ticks() -> int:
        task = asyncio.create_task(sandbox.call_async("decodeUplink", {"bytes": [], "fPort": 1}))
        ticks = 0
        for _ in range(20_000):  # bounded: 20 s at most
            if task.done():
                break
            ticks += 1
            await asyncio.sleep(0.001)
        with pytest.raises(SandboxError, match="longer than its time limit"):
            await task
        assert await sandbox.call_async("ok", 7) == 7
        return ticks

    # run on the loop, the 50 ms call would let the ticker count once at most before it is done
    assert asyncio.run(calls_while_the_loop_ticks()) > 1
    sandbox.close()


def test_a_sandbox_called_from_another_thread_than_its_maker_moves_to_its_thread():
    sandbox = JsSandbox("let n = 0; function f() { return ++n; }")
    assert sandbox.call("f") == 1
    results = []
    thread = threading.Thread(target=lambda: results.append(sandbox.call("f")))
    thread.start()
    thread.join(timeout=30)
    assert results == [1] and sandbox.on_thread  # made anew on its thread: QuickJS's stack check is per thread
    sandbox.close()


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "on-its-thread"])
def test_calls_fail_after_close(inline):
    sandbox = JsSandbox("function f() { return 1; }", inline=inline)
    assert sandbox.call("f") == 1
    sandbox.close()
    with pytest.raises(RuntimeError):
        sandbox.call("f")


def test_a_sandbox_dropped_without_close_ends_its_thread():
    before = {thread.name for thread in threading.enumerate()}
    sandbox = JsSandbox("function f() { return 1; }", "dropped-sandbox", inline=False)
    assert "js-dropped-sandbox" in {thread.name for thread in threading.enumerate()} - before
    del sandbox
    gc.collect()
    deadline = time.monotonic() + 10
    while "js-dropped-sandbox" in {thread.name for thread in threading.enumerate()}:
        assert time.monotonic() < deadline, "the sandbox's thread outlived it"
        time.sleep(0.01)
