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


def test_aliases_used_as_mapping_keys_count_with_everything_they_hold():
    anchors = "".join(f"k{i}: &k{i} [{', '.join([f'v{i}'] * 9)}]\n" for i in range(1, 10))  # 10 nodes each
    keyed = "a: &a {" + ", ".join(f"? *k{i} : 0" for i in range(1, 10)) + "}\n"  # 1 + 9 * (10 + 1) nodes
    text = "flowhost: 1\nid: x\n" + anchors + keyed
    within = text + "many: [" + ", ".join(["*a"] * 99) + "]\n"  # 9 * 10 + 99 * 100 = 9,990 nodes
    assert len(to_json_document(read_yaml(within, "keys.yaml"))["many"]) == 99
    with pytest.raises(
        FlowValidationError, match=rf"keys.yaml:14:8: .*more than {MAX_ALIAS_NODES} nodes \(at alias \*a\)"
    ):
        read_yaml(within + "more: [*a]\n", "keys.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: {? [[x]]: 0}\n", "a mapping key holds a list or mapping inside it (unhashable type: 'CommentedSeq')"),
        (
            "s: &s {k: 1}\na: {? [*s]: 0}\n",
            "a mapping key holds a list or mapping inside it (unhashable type: 'CommentedMap')",
        ),
    ],
)
def test_keys_holding_lists_or_mappings_are_refused_with_a_reason(text, message):
    with pytest.raises(FlowValidationError) as refused:
        read_yaml(text, "keys.yaml")
    assert [str(error) for error in refused.value.errors] == [
        f"keys.yaml: invalid YAML: {message}; write keys as plain text"
    ]


def test_a_value_its_tag_cannot_make_is_refused_with_a_reason():
    with pytest.raises(FlowValidationError) as refused:
        read_yaml("flowhost: 1\nid: x\nport: !!int abc\n", "tags.yaml")
    assert [str(error) for error in refused.value.errors] == [
        "tags.yaml: invalid YAML: a value cannot be read (invalid literal for int() with base 10: 'abc')"
    ]
