"""`Settlement` on its own: holders, the outcome, callbacks, the awaitable and `holding()`.

Mutation tests of flowhost/mqtt/settlement.py run against this file (scripts/mutate)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flowhost import Receipt
from flowhost import Refusal as PublicRefusal
from flowhost.mqtt import Refusal, Settlement
from flowhost.mqtt.deadlines import deadlines


def recorder() -> tuple[list[Refusal | None], object]:
    calls: list[Refusal | None] = []
    return calls, calls.append


def test_it_settles_once_when_the_last_holder_lets_go():
    settlement = Settlement()
    calls, callback = recorder()
    settlement.when_settled(callback)
    settlement.hold()
    settlement.hold(2)
    for _ in range(3):
        settlement.release()
        assert not settlement.settled and calls == []
    settlement.release()  # its creator's hold, the last
    assert settlement.settled and calls == [None]
    settlement.hold()
    settlement.release()
    settlement.release()  # held and released again once settled, or released too often: nothing more happens
    assert settlement.settled and calls == [None] and settlement.refusal is None


def test_a_settlement_starts_with_its_creators_hold_or_the_holds_it_is_given():
    assert Settlement()._holders == 1
    created = Settlement()
    created.release()
    assert created.settled
    unheld = Settlement(holders=0)
    assert not unheld.settled  # nobody held it yet: not settled before someone lets go
    two = Settlement(holders=2)
    two.release()
    assert not two.settled
    two.release()
    assert two.settled


def test_defaults_accepted_not_durable_impatient():
    settlement = Settlement()
    assert (settlement.refusal, settlement.durable, settlement.patient, settlement.settled) == (
        None,
        False,
        False,
        False,
    )
    assert Settlement(patient=True).patient
    settlement.mark_durable()
    assert settlement.durable


def test_the_first_refusal_counts_and_holders_still_release():
    settlement = Settlement()
    calls, callback = recorder()
    settlement.when_settled(callback)
    settlement.hold(2)
    settlement.refuse("outbox full", retryable=True, node_id="connector")
    settlement.refuse("something else", retryable=False)
    settlement.release()
    assert not settlement.settled  # a refusal does not settle: the holders still let go
    settlement.release()
    settlement.release()
    expected = Refusal("outbox full", True, "connector")
    assert calls == [expected] and settlement.refusal == expected
    assert Refusal("r", retryable=False).node_id is None


def test_the_flow_names_are_the_same_primitive():
    assert Receipt is Settlement and PublicRefusal is Refusal


def test_every_callback_runs_once_and_a_late_one_at_once():
    settlement = Settlement()
    first, on_first = recorder()
    second, on_second = recorder()
    third, on_third = recorder()
    settlement.when_settled(on_first)
    settlement.when_settled(on_second)
    settlement.when_settled(on_third)
    settlement.refuse("no", retryable=False)
    settlement.release()
    settlement.release()
    late, on_late = recorder()
    settlement.when_settled(on_late)
    refusal = Refusal("no", False)
    assert first == second == third == late == [refusal]


def test_a_callback_that_raises_is_logged_and_the_others_still_run(caplog):
    settlement = Settlement()
    calls, callback = recorder()

    def broken(refusal: Refusal | None) -> None:
        raise ValueError("broken callback")

    settlement.when_settled(broken)
    settlement.when_settled(callback)
    with caplog.at_level(logging.ERROR, logger="flowhost.mqtt.settlement"):
        settlement.release()
    assert calls == [None]
    assert [record.getMessage() for record in caplog.records] == ["a settlement callback failed"]
    assert "broken callback" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="flowhost.mqtt.settlement"):
        settlement.when_settled(broken)  # already settled: called at once, failure logged all the same
    assert "broken callback" in caplog.text


def test_a_single_callback_that_raises_is_logged(caplog):
    settlement = Settlement()
    settlement.when_settled(lambda refusal: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="flowhost.mqtt.settlement"):
        settlement.release()
    assert settlement.settled and "ZeroDivisionError" in caplog.text


def test_holding_holds_for_the_block_and_releases_at_its_end():
    settlement = Settlement(holders=0)
    calls, callback = recorder()
    settlement.when_settled(callback)
    with settlement.holding() as held:
        assert held is settlement and settlement._holders == 1 and not settlement.settled
    assert settlement.settled and calls == [None]


def test_holding_adds_to_the_creators_hold():
    settlement = Settlement()
    with settlement.holding():
        pass
    assert not settlement.settled
    settlement.release()
    assert settlement.settled


def test_settling_with_no_callback_logs_nothing(caplog):
    settlement = Settlement()
    with caplog.at_level(logging.DEBUG, logger="flowhost.mqtt.settlement"):
        settlement.release()
    assert settlement.settled and caplog.records == []


def test_holding_keeps_other_holders():
    settlement = Settlement(holders=0)
    with settlement.holding():
        settlement.hold()  # a receiver took it within the block
    assert not settlement.settled
    settlement.release()
    assert settlement.settled and settlement.refusal is None


def test_holding_releases_on_an_exception_and_refuses_first():
    settlement = Settlement(holders=0)
    calls, callback = recorder()
    settlement.when_settled(callback)
    with pytest.raises(ValueError, match="boom"), settlement.holding():
        raise ValueError("boom")
    assert settlement.settled
    assert calls == [Refusal("interrupted by ValueError: boom", retryable=True)]


def test_holding_names_an_exception_without_a_message_and_keeps_an_earlier_refusal():
    cancelled = Settlement(holders=0)
    with pytest.raises(asyncio.CancelledError), cancelled.holding():
        raise asyncio.CancelledError
    assert cancelled.refusal == Refusal("interrupted by CancelledError", retryable=True)
    refused = Settlement(holders=0)
    with pytest.raises(KeyError), refused.holding():
        refused.refuse("no room", retryable=False)
        raise KeyError("k")
    assert refused.refusal == Refusal("no room", retryable=False)


async def test_wait_returns_the_outcome_once_settled():
    settlement = Settlement()
    asyncio.get_running_loop().call_soon(settlement.release)
    assert await settlement.wait(5) is None
    assert await settlement.wait(0) is None  # settled: answered at once, even with no time left
    refused = Settlement()
    refused.refuse("full", retryable=True)

    def settle() -> None:
        refused.release()

    asyncio.get_running_loop().call_soon(settle)
    assert await refused.wait(5) == Refusal("full", True)


async def test_a_wait_that_timed_out_can_be_followed_by_another():
    settlement = Settlement()
    with pytest.raises(TimeoutError):
        await settlement.wait(0.01)
    assert settlement._waiter is None and not settlement.settled
    asyncio.get_running_loop().call_soon(settlement.release)
    assert await settlement.wait(5) is None


async def test_a_wait_after_a_settled_timeout_race_still_answers():
    """A settlement released after its waiter timed out (no one waits): nothing breaks, a later wait answers."""
    settlement = Settlement()
    with pytest.raises(TimeoutError):
        await settlement.wait(0)
    settlement.release()
    assert await settlement.wait(0) is None


async def test_one_waiter_at_a_time():
    settlement = Settlement()
    first = asyncio.ensure_future(settlement.wait(5))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match=r"^a settlement has one waiter at a time$"):
        await settlement.wait(5)
    settlement.release()
    assert await first is None


async def test_a_wait_that_is_cancelled_leaves_no_waiter_behind():
    settlement = Settlement()
    waiting = asyncio.ensure_future(settlement.wait(5))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert settlement._waiter is None
    settlement.release()
    assert settlement.settled


async def test_a_wait_that_ended_leaves_nothing_in_the_shared_timers():
    """An answered or cancelled wait is taken out of its tick's set at once: the loop does not keep every HTTP
    uplink's finished wait until its limit (a minute's worth of uplinks at a 60 s limit)."""
    loop = asyncio.get_running_loop()
    answered = Settlement()
    loop.call_soon(answered.release)
    assert await answered.wait(60) is None
    cancelled = Settlement()
    waiting = asyncio.ensure_future(cancelled.wait(60))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert [future for due in deadlines(loop)._due.values() for future in due] == []


async def test_all_of_settles_when_every_part_has_and_prefers_a_retryable_refusal():
    loop = asyncio.get_running_loop()
    final, retry, accepted = Settlement(), Settlement(), Settlement()
    future = loop.create_future()
    combined = Settlement.all_of([final, retry, accepted, future])
    calls, callback = recorder()
    combined.when_settled(callback)
    final.refuse("not a document", retryable=False)
    final.release()
    accepted.release()
    retry.refuse("outbox full", retryable=True)
    retry.release()
    assert not combined.settled  # the future is not done yet
    future.set_result(None)
    await asyncio.sleep(0)  # a future's callbacks run from the loop
    assert calls == [Refusal("outbox full", True)]


async def test_all_of_keeps_the_first_refusal_of_a_kind():
    first, second = Settlement(), Settlement()
    combined = Settlement.all_of([first, second])
    first.refuse("first", retryable=True)
    second.refuse("second", retryable=True)
    first.release()
    second.release()
    assert combined.refusal == Refusal("first", True)
    final_then_final = [Settlement(), Settlement()]
    both = Settlement.all_of(final_then_final)
    for part, reason in zip(final_then_final, ("one", "two"), strict=True):
        part.refuse(reason, retryable=False)
        part.release()
    assert both.refusal == Refusal("one", False)
    retry_then_final = [Settlement(), Settlement()]
    mixed = Settlement.all_of(retry_then_final)
    retry_then_final[0].refuse("again", retryable=True)
    retry_then_final[1].refuse("never", retryable=False)
    for part in retry_then_final:
        part.release()
    assert mixed.refusal == Refusal("again", True)


async def test_all_of_a_future_that_failed_or_was_cancelled_is_a_retryable_refusal():
    loop = asyncio.get_running_loop()
    failed, cancelled = loop.create_future(), loop.create_future()
    on_failed, on_cancelled = Settlement.all_of([failed]), Settlement.all_of([cancelled])
    failed.set_exception(OSError("disk full"))
    cancelled.cancel()
    await asyncio.sleep(0)
    assert on_failed.refusal == Refusal("disk full", True)
    assert on_cancelled.refusal == Refusal("cancelled", True)


async def test_all_of_a_future_that_succeeded_is_accepted():
    future = asyncio.get_running_loop().create_future()
    combined = Settlement.all_of([future])
    future.set_result(0)
    await asyncio.sleep(0)
    assert combined.settled and combined.refusal is None


def test_all_of_parts_already_settled_or_none():
    done = Settlement()
    done.release()
    combined = Settlement.all_of([done])
    assert combined.settled and combined.refusal is None
    assert Settlement.all_of([]).settled


def test_repr_says_how_it_stands():
    settlement = Settlement()
    settlement.hold()
    assert repr(settlement) == "<Settlement held 2, refusal=None, durable=False>"
    settlement.refuse("no", retryable=False)
    settlement.mark_durable()
    settlement.release()
    settlement.release()
    assert repr(settlement) == (
        "<Settlement settled, refusal=Refusal(reason='no', retryable=False, node_id=None), durable=True>"
    )
