"""YAML that a few hundred bytes make huge is refused while it is read, with the file and line (issue 13)."""

from __future__ import annotations

import pytest

from flowhost.flow_yaml import MAX_ALIAS_NODES, MAX_YAML_BYTES, FlowValidationError, read_yaml, to_json_document
from tests.support.bombs import alias_bomb, merge_key_bomb


def test_the_alias_bomb_is_refused_at_the_alias_that_passes_the_budget():
    text = alias_bomb()
    assert len(text) < 600
    with pytest.raises(FlowValidationError) as refused:
        read_yaml(text, "bomb.yaml")
    (error,) = refused.value.errors
    assert str(error).startswith("bomb.yaml:7:")  # a4's line: the first alias past 10,000 nodes is there
    assert f"aliases expand to more than {MAX_ALIAS_NODES} nodes (at alias *a3)" in error.message


def test_the_merge_key_bomb_is_refused_too():
    text = merge_key_bomb()
    assert len(text) < 1000
    with pytest.raises(FlowValidationError, match=f"aliases expand to more than {MAX_ALIAS_NODES} nodes"):
        read_yaml(text, "merge.yaml")


def test_a_recursive_alias_is_refused():
    with pytest.raises(FlowValidationError, match=r"merge.yaml:3:\d+: .*alias \*loop is inside its own anchor"):
        read_yaml("flowhost: 1\nid: x\nloop: &loop [1, *loop]\n", "merge.yaml")


def test_deep_nesting_and_long_text_are_refused():
    with pytest.raises(FlowValidationError, match="nested deeper than 100 levels"):
        read_yaml("a: " + "[" * 200 + "]" * 200 + "\n", "deep.yaml")
    with pytest.raises(FlowValidationError, match="longer than 1024 KiB"):
        read_yaml("# " + "x" * MAX_YAML_BYTES + "\n", "long.yaml")


def test_aliases_within_the_budget_still_work():
    text = (
        "flowhost: 1\nid: shared\n"
        "base: &base {hostName: '127.0.0.1:1883', protocol: TCP}\n"
        "first: {<<: *base, name: one}\n"
        "second: [*base, *base]\n" + alias_bomb(levels=3).split("\n", 2)[2]  # 9**3 items: within the budget
    )
    document = to_json_document(read_yaml(text, "shared.yaml"))
    assert document["first"] == {"hostName": "127.0.0.1:1883", "protocol": "TCP", "name": "one"}
    assert document["second"] == [document["base"]] * 2
    assert len(document["a3"]) == 9 and len(document["a3"][0][0]) == 9
