"""ThingPark's connection ``alarms`` (uplinkRateMinPerHour in weekly windows in a time zone): the schema, the
windows (across midnight, through DST changes), the rule, and the watch on a manual clock.

The alarm object is ThingPark X 1.3's example ("Setting up a connection instance",
https://docs.thingpark.com/thingpark-x/1.3/Getting_Started/Setting_Up_A_Connection_instance).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import voluptuous as vol
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhost.clock import ManualClock
from flowhost_builtins.alarm_monitor import AlarmMonitor, AlarmWatch
from flowhost_builtins.connection_alarms import alarm_definitions
from flowhost_builtins.mqtt_connection_config import CONFIGURATION_SCHEMA, settings_from_configuration

THINGPARK_EXAMPLE = {
    "startTime": "2019-01-31T09:00:00+01:00",
    "endTime": "2019-01-31T18:00:00+01:00",
    "timezone": "Europe/Paris",
    "recurrence": [{"frequency": "weekly", "byDays": ["monday", "tuesday", "wednesday", "thursday", "friday"]}],
    "uplinkRateMinPerHour": 10,
    "message": "Low rate during business day...",
}
PARIS = ZoneInfo("Europe/Paris")
BASE = {"hostName": "127.0.0.1:1883", "protocol": "TCP", "uplinkTopicPattern": "a/{DevEUI}"}


def at(text: str, zone: ZoneInfo = PARIS) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def one(alarm: dict):
    return alarm_definitions([alarm])[0]


def weekly(start: str, end: str, days: list[str], minimum: int, zone: str = "Europe/Paris") -> dict:
    return {
        "startTime": start,
        "endTime": end,
        "timezone": zone,
        "recurrence": [{"frequency": "weekly", "byDays": days}],
        "uplinkRateMinPerHour": minimum,
    }


# -- schema -----------------------------------------------------------------------------------------------------


def test_thingparks_example_is_accepted_kept_as_written_and_becomes_settings() -> None:
    configuration = CONFIGURATION_SCHEMA({**BASE, "alarms": [THINGPARK_EXAMPLE]})
    assert configuration["alarms"] == [THINGPARK_EXAMPLE]  # JSON as stored, not objects
    (alarm,) = settings_from_configuration("c", configuration).alarms
    assert alarm.minimum_per_hour == 10 and alarm.days == frozenset(range(5)) and alarm.zone == PARIS
    assert alarm.message == "Low rate during business day..."
    assert settings_from_configuration("c", CONFIGURATION_SCHEMA(BASE)).alarms == ()


def errors_of(alarms) -> dict[tuple, str]:
    with pytest.raises(vol.MultipleInvalid) as caught:
        CONFIGURATION_SCHEMA({**BASE, "alarms": alarms})
    return {tuple(error.path): error.msg for error in caught.value.errors}


def test_every_mistake_is_reported_at_once_naming_the_alarm_and_its_field() -> None:
    found = errors_of(
        [
            {"startTime": "tomorrow", "endTime": "2019-01-31T18:00:00", "timezone": "Europe/Pari", "recurence": []},
            {**THINGPARK_EXAMPLE, "recurrence": [{"frequency": "daily", "byDays": ["munday"]}]},
            {**THINGPARK_EXAMPLE, "uplinkRateMinPerHour": 0, "message": 5},
            "09:00-18:00",
        ]
    )
    assert "ISO 8601" in found[("alarms", 0, "startTime")] and "'tomorrow'" in found[("alarms", 0, "startTime")]
    assert "UTC offset" in found[("alarms", 0, "endTime")]
    assert "unknown time zone 'Europe/Pari'" in found[("alarms", 0, "timezone")]
    assert "did you mean 'recurrence'" in found[("alarms", 0, "recurence")]
    assert "required" in found[("alarms", 0, "uplinkRateMinPerHour")]
    assert "weekly" in found[("alarms", 1, "recurrence", 0, "frequency")]
    assert "unknown day 'munday'" in found[("alarms", 1, "recurrence", 0, "byDays", 0)]
    assert "between 1 and 100000" in found[("alarms", 2, "uplinkRateMinPerHour")]
    assert "message must be text" in found[("alarms", 2, "message")]
    assert "must be a mapping" in found[("alarms", 3)]


def test_windows_that_end_before_they_start_or_last_over_a_day_are_refused() -> None:
    single = {**THINGPARK_EXAMPLE, "endTime": "2019-01-31T08:00:00+01:00"}
    del single["recurrence"]
    assert "after startTime" in errors_of([single])[("alarms", 0, "endTime")]
    too_long = {**THINGPARK_EXAMPLE, "endTime": "2019-02-01T10:00:00+01:00"}
    assert "at most 24 hours" in errors_of([too_long])[("alarms", 0, "endTime")]
    assert "at most 100" in errors_of([THINGPARK_EXAMPLE] * 101)[("alarms",)]


# -- windows ----------------------------------------------------------------------------------------------------


def window(alarm, text: str, zone: ZoneInfo = PARIS):
    found = alarm.window_at(datetime.fromisoformat(text).replace(tzinfo=zone))
    return None if found is None else tuple(moment.astimezone(zone).isoformat() for moment in found)


def test_business_days_in_paris() -> None:
    alarm = one(THINGPARK_EXAMPLE)
    assert window(alarm, "2019-02-04T09:00:00") == ("2019-02-04T09:00:00+01:00", "2019-02-04T18:00:00+01:00")
    assert window(alarm, "2019-02-04T08:59:59") is None
    assert window(alarm, "2019-02-04T18:00:00") is None  # the end is not in the window
    assert window(alarm, "2019-02-02T12:00:00") is None  # a Saturday
    assert window(alarm, "2019-01-30T12:00:00") is None  # a Wednesday before startTime's date
    saturday = datetime(2019, 2, 2, 12, tzinfo=PARIS)
    assert alarm.next_window_after(saturday)[0] == datetime(2019, 2, 4, 9, tzinfo=PARIS)


@pytest.mark.parametrize("end", ["2019-02-01T06:00:00+01:00", "2019-01-31T06:00:00+01:00"])
def test_a_window_across_midnight_belongs_to_the_day_it_starts(end: str) -> None:
    alarm = one(weekly("2019-01-31T22:00:00+01:00", end, ["friday"], 1))
    friday_night = ("2019-02-01T22:00:00+01:00", "2019-02-02T06:00:00+01:00")
    assert window(alarm, "2019-02-01T23:30:00") == friday_night
    assert window(alarm, "2019-02-02T05:59:00") == friday_night  # Saturday morning, in Friday's window
    assert window(alarm, "2019-02-02T22:30:00") is None  # Saturday night: Saturday is not listed
    assert window(alarm, "2019-02-01T05:00:00") is None  # Friday morning: Thursday is not listed


def test_windows_follow_the_zones_clock_through_daylight_saving_changes() -> None:
    night = one(weekly("2026-01-04T00:00:00+01:00", "2026-01-04T06:00:00+01:00", ["sunday"], 1))
    spring = night.window_at(datetime(2026, 3, 29, 1, tzinfo=UTC))  # clocks go 02:00 -> 03:00 that night
    assert [moment.astimezone(UTC).isoformat() for moment in spring] == [
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T04:00:00+00:00",
    ]
    autumn = night.window_at(datetime(2026, 10, 25, 1, tzinfo=UTC))  # 03:00 -> 02:00
    assert [moment.astimezone(UTC).isoformat() for moment in autumn] == [
        "2026-10-24T22:00:00+00:00",
        "2026-10-25T05:00:00+00:00",
    ]
    business = one(THINGPARK_EXAMPLE)  # 09:00 in Paris is 08:00 UTC in winter, 07:00 in summer
    assert business.window_at(datetime(2026, 3, 27, 8, 30, tzinfo=UTC))[0].astimezone(UTC).hour == 8
    assert business.window_at(datetime(2026, 3, 30, 7, 30, tzinfo=UTC))[0].astimezone(UTC).hour == 7
    assert business.window_at(datetime(2026, 3, 30, 16, 30, tzinfo=UTC)) is None  # 18:30 in Paris


# -- the rule ---------------------------------------------------------------------------------------------------


def test_raised_an_hour_into_the_window_with_too_few_uplinks_cleared_when_the_rate_is_back() -> None:
    monitor = AlarmMonitor([one(THINGPARK_EXAMPLE)])
    monday = "2019-02-04T"
    assert monitor.next_check(at(monday + "08:00:00")) == at(monday + "10:00:00")
    for minute in range(10, 55, 5):  # nine uplinks in the first hour
        assert monitor.record_uplink(at(f"{monday}09:{minute}:00")) == []
    assert monitor.check(at(monday + "09:59:59")) == []  # the first hour is not over
    (raised,) = monitor.check(at(monday + "10:00:00"))
    assert (raised.state, raised.reason, raised.uplinks_last_hour) == ("raised", "rateBelowMinimum", 9)
    assert monitor.raised() == [0] and monitor.check(at(monday + "10:01:00")) == []  # raised once, not again
    (cleared,) = monitor.record_uplink(at(monday + "10:02:00"))
    assert (cleared.state, cleared.reason, cleared.uplinks_last_hour) == ("cleared", "rateRestored", 10)
    # The oldest of the ten (09:10) leaves the last hour at 10:10: the next check is then.
    assert monitor.next_check(at(monday + "10:02:00")) == at(monday + "10:10:00")
    assert monitor.check(at(monday + "10:10:00"))[0].uplinks_last_hour == 9


def test_uplinks_before_the_window_do_not_count_and_the_window_end_clears() -> None:
    monitor = AlarmMonitor([one(THINGPARK_EXAMPLE)])
    for second in range(20):
        monitor.record_uplink(at("2019-02-04T08:59:00") + second)
    (raised,) = monitor.check(at("2019-02-04T10:00:00"))
    assert raised.uplinks_last_hour == 0
    assert monitor.next_check(at("2019-02-04T10:00:00")) == at("2019-02-04T18:00:00")
    (cleared,) = monitor.check(at("2019-02-04T18:00:00"))
    assert (cleared.state, cleared.reason) == ("cleared", "windowEnded")
    assert cleared.as_json("tp")["windowEnd"] == "2019-02-04T18:00:00+01:00"
    assert monitor.next_check(at("2019-02-04T18:00:00")) == at("2019-02-05T10:00:00")


def test_on_the_night_clocks_go_forward_the_checks_follow_pariss_clock() -> None:
    night = weekly("2026-01-04T00:00:00+01:00", "2026-01-04T06:00:00+01:00", ["sunday"], 1)
    monitor = AlarmMonitor(alarm_definitions([night]))
    saturday_evening = datetime(2026, 3, 28, 20, tzinfo=UTC).timestamp()
    first_check = monitor.next_check(saturday_evening)
    assert datetime.fromtimestamp(first_check, UTC).isoformat() == "2026-03-29T00:00:00+00:00"  # 01:00 CET
    (raised,) = monitor.check(first_check)
    assert raised.as_json("tp")["time"] == "2026-03-29T01:00:00+01:00"
    end = monitor.next_check(first_check)
    assert datetime.fromtimestamp(end, UTC).isoformat() == "2026-03-29T04:00:00+00:00"  # 06:00 CEST: 5 hours
    (cleared,) = monitor.check(end)
    assert cleared.reason == "windowEnded" and cleared.as_json("tp")["windowEnd"] == "2026-03-29T06:00:00+02:00"


def test_several_alarms_per_connection_are_independent() -> None:
    day = {**weekly("2019-01-31T09:00:00+01:00", "2019-01-31T18:00:00+01:00", ["monday"], 3), "message": "day"}
    night = weekly("2019-01-31T17:00:00+01:00", "2019-01-31T08:00:00+01:00", ["monday"], 1)  # to Tuesday 08:00
    monitor = AlarmMonitor(alarm_definitions([day, night]))
    monitor.record_uplink(at("2019-02-04T17:30:00"))
    (day_raised,) = monitor.check(at("2019-02-04T17:45:00"))  # the night window's first hour is not over
    assert (day_raised.alarm.index, day_raised.alarm.message, day_raised.uplinks_last_hour) == (0, "day", 1)
    (day_cleared,) = monitor.check(at("2019-02-04T18:00:00"))  # night: one uplink in its first hour, enough
    assert (day_cleared.alarm.index, day_cleared.reason) == (0, "windowEnded")
    (night_raised,) = monitor.check(at("2019-02-04T18:30:01"))
    assert night_raised.alarm.index == 1 and monitor.raised() == [1]
    assert night_raised.as_json("tp")["windowEnd"] == "2019-02-05T08:00:00+01:00"


def test_a_single_window_without_recurrence_checks_once_then_never_again() -> None:
    alarm = {**THINGPARK_EXAMPLE}
    del alarm["recurrence"]
    monitor = AlarmMonitor([one(alarm)])
    assert monitor.next_check(at("2019-01-31T00:00:00")) == at("2019-01-31T10:00:00")
    assert monitor.check(at("2019-01-31T10:00:00"))[0].state == "raised"
    assert monitor.check(at("2019-01-31T18:00:00"))[0].reason == "windowEnded"
    assert monitor.next_check(at("2019-01-31T18:00:00")) is None
    assert monitor.check(at("2019-02-04T12:00:00")) == []  # a Monday: one window only


def test_memory_is_bounded_by_the_largest_minimum() -> None:
    monitor = AlarmMonitor([one({**THINGPARK_EXAMPLE, "uplinkRateMinPerHour": 5})])
    for second in range(10_000):
        monitor.record_uplink(at("2019-02-04T09:00:00") + second * 0.1)
    assert len(monitor._recent) == 5
    assert monitor.check(at("2019-02-04T10:00:00")) == []


# -- the watch, on a manual clock -------------------------------------------------------------------------------


async def wait_for(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


async def test_the_watch_raises_clears_and_raises_again_as_the_clock_moves() -> None:
    thursday = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # 2026-01-01 is a Thursday
    clock = ManualClock(wall_start=thursday)
    counters = {"alarmsRaised": 0, "alarmsCleared": 0}
    watch = AlarmWatch(
        alarm_definitions([weekly("2026-01-01T00:00:00+00:00", "2026-01-01T06:00:00+00:00", ["thursday"], 2, "UTC")]),
        "tp",
        counters,
        logging.getLogger("test"),
    )
    seen: list[tuple[str, str, float]] = []
    assert watch.add_listener(lambda change: seen.append((change.state, change.reason, change.time)), clock)
    assert not watch.add_listener(lambda change: None, clock)  # one watch however many connectors listen
    task = asyncio.create_task(watch.run())
    try:
        await wait_for(lambda: clock.sleepers == 1)
        await clock.advance(3600)
        assert seen == [("raised", "rateBelowMinimum", thursday + 3600)]
        await clock.advance(300)
        watch.record_uplink()
        watch.record_uplink()
        assert seen[-1] == ("cleared", "rateRestored", thursday + 3900)
        await clock.advance(3600)  # the two uplinks of 01:05 leave the last hour at 02:05
        assert seen[-1] == ("raised", "rateBelowMinimum", thursday + 7500)
        await clock.advance(4 * 3600)
        assert seen[-1] == ("cleared", "windowEnded", thursday + 6 * 3600)
        assert counters == {"alarmsRaised": 2, "alarmsCleared": 2}
        await clock.advance(7 * 24 * 3600)  # next Thursday, 01:00
        assert seen[-1] == ("cleared", "windowEnded", thursday + (7 * 24 + 6) * 3600)
        assert seen[-2] == ("raised", "rateBelowMinimum", thursday + (7 * 24 + 1) * 3600)
    finally:
        task.cancel()


# -- the rule, against counting -----------------------------------------------------------------------------------


def expected_raised(alarm, uplinks: list[float], now: float) -> bool:
    """What the rule says at ``now``, counted the slow way: in a window past its first hour, fewer than the
    minimum uplinks in the last hour."""
    window = alarm.window_at(datetime.fromtimestamp(now, UTC))
    if window is None or now < window[0].timestamp() + 3600:
        return False
    opened = window[0].timestamp()
    return sum(1 for seen in uplinks if now - 3600 < seen <= now and seen >= opened) < alarm.minimum_per_hour


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 3 * 24 * 60), max_size=40),
    minimum=st.integers(1, 4),
    overnight=st.booleans(),
)
def test_the_monitor_is_raised_exactly_when_the_last_hour_is_short(offsets, minimum, overnight) -> None:
    """Driven only at the times next_check() names and at uplinks, the monitor is raised at every moment exactly
    when counting says so, checked every five minutes over three days (Thursday to Saturday)."""
    start, end = (
        ("2026-01-01T20:00:00+00:00", "2026-01-01T04:00:00+00:00")
        if overnight
        else (
            "2026-01-01T08:00:00+00:00",
            "2026-01-01T20:00:00+00:00",
        )
    )
    (alarm,) = alarm_definitions([weekly(start, end, ["thursday", "saturday"], minimum, "UTC")])
    monitor = AlarmMonitor([alarm])
    origin = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    uplinks = sorted(origin + offset * 60 + 0.5 for offset in offsets)
    pending, seen = list(uplinks), []
    now = origin
    upcoming = monitor.next_check(now)
    for sample in range(0, 3 * 24 * 60 + 1, 5):
        moment = origin + sample * 60
        while True:  # everything due by this moment, in time order
            next_uplink = pending[0] if pending else None
            if upcoming is not None and upcoming <= moment and (next_uplink is None or upcoming <= next_uplink):
                now = upcoming
                monitor.check(now)
            elif next_uplink is not None and next_uplink <= moment:
                now = pending.pop(0)
                seen.append(now)
                monitor.record_uplink(now)
            else:
                break
            upcoming = monitor.next_check(now)
        assert (monitor.raised() == [0]) == expected_raised(alarm, seen, moment), sample
