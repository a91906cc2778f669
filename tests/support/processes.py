"""flowhost as a real child process, for tests that run it as users do."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

FLOWHOST = [sys.executable, "-m", "flowhost"]


async def run_command(*args: str, timeout: float = 30) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *FLOWHOST, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, stdout.decode(), stderr.decode()


class FlowhostProcess:
    """``flowhost run`` in a child process, with its output collected line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.args = args
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task] = []

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *FLOWHOST,
            "run",
            *self.args,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._readers = [
            asyncio.create_task(self._read(stream)) for stream in (self.process.stdout, self.process.stderr)
        ]

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode(errors="replace").rstrip())

    async def wait_for_line(self, text: str, timeout: float = 20) -> str:
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                if self.process.returncode is not None:
                    raise AssertionError("flowhost exited:\n" + "\n".join(self.lines))
                await asyncio.sleep(0.05)

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signum)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
            await asyncio.gather(*self._readers, return_exceptions=True)


@pytest.fixture
async def flowhost_process():
    started: list[FlowhostProcess] = []

    async def start(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> FlowhostProcess:
        process = FlowhostProcess(*args, env=env, cwd=cwd)
        started.append(process)
        await process.start()
        return process

    yield start
    for process in started:
        if process.process and process.process.returncode is None:
            await process.stop(signal.SIGKILL)
