"""Writing a changed flow back over the user's YAML (``update_document``, ``without_empty_sections``,
``dump_yaml`` in the style ``guess_style`` found): what changed takes its new value and type, what is new is
written like what plays the same part beside it, what did not change keeps its comments, and references stay
references. Also the alias budget at its exact edge."""

from __future__ import annotations

import pytest

from flowhost.flow_yaml import (
    MAX_ALIAS_NODES,
    FlowValidationError,
    dump_yaml,
    from_json_document,
    guess_style,
    read_yaml,
    to_json_document,
    update_document,
    without_empty_sections,
)


def saved(text: str, change) -> str:
    """``text`` after the editor's JSON form of it, changed by ``change``, is written back over it."""
    root = read_yaml(text, "flow.yaml")
    style = guess_style(text, root)
    document = to_json_document(root)
    change(document)
    return dump_yaml(update_document(root, without_empty_sections(from_json_document(document), root)), style)


def test_a_value_whose_type_changes_is_written_with_its_new_type():
    text = "flowhost: 1\nid: x\na: 1\nb: true\nc: 1\nd: 0x1f\ne: 80.0\n"

    def change(document):
        document.update(a=True, b=1, c=1.0, d=31, e=80.0)  # 1 == True and 1 == 1.0 in Python: still changes

    assert saved(text, change) == "flowhost: 1\nid: x\na: true\nb: 1\nc: 1.0\nd: 0x1f\ne: 80.0\n"


NODES = """\
flowhost: 1
id: x
nodes:
  - id: a
    type: test-emit
    config:
      port: out
  - id: b
    type: test-emit
    config:
      payloads: [x, {k: 2, j: 3}]
      port: out
    wires: {out: [c]}
  - id: c
    type: test-collect
    config:
      delay: 0s
    wires: {out: b}
"""


def test_values_added_to_a_node_are_written_like_the_same_values_of_the_other_nodes():
    def change(document):
        a, _, c = document["nodes"]
        a["config"]["payloads"] = ["z"]
        a["wires"] = {"out": ["c"]}
        c["wires"] = {"out": ["b", "a"]}  # a single target written as text gains a second one

    assert saved(NODES, change) == NODES.replace(
        "      port: out\n  - id: b", "      port: out\n      payloads: [z]\n    wires: {out: [c]}\n  - id: b"
    ).replace("wires: {out: b}", "wires: {out: [b, a]}")


def test_new_lists_are_written_like_their_siblings_unless_they_hold_several_lines():
    def change(document):
        document["nodes"].append({"id": "d", "type": "test-emit", "config": {"payloads": ["p", {"k": 1, "j": 0}]}})
        document["nodes"].append({"id": "e", "type": "test-emit", "config": {"payloads": ["one\ntwo"]}})

    assert saved(NODES, change) == NODES + (
        "  - id: d\n    type: test-emit\n    config:\n      payloads: [p, {k: 1, j: 0}]\n"
        '  - id: e\n    type: test-emit\n    config:\n      payloads:\n        - "one\\ntwo"\n'
    )


def test_an_empty_section_gains_values_and_items_without_an_id_keep_their_comments():
    text = (
        "flowhost: 1\nid: x\nnodes:\n  - id: a\n    type: test-emit\n    config:\n"
        "      payloads:\n        - k: 1  # kept\n          j: 2\n        - k: 3\n"
        "  - id: b\n    type: test-collect\n    config:\n"
    )

    def change(document):
        document["nodes"][0]["config"]["payloads"][0]["j"] = 5
        document["nodes"][1]["config"] = {"delay": "1s"}

    assert saved(text, change) == text.replace("j: 2", "j: 5") + "      delay: 1s\n"


def test_what_the_editor_adds_to_every_flow_is_left_out_unless_the_file_wrote_it():
    def editor_defaults(document):
        document.update(label=document["id"], layout={}, connections=[])

    assert saved("flowhost: 1\nid: x\n", editor_defaults) == "flowhost: 1\nid: x\n"
    written = "flowhost: 1\nid: x\nlabel: x\nconnections: []\nlayout: {}\n"
    assert saved(written, editor_defaults) == written


def test_references_and_four_space_indentation_are_written_back_as_they_were():
    text = (
        "flowhost: 1\nid: x\nconnections:\n    - id: c\n      connectorId: test-loopback\n      configuration:\n"
        "          label: !env_var HOST\n          other: !env_var PORT 1883\n          key: !secret broker_key\n"
    )
    assert to_json_document(read_yaml(text, "flow.yaml"))["connections"][0]["configuration"] == {
        "label": {"$env": "HOST"},
        "other": {"$env": "PORT", "default": "1883"},
        "key": {"$secret": "broker_key"},
    }
    assert saved(text, lambda document: None) == text
    assert saved(text, lambda document: document.update(label="X")) == text + "label: X\n"


def aliases(sequences: int, mappings: int) -> str:
    """A document whose aliases add ``sequences`` times 10 nodes and ``mappings`` times 5."""
    items = ", ".join(["*s"] * sequences + ["*m"] * mappings)
    return f"flowhost: 1\nid: x\ns: &s [1, 2, 3, 4, 5, 6, 7, 8, 9]\nm: &m {{a: 1, b: 2}}\nmany: [{items}]\n"


def test_aliases_may_add_exactly_the_budget_and_not_one_node_more():
    text = aliases(500, 1000)  # 500 * 10 + 1000 * 5 nodes
    assert len(to_json_document(read_yaml(text, "flow.yaml"))["many"]) == 1500
    with pytest.raises(FlowValidationError) as refused:
        read_yaml(text + "more: [*m]\n", "flow.yaml")
    assert [str(error) for error in refused.value.errors] == [
        f"flow.yaml:6:8: invalid YAML: aliases expand to more than {MAX_ALIAS_NODES} nodes (at alias *m); write the "
        "values out or use fewer aliases"
    ]
    with pytest.raises(FlowValidationError, match=r"flow.yaml:5:\d+: .* \(at alias \*m\)"):
        read_yaml(aliases(0, MAX_ALIAS_NODES // 5 + 1), "flow.yaml")
