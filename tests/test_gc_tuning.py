"""What ``flowhost run`` does to the garbage collector once its flows are deployed (flowhost/gc_tuning.py)."""

from __future__ import annotations

import gc

from flowhost.gc_tuning import FULL_COLLECTION_AFTER, YOUNG_COLLECTION_AFTER, tune_for_serving


def test_start_up_is_frozen_and_collections_are_rarer():
    before = gc.get_threshold()
    try:
        start_up_object = [object()]
        tune_for_serving()
        assert gc.get_freeze_count() > 0
        assert not any(start_up_object is tracked for tracked in gc.get_objects())  # frozen: no longer scanned
        assert gc.get_threshold() == (YOUNG_COLLECTION_AFTER, before[1], FULL_COLLECTION_AFTER)
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect(0) >= 1  # garbage made after start-up is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
