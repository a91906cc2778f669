"""The moment flowhost's own process began, taken at the first import of the package.

The process' start time in /proc is when it was forked: a shell that runs ``pip install . && exec flowhost run``
(or a one-liner whose last command the shell execs) forks nothing for flowhost, and /proc would count pip's
minutes too. At the first import of flowhost, the interpreter has only started up: the CPU time it has used
until then (``process_time``) stands for that start-up, which is almost all computation.
"""

from __future__ import annotations

import time

STARTED = time.monotonic() - time.process_time()


def seconds_since_start() -> float:
    return time.monotonic() - STARTED
