"""``flowhost codec test``: every example of every codec YAML, a line each, a total, exit 1 on any failure."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from flowhost.cli import main
from flowhost_builtins.codec_examples import json_equal

GOOD = Path(__file__).parent.parent / "data" / "codecs" / "good"


@dataclass
class Outcome:
    returncode: int
    stdout: str


@pytest.fixture
def codec_test(capsys):
    """Run ``flowhost codec test PATH...`` through flowhost's command line, in this process."""

    def run(*paths: Path | str) -> Outcome:
        returncode = main(["codec", "test", *map(str, paths)])
        return Outcome(returncode, capsys.readouterr().out)

    return run


def test_the_command_runs_as_a_program():
    result = subprocess.run(
        [sys.executable, "-m", "flowhost", "codec", "test", str(GOOD / "temp-hum-codec.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "5 passed, 0 failed"


def test_flowhost_register_commands_codec_test_passes_the_examples_of_a_folder(codec_test):
    result = codec_test(GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "13 passed, 0 failed"
    assert f"PASS {GOOD / 'tracker-codec.yaml'} uplinkDecoder[0] a position with a weak fix" in lines
    assert sum(line.startswith("PASS ") for line in lines) == 13


def test_failing_examples_are_each_named_with_the_difference_and_exit_1(tmp_path, codec_test):
    (tmp_path / "codec.js").write_text((GOOD / "temp-hum.js").read_text())
    yaml_path = tmp_path / "sensor-codec.yaml"
    yaml_path.write_text(
        textwrap.dedent(
            """
            uplinkDecoder:
              fileName: codec.js
              examples:
                - description: right within the tolerance
                  input: {fPort: 1, bytes: [1, 0, 231, 2, 45]}
                  output: {data: {temperature: 23.100000001, humidity: 45}, errors: []}
                - description: wrong humidity
                  input: {fPort: 1, bytes: [1, 0, 231, 2, 45]}
                  output: {data: {temperature: 23.1, humidity: 46}}
                - description: an error was expected
                  input: {fPort: 1, bytes: [1, 0, 231, 2, 45]}
                  output: {errors: ["bad frame"]}
                - description: bytes that are not bytes
                  input: {fPort: 1, bytes: [1, 300]}
                  output: {data: {}}
            downlinkEncoder:
              fileName: missing.js
              examples: []
            """
        )
    )
    result = codec_test(yaml_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"PASS {yaml_path} uplinkDecoder[0] right within the tolerance"
    assert lines[1] == (
        f"FAIL {yaml_path} uplinkDecoder[1] wrong humidity: data: expected "
        '{"temperature":23.1,"humidity":46}, got {"temperature":23.1,"humidity":45}'
    )
    assert lines[2] == (
        f'FAIL {yaml_path} uplinkDecoder[2] an error was expected: errors: expected ["bad frame"], got []'
    )
    assert (
        lines[3]
        == f"FAIL {yaml_path} uplinkDecoder[3] bytes that are not bytes: input.bytes must be a list of numbers 0..255"
    )
    assert lines[4].startswith(f"FAIL {yaml_path} downlinkEncoder: cannot load missing.js: missing.js: cannot read")
    assert lines[-1] == "1 passed, 4 failed"


def test_a_path_that_is_not_there_or_holds_no_codec_yaml_fails(tmp_path, codec_test):
    result = codec_test(tmp_path / "nowhere", tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"FAIL {tmp_path / 'nowhere'}: no such file or folder",
        f"FAIL {tmp_path}: no *-codec.yaml file in this folder",
        "0 passed, 2 failed",
    ]


def test_a_hostile_codec_in_an_example_fails_that_example_only(tmp_path, codec_test):
    (tmp_path / "loop.js").write_text(
        "function decodeUplink(input) { if (input.fPort === 2) for (;;) {} return {data: {ok: true}}; }"
    )
    (tmp_path / "loop-codec.yaml").write_text(
        "uplinkDecoder:\n  fileName: loop.js\n  examples:\n"
        "    - {input: {fPort: 2, bytes: []}, output: {data: {ok: true}}}\n"
        "    - {input: {fPort: 1, bytes: []}, output: {data: {ok: true}}}\n"
    )
    result = codec_test(tmp_path)
    lines = result.stdout.splitlines()
    assert "the script ran longer than its time limit" in lines[0] and lines[0].startswith("FAIL")
    assert lines[1].startswith("PASS") and lines[-1] == "1 passed, 1 failed"


@pytest.mark.parametrize(
    ("expected", "actual", "equal"),
    [
        (23.1, 23.1000000001, True),
        (23.1, 23.2, False),
        (1, 1.0, True),
        (True, 1, False),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([1, 2], [1, 2, 3], False),
        ("1", 1, False),
        (None, None, True),
    ],
)
def test_json_equal_compares_numbers_within_a_small_relative_tolerance(expected, actual, equal):
    assert json_equal(expected, actual) is equal
