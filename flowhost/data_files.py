"""Files of the data directory: written atomically, private (mode 0600) unless they existed with another mode.

A file is first written beside its place and then renamed over it, so that a crash leaves the old file or the
new one, never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson


class StoreError(RuntimeError):
    """A file of the data directory cannot be read; the message names it."""


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (mode 0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def write_text_file(path: Path, text: str) -> None:
    """Replace a flow file atomically, keeping its permissions when it exists (0600 for a new one)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    """The JSON document in ``path``, or None when there is no such file."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StoreError(f"{path}: cannot be read: {exc}") from None


def write_json(path: Path, document: Any) -> None:
    write_private_file(path, orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
