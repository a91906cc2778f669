"""flowhost run settles the garbage collector once started (flowhost.collector): start-up's objects frozen, the
youngest generation collected every YOUNG_THRESHOLD allocations, cyclic garbage still found."""

from __future__ import annotations

import gc
import weakref

import pytest

from flowhost.collector import YOUNG_THRESHOLD, settle_after_start


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_what_exists_at_start_is_frozen_and_young_objects_are_collected_less_often(restored_collector):
    _, middle, oldest = gc.get_threshold()
    settle_after_start()
    assert gc.get_freeze_count() > 1000  # modules, classes, this test's own objects
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest)


def test_cyclic_garbage_made_after_start_is_still_collected_without_being_asked(restored_collector):
    settle_after_start()

    class Node:
        pass

    cycle = Node()
    cycle.itself = cycle
    gone = weakref.ref(cycle)
    del cycle
    alive = []
    while gone() is not None and len(alive) < 2 * YOUNG_THRESHOLD:
        alive.append([])  # tracked objects, counted towards the threshold
    assert gone() is None and len(alive) >= YOUNG_THRESHOLD // 2
