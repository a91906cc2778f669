"""Where ``tmp_path`` lives: in memory (``/dev/shm``) when there is room, else the usual ``/tmp``.

Hundreds of tests create a data directory, and flowhost writes its flow files, secrets and journals there with
``fsync``. On this project's machines (one shared disk) an fsync costs milliseconds and even a ``mkdir`` in
``/tmp`` up to a quarter of one: together about two seconds of the fast tier. On tmpfs both cost microseconds.
What the tests check does not change: the same files are written, fsync'ed and read back, with the same
permissions; only no test can see whether the data would survive a power cut, and none claims to.

Nothing is chosen when the run already says where: ``--basetemp`` or ``TMPDIR``. pytest's numbered directories
(``pytest-of-<user>/pytest-N``, the last three kept) and their locking work as in ``/tmp``, so runs side by side
in other worktrees keep apart.
"""

from __future__ import annotations

import os
import tempfile

import pytest

MEMORY_TMP = "/dev/shm"
MEMORY_TMP_MIN_FREE = 1 << 30
"""Use ``/dev/shm`` only with this much free (a container's default of 64 MiB is too small for three runs)."""


def memory_tmp_dir() -> str | None:
    """``/dev/shm`` when it is a writable directory with room to spare, else None."""
    try:
        stats = os.statvfs(MEMORY_TMP)
    except OSError:
        return None
    if not os.access(MEMORY_TMP, os.W_OK | os.X_OK) or stats.f_bavail * stats.f_frsize < MEMORY_TMP_MIN_FREE:
        return None
    return MEMORY_TMP


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # pytest picks its base directory from tempfile.gettempdir() when tmp_path is first used, after this hook.
    if config.option.basetemp is None and "TMPDIR" not in os.environ:
        directory = memory_tmp_dir()
        if directory is not None:
            tempfile.tempdir = directory
