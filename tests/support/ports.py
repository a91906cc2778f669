"""Loopback ports for test listeners.

Binding port 0 and closing the socket hands out a port from the kernel's ephemeral range, which the kernel may
give again at once (two listeners of one broker once got the same port) or to any outgoing connection before the
listener binds it. Ports come instead from a range below the ephemeral one, shuffled per process, and are never
handed out twice by one process.
"""

from __future__ import annotations

import os
import random
import socket
import threading

_FIRST, _LAST = 20000, 32767  # below Linux's default ephemeral range (32768-60999)
_lock = threading.Lock()
_candidates = list(range(_FIRST, _LAST + 1))
random.Random(os.getpid()).shuffle(_candidates)


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port that is free now and that no other caller in this process has been given."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with _lock:
        while _candidates:
            port = _candidates.pop()
            with socket.socket(family) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free port left between {_FIRST} and {_LAST}")
