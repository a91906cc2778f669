"""ThingPark's ``alarms`` common parameter: alarms on a low uplink rate within weekly windows in a time zone.

The format is ThingPark X 1.3's ("Setting up a connection instance",
https://docs.thingpark.com/thingpark-x/1.3/Getting_Started/Setting_Up_A_Connection_instance)::

    {"startTime": "2019-01-31T09:00:00+01:00", "endTime": "2019-01-31T18:00:00+01:00",
     "timezone": "Europe/Paris",
     "recurrence": [{"frequency": "weekly", "byDays": ["monday", "tuesday", "wednesday", "thursday", "friday"]}],
     "uplinkRateMinPerHour": 10, "message": "Low rate during business day..."}

What a window is (ThingPark's page shows the format, not these rules; docs/connection-alarms.md): the wall-clock
time of day of ``startTime`` and ``endTime`` in ``timezone``, on every day of ``byDays`` from ``startTime``'s
date on; an end at or before the start's time of day on the same date is on the next day (a window across
midnight, as ``endTime`` on the next date is). Windows
follow the zone's clock through daylight saving changes. Without ``recurrence``, one window from ``startTime``
to ``endTime``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import voluptuous as vol

from flowhost.validation import closest, whole_number

from .inject_node import time_zone
from .schema_keys import unknown_keys

__all__ = ["DAYS", "AlarmDefinition", "alarm_definitions", "alarms_field"]

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_ALARMS = 100
MAX_MESSAGE = 1000
MAX_RATE = 100_000
ONE_DAY = timedelta(days=1)
_KEYS = frozenset({"startTime", "endTime", "timezone", "recurrence", "uplinkRateMinPerHour", "message"})


@dataclass(frozen=True, slots=True)
class AlarmDefinition:
    """One validated alarm; ``index`` is its place in the list, ``days`` weekday numbers (0 = Monday), None for
    a single window."""

    index: int
    start: datetime
    end: datetime
    zone: ZoneInfo
    days: frozenset[int] | None
    minimum_per_hour: int
    message: str
    span: timedelta
    """The window's length on the wall clock (on a DST day it is an hour longer or shorter in real time)."""

    @property
    def _local_start(self) -> datetime:
        return self.start.astimezone(self.zone).replace(tzinfo=None)

    def _window_on(self, day: date) -> tuple[datetime, datetime]:
        wall_start = datetime.combine(day, self._local_start.time())
        return wall_start.replace(tzinfo=self.zone), (wall_start + self.span).replace(tzinfo=self.zone)

    def _windows_around(self, when: datetime, before: int, after: int) -> list[tuple[datetime, datetime]]:
        if self.days is None:
            return [(self.start, self.end)]
        today = when.astimezone(self.zone).date()
        first = self._local_start.date()
        days = (today + timedelta(days=offset) for offset in range(-before, after + 1))
        return [self._window_on(day) for day in days if day >= first and day.weekday() in self.days]

    def window_at(self, when: datetime) -> tuple[datetime, datetime] | None:
        """The window that ``when`` (an aware datetime) is in, as aware (start, end), or None."""
        for start, end in self._windows_around(when, 2, 0):
            if start <= when < end:
                return start, end
        return None

    def next_window_after(self, when: datetime) -> tuple[datetime, datetime] | None:
        """The first window that starts after ``when``, or None (a single window already begun)."""
        return next(((start, end) for start, end in self._windows_around(when, 1, 8) if start > when), None)


# ---------------------------------------------------------------------------------------------- schema


def _instant(name: str) -> Any:
    def validate(value: Any) -> datetime:
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise vol.Invalid(
                f"{name} must be an ISO 8601 date and time with its UTC offset, e.g. 2019-01-31T09:00:00+01:00; "
                f"got {value!r}"
            )
        return parsed

    return validate


def _day(value: Any) -> int:
    if isinstance(value, str) and value.lower() in DAYS:
        return DAYS.index(value.lower())
    suggestion = closest(str(value).lower(), DAYS)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    raise vol.Invalid(f"byDays: unknown day {value!r}{hint}; days are {', '.join(DAYS)}")


_RECURRENCE = vol.Schema(
    {
        vol.Required("frequency"): vol.In(["weekly"], msg="frequency must be 'weekly' (the only one ThingPark has)"),
        vol.Required("byDays"): vol.All([_day], vol.Length(min=1, msg="byDays is empty; name at least one day")),
    }
)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid(f"message must be text, got {value!r}")
    if len(value) > MAX_MESSAGE:
        raise vol.Invalid(f"message is {len(value)} characters; at most {MAX_MESSAGE}")
    return value


_ALARM = vol.Schema(
    {
        vol.Required("startTime"): _instant("startTime"),
        vol.Required("endTime"): _instant("endTime"),
        vol.Optional("timezone", default="UTC"): time_zone,
        vol.Optional("recurrence"): vol.All([_RECURRENCE], vol.Length(min=1, msg="recurrence is empty")),
        vol.Required("uplinkRateMinPerHour"): whole_number("uplinkRateMinPerHour", 1, MAX_RATE),
        vol.Optional("message", default=""): _text,
    }
)


def _checked(raw: Any) -> dict[str, Any]:
    """The alarm object validated, with every error of it at once."""
    if not isinstance(raw, Mapping):
        raise vol.Invalid("an alarm must be a mapping (startTime, endTime, timezone, recurrence, ...)")
    errors = unknown_keys(raw, _KEYS)
    try:
        alarm = _ALARM({key: value for key, value in raw.items() if key in _KEYS})
    except vol.MultipleInvalid as exc:
        errors.extend(exc.errors)
    if errors:
        raise vol.MultipleInvalid(errors)
    return alarm


def _wall_clock_span(start: datetime, end: datetime, zone: ZoneInfo, weekly: bool) -> timedelta:
    """How long the window is on the zone's wall clock; a weekly one written 22:00 to 06:00 on one date ends the
    next day. Raises vol.Invalid (at endTime) for a window that ends before it starts or, weekly, lasts over a day."""
    span = end.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(tzinfo=None)
    if not weekly:
        if end <= start:
            raise vol.Invalid("endTime must be after startTime", path=["endTime"])
        return span
    if -ONE_DAY < span <= timedelta(0):
        span += ONE_DAY
    if not timedelta(0) < span <= ONE_DAY:
        raise vol.Invalid(
            "a weekly window is at most 24 hours: endTime must be within a day after startTime", path=["endTime"]
        )
    return span


def _definition(index: int, raw: Any) -> AlarmDefinition:
    alarm = _checked(raw)
    days = None
    if "recurrence" in alarm:
        days = frozenset(day for rule in alarm["recurrence"] for day in rule["byDays"])
    start, end, zone = alarm["startTime"], alarm["endTime"], ZoneInfo(alarm["timezone"])
    span = _wall_clock_span(start, end, zone, days is not None)
    return AlarmDefinition(index, start, end, zone, days, alarm["uplinkRateMinPerHour"], alarm["message"], span)


def alarm_definitions(value: Any) -> tuple[AlarmDefinition, ...]:
    """The alarms of a list of ThingPark alarm objects; raises vol.Invalid with every error, each naming the
    alarm's index and field (``data['alarms'][0]['timezone']``)."""
    if not isinstance(value, list):
        raise vol.Invalid("alarms must be a list of alarm objects")
    if len(value) > MAX_ALARMS:
        raise vol.Invalid(f"alarms has {len(value)} entries; at most {MAX_ALARMS}")
    errors: list[vol.Invalid] = []
    definitions: list[AlarmDefinition] = []
    for index, raw in enumerate(value):
        try:
            definitions.append(_definition(index, raw))
        except vol.MultipleInvalid as exc:
            errors.extend(vol.Invalid(error.msg, path=[index, *error.path]) for error in exc.errors)
        except vol.Invalid as exc:
            errors.append(vol.Invalid(exc.msg, path=[index, *exc.path]))
    if errors:
        raise vol.MultipleInvalid(errors)
    return tuple(definitions)


def alarms_field(value: Any) -> list[Any]:
    """Voluptuous validator for the ``alarms`` key: checks the list and keeps it as written (JSON, as stored);
    :func:`alarm_definitions` turns it into definitions for the running connection."""
    alarm_definitions(value)
    return list(value)


alarms_field.form = {"type": "list", "items": {"type": "mapping"}}  # type: ignore[attr-defined]
