"""The garbage collector's settings for a serving flowhost (``flowhost run``, once its flows are deployed).

A relay keeps tens of thousands of objects alive while it is busy: each message waiting in an inbox or a full
outbox holds its receipt, its acknowledgement, its outbox entry and their callbacks. With CPython's default
thresholds (700, 10, 10), these survive into the oldest generation, whose collections then scan all of them, and
everything start-up made, again and again: in a 30,000-uplink QoS 1 burst, about a sixth of the process's CPU
time went to the collector (measured in bench/RESULTS.md). So, once running:

- ``gc.freeze()``: what start-up made (modules, schemas, compiled templates, the deployed nodes) is not garbage;
  no collection scans it again;
- the oldest generation is collected after 100 collections of the middle one instead of 10. The young
  generations are collected as often as before, so the short-lived garbage of each message (parsed documents,
  reference cycles of one message) goes as soon as it did; only what survived long waits longer.
"""

from __future__ import annotations

import gc

__all__ = ["FULL_COLLECTION_AFTER", "tune_for_serving"]

FULL_COLLECTION_AFTER = 100
"""Collections of the middle generation between two collections of the oldest (CPython's default: 10)."""


def tune_for_serving() -> None:
    """Collect once, freeze what is left, and make full collections rarer (see the module's docstring)."""
    gc.collect()  # start-up's own garbage goes first: frozen, it would stay for good
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
