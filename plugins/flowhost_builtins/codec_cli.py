"""``flowhost codec test PATH...``: run every example of the codec YAML files given, as a codec repository's CI."""

from __future__ import annotations

import argparse
from pathlib import Path

from flowhost import hookimpl

from .codec_examples import find_codec_yamls, run_codec_yaml


def _test(args: argparse.Namespace) -> int:
    paths, errors = find_codec_yamls(Path(path) for path in args.paths)
    passed = failed = 0
    for error in errors:
        print(f"FAIL {error}")
        failed += 1
    for path in paths:
        for result in run_codec_yaml(path):
            label = f"{result.source} {result.description}".rstrip()
            if result.passed:
                passed += 1
                print(f"PASS {label}")
            else:
                failed += 1
                print(f"FAIL {label}: {result.detail}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def _usage(parser: argparse.ArgumentParser):
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


@hookimpl
def flowhost_register_commands(subcommands):
    codec = subcommands.add_parser("codec", help="work with JavaScript payload codecs")
    codec.set_defaults(handler=_usage(codec))
    actions = codec.add_subparsers(title="codec commands")
    test = actions.add_parser(
        "test",
        help="run the examples of codec YAML files (The Things Network device repository's form)",
        description="Runs every example of every *-codec.yaml given (files, or folders searched recursively); "
        "prints a line per example and 'N passed, M failed'; exits 1 when any failed.",
    )
    test.add_argument("paths", nargs="+", metavar="PATH", help="a *-codec.yaml file or a folder of them")
    test.set_defaults(handler=_test)
