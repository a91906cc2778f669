"""The data directory is private: directories 0700, files 0600, also when they existed with other modes.

It holds the API token, the secret key, encrypted secrets and the uplinks of the outboxes. ``mkdir(mode=...)``
alone is not enough: it gives the mode only to the last directory it creates (its parents get the umask's
0755), and nothing to a directory that already existed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def make_private_directory(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700; make ``path`` 0700 if it existed with another mode."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    _restrict(path, DIRECTORY_MODE)


def restrict_tree(root: Path) -> int:
    """Make ``root`` and every directory under it 0700 and every file 0600 (symbolic links are not followed
    nor changed); returns how many modes were changed. A mode that cannot be changed is logged."""
    changed = int(_restrict(root, DIRECTORY_MODE))
    for directory, directories, files in os.walk(root):
        for name in directories:
            changed += _restrict(Path(directory, name), DIRECTORY_MODE)
        for name in files:
            changed += _restrict(Path(directory, name), FILE_MODE)
    if changed:
        log.warning("data directory %s: %d files or directories were readable by others; now private", root, changed)
    return changed


def _restrict(path: Path, mode: int) -> bool:
    try:
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode) or stat.S_IMODE(status.st_mode) == mode:
            return False
        os.chmod(path, mode)
    except OSError as exc:
        log.warning("cannot make %s private (mode %o): %s", path, mode, exc)
        return False
    return True
