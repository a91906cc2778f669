"""``link-out`` and ``link-in``: messages between flows, by flow/node, by node id of the same flow, by link name."""

from __future__ import annotations

import textwrap

import pytest
import voluptuous as vol

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
