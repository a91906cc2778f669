"""The garbage collector of a serving flowhost process (``flowhost run``), settled once flowhost has started.

Measured during HTTP ingestion (bench/RESULTS.md, issue 19, session 3): with Python's defaults the collector ran
about 2,300 times in 100,000 requests and found almost nothing (a few hundred objects: reference counting frees
what a request made), yet cost about a tenth of the process's CPU; and each full collection walked every object of
the program itself (modules, plugins, flows: about 68,000) and held the event loop for up to 150 ms, the worst of
the p99.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
"""Allocations (less deallocations) of tracked objects between two collections of the youngest generation; Python's
default is 700. The requests in flight are never garbage; cyclic garbage is still collected, a little later."""


def settle_after_start() -> None:
    """Collect the garbage of start-up, freeze what remains (it lives as long as the process: full collections no
    longer walk it) and collect young objects less often.

    Frozen objects that reference each other in a cycle are never collected: a flow that ran at start-up and is
    replaced later may leave its cycles behind, once (flows deployed later are not frozen)."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
