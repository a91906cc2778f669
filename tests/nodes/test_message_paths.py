"""Paths into messages: parsing (only ValueError, with the position), reading, and writing on a draft."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhost.message import Message, freeze
from flowhost_builtins.message_paths import MISSING, MessageDraft, PathError, key_of, parse_path

names = st.text(st.characters(codec="utf-8", exclude_characters=".[]\"'", exclude_categories=["Cs"]), min_size=1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_with_a_value_error(text):
    try:
        path = parse_path(text)
    except ValueError as exc:
        assert str(exc).startswith(("path ", "expected a path"))  # the path named, never a crash
    else:
        assert path.root in ("payload", "topic", "meta", "uplink")


@settings(max_examples=200, deadline=None)
@given(st.lists(names, min_size=1, max_size=5), json_values, json_values)
def test_a_value_set_at_a_path_reads_back_there_and_in_the_message(keys, start, value):
    text = "payload" + "".join(f'["{key}"]' for key in keys)
    path = parse_path(text)
    msg = Message.create({"start": start})
    draft = MessageDraft(msg)
    draft.set(path, value)
    assert draft.get(path) == value
    changed = draft.message()
    assert path.get(changed) == freeze(value)
    assert msg.payload == freeze({"start": start})  # the original is untouched
    assert draft.delete(path) is True and draft.get(path) is MISSING


def test_paths_read_lists_the_uplink_and_report_missing_fields():
    msg = Message.create({"DevEUI_uplink": {"DevEUI": "78AF580300000345", "Lrrs": {"Lrr": [{"id": 1}, {"id": 2}]}}})
    assert parse_path("uplink.Lrrs.Lrr[-1].id").get(msg) == 2
    assert parse_path("payload.DevEUI_uplink.Lrrs.Lrr.0.id").get(msg) == 1
    assert parse_path("uplink.Lrrs.Lrr[5]").get(msg) is MISSING
    assert parse_path("uplink.DevEUI.x").get(msg) is MISSING
    legacy = Message.create({"DevEUI": "0018B20000000B20"})  # the legacy shape: no DevEUI_uplink root
    assert parse_path("uplink.DevEUI").get(legacy) == "0018B20000000B20"
    assert key_of(msg, [parse_path("uplink.DevEUI"), parse_path("uplink.FCntUp")]) is None


def test_writing_through_a_value_that_has_no_fields_names_it():
    draft = MessageDraft(Message.create({"a": [1, 2]}))
    with pytest.raises(PathError, match=r"payload.a\[0\].b: payload.a\[0\] is a number, which has no fields"):
        draft.set(parse_path("payload.a[0].b"), 1)
    with pytest.raises(PathError, match="is not a list index"):
        draft.set(parse_path("payload.a.b"), 1)
    draft.set(parse_path("payload.a[2]"), 3)  # just past the end appends
    assert draft.get(parse_path("payload.a")) == [1, 2, 3]


def test_a_path_deeper_than_the_limit_is_refused():
    with pytest.raises(ValueError, match="deeper than 32 levels"):
        parse_path("payload" + ".a" * 33)
