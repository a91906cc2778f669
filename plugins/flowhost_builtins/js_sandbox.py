"""Running user JavaScript (payload codecs, function nodes) in a QuickJS sandbox, bounded in time and memory.

quickjs-ng was chosen over dukpy and mini-racer because it is the fastest of the three for small calls with JSON in
and out (about 3 us a call against 26 and 204 us, measured for /work/shared/TESTING.md) and because it has time and
memory limits of its own. A :class:`JsSandbox` owns one QuickJS context: the script is evaluated once, then its
functions are called many times. The context has only the ECMAScript built-ins: no ``require``, ``process``,
``std``, ``os``, ``fetch``, no module loader and no way to reach Python (no callables are added to it).

Each call is bounded by ``timeout`` (QuickJS measures CPU time with ``clock()``) and the context by
``memory_limit``; a call that breaks a limit raises :class:`SandboxError` and the context stays usable for the next
call. Use a sandbox from one thread (the event loop's).

QuickJS checks the time only every 10,000 steps of the script (calls, loop iterations), and a step can be one
native operation over megabytes (``new Array(1e6).fill(0)``): alone, QuickJS lets a script that loops over such
steps overrun its time limit by far (measured here: 70 s of CPU for a 100 ms limit). The watchdog of
js_interrupt.py makes QuickJS check its limit at the next step once a call is over time, so such a call ends
within its timeout, one native step and 10 ms.

Where the calls run: *inline* (on the caller's thread, the event loop's: about 20 us a call less than a hand-off
to a thread and back) while the script has never used up its time; the first call that does (reason ``timeout``)
moves the script to a thread of its own (js_worker.py; its context made anew, the script evaluated again), where
:meth:`JsSandbox.call_async` runs its calls without holding the event loop: a script that is slow on some input
costs the loop at most one ``timeout``, not one per uplink. A sandbox is on its thread from the start when the
watchdog cannot reach QuickJS's counter (another build of the binding) or when ``inline=False``.

On the thread, the caller also waits for a call a bounded time, in case a single native step outlasts the limit:
until the thread has used ``runaway_cpu`` seconds of CPU on it (default: the timeout and half as much again, at
least 50 ms more), at most ``wall_limit`` seconds of wall clock (default: ten times the timeout, at least 1 s). A
call that has not returned by then *ran away*: it fails (reason ``runaway``), the thread goes on with it until
QuickJS stops it, and meanwhile later calls fail at once (reason ``busy``). When the thread is free again, the
next call gets a fresh context (the script evaluated anew: the state the runaway call left may be half-changed).
After ``max_runaways`` runaways the sandbox is disabled (reason ``disabled``) until it is loaded again.

:meth:`JsSandbox.call_batch` makes many calls in one crossing (the codec node's batches of uplinks): a wrapper in
the context runs each in its own ``try``/``catch``, so that what one call throws (an out-of-memory or a stack
overflow included) is its own result; a timeout ends the crossing as a whole, and the caller then calls one at
a time. Each crossing is bounded like one call: the wrapper takes no further call once a quarter of the timeout
has passed, and the rest go in the next crossing. On the thread, :meth:`JsSandbox.call_batch_async` awaits a
large batch (the worker wakes the loop when it ended) and hands a small one over synchronously.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import orjson
import quickjs

from .js_interrupt import WATCHDOG, counter_of
from .js_worker import JsWorker, Overdue, WorkerBusy

__all__ = ["DEFAULT_MEMORY_LIMIT", "DEFAULT_TIMEOUT", "JsSandbox", "SandboxError"]

DEFAULT_TIMEOUT = 0.1
DEFAULT_MEMORY_LIMIT = 32 * 1024 * 1024
DEFAULT_MAX_RESULT_BYTES = 1024 * 1024
DEFAULT_MAX_RUNAWAYS = 3
MAX_SOURCE_CHARS = 2 * 1024 * 1024
AWAIT_FROM = 16
"""On a thread, batches of this many calls or more are awaited (about 30 us of CPU for the loop's wake-up, 2 us a
call at 16), smaller ones handed over synchronously (about 8 us)."""
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
# A batch: many calls in one crossing, each in its own try/catch, so that one call's exception (an out-of-memory
# or a stack overflow included: QuickJS lets a script catch those) is that call's result only; a timeout ends the
# whole crossing (QuickJS's interrupt cannot be caught). Each call's result is one of [0, result], [0] (undefined),
# [1, "what it threw"], [2, length] (more than maxChars of JSON). The calls after budgetMs of wall clock are left
# for the next crossing, so that a slow codec's batch stays within one call's time limit. QuickJS returns a long
# concatenated string as a rope the binding cannot convert: join() builds a flat one.
_WRAPPER_BATCH = """(function () {{
  const parse = JSON.parse, stringify = JSON.stringify, now = Date.now, text = String;
  return function (callsJson, maxChars, budgetMs) {{
    const calls = parse(callsJson), results = [], started = now();
    for (let i = 0; i < calls.length; i++) {{
      if (i > 0 && now() - started > budgetMs) break;
      let result;
      try {{
        const json = stringify({name}(...calls[i]));
        result = json === undefined ? "[0]" : json.length > maxChars ? "[2," + json.length + "]" : "[0," + json + "]";
      }} catch (error) {{
        result = stringify([1, text(error)]);
      }}
      results.push(result);
    }}
    return results.join(",");
  }};
}})()"""
_WRAPPERS = {"many": _WRAPPER, "one": _WRAPPER_ONE_ARGUMENT, "batch": _WRAPPER_BATCH}


class SandboxError(Exception):
    """A script failed. ``reason`` is one of ``compile``, ``exception``, ``timeout``, ``memory``, ``stack``,
    ``result`` (the value could not be returned as JSON, or was too large), ``runaway`` (the call did not return
    within the wall-clock limit), ``busy`` (a call that ran away still runs), ``disabled`` (too many ran away);
    ``str()`` is the message."""

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
    if isinstance(error, MemoryError):
        return SandboxError("memory", "the script needed more memory than its limit")
    return _classify_thrown(first_line)


def _classify_thrown(first_line: str) -> SandboxError:
    """What a script threw, as its text (``String(error)``'s first line), turned into a SandboxError."""
    if first_line == "InternalError: out of memory":
        return SandboxError("memory", "the script needed more memory than its limit")
    if first_line == "null":  # QuickJS throws null when it has no memory left to build the error itself
        return SandboxError("memory", "the script needed more memory than its limit (or threw null)")
    if first_line == _STACK_OVERFLOW:  # caught in a batch: QuickJS's own error (else raised as StackOverflow)
        return SandboxError("stack", f"stack overflow: {first_line}")
    return SandboxError("exception", first_line)


_STACK_OVERFLOW = "RangeError: Maximum call stack size exceeded"


class _Script:
    """The QuickJS context and the call wrappers made in it: created, used and freed on one thread only."""

    def __init__(self, sources: list[str], timeout: float, memory_limit: int) -> None:
        self.context = quickjs.Context()
        self.context.set_time_limit(timeout)
        self.context.set_memory_limit(memory_limit)
        self.timeout = timeout
        self.counter = counter_of(self.context)
        """QuickJS's interrupt counter, which the watchdog sets when a call is over time (None: out of reach)."""
        self.callers: dict[tuple[str, str], Any] = {}
        for source in sources:
            self.guarded(_evaluate, self.context, source)

    def guarded(self, function: Any, *arguments: Any) -> Any:
        """Run code in the context under the watchdog's eye."""
        counter = self.counter
        if counter is None:
            return function(*arguments)
        key = id(self)
        WATCHDOG.start(key, counter, self.timeout)
        try:
            return function(*arguments)
        finally:
            WATCHDOG.end(key)

    def __del__(self) -> None:
        with WATCHDOG.lock:  # never while the watchdog writes to this context's counter
            self.callers = {}
            self.context = None

    def caller(self, function_name: str, kind: str) -> Any:
        """The wrapper that calls ``function_name``: ``many`` arguments, ``one``, or a ``batch`` of calls."""
        caller = self.callers.get((function_name, kind))
        if caller is None:
            if not self.has_function(function_name):
                return None
            caller = self.context.eval(_WRAPPERS[kind].format(name=function_name))
            self.callers[function_name, kind] = caller
        return caller

    def has_function(self, function_name: str) -> bool:
        try:
            return self.context.eval(f"typeof {function_name} === 'function'") is True
        except Exception:
            return False


def _evaluate(context: Any, source: str) -> None:
    try:
        context.eval(source)
    except Exception as exc:  # quickjs raises JSException subclasses, MemoryError or a plain Exception
        raise _classify(exc) from None


# Jobs run on the worker thread: each takes the worker (whose ``state`` is the _Script) first.
def _create(worker: JsWorker, sources: list[str], timeout: float, memory_limit: int) -> None:
    worker.state = None  # free the old context first: both may not fit the memory the machine has
    worker.state = _Script(sources, timeout, memory_limit)


def _call(worker: JsWorker, function_name: str, kind: str, argument_text: str, *extra: Any) -> Any:
    script: _Script = worker.state
    caller = script.caller(function_name, kind)
    if caller is None:
        return _NO_FUNCTION
    try:
        return script.guarded(caller, argument_text, *extra)
    except Exception as exc:
        error = _classify(exc)
        if error.reason == "memory":  # free what the failed call left behind, so the next call has room
            script.context.gc()
        raise error from None


def _run_pending_jobs(worker: JsWorker, max_jobs: int) -> int:
    ran = 0
    while ran < max_jobs:
        try:
            if not worker.state.guarded(worker.state.context.execute_pending_job):
                break
        except Exception as exc:
            raise _classify(exc) from None
        ran += 1
    return ran


_NO_FUNCTION = object()


class _Inline:
    """Runs jobs on the thread that made it, at once: the part of :class:`JsWorker` that :class:`JsSandbox` uses."""

    unusual = busy = False

    def __init__(self, cpu_limit: float, wall_limit: float) -> None:
        self.cpu_limit, self.wall_limit = cpu_limit, wall_limit
        self.thread = threading.get_ident()
        self.state: Any = None
        self.stopped = False

    def run(self, function: Any, *arguments: Any) -> Any:
        return function(self, *arguments)

    def stop(self) -> None:
        self.stopped = True
        self.state = None


class JsSandbox:
    """One script, evaluated once in its own QuickJS context; call its global functions with JSON values.

    :param source: the script (a classic script, not a module: ``import`` and ``export`` statements fail).
    :param name: what the script is called in error messages (a file name).
    :param timeout: seconds of CPU time allowed to evaluating the script and to each call.
    :param memory_limit: bytes the context may allocate, script and data together.
    :param max_result_bytes: the largest JSON text a call may return.
    :param runaway_cpu: seconds of CPU time after which a call that QuickJS did not stop ran away.
    :param wall_limit: seconds (wall clock) the caller waits for a call at most.
    :param max_runaways: how many calls may run away before the sandbox is disabled.
    :param inline: run calls on the caller's thread until one uses up its time (when the watchdog can reach
        QuickJS); False: on a thread of the sandbox's own from the start.
    """

    def __init__(
        self,
        source: str,
        name: str = "script",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        runaway_cpu: float | None = None,
        wall_limit: float | None = None,
        max_runaways: int = DEFAULT_MAX_RUNAWAYS,
        inline: bool = True,
    ) -> None:
        if len(source) > MAX_SOURCE_CHARS:
            raise SandboxError("compile", f"{name}: the script is longer than {MAX_SOURCE_CHARS} characters")
        self.name = name
        self.max_result_bytes = max_result_bytes
        runaway_cpu = runaway_cpu if runaway_cpu is not None else timeout + max(0.05, timeout / 2)
        wall_limit = wall_limit if wall_limit is not None else max(1.0, 10 * timeout)
        self.max_runaways = max_runaways
        self.runaways = 0
        """How many calls ran away (QuickJS did not stop them within the bounds)."""
        self.generation = 0
        """How many times the context was made anew (moved to a thread, or after a runaway): its state is gone."""
        self.disabled: str | None = None
        """Why the sandbox refuses calls (too many ran away), or None."""
        self.slow = False
        """Whether a call used up its time once (or ran away), or the watchdog cannot stop a call inline: its
        callers should await it on the sandbox's thread (:meth:`call_async`) rather than wait for it."""
        self._limits = (timeout, memory_limit)
        self._sources = [source]  # the script and what evaluate() added: replayed into a fresh context
        self._running_away: str | None = None
        self._called: set[str] = set()  # function names checked to be identifiers
        self._waits = (runaway_cpu, wall_limit)
        self._lock = threading.Lock()  # on a thread, calls may come from several (call_async): one at a time
        self._worker: JsWorker | _Inline = _Inline(*self._waits) if inline else self._new_worker()
        try:
            self._run("loading the script", _create, self._sources, *self._limits)
            if inline and self._worker.state.counter is None:  # the watchdog cannot stop a call run inline
                self._move_to_thread()
        except SandboxError as exc:
            self.close()
            raise SandboxError("compile", f"{name}: {exc.message}") from None

    def _new_worker(self) -> JsWorker:
        worker = JsWorker(self.name, *self._waits)
        weakref.finalize(self, worker.stop)  # a sandbox dropped without close() still ends its thread
        return worker

    def _move_to_thread(self) -> None:
        """From now on, the context lives on a thread of its own (made anew there: QuickJS measures its stack
        from the thread that made the context)."""
        inline, self._worker = self._worker, self._new_worker()
        self.slow = True
        inline.stop()
        self._recreate()

    def _move_to_thread_after_timeout(self) -> None:
        try:
            self._move_to_thread()
        except SandboxError:  # the script failed to load again: disabled, the timeout is this call's error
            pass

    @property
    def on_thread(self) -> bool:
        """Whether calls run on the sandbox's own thread (then :meth:`call_async` does not hold the loop)."""
        return isinstance(self._worker, JsWorker)

    @property
    def wall_limit(self) -> float:
        """Seconds (wall clock) a call is waited for at most."""
        return self._worker.wall_limit

    @property
    def busy(self) -> bool:
        """Whether a call that ran away still runs on the sandbox's thread."""
        return self._worker.busy

    def close(self) -> None:
        """End the sandbox's thread (once the call it runs, if one ran away, has ended). Calls fail after it."""
        self._worker.stop()

    def _run(self, what: str, job: Any, *arguments: Any) -> Any:
        """Run a job inline or on the worker; ``what`` (the job's name, or the function called) names it in
        errors."""
        if self.disabled is not None:
            raise SandboxError("disabled", self.disabled)
        worker = self._worker
        if type(worker) is _Inline:
            if worker.stopped:
                raise RuntimeError("the sandbox was closed")
            if worker.thread == threading.get_ident():
                try:
                    return worker.run(job, *arguments)
                except SandboxError as exc:
                    if exc.reason == "timeout" and worker.state is not None:  # slow on some input: off the loop
                        self._move_to_thread_after_timeout()
                    raise
            with self._lock:  # called from another thread: the context must stay on one
                if self._worker is worker:
                    self._move_to_thread()
        with self._lock:
            return self._run_on_thread(what, job, *arguments)

    def _run_on_thread(self, what: str, job: Any, *arguments: Any) -> Any:
        worker = self._worker
        try:
            if worker.unusual and worker.take_recovered():
                self._recreate()
            return worker.run(job, *arguments)
        except (WorkerBusy, Overdue) as exc:
            raise self._not_run(exc, what, job) from None
        except SandboxError as exc:
            self.slow = self.slow or exc.reason == "timeout"
            raise

    async def _run_async(self, what: str, job: Any, *arguments: Any, wait: bool = False) -> Any:
        """:meth:`_run`, awaited on the sandbox's thread when it has one: the event loop goes on meanwhile.
        ``wait``: a short job, handed over synchronously (cheaper) unless the sandbox is :attr:`slow`."""
        worker = self._worker
        if type(worker) is _Inline or self.disabled is not None or (wait and not self.slow):
            return self._run(what, job, *arguments)
        if not self._lock.acquire(blocking=False):  # another thread's call runs (an API call): wait beside it
            return await asyncio.to_thread(self._run, what, job, *arguments)
        try:
            if worker.unusual and worker.take_recovered():
                self._recreate()
            return await worker.run_async(job, *arguments)
        except (WorkerBusy, Overdue) as exc:
            raise self._not_run(exc, what, job) from None
        except SandboxError as exc:
            self.slow = self.slow or exc.reason == "timeout"
            raise
        finally:
            self._lock.release()

    def _not_run(self, exc: Exception, what: str, job: Any) -> SandboxError:
        """The SandboxError for a job the worker would not run (busy) or did not finish in time (a runaway)."""
        if isinstance(exc, WorkerBusy):
            return SandboxError("busy", f"busy: {self._running_away} ran away and still runs")
        self.runaways += 1
        self.slow = True
        self._running_away = what = what if job is not _call else f"a call of {what}"
        if self.runaways >= self.max_runaways:
            self.disabled = f"disabled: {self.runaways} calls ran away; load the script again to retry it"
        return SandboxError("runaway", f"timeout: {what} {self._overdue_text()}")

    def _recreate(self) -> None:
        """A fresh context, after a call that ran away has ended; if the script fails to load, disabled."""
        self.generation += 1
        try:
            self._worker.run(_create, self._sources, *self._limits)
        except SandboxError as exc:
            self.disabled = f"disabled: the script failed to load again: {exc.message}"
            raise SandboxError("disabled", self.disabled) from None

    def _overdue_text(self) -> str:
        worker = self._worker
        return (
            f"ran away: QuickJS did not stop it within {worker.cpu_limit:g} s of CPU time "
            f"or {worker.wall_limit:g} s of wall clock"
        )

    def evaluate(self, source: str) -> None:
        """Run more code in the context, under the same limits: the host's own helpers, defined after the script
        so that its declarations win (and again in a fresh context). Raises :class:`SandboxError`."""
        self._run("evaluating code", lambda worker: worker.state.guarded(_evaluate, worker.state.context, source))
        self._sources.append(source)

    def has_function(self, function_name: str) -> bool:
        """Whether the script defines a global function of this name (``function f``, ``const f = () => ...``)."""
        if not _is_identifier(function_name):
            return False
        return self._run(f"looking up {function_name}", lambda worker: worker.state.has_function(function_name))

    def _check_name(self, function_name: str) -> None:
        if function_name not in self._called:
            if not _is_identifier(function_name):
                raise SandboxError("exception", f"{self.name} defines no function {function_name}")
            self._called.add(function_name)

    def call(self, function_name: str, *arguments: Any) -> Any:
        """Call the script's global function with JSON-serialisable arguments; returns the JSON-decoded result
        (``None`` when it returned ``undefined``). Raises :class:`SandboxError`."""
        self._check_name(function_name)
        try:  # one argument (the common case: TS013) skips building and spreading an array
            one_argument = len(arguments) == 1
            argument_text = orjson.dumps(arguments[0] if one_argument else arguments).decode()
        except TypeError as exc:
            raise SandboxError("result", f"arguments are not JSON: {exc}") from None
        result = self._run(function_name, _call, function_name, "one" if one_argument else "many", argument_text)
        if result is _NO_FUNCTION:
            raise SandboxError("exception", f"{self.name} defines no function {function_name}")
        return self._decode_result(result)

    def call_batch(self, function_name: str, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """Call the function once per argument list of ``calls``, in one crossing into the sandbox (or a few, when
        they take long: each crossing has the time limit of one call). Returns, per call, its JSON-decoded result
        or the :class:`SandboxError` it failed with (``exception``, ``memory``, ``stack``, ``result``): one call's
        failure is its own. Raises :class:`SandboxError` when the crossing itself failed (a timeout, memory
        outside any one call, a runaway...): which call caused it is not known, so call them one at a time."""
        self._check_name(function_name)
        results: list[Any] = []
        while len(results) < len(calls):
            arguments = self._batch_arguments(function_name, calls[len(results) :])
            results += self._batch_output(
                function_name, self._run(function_name, *arguments), len(calls) - len(results)
            )
        self._collect_after(results)
        return results

    async def call_batch_async(self, function_name: str, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """:meth:`call_batch`, awaited on the sandbox's thread when it has one: the event loop goes on while the
        script runs (QuickJS releases the GIL). A batch of fewer than :data:`AWAIT_FROM` calls is handed over
        synchronously (the loop waits, as for an inline call: a wake-up of the loop costs more than the calls)
        unless the sandbox is :attr:`slow`."""
        self._check_name(function_name)
        results: list[Any] = []
        while len(results) < len(calls):
            arguments = self._batch_arguments(function_name, calls[len(results) :])
            wait = len(calls) - len(results) < AWAIT_FROM
            output = await self._run_async(function_name, *arguments, wait=wait)
            results += self._batch_output(function_name, output, len(calls) - len(results))
        self._collect_after(results)
        return results

    def _batch_arguments(self, function_name: str, calls: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
        try:
            calls_text = orjson.dumps(calls).decode()
        except TypeError as exc:
            raise SandboxError("result", f"arguments are not JSON: {exc}") from None
        budget_ms = self._limits[0] * 1000 / 4  # a quarter of the limit: other threads add to QuickJS's clock
        return (_call, function_name, "batch", calls_text, self.max_result_bytes, budget_ms)

    def _batch_output(self, function_name: str, output: Any, most: int) -> list[Any]:
        if output is _NO_FUNCTION:
            raise SandboxError("exception", f"{self.name} defines no function {function_name}")
        return _batch_results(output, most, self.max_result_bytes)

    def _collect_after(self, results: list[Any]) -> None:
        """After calls that ran out of memory, free what they left behind (a call alone does it at once)."""
        if any(isinstance(result, SandboxError) and result.reason == "memory" for result in results):
            self._run("collecting garbage", lambda worker: worker.state.context.gc())

    async def call_async(self, function_name: str, *arguments: Any) -> Any:
        """:meth:`call`, inline while the script is, else waited for on another thread: the loop goes on."""
        if self.on_thread:
            return await asyncio.to_thread(self.call, function_name, *arguments)
        return self.call(function_name, *arguments)

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
        return self._run("promise jobs", _run_pending_jobs, max_jobs)


def _batch_results(output: Any, most: int, max_result_bytes: int) -> list[Any]:
    """The results of a batch crossing (the batch wrapper's text): at least one, at most ``most``."""
    try:
        items = orjson.loads(f"[{output}]") if isinstance(output, str) else None
    except orjson.JSONDecodeError:
        items = None
    if not items or len(items) > most or not all(_is_batch_item(item) for item in items):
        raise SandboxError("result", "the batch's results are not as the host made them (the script changed them)")
    return [_batch_result(item, max_result_bytes) for item in items]


def _is_batch_item(item: Any) -> bool:
    if type(item) is not list or not 1 <= len(item) <= 2 or type(item[0]) is not int:
        return False
    return (item[0] in (1, 2) and len(item) == 2) or item[0] == 0


def _batch_result(item: list[Any], max_result_bytes: int) -> Any:
    tag = item[0]
    if tag == 0:
        return item[1] if len(item) == 2 else None
    if tag == 2:
        return SandboxError("result", f"the result is {item[1]} characters of JSON, more than {max_result_bytes}")
    thrown = item[1] if isinstance(item[1], str) else ""
    return _classify_thrown(thrown.strip().splitlines()[0] if thrown.strip() else "Error")


def _is_identifier(text: str) -> bool:
    return bool(text) and not text[0].isdigit() and all(char in _IDENTIFIER_CHARS for char in text)
