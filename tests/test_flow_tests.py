"""``flowhost test``: the examples pass as a real process (with their embedded broker); wrong expectations,
``expect_none``, ``advance`` and malformed test files give the lines and exit codes docs/flow-tests.md promises."""

from __future__ import annotations

import asyncio
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flowhost.flowfile import load_flow_file
from flowhost.flowtest_cli import run_paths
from flowhost.flowtest_match import mismatch
from flowhost.message import Message
from tests.support.flowhost_fixtures import free_port
from tests.support.processes import run_command

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "flow-tests"

# A flow without connections: a test whose message did not come fails once the flow is idle, not at its timeout.
FLOW = """
flowhost: 1
id: local
nodes:
  - id: route
    type: switch
    config:
      property: payload.temperature
      rules: [{name: hot, operator: ">", value: 30}]
    wires: {hot: [alarm], otherwise: [archive]}
  - id: alarm
    type: change
    config: {changes: [{action: set, path: payload.alarm, value: true}]}
    wires: {out: [alarms]}
  - {id: hold, type: delay, config: {delay: 10m}, wires: {out: [archive]}}
  - {id: once, type: dedupe, config: {key: payload.n, window: 1h}, wires: {out: [archive]}}
  - {id: alarms, type: debug}
  - {id: archive, type: debug}
"""


@pytest.fixture
def write(tmp_path: Path):
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")

    def write_test(text: str, name: str = "test_local.yaml") -> Path:
        path = tmp_path / name
        path.write_text("flowhost-test: 1\nflow: flow.yaml\n" + textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write_test


async def run(paths, plugins, capsys, **options) -> tuple[int, list[str]]:
    code = await run_paths(paths, plugins, **options)
    return code, capsys.readouterr().out.splitlines()


async def test_the_examples_pass_as_a_real_process(tmp_path):
    report = tmp_path / "report.xml"
    code, out, err = await run_command("test", str(EXAMPLES), "--junit-xml", str(report), timeout=90)
    assert code == 0, out + err
    lines = out.splitlines()
    assert f"{EXAMPLES / 'site.yaml'}::hot readings go to the alarm branch PASSED" in lines
    assert f"{EXAMPLES / 'timers.yaml'}::the heartbeat comes every ten minutes PASSED" in lines
    assert lines[-1].startswith("==== 11 passed, 0 failed in ")
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("11", "0", "0")


async def test_a_wrong_expectation_fails_with_what_arrived_instead_as_a_real_process(write, tmp_path):
    path = write("""
        tests:
          - name: hot goes to alarms
            send: [{to: route, payload: {temperature: 31}}]
            expect: [{at: alarms, payload: {temperature: 31, alarm: false}}]
          - name: cold goes to the archive
            send: [{to: route, payload: {temperature: 3}}]
            expect: [{at: archive, payload: {temperature: 3}}]
        """)
    report = tmp_path / "junit" / "report.xml"
    code, out, err = await run_command("test", str(path), "--junit-xml", str(report))
    assert code == 1, out + err
    lines = out.splitlines()
    assert (
        f"{path}::hot goes to alarms FAILED: expect[0] at alarms, line 6 (message 1 there): "
        'payload.alarm: expected false, got true; arrived: {"temperature":31,"alarm":true}'
    ) in lines
    assert f"{path}::cold goes to the archive PASSED" in lines
    assert f"FAILED {path}:4::hot goes to alarms" in lines
    assert lines[-1].startswith("==== 1 passed, 1 failed in ")
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failed = suite.find("testcase[@name='hot goes to alarms']/failure")
    assert failed.get("message").startswith("expect[0] at alarms, line 6 (message 1 there): payload.alarm")
    assert suite.find("testcase[@name='cold goes to the archive']/failure") is None


async def test_a_message_that_never_comes_fails_naming_where_messages_went(write, plugins, capsys):
    path = write("""
        tests:
          - name: cold is no alarm
            send: [{to: route, payload: {temperature: 3}}]
            expect: [{at: alarms}]
        """)
    code, lines = await run([path], plugins, capsys)
    assert code == 1
    assert lines[0] == (
        f"{path}::cold is no alarm FAILED: expect[0] at alarms, line 6: message 1 there did not arrive before the "
        "flow went idle (nothing); messages reached: archive, route"
    )


async def test_expect_none_names_the_message_that_came(write, plugins, capsys):
    path = write("""
        tests:
          - name: hot is not archived
            send: [{to: route, payload: {temperature: 31}}]
            expect_none: [archive]
          - name: cold is not archived either
            send: [{to: route, payload: {temperature: 3}}]
            expect_none: [alarm, archive]
        """)
    code, lines = await run([path], plugins, capsys)
    assert code == 1
    assert lines[:2] == [
        f"{path}::hot is not archived PASSED",
        f"{path}::cold is not archived either FAILED: expect_none: archive received 1 message(s); the first: "
        '{"temperature":3}',
    ]


async def test_advance_moves_the_delay_clock_and_not_further(write, plugins, capsys):
    path = write("""
        tests:
          - name: held for ten minutes
            send: [{to: hold, payload: {n: 1}}, {advance: 9m}, {advance: 59s}]
            expect_none: [archive]
          - name: sent after ten minutes
            send: [{to: hold, payload: {n: 1}}, {advance: 10m}]
            expect: [{at: archive, payload: {n: 1}}]
          - name: wrongly expected before ten minutes
            send: [{to: hold, payload: {n: 1}}, {advance: 599s}]
            expect: [{at: archive}]
        """)
    code, lines = await run([path], plugins, capsys)
    assert code == 1
    assert lines[:2] == [f"{path}::held for ten minutes PASSED", f"{path}::sent after ten minutes PASSED"]
    assert lines[2].startswith(f"{path}::wrongly expected before ten minutes FAILED: expect[0] at archive, line 12:")
    assert "messages reached: hold" in lines[2]


async def test_each_test_starts_from_fresh_state(write, plugins, capsys):
    # dedupe remembers n=1 for an hour: the second test passes only on a fresh runtime.
    path = write("""
        tests:
          - name: first sight
            send: [{to: once, payload: {n: 1}}]
            expect: [{at: archive, payload: {n: 1}}]
          - name: first sight again
            send: [{to: once, payload: {n: 1}}]
            expect: [{at: archive, payload: {n: 1}}]
          - name: a repeat in one test is dropped
            send: [{to: once, payload: {n: 1}}, {to: once, payload: {n: 1}}]
            expect: [{at: archive}, {at: archive}]
        """)
    code, lines = await run([path], plugins, capsys)
    assert lines[:2] == [f"{path}::first sight PASSED", f"{path}::first sight again PASSED"]
    assert "message 2 there did not arrive" in lines[2] and code == 1


async def test_messages_at_one_node_are_expected_in_order(write, plugins, capsys):
    path = write("""
        tests:
          - name: in order
            send: [{to: route, payload: {temperature: 1}}, {to: route, payload: {temperature: 2}}]
            expect: [{at: archive, payload: {temperature: 1}}, {at: archive, payload: {temperature: 2}}]
          - name: out of order
            send: [{to: route, payload: {temperature: 1}}, {to: route, payload: {temperature: 2}}]
            expect: [{at: archive, payload: {temperature: 2}}, {at: archive, payload: {temperature: 1}}]
        """)
    code, lines = await run([path], plugins, capsys)
    assert code == 1 and lines[0] == f"{path}::in order PASSED"
    assert "expect[0] at archive, line 9 (message 1 there): payload.temperature: expected 2, got 1" in lines[1]


async def test_a_malformed_test_file_gives_file_line_errors_and_exit_2(write, plugins, capsys, tmp_path):
    path = write("""
        timeout: 2 seconds
        tests:
          - name: typo
            send:
              - {to: rout, payload: {temperature: 3}}
              - {advance: soon}
              - {trigger: alarm}
              - {wait: 1s}
            expect: [{at: alarms, paylod: {}}]
            expect_none: [nowhere]
        """)
    missing = write("tests: [{name: x, expect_none: [archive]}]\n", "test_missing.yaml").read_text()
    (tmp_path / "test_missing.yaml").write_text(missing.replace("flow.yaml", "gone.yaml"), encoding="utf-8")
    report = tmp_path / "report.xml"
    code, lines = await run([path, tmp_path / "test_missing.yaml"], plugins, capsys, junit_xml=report)
    assert code == 2
    assert f"{path} ERROR" in lines
    expected = [
        f"{path}:3:10: timeout: '2 seconds' is not a duration; use a number and a unit: 500ms, 30s, 10m, 72h or 1d",
        f"{path}:8:19: tests[0].send[1].advance: 'soon' is not a duration; use a number and a unit: 500ms, 30s, "
        "10m, 72h or 1d",
        f"{path}:10:9: tests[0].send[3]: a step has exactly one of: to (send a message), advance (a duration), "
        "trigger (a node)",
        f"{path}:11:27: tests[0].expect[0].paylod: unknown key 'paylod' (did you mean 'payload'?); valid keys: at, "
        "meta, payload, topic",
    ]
    for line in expected:
        assert line in lines, "\n".join(lines)
    assert f"{tmp_path / 'test_missing.yaml'}:2:7: flow: no flow file at {tmp_path / 'gone.yaml'}" in " ".join(lines)
    assert lines[-1].startswith("==== 0 passed, 0 failed, 2 errors in ")
    assert ET.parse(report).getroot().find("testsuite").get("errors") == "2"


async def test_nodes_a_test_names_are_checked_against_the_flow(write, plugins, capsys):
    path = write("""
        tests:
          - name: typo
            send:
              - {to: rout, payload: {temperature: 3}}
              - {trigger: alarm}
            expect: [{at: alarms}]
            expect_none: [nowhere]
        """)
    code, lines = await run([path], plugins, capsys)
    assert code == 2
    assert (
        f"{path}:6:14: tests[0].send[0].to: the flow has no node 'rout' (did you mean 'route'?); its nodes: alarm, "
        "alarms, archive, hold, once, route"
    ) in lines
    assert f"{path}:7:19: tests[0].send[1].trigger: node 'alarm' (change) cannot be triggered" in lines
    assert any(
        line.startswith(f"{path}:9:19: tests[0].expect_none[0]: the flow has no node 'nowhere'") for line in lines
    )


async def test_a_directory_runs_only_its_test_files(write, plugins, capsys, tmp_path):
    write("tests: [{name: cold, send: [{to: route, payload: {temperature: 3}}], expect: [{at: archive}]}]\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "test_broken.yaml").write_text("flowhost-test: 1\n", encoding="utf-8")
    code, lines = await run([tmp_path], plugins, capsys)  # flow.yaml beside it is a flow, not a test file
    assert code == 0 and lines[0] == f"{tmp_path / 'test_local.yaml'}::cold PASSED"
    assert lines[1].startswith("==== 1 passed, 0 failed in ")
    code, lines = await run([tmp_path / "nothing-here"], plugins, capsys)
    assert code == 2 and f"{tmp_path / 'nothing-here'}: no such file or directory" in lines


@pytest.mark.parametrize(
    ("expected", "actual", "reason"),
    [
        ({"a": {"b": 1}}, {"a": {"b": 1.0, "c": 2}, "d": 3}, None),
        ({"a": [1, {"b": 2}]}, {"a": (1, {"b": 2, "c": 3})}, None),
        ({"a": [1]}, {"a": (1, 2)}, "payload.a: expected 1 items, got 2: [1,2]"),
        ({"a": 1}, {"a": True}, "payload.a: expected 1, got true"),
        ({"a": True}, {"a": 1}, "payload.a: expected true, got 1"),
        ({"a": "7"}, {"a": 7}, 'payload.a: expected "7", got 7'),
        ({"a": None}, {"a": None}, None),
        ({"a": 1}, {"b": 1}, "payload.a: missing (keys: b)"),
        ({"a": {}}, {"a": 5}, "payload.a: expected an object, got 5"),
        ([{"x": 1}], ({"x": 1, "y": 2},), None),
    ],
)
def test_subset_matching(expected, actual, reason):
    assert mismatch(expected, actual) == reason


async def test_the_input_tap_sees_each_message_a_node_takes_and_deliver_puts_one_in(write_flow, runtime):
    seen: list[tuple[str, object]] = []

    async def tap(runner, msg, handle):
        seen.append((runner.node_id, msg.payload))
        await handle(msg)

    runtime.input_tap = tap
    flow = FLOW + "  - {id: by-hand, type: inject, wires: {out: [route]}}\n"
    await runtime.deploy(load_flow_file(write_flow(flow), runtime.registry))
    await runtime.node("local", "route").put_input(Message.create({"temperature": 31}))
    async with asyncio.timeout(5):
        while runtime.node("local", "alarms").counters["seen"] < 1:
            await asyncio.sleep(0.005)
    hot = {"temperature": 31}
    assert seen == [("route", hot), ("alarm", hot), ("alarms", {**hot, "alarm": True})]
    with pytest.raises(ValueError, match=r"node 'by-hand' \(inject\) has no input"):
        await runtime.node("local", "by-hand").put_input(Message.create(1))


async def test_the_flow_reaches_the_broker_the_test_file_names(mosquitto, plugins, capsys, tmp_path):
    path = tmp_path / "test_named_broker.yaml"
    path.write_text(
        textwrap.dedent(f"""
        flowhost-test: 1
        flow: {EXAMPLES / "flows" / "site.yaml"}
        broker: 127.0.0.1:{mosquitto.tcp_port}
        tests:
          - name: an alarm goes through Mosquitto and back
            send:
              - to: uplinks
                payload: {{DevEUI_uplink: {{DevEUI: 78AF580300000345, FCntUp: 1, payload: {{temperature: 40}}}}}}
            expect:
              - at: alarms-seen
                topic: sites/grenoble/78AF580300000345/uplink
                payload: {{DevEUI_uplink: {{CustomerData: {{alarm: hot}}}}}}
        """).lstrip(),
        encoding="utf-8",
    )
    code, lines = await run([path], plugins, capsys)
    assert (code, lines[0]) == (0, f"{path}::an alarm goes through Mosquitto and back PASSED")


async def test_a_connection_that_cannot_open_fails_the_test_with_its_state(plugins, capsys, tmp_path):
    path = tmp_path / "test_no_broker.yaml"
    path.write_text(
        f"flowhost-test: 1\nflow: {EXAMPLES / 'flows' / 'site.yaml'}\nbroker: 127.0.0.1:{free_port()}\n"
        "timeout: 500ms\ntests: [{name: nobody listens, expect_none: [archive]}]\n",
        encoding="utf-8",
    )
    code, lines = await run([path], plugins, capsys)
    assert code == 1
    assert lines[0].startswith(
        f"{path}::nobody listens FAILED: connection site-broker not open within 0.5s: UNREACHABLE ("
    ), lines[0]


@pytest.mark.expect_node_errors
async def test_a_node_error_fails_the_test_unless_allowed(plugins, capsys, tmp_path):
    (tmp_path / "flow.yaml").write_text(
        "flowhost: 1\nid: e\nnodes:\n"
        "  - {id: add, type: change, config: {changes: [{action: set, path: payload.y, expression: 'payload.x + 1'}]},"
        " wires: {out: [sink]}}\n"
        "  - {id: sink, type: debug}\n",
        encoding="utf-8",
    )
    path = tmp_path / "test_errors.yaml"
    path.write_text(
        "flowhost-test: 1\nflow: flow.yaml\ntests:\n"
        "  - {name: text plus one, send: [{to: add, payload: {x: a}}], expect_none: [sink]}\n"
        "  - {name: allowed text plus one, allow_errors: true, send: [{to: add, payload: {x: a}}], "
        "expect_none: [sink]}\n",
        encoding="utf-8",
    )
    code, lines = await run([path], plugins, capsys)
    assert code == 1
    assert (
        lines[0]
        == f"{path}::text plus one FAILED: a node reported an error (allow_errors: true if the test expects it)"
    )
    assert lines[1].startswith("  node errors: add: ")
    assert lines[2] == f"{path}::allowed text plus one PASSED"


async def test_start_time_sets_the_wall_clock_and_k_selects_tests(plugins, capsys, tmp_path):
    (tmp_path / "flow.yaml").write_text(
        "flowhost: 1\nid: t\nnodes:\n"
        "  - {id: now, type: inject, config: {interval: 1m}, wires: {out: [sink]}}\n"
        "  - {id: sink, type: debug}\n",
        encoding="utf-8",
    )
    path = tmp_path / "test_time.yaml"
    path.write_text(
        "flowhost-test: 1\nflow: flow.yaml\nstart_time: 2026-01-01T08:00:00+01:00\ntests:\n"
        "  - {name: a minute after seven UTC, send: [{advance: 1m}], expect: [{at: sink, payload: 1767250860000}]}\n"
        "  - {name: not selected, expect_none: [sink]}\n",
        encoding="utf-8",
    )
    code, lines = await run([path], plugins, capsys, keyword="MINUTE")
    assert (code, lines[0]) == (0, f"{path}::a minute after seven UTC PASSED")
    assert lines[-1].startswith("==== 1 passed, 0 failed in ")
