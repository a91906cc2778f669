"""``link-out`` and ``link-in``: messages between flows, by flow/node, by node id of the same flow, by link name."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest
import voluptuous as vol

from flowhost.flow_links import check_across_flows
from flowhost.flowfile import load_flow_file
from flowhost.message import Message
from flowhost_builtins.link_nodes import LinkOutNode
from tests.support.processes import run_command

from .conftest import wait_for


async def deploy(harness, name: str, text: str):
    path = harness._tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    await harness.runtime.deploy(load_flow_file(path, harness.runtime.registry))


SENDER = """
flowhost: 1
id: sender
nodes:
  - {{id: out, type: link-out, config: {{links: {links}}}}}
  - {{id: local-in, type: link-in, wires: {{out: [local]}}}}
  - {{id: local, type: test-collect}}
"""

RECEIVER = """
flowhost: 1
id: {flow}
nodes:
  - {{id: in, type: link-in, config: {{name: alarms}}, wires: {{out: [got]}}}}
  - {{id: got, type: test-collect}}
"""


async def test_link_out_reaches_link_in_nodes_by_address_own_node_id_and_link_name(harness):
    await deploy(harness, "sender", SENDER.format(links="[archive/in, local-in]"))  # deployed before its targets
    await deploy(harness, "archive", RECEIVER.format(flow="archive").replace("name: alarms", "name: other"))
    await deploy(harness, "alarm-1", RECEIVER.format(flow="alarm-1"))
    await harness.runtime.node("sender", "out").inbox.put(_msg({"n": 1}))
    await wait_for(lambda: harness.received("got") and harness.received("local"))
    assert [m.payload for m in harness.received("got")] == [{"n": 1}]  # archive/in only; alarm-1 not named
    assert harness.received("local")[0].meta["linkHops"] == 1

    harness.received("got").clear()
    await deploy(harness, "sender", SENDER.format(links="[alarms]"))
    await deploy(harness, "alarm-2", RECEIVER.format(flow="alarm-2"))
    await harness.runtime.node("sender", "out").inbox.put(_msg({"n": 2}))
    await wait_for(lambda: len(harness.received("got")) == 2)  # both link-in nodes named alarms
    assert [m.payload for m in harness.received("got")] == [{"n": 2}, {"n": 2}]
    assert harness.runtime.node("sender", "out").snapshot()["status"] == {"text": "linked to 2", "level": "ok"}


@pytest.mark.expect_node_errors
async def test_a_link_to_nothing_fails_the_message_naming_it(harness):
    await deploy(harness, "sender", SENDER.format(links="[archive/in, nowhere]"))
    out = harness.runtime.node("sender", "out")
    await out.inbox.put(_msg({"n": 1}))
    await wait_for(lambda: out.counters["errors"] == 1)
    assert out.snapshot()["status"]["level"] == "warning"
    await deploy(harness, "archive", RECEIVER.format(flow="archive"))
    await out.inbox.put(_msg({"n": 2}))
    await wait_for(lambda: harness.received("got"))  # the one that runs gets it; the other is counted missing
    assert out.counters["missing"] == 1 and out.snapshot()["status"]["text"] == "no link-in for nowhere"


@pytest.mark.expect_node_errors
async def test_links_in_a_loop_stop_after_max_hops(harness):
    await deploy(
        harness,
        "loop",
        """
        flowhost: 1
        id: loop
        nodes:
          - {id: in, type: link-in, wires: {out: [out]}}
          - {id: out, type: link-out, config: {links: [in]}}
        """,
    )
    out = harness.runtime.node("loop", "out")
    await out.inbox.put(_msg("round"))
    await wait_for(lambda: out.counters["errors"] == 1)
    assert out.counters["sent"] == 16


def test_targets_are_checked_by_the_schema():
    with pytest.raises(vol.Invalid, match="a link target is flow/node"):
        LinkOutNode.config_schema({"links": ["a/b/c"]})
    with pytest.raises(vol.Invalid):
        LinkOutNode.config_schema({"links": []})


def _msg(payload) -> Message:
    return Message.create(payload)


async def test_flowhost_validate_reports_a_link_to_nothing_with_file_and_line(tmp_path):
    sender, receiver = tmp_path / "sender.yaml", tmp_path / "receiver.yaml"
    links = "[archive/in, alarms, local-in, archive/nope]"
    sender.write_text(SENDER.format(links=links).replace("test-collect", "debug"))  # the process has no test nodes
    receiver.write_text(RECEIVER.format(flow="archive").replace("test-collect", "debug"))
    code, _, stderr = await run_command("validate", str(sender), str(receiver))
    assert code == 1, stderr
    expected = f"{sender}:5:78: nodes[0].config.links[3]: no link-in 'archive/nope' in the flows given"
    assert expected in stderr and "1 error(s)" in stderr, stderr
    assert (await run_command("validate", str(receiver)))[0] == 0


LINKING = """
flowhost: 1
id: sender
nodes:
  - {id: fine, type: link-out, config: {links: [archive/in]}}
  - {id: local-in, type: link-in}
  - {id: out, type: link-out, config: {links: [alarms, archive/nope, nowhere]}}
"""


def _linked_flows(tmp_path, runtime):
    sender, receiver = tmp_path / "sender.yaml", tmp_path / "receiver.yaml"
    sender.write_text(textwrap.dedent(LINKING).lstrip("\n"))
    receiver.write_text(
        textwrap.dedent(RECEIVER.format(flow="archive")).lstrip("\n").replace("test-collect", "debug")
        + "  - {id: back, type: link-out, config: {links: [sender/local-in, sender/gone]}}\n"
    )
    registry = runtime.registry
    return sender, receiver, [load_flow_file(sender, registry), load_flow_file(receiver, registry)]


def test_links_to_nothing_are_positioned_in_the_file_of_each_flow(tmp_path, runtime):
    sender, receiver, specs = _linked_flows(tmp_path, runtime)
    known = "(link-in nodes and names: archive/in, sender/local-in, alarms)"
    assert [str(error) for error in check_across_flows(specs, runtime.registry)] == [
        f"{sender}:6:56: nodes[2].config.links[1]: no link-in 'archive/nope' in the flows given {known}",
        f"{sender}:6:70: nodes[2].config.links[2]: no link-in 'nowhere' in the flows given {known}",
        f"{receiver}:6:66: nodes[2].config.links[1]: no link-in 'sender/gone' in the flows given {known}",
    ]
    only = "(link-in nodes and names: sender/local-in)"  # the sender checked alone: the archive flow is missing
    assert [error.message for error in check_across_flows(specs[:1], runtime.registry)] == [
        f"no link-in 'archive/in' in the flows given {only}",
        f"no link-in 'alarms' in the flows given {only}",
        f"no link-in 'archive/nope' in the flows given {only}",
        f"no link-in 'nowhere' in the flows given {only}",
    ]


def test_a_flow_without_its_file_names_the_node_instead_of_a_position(tmp_path, runtime):
    sender, _, (spec, archive) = _linked_flows(tmp_path, runtime)
    known = "(link-in nodes and names: archive/in, sender/local-in, alarms)"
    made_by_the_api = dataclasses.replace(spec, source=None)
    assert [str(error) for error in check_across_flows([made_by_the_api, archive], runtime.registry)][:1] == [
        f"node out: no link-in 'archive/nope' in the flows given {known}"
    ]
    # The file changed since it was loaded: the node is no longer in it, or it no longer reads as YAML.
    for text in (LINKING.replace("id: out", "id: renamed"), "flowhost: 1\nid: [sender\n"):
        sender.write_text(textwrap.dedent(text).lstrip("\n"))
        errors = check_across_flows([spec, archive], runtime.registry)
        assert str(errors[0]) == f"{sender}: node out: no link-in 'archive/nope' in the flows given {known}"
        assert (errors[0].path, errors[0].line, errors[0].column) == ((), None, None)
