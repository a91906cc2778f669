"""Two tiers of tests: ``pytest -m "not slow"`` for the edit loop, the whole suite for CI (docs/testing.md).

A test is ``slow`` when it is marked so (``@pytest.mark.slow``) or when this hook marks it, for one of the reasons
below: it lives in a folder of browser or fault tests, uses a fixture that starts a process of its own, or is in a
module whose tests start child processes or run long load loops. The lists are explicit so that a reader sees why a
test is in the slow tier; a new test that starts a process belongs in one of them (or gets the marker).
"""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_FOLDERS = {
    "editor": "drives a real Chromium",
    "faults": "fault injection: child processes, broker outages, load loops",
}
"""Folders under tests/ whose every test is slow."""

SLOW_FIXTURES = {
    "flowhost_process": "runs `flowhost run` in a child process",
    "mosquitto_factory": "starts a Mosquitto process of its own",
}
"""Fixtures that make a test slow (the shared session `mosquitto` does not: it starts once)."""

SLOW_MODULES = {
    "test_cli.py": "runs the flowhost command in child processes",
    "test_mqtt_commands.py": "runs flowhost pub/sub in child processes",
    "test_example_plugin.py": "installs nothing, but runs flowhost validate in a child process",
    "aws/test_commands.py": "runs flowhost aws in child processes",
    "api/test_process.py": "runs flowhost in a child process",
    "api/test_http_hardening_process.py": "runs flowhost in a child process",
    "api/test_no_server_errors.py": "a long loop of requests over every route",
    "codecs/test_codec_cli.py": "runs the flowhost codec command in child processes",
}
"""Modules (relative to tests/) whose every test is slow."""

PROPERTY_TEST = "a property test with hundreds of examples"
CHILD_PROCESS = "runs flowhost in a child process"
REAL_TIMER = "waits out a real timeout of a second or more (the code under test takes no clock)"
SLOW_TESTS = {
    "mqtt/test_packets.py::test_client_protocol_frames_any_split_of_a_packet_stream": PROPERTY_TEST,
    "mqtt/test_packets.py::test_packet_reader_decodes_any_split_of_a_packet_stream": PROPERTY_TEST,
    "mqtt/test_packets.py::test_arbitrary_bytes_decode_or_raise_protocol_error": PROPERTY_TEST,
    "mqtt/test_fake_brokers.py::test_whatever_a_broker_sends_the_client_survives": PROPERTY_TEST,
    "test_thingpark.py::test_parse_downlink_raises_only_document_error": PROPERTY_TEST,
    "test_templating.py::test_random_field_values_give_a_valid_topic_or_a_render_error": PROPERTY_TEST,
    "test_templating.py::test_random_patterns_compile_or_give_a_template_error": PROPERTY_TEST,
    "nodes/test_message_paths.py::test_a_value_set_at_a_path_reads_back_there_and_in_the_message": PROPERTY_TEST,
    "codecs/test_js_sandbox.py::test_a_sandbox_whose_calls_keep_running_away_is_disabled": "burns CPU on purpose",
    "codecs/test_js_sandbox.py::test_a_call_that_runs_away_fails_and_later_calls_fail_at_once_while_it_still_runs": (
        "burns CPU on purpose"
    ),
    "codecs/test_js_sandbox.py::test_endless_allocation_is_stopped_by_the_memory_limit_and_the_next_call_works": (
        "allocates up to the memory limit on purpose"
    ),
    "aws/test_policy_scope.py::test_the_search_is_bounded": "runs a search to its bound",
    "mqtt/test_mosquitto.py::test_receive_maximum_is_honoured_for_thousands_of_publishes": "a load loop",
    "nodes/test_links.py::test_flowhost_validate_reports_a_link_to_nothing_with_file_and_line": CHILD_PROCESS,
    "test_flow_tests.py::test_the_examples_pass_as_a_real_process": CHILD_PROCESS,
    "test_flow_tests.py::test_a_wrong_expectation_fails_with_what_arrived_instead_as_a_real_process": CHILD_PROCESS,
    "nodes/test_message_paths.py::test_any_text_parses_or_is_refused_with_a_value_error": PROPERTY_TEST,
    "nodes/test_function.py::test_an_endless_loop_and_an_allocation_bomb_are_stopped_and_the_next_message_goes_on": (
        "burns CPU on purpose"
    ),
    "codecs/test_js_sandbox.py::test_a_sandbox_dropped_without_close_ends_its_thread": "waits for a thread to end",
    "codecs/test_js_sandbox.py::test_the_time_limit_applies_to_each_call_not_to_the_context": "burns CPU on purpose",
    "mqtt/test_mosquitto.py::test_connect_timeout_when_the_server_never_answers": REAL_TIMER,
    "mqtt/test_fake_brokers.py::test_an_acknowledgement_late_behind_other_traffic_is_no_timeout": REAL_TIMER,
    "mqtt/test_fake_brokers.py::test_a_broker_slow_to_acknowledge_but_answering_pingreq_is_no_timeout": REAL_TIMER,
    "mqtt/test_fake_brokers.py::"
    "test_publish_unacknowledged_by_a_silent_broker_times_out_drops_the_connection_and_is_kept": REAL_TIMER,
    "mqtt/test_websocket_abort.py::test_abort_over_websocket_leaves_no_unclosed_connection": REAL_TIMER,
    "connector/test_failures.py::test_a_broker_that_never_answers_fails_after_connection_timeout": REAL_TIMER,
    "connector/test_mqtt_in_acknowledgement.py::test_acknowledged_once_stored_and_not_while_it_cannot_be_taken": (
        REAL_TIMER
    ),
}
"""Single tests ("module::function", all its parameters), when the rest of their module is fast."""

TESTS = Path(__file__).resolve().parents[1]


def slow_reason(item: pytest.Item) -> str | None:
    """Why ``item`` is in the slow tier, or None when it is in the fast one."""
    if item.get_closest_marker("slow") is not None:
        return "marked slow"
    relative = Path(item.path).resolve().relative_to(TESTS)
    if relative.parts[0] in SLOW_FOLDERS:
        return SLOW_FOLDERS[relative.parts[0]]
    if relative.as_posix() in SLOW_MODULES:
        return SLOW_MODULES[relative.as_posix()]
    test_id = f"{relative.as_posix()}::{getattr(item, 'originalname', item.name)}"
    if test_id in SLOW_TESTS:
        return SLOW_TESTS[test_id]
    for fixture in getattr(item, "fixturenames", ()):
        if fixture in SLOW_FIXTURES:
            return SLOW_FIXTURES[fixture]
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if slow_reason(item) is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
    _check_the_lists(items)


def _check_the_lists(items: list[pytest.Item]) -> None:
    """A listed module or test that no longer exists (renamed, moved) would leave its tests in the fast tier
    unnoticed: fail instead, when its module was collected (or, for a module, when it is missing)."""
    collected = {Path(item.path).resolve().relative_to(TESTS).as_posix() for item in items}
    ids = {
        f"{Path(item.path).resolve().relative_to(TESTS).as_posix()}::{getattr(item, 'originalname', item.name)}"
        for item in items
    }
    stale = [module for module in SLOW_MODULES if not (TESTS / module).is_file()]
    stale += [test_id for test_id in SLOW_TESTS if test_id.split("::")[0] in collected and test_id not in ids]
    stale += [test_id for test_id in SLOW_TESTS if not (TESTS / test_id.split("::")[0]).is_file()]
    if stale:
        raise pytest.UsageError(f"tests/support/tiers.py lists what is no test (update the list): {', '.join(stale)}")
