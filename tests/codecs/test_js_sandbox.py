"""The JavaScript sandbox: JSON in and out, time and memory limits, no way out to the host."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    sandbox = JsSandbox(source, "alloc", runaway_after=60)  # freeing 32 MB can take a while on a busy machine
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


def test_a_call_that_ran_away_disables_the_sandbox():
    """QuickJS checks its time limit every 10,000 steps, so a script of costly native steps can overrun it: a call
    that took longer than runaway_after (wall clock) disables the sandbox, and later calls fail at once."""
    source = "function slow(ms) { const end = Date.now() + ms; while (Date.now() < end) {} return ms; }"
    sandbox = JsSandbox(source, timeout=5, runaway_after=0.5)
    assert sandbox.call("slow", 1) == 1
    assert sandbox.call("slow", 700) == 700  # within its time limit: it returns, then the sandbox is disabled
    with pytest.raises(SandboxError, match=r"disabled: a call of slow took \d+\.\d s, more than 0\.5 s") as caught:
        sandbox.call("slow", 1)
    assert caught.value.reason == "disabled"
    assert JsSandbox(source, timeout=5, runaway_after=0.5).call("slow", 1) == 1  # loaded again, it works
