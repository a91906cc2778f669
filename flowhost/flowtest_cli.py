"""``flowhost test FILE_OR_DIR...``: finds flow test files, runs them, prints a line per test as pytest does, a
closing ``N passed, M failed``, and writes a JUnit XML report for CI on request."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from .flow_yaml import FlowValidationError, read_yaml
from .flowtest import TestResult, run_test
from .flowtest_file import load_test_file
from .plugins import PluginHost
from .registry import Registry

EXIT_FAILED = 1
EXIT_FILE_ERRORS = 2
YAML_SUFFIXES = (".yaml", ".yml")

DESCRIPTION = """\
Run flow tests: each test starts the flow on a fresh runtime (fresh data dir, fresh embedded broker, a clock
that moves only on `advance`), puts its messages into nodes' inputs and checks what reaches other nodes.
A directory stands for every YAML file under it (outside hidden directories) that starts with `flowhost-test:`.
The format: docs/flow-tests.md.

Exit status: 0 when every test passed, 1 when one failed, 2 when a test file is invalid (FILE:LINE:COL errors)
or none was found."""


def add_command(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser(
        "test",
        help="run flow test files (send messages, advance the clock, check what arrives)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR", help="test files or directories")
    command.add_argument("--junit-xml", type=Path, metavar="FILE", help="write a JUnit XML report here (for CI)")
    command.add_argument(
        "-k", dest="keyword", metavar="TEXT", help="run only the tests whose name contains TEXT (any case)"
    )
    command.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=argparse.SUPPRESS)
    command.set_defaults(handler=_test_command)


def _test_command(args: argparse.Namespace) -> int:
    if args.log_level == "info":  # the default: the runtime's start and stop lines would drown the results
        logging.getLogger().setLevel(logging.WARNING)
        # A node's error is on its test's failure line already; its traceback comes with --log-level warning.
        logging.getLogger("flowhost.node").setLevel(logging.CRITICAL)
    return asyncio.run(run_paths(args.paths, args.plugins, junit_xml=args.junit_xml, keyword=args.keyword))


async def run_paths(
    paths: Iterable[Path], plugins: PluginHost, *, junit_xml: Path | None = None, keyword: str | None = None
) -> int:
    started = time.perf_counter()
    registry = Registry.from_plugins(plugins)
    files, file_errors = find_test_files(paths)
    results: list[TestResult] = []
    for path in files:
        try:
            test_file = load_test_file(path, registry)
        except FlowValidationError as exc:
            file_errors.append((path, [str(error) for error in exc.errors]))
            print(f"{path} ERROR", flush=True)
            continue
        for test in test_file.tests:
            if keyword and keyword.lower() not in test.name.lower():
                continue
            result = await run_test(test_file, test, plugins)
            results.append(result)
            _print_result(result)
    _print_summary(results, file_errors, time.perf_counter() - started)
    if junit_xml is not None:
        write_junit(junit_xml, results, file_errors)
    if file_errors or not results:
        return EXIT_FILE_ERRORS
    return EXIT_FAILED if any(not result.passed for result in results) else 0


def find_test_files(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[Path, list[str]]]]:
    """The test files named, and those under the directories named (YAML files that start ``flowhost-test:``)."""
    files: list[Path] = []
    errors: list[tuple[Path, list[str]]] = []
    for path in paths:
        if path.is_dir():
            files += [item for item in _yaml_files_under(path) if _is_test_file(item)]
        elif path.is_file():
            files.append(path)
        else:
            errors.append((path, [f"{path}: no such file or directory"]))
    return files, errors


def _yaml_files_under(directory: Path) -> list[Path]:
    """YAML files under ``directory``, in name order, leaving out hidden directories (``.venv``, ``.git``)."""
    found = []
    for parent, subdirectories, names in os.walk(directory):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found += [Path(parent, name) for name in names if name.endswith(YAML_SUFFIXES) and not name.startswith(".")]
    return sorted(found)


def _is_test_file(path: Path) -> bool:
    if path.suffix not in YAML_SUFFIXES or not path.is_file():
        return False
    try:
        document = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError):
        return False
    except FlowValidationError:
        return True  # broken YAML that may be a test file: loading it reports where
    return isinstance(document, dict) and "flowhost-test" in document


def _print_result(result: TestResult) -> None:
    where = f"{result.file}::{result.name}"
    if result.passed:
        print(f"{where} PASSED", flush=True)
    else:
        print(f"{where} FAILED: {result.failure}", flush=True)


def _print_summary(results: list[TestResult], file_errors: list[tuple[Path, list[str]]], seconds: float) -> None:
    if file_errors:
        print("==== ERRORS ====")
        for _, errors in file_errors:
            for error in errors:
                print(error)
    failed = [result for result in results if not result.passed]
    if failed:
        print("==== short test summary ====")
        for result in failed:
            line = f":{result.line}" if result.line else ""
            print(f"FAILED {result.file}{line}::{result.name}")
    parts = [f"{len(results) - len(failed)} passed", f"{len(failed)} failed"]
    if file_errors:
        parts.append(f"{len(file_errors)} error{'s' if len(file_errors) > 1 else ''}")
    if not results and not file_errors:
        parts.append("no tests found")
    print(f"==== {', '.join(parts)} in {seconds:.2f}s ====", flush=True)


def write_junit(path: Path, results: list[TestResult], file_errors: list[tuple[Path, list[str]]]) -> None:
    """A JUnit XML report as CI systems (GitLab, Jenkins, GitHub's test reporters) read pytest's."""
    failures = sum(1 for result in results if not result.passed)
    suite = ET.Element(
        "testsuite",
        name="flowhost",
        tests=str(len(results) + len(file_errors)),
        failures=str(failures),
        errors=str(len(file_errors)),
        time=f"{sum(result.seconds for result in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname=str(result.file), name=result.name, time=f"{result.seconds:.3f}"
        )
        if result.line:
            case.set("file", str(result.file))
            case.set("line", str(result.line))
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.failure.splitlines()[0])
            failure.text = result.failure
    for file, errors in file_errors:
        case = ET.SubElement(suite, "testcase", classname=str(file), name="(test file)", time="0")
        error = ET.SubElement(case, "error", message=errors[0])
        error.text = "\n".join(errors)
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
