"""The garbage collector's settings for a serving flowhost (``flowhost run``, once its flows are deployed).

A relay keeps tens of thousands of objects alive while it is busy: each message waiting in an inbox or a full
outbox holds its receipt (also its deferred acknowledgement), its outbox entry and their callbacks. With CPython's
default thresholds (700, 10, 10), these survive into the oldest generation, whose collections then scan all of
them, and everything start-up made, again and again: in 30,000-uplink QoS 1 bursts, about a fifth of the
process's CPU time went to the collector (measured in bench/RESULTS.md). So, once running:

- ``gc.freeze()``: what start-up made (modules, schemas, compiled templates, the deployed nodes) is not garbage;
  no collection scans it again;
- the youngest generation is collected after 10,000 allocations (net of what was freed) instead of 700, and the
  oldest after 100 collections of the middle one instead of 10. Most of a message's objects are freed by their
  reference counts, whatever the thresholds; the collector only finds reference cycles, and what a burst keeps
  waiting it scans once per generation it passes through, so fewer collections cost less, for a few thousand
  more objects alive between two of them.
"""

from __future__ import annotations

import gc

__all__ = ["FULL_COLLECTION_AFTER", "YOUNG_COLLECTION_AFTER", "tune_for_serving"]

YOUNG_COLLECTION_AFTER = 10_000
"""Allocations of tracked objects, net of those freed, between two collections of the youngest generation
(CPython's default: 700)."""
FULL_COLLECTION_AFTER = 100
"""Collections of the middle generation between two collections of the oldest (CPython's default: 10)."""


def tune_for_serving() -> None:
    """Collect once, freeze what is left, and make collections rarer (see the module's docstring)."""
    gc.collect()  # start-up's own garbage goes first: frozen, it would stay for good
    gc.freeze()
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, FULL_COLLECTION_AFTER)
