"""Running user JavaScript (payload codecs, function nodes) in a QuickJS sandbox, bounded in time and memory.

quickjs-ng was chosen over dukpy and mini-racer because it is the fastest of the three for small calls with JSON in
and out (about 3 us a call against 26 and 204 us, measured for /work/shared/TESTING.md) and because it has time and
memory limits of its own. A :class:`JsSandbox` owns one QuickJS context: the script is evaluated once, then its
functions are called many times. The context has only the ECMAScript built-ins: no ``require``, ``process``,
``std``, ``os``, ``fetch``, no module loader and no way to reach Python (no callables are added to it).

A context is not thread-safe: create and call a sandbox from one thread (the event loop's). Each call is bounded by
``timeout`` (QuickJS measures CPU time with ``clock()``) and the context by ``memory_limit``; a call that breaks a
limit raises :class:`SandboxError` and the context stays usable for the next call.

QuickJS checks the time only every 10,000 steps of the script (calls, loop iterations), and a step can be one
native operation over megabytes (``new Array(1e6).fill(0)``): a script that loops over such steps overruns its
time limit by far (measured here: 70 s of CPU for a 100 ms limit). A sandbox whose call took longer than
``runaway_after`` seconds is therefore disabled: its later calls fail at once, until it is loaded again.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import quickjs

__all__ = ["DEFAULT_MEMORY_LIMIT", "DEFAULT_TIMEOUT", "JsSandbox", "SandboxError"]

DEFAULT_TIMEOUT = 0.1
DEFAULT_MEMORY_LIMIT = 32 * 1024 * 1024
DEFAULT_MAX_RESULT_BYTES = 1024 * 1024
MAX_SOURCE_CHARS = 2 * 1024 * 1024
_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")

# The call wrapper is made after the script ran, so that it also finds functions declared with let/const/class
# (global lexical bindings are not properties of globalThis). JSON crosses the boundary as one string each way:
# that is faster than converting objects one property at a time, and the script cannot hand Python an object.
_WRAPPER = """(function () {{
  const parse = JSON.parse, stringify = JSON.stringify;
  return function (argumentsJson) {{ return stringify({name}(...parse(argumentsJson))); }};
}})()"""
_WRAPPER_ONE_ARGUMENT = """(function () {{
  const parse = JSON.parse, stringify = JSON.stringify;
  return function (argumentJson) {{ return stringify({name}(parse(argumentJson))); }};
}})()"""


class SandboxError(Exception):
    """A script failed. ``reason`` is one of ``compile``, ``exception``, ``timeout``, ``memory``, ``stack``,
    ``result`` (the value could not be returned as JSON, or was too large), ``disabled`` (an earlier call ran
    away); ``str()`` is the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _classify(error: Exception) -> SandboxError:
    """Turn QuickJS's exception into a SandboxError with the reason and the script's message (first line)."""
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    if isinstance(error, quickjs.StackOverflow):
        return SandboxError("stack", f"stack overflow: {first_line}")
    if first_line == "InternalError: interrupted":
        return SandboxError("timeout", "the script ran longer than its time limit")
    if first_line == "InternalError: out of memory" or isinstance(error, MemoryError):
        return SandboxError("memory", "the script needed more memory than its limit")
    if first_line == "null":  # QuickJS throws null when it has no memory left to build the error itself
        return SandboxError("memory", "the script needed more memory than its limit (or threw null)")
    return SandboxError("exception", first_line)


class JsSandbox:
    """One script, evaluated once in its own QuickJS context; call its global functions with JSON values.

    :param source: the script (a classic script, not a module: ``import`` and ``export`` statements fail).
    :param name: what the script is called in error messages (a file name).
    :param timeout: seconds of CPU time allowed to evaluating the script and to each call.
    :param memory_limit: bytes the context may allocate, script and data together.
    :param max_result_bytes: the largest JSON text a call may return.
    :param runaway_after: seconds (wall clock) after which a call that returned disables the sandbox; default
        20 times the timeout, at least 2 s.
    """

    def __init__(
        self,
        source: str,
        name: str = "script",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        runaway_after: float | None = None,
    ) -> None:
        if len(source) > MAX_SOURCE_CHARS:
            raise SandboxError("compile", f"{name}: the script is longer than {MAX_SOURCE_CHARS} characters")
        self.name = name
        self.max_result_bytes = max_result_bytes
        self.runaway_after = runaway_after if runaway_after is not None else max(2.0, 20 * timeout)
        self.disabled: str | None = None
        """Why the sandbox refuses calls (a call ran away), or None."""
        self._context = quickjs.Context()
        self._context.set_time_limit(timeout)
        self._context.set_memory_limit(memory_limit)
        self._callers: dict[str, Any] = {}
        try:
            self._context.eval(source)
        except Exception as exc:  # quickjs raises JSException subclasses, MemoryError or a plain Exception
            error = _classify(exc)
            raise SandboxError("compile", f"{name}: {error.message}") from None

    def evaluate(self, source: str) -> None:
        """Run more code in the context, under the same limits: the host's own helpers, defined after the script
        so that its declarations win. Raises :class:`SandboxError`."""
        try:
            self._context.eval(source)
        except Exception as exc:
            raise _classify(exc) from None

    def has_function(self, function_name: str) -> bool:
        """Whether the script defines a global function of this name (``function f``, ``const f = () => ...``)."""
        if not _is_identifier(function_name):
            return False
        try:
            return self._context.eval(f"typeof {function_name} === 'function'") is True
        except Exception:
            return False

    def call(self, function_name: str, *arguments: Any) -> Any:
        """Call the script's global function with JSON-serialisable arguments; returns the JSON-decoded result
        (``None`` when it returned ``undefined``). Raises :class:`SandboxError`."""
        callers = self._callers.get(function_name) or self._caller(function_name)
        if self.disabled is not None:
            raise SandboxError("disabled", self.disabled)
        try:  # one argument (the common case: TS013) skips building and spreading an array
            if len(arguments) == 1:
                caller, argument_text = callers[1], orjson.dumps(arguments[0]).decode()
            else:
                caller, argument_text = callers[0], orjson.dumps(arguments).decode()
        except TypeError as exc:
            raise SandboxError("result", f"arguments are not JSON: {exc}") from None
        started = time.perf_counter()
        try:
            result = caller(argument_text)
        except Exception as exc:
            error = _classify(exc)
            if error.reason == "memory":  # free what the failed call left behind, so the next call has room
                self._context.gc()
            raise error from None
        finally:
            if time.perf_counter() - started > self.runaway_after:
                self._disable(function_name, time.perf_counter() - started)
        return self._decode_result(result)

    def _disable(self, function_name: str, seconds: float) -> None:
        self.disabled = (
            f"disabled: a call of {function_name} took {seconds:.1f} s, more than {self.runaway_after:g} s; "
            "load the script again to retry it"
        )

    def _caller(self, function_name: str) -> Any:
        if not self.has_function(function_name):
            raise SandboxError("exception", f"{self.name} defines no function {function_name}")
        callers = tuple(
            self._context.eval(code.format(name=function_name)) for code in (_WRAPPER, _WRAPPER_ONE_ARGUMENT)
        )
        self._callers[function_name] = callers
        return callers

    def _decode_result(self, result: Any) -> Any:
        if result is None:
            return None
        if not isinstance(result, str):
            raise SandboxError("result", "the function returned a value that is not JSON")
        if len(result) > self.max_result_bytes:
            raise SandboxError(
                "result", f"the result is {len(result)} characters of JSON, more than {self.max_result_bytes}"
            )
        try:
            return orjson.loads(result)
        except orjson.JSONDecodeError as exc:  # JSON.stringify replaced by the script
            raise SandboxError("result", f"the result is not JSON: {exc}") from None

    def run_pending_jobs(self, max_jobs: int = 1000) -> int:
        """Run queued promise jobs (``then`` callbacks), at most ``max_jobs``; returns how many ran. Calls do not
        run them: a codec is synchronous."""
        ran = 0
        while ran < max_jobs:
            try:
                if not self._context.execute_pending_job():
                    break
            except Exception as exc:
                raise _classify(exc) from None
            ran += 1
        return ran


def _is_identifier(text: str) -> bool:
    return bool(text) and not text[0].isdigit() and all(char in _IDENTIFIER_CHARS for char in text)
