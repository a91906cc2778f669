"""Making QuickJS look at its time limit when a call is over time, not only every 10,000 steps.

QuickJS counts down ``interrupt_counter`` (a field of its ``JSContext``) at each step of a script (a call, a
jump back in a loop) and asks its interrupt handler, which checks the time limit, only when the counter reaches
zero, then starts again from 10,000. A step can be one native operation over megabytes (``new Array(1e6)
.fill(0)``, 25 ms here), so a script looping over such steps overruns a 100 ms limit by 10,000 of them: a minute
of CPU. quickjs-ng has no API to ask for the check sooner, and its Python binding none to reach the context, so a
:class:`Watchdog` thread sets the counter of a call that is over its time to 1 (a plain store to an ``int``, the
value QuickJS itself writes): at its next step QuickJS asks the handler, which stops the call once it has used its
CPU time. A call is thus stopped within its limit, one native step and one watchdog tick.

Where the counter is, is found once per process, on a scratch context, by running known numbers of steps and
finding the one ``int`` that went down by them; then confirmed by setting it to 1 and seeing QuickJS reset it to
10,000 (its handler was asked). When that fails (another build of the binding), :func:`counter_of` returns None
and callers keep a context on a thread of its own (js_worker.py), waited for a bounded time.
"""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Any

import _quickjs
import quickjs

__all__ = ["WATCHDOG", "Watchdog", "counter_of"]

_COUNTER_START = 10_000  # JS_INTERRUPT_COUNTER_INIT in quickjs.c
_SCAN_INTS = 256  # the first 1 KB of the JSContext: the counter sits at about 550 bytes in quickjs-ng 0.17
_OFFSET_UNKNOWN = -1
_offset: int | None = None  # the counter's offset in the JSContext (_OFFSET_UNKNOWN: not found), once found

_library = ctypes.CDLL(_quickjs.__file__)
_library.JS_GetRuntime.restype = ctypes.c_void_p
_library.JS_GetRuntime.argtypes = [ctypes.c_void_p]


def _context_pointer(context: Any) -> int | None:
    """The JSContext of a ``quickjs.Context``: the binding's object holds ``JSRuntime *`` then ``JSContext *``
    right after the Python object header; confirmed by asking QuickJS for that context's runtime."""
    header = object.__basicsize__
    if type(context).__basicsize__ < header + 2 * ctypes.sizeof(ctypes.c_void_p):
        return None
    runtime = ctypes.c_void_p.from_address(id(context) + header).value
    pointer = ctypes.c_void_p.from_address(id(context) + header + ctypes.sizeof(ctypes.c_void_p)).value
    if not runtime or not pointer or _library.JS_GetRuntime(pointer) != runtime:
        return None
    return pointer


def _find_offset() -> int:
    context = quickjs.Context()
    pointer = _context_pointer(context)
    if pointer is None:
        return _OFFSET_UNKNOWN
    ints = (ctypes.c_int32 * _SCAN_INTS).from_address(pointer)
    context.eval("function __steps(n) { for (let i = 0; i < n; i++); }")
    snapshots = [ints[:]]
    for steps in (100, 300):
        context.eval(f"__steps({steps})")
        snapshots.append(ints[:])
    first, second, third = snapshots
    found = [
        index
        for index in range(_SCAN_INTS)
        if all(0 < snapshot[index] <= _COUNTER_START for snapshot in snapshots)
        and 200 <= first[index] - second[index] < 220  # two steps a turn of the loop, a few for the call
        and (second[index] - third[index]) - (first[index] - second[index]) == 400
    ]
    if len(found) != 1:
        return _OFFSET_UNKNOWN
    ints[found[0]] = 1
    context.eval("__steps(10)")
    confirmed = _COUNTER_START - 30 < ints[found[0]] <= _COUNTER_START  # the handler was asked: counting anew
    return found[0] * ctypes.sizeof(ctypes.c_int32) if confirmed else _OFFSET_UNKNOWN


def counter_of(context: Any) -> Any:
    """The context's interrupt counter as a ``ctypes.c_int32``, or None when it cannot be found."""
    global _offset
    if _offset is None:
        try:
            _offset = _find_offset()
        except Exception:  # an unknown binding: no counter, the caller keeps its worker thread
            _offset = _OFFSET_UNKNOWN
    pointer = _context_pointer(context) if _offset != _OFFSET_UNKNOWN else None
    if pointer is None:
        return None
    counter = ctypes.c_int32.from_address(pointer + _offset)
    return counter if 0 <= counter.value <= _COUNTER_START else None


class Watchdog:
    """One daemon thread for the process: every ``tick`` seconds, it sets the counter of each call running
    longer than its time to 1. Calls register with :meth:`start` and leave with :meth:`end` (a dict write each,
    no lock); a context is freed only under :attr:`lock`, which the thread holds while it writes counters, so it
    never writes to a freed context."""

    tick = 0.01

    def __init__(self) -> None:
        self.lock = threading.RLock()  # reentrant: the cyclic GC may free a context on this thread, holding it
        self._calls: dict[int, tuple[Any, float]] = {}
        self._thread: threading.Thread | None = None
        self._call_started = threading.Event()  # the thread sleeps on it while no call runs: no idle wake-ups
        self.pokes = 0
        """How many times a counter was set (for the tests: the watchdog did stop a call)."""

    def start(self, key: int, counter: Any, timeout: float) -> None:
        """A call begins on the context whose counter this is; ``key`` identifies it until :meth:`end`."""
        self._calls[key] = (counter, time.monotonic() + timeout)
        if self._thread is None:
            self._start_thread()
        elif not self._call_started.is_set():
            self._call_started.set()

    def end(self, key: int) -> None:
        self._calls.pop(key, None)

    def _start_thread(self) -> None:
        with self.lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="js-watchdog", daemon=True)
                self._thread.start()

    def _watch(self) -> None:
        calls, lock = self._calls, self.lock
        while True:
            if not calls:
                self._call_started.clear()
                if not calls:  # a call that began since is seen at once; one that begins later sets the event
                    self._call_started.wait()
                continue
            time.sleep(self.tick)
            now = time.monotonic()
            with lock:
                for counter, overdue_at in list(calls.values()):
                    if now >= overdue_at:  # the handler checks the CPU time: an early ask costs one check
                        counter.value = 1
                        self.pokes += 1


WATCHDOG = Watchdog()
