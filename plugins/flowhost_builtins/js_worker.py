"""A thread of its own for one QuickJS context, so that the event loop waits for a call a bounded time.

Used for a script that once used up its time (or when js_interrupt.py cannot reach QuickJS): the others run
inline on the caller's thread (js_sandbox.py).

QuickJS checks its time limit only every 10,000 steps, and one step can be a native operation over megabytes
(``new Array(1e6).fill(0)``): a call can overrun its limit by minutes. Run on the event loop, such a call holds
it. Here the context lives on a worker thread (created there, used only there: QuickJS measures its stack from
the thread that made it), the caller hands each job over and waits for it in bounded time; QuickJS releases the
GIL while it runs, so the waiting thread and the rest of Python go on.

How long: a job is *overdue* once its thread has used ``cpu_limit`` seconds of CPU on it (QuickJS's own limit
counts CPU time too, and on a busy machine wall time runs far ahead of it: measured here, 127 ms of wall clock for
100 ms of CPU at a load of 10 on 2 cores), or in any case after ``wall_limit`` seconds of wall clock. The thread's
CPU clock is read only for a job that is still running after ``cpu_limit`` seconds of wall clock.

The handoff is synchronous, through two locks (a job in, its result out): about 10 us of CPU a call, against
50 us and more for ``loop.run_in_executor`` (a future, a thread-safe callback, a wake-up of the loop).
:meth:`JsWorker.run_async` is for a caller that must not hold the event loop (a batch of calls): the worker
itself wakes the loop when the job ended (about 30 us of CPU, no thread pool in between), under the same bounds.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["JsWorker", "Overdue", "WorkerBusy"]


class Overdue(Exception):
    """The job did not finish within the wait: the worker keeps running it; it is busy until it ends."""


class WorkerBusy(Exception):
    """An earlier job ran over its wait and is still running: the worker cannot take another one yet."""


def _resolve(future: asyncio.Future[bool], ended: bool) -> None:
    if not future.done():
        future.set_result(ended)


class JsWorker:
    """One daemon thread that runs jobs one at a time; :meth:`run` waits for each until it has used
    ``cpu_limit`` seconds of the thread's CPU time, at most ``wall_limit`` seconds.

    After an :class:`Overdue` job, :meth:`run` raises :class:`WorkerBusy` at once until that job has ended;
    :meth:`take_recovered` then tells the owner (once) that it ended, so that it can build a fresh context.
    """

    def __init__(self, name: str, cpu_limit: float, wall_limit: float) -> None:
        self.cpu_limit, self.wall_limit = cpu_limit, max(cpu_limit, wall_limit)
        self._job_started = math.inf  # the thread's CPU time when its current job began (inf: not yet)
        self._job: tuple[Callable[..., Any], tuple[Any, ...], Callable[[], Any] | None] | None = None
        self._outcome: tuple[bool, Any] = (True, None)
        self._handed = threading.Lock()  # released by the caller to hand a job over
        self._finished = threading.Lock()  # released by the thread when the job ended
        self._handed.acquire()
        self._finished.acquire()
        self.unusual = False
        """True while the last job is overdue or the worker stopped: :meth:`run` then checks which."""
        self._overdue = False
        self._recovered = False
        self._stopped = False
        self.state: Any = None
        """What the jobs share (the QuickJS context): touched only on the worker thread."""
        thread = threading.Thread(target=self._serve, name=f"js-{name}", daemon=True)
        thread.start()
        self._clock = time.pthread_getcpuclockid(thread.ident)

    def _serve(self) -> None:
        handed, finished, thread_time = self._handed, self._finished, time.thread_time
        while True:
            handed.acquire()
            job = self._job
            if job is None:
                self.state = None  # the context is freed on its own thread
                return
            self._job_started = thread_time()
            function, arguments, notify = job
            try:
                self._outcome = (True, function(self, *arguments))
            except BaseException as exc:  # handed back to the caller, raised there
                self._outcome = (False, exc)
            finished.release()
            if notify is not None:
                try:
                    notify()
                except RuntimeError:  # the caller's event loop closed meanwhile
                    pass

    @property
    def busy(self) -> bool:
        """Whether an overdue job is still running."""
        if self._overdue and self._finished.acquire(blocking=False):
            self._overdue = False
            self._recovered = True
        return self._overdue

    def take_recovered(self) -> bool:
        """True once after an overdue job has ended (the state it left may be half-changed)."""
        if self.busy:
            return False
        recovered, self._recovered = self._recovered, False
        self.unusual = self._stopped
        return recovered

    def run(self, function: Callable[..., Any], *arguments: Any) -> Any:
        """Run ``function(worker, *arguments)`` on the thread; its result, or its exception raised here. Raises
        :class:`Overdue` when the job is overdue, :class:`WorkerBusy` while an overdue job runs."""
        self._hand_over(function, arguments, None)
        if not self._finished.acquire(timeout=self.cpu_limit) and not self._wait_longer():
            self._overdue = self.unusual = True
            raise Overdue()
        return self._take_outcome()

    async def run_async(self, function: Callable[..., Any], *arguments: Any) -> Any:
        """:meth:`run` for a caller on an event loop, which goes on while the job runs: the thread wakes the loop
        when the job ended (one hand-off each way, no thread pool in between). One job at a time, as for
        :meth:`run`; a job whose caller was cancelled is treated as overdue until it ends."""
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        self._hand_over(function, arguments, functools.partial(loop.call_soon_threadsafe, _resolve, ended, True))
        timer = loop.call_later(self.cpu_limit, _resolve, ended, False)
        try:
            finished = await ended or await self._wait_longer_async()
        except asyncio.CancelledError:
            self._overdue = self.unusual = True
            raise
        finally:
            timer.cancel()
        if not finished:
            self._overdue = self.unusual = True
            raise Overdue()
        self._finished.acquire()  # released before the loop was woken: at once
        return self._take_outcome()

    def _hand_over(self, function: Callable[..., Any], arguments: tuple[Any, ...], notify: Any) -> None:
        if self.unusual:
            if self._stopped:
                raise RuntimeError("the worker was stopped")
            if self.busy:
                raise WorkerBusy()
        self._job = (function, arguments, notify)
        self._job_started = math.inf
        self._handed.release()

    def _take_outcome(self) -> Any:
        succeeded, value = self._outcome
        self._outcome = (True, None)
        if not succeeded:
            raise value
        return value

    async def _wait_longer_async(self) -> bool:
        """:meth:`_wait_longer` on the event loop (polling every 10 ms). True when the job ended; then
        ``_finished`` is released again for the caller to take."""
        deadline = time.monotonic() + self.wall_limit - self.cpu_limit
        while time.clock_gettime(self._clock) - self._job_started < self.cpu_limit and time.monotonic() < deadline:
            if self._finished.acquire(blocking=False):
                self._finished.release()
                return True
            await asyncio.sleep(0.01)
        if self._finished.acquire(blocking=False):
            self._finished.release()
            return True
        return False

    def _wait_longer(self) -> bool:
        """The job still runs after ``cpu_limit`` seconds of wall clock: wait while its thread has used less CPU
        than that (it was kept waiting for a core), up to ``wall_limit``. True when the job ended."""
        deadline = time.monotonic() + self.wall_limit - self.cpu_limit
        while time.clock_gettime(self._clock) - self._job_started < self.cpu_limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._finished.acquire(timeout=min(remaining, 0.01)):
                return True
        return self._finished.acquire(blocking=False)

    def stop(self) -> None:
        """Let the thread end (after the job it runs, if any); it drops the state on its way out."""
        if self._stopped:
            return
        self._stopped = self.unusual = True
        self._job = None
        self._handed.release()
