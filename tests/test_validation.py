"""Property-based tests of the named validators: durations and DevEUIs."""

from __future__ import annotations

import pytest
import voluptuous as vol
from hypothesis import given
from hypothesis import strategies as st

from flowhost.validation import closest, duration, hex_string, parse_duration
from flowhost_builtins.thingpark_fields import dev_eui

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(UNITS)))
def test_every_number_with_a_unit_is_a_duration(number, unit):
    assert parse_duration(f"{number}{unit}") == pytest.approx(number * UNITS[unit])


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans(), st.lists(st.integers())))
def test_a_duration_validator_either_returns_seconds_or_raises_invalid(value):
    try:
        seconds = duration(value)
    except vol.Invalid as exc:
        assert "duration" in str(exc)
    else:
        assert isinstance(seconds, float) and seconds >= 0


@given(st.text(alphabet="0123456789abcdefABCDEF", min_size=16, max_size=16))
def test_every_sixteen_hex_digits_are_a_dev_eui_in_upper_case(text):
    assert dev_eui(text) == text.upper()


@given(st.text())
def test_anything_else_is_refused_as_a_dev_eui(text):
    is_eui = len(text) == 16 and all(char in "0123456789abcdefABCDEF" for char in text)
    try:
        result = dev_eui(text)
    except vol.Invalid as exc:
        assert not is_eui and "16 hexadecimal digits" in str(exc)
    else:
        assert is_eui and result == text.upper()


@given(st.binary())
def test_hex_strings_round_trip(data):
    assert bytes.fromhex(hex_string(data.hex().upper())) == data


@pytest.mark.parametrize("value", ["0", "abc", "0g", 12, None])
def test_bad_hex_strings(value):
    with pytest.raises(vol.Invalid):
        hex_string(value)


def test_closest_suggests_a_near_name_only():
    assert closest("hostname", ["hostName", "protocol"]) == "hostName"
    assert closest("zzz", ["hostName", "protocol"]) is None
