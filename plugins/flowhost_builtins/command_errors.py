"""How the built-in commands (``flowhost aws ...``, ``sub``, ``pub``) end on an error: the reason on stderr."""

from __future__ import annotations

import sys

USAGE_ERROR = 2
"""argparse's own exit code for a bad command line, used for every mistake in what the user gave."""


def fail(message: str, code: int = USAGE_ERROR) -> int:
    """Print ``error: <message>`` on stderr; returns ``code`` for the command to exit with."""
    print(f"error: {message}", file=sys.stderr)
    return code
