"""Fixtures for the editor tests: flowhost served on a free port, Debian's Chromium through Playwright (async),
and a page that fails the test on any page error or console error.

Needs the Debian package `chromium` and the Python packages `playwright` and `pytest-playwright-asyncio`; never
`playwright install` (it would download another browser).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page

from flowhost.app import create_web_app
from flowhost.runtime import Runtime

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# /usr/bin/chromium is Debian's launcher script (it adds /etc/chromium.d flags); the binary behind it is started
# directly when it is there, so that only the flags below apply.
CHROMIUM = next(
    (path for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(path).exists()), "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "editor-test-token"
HTTP_ERROR = re.compile(r"the server responded with a status of (\d{3})")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run ./scripts/test, or apt-get install -y chromium")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@dataclass
class Flowhost:
    """The served app: its URL, the token URL a user opens, and an API client that authenticates as a script."""

    url: str
    api: aiohttp.ClientSession
    runtime: Runtime

    @property
    def login_url(self) -> str:
        return f"{self.url}/?token={TOKEN}"

    async def get(self, path: str) -> dict:
        async with self.api.get(f"{self.url}/api{path}") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def send(self, method: str, path: str, body: object) -> tuple[int, dict]:
        async with self.api.request(method, f"{self.url}/api{path}", json=body) as response:
            return response.status, await response.json(content_type=None)


@pytest.fixture
async def flowhost(aiohttp_server, runtime: Runtime) -> AsyncIterator[Flowhost]:
    app = create_web_app(runtime, token=TOKEN)
    server = await aiohttp_server(app, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        yield Flowhost(url, api, runtime)


@dataclass
class PageErrors:
    """Page errors and console errors seen in a test; HTTP statuses the test expects are not errors."""

    errors: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        status = HTTP_ERROR.search(message.text)
        if status and int(status.group(1)) in self.expected_statuses:
            return
        self.errors.append(f"console error: {message.text} ({message.location.get('url')})")

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"page error: {error.stack or error}")

    def expect_status(self, *statuses: int) -> None:
        self.expected_statuses.update(statuses)


@pytest.fixture
async def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
async def editor(browser: Browser, flowhost: Flowhost, page_errors: PageErrors) -> AsyncIterator[Page]:
    """A page that has opened the token URL and shows the editor, ready to use."""
    context = await browser.new_context(viewport={"width": 1440, "height": 880}, device_scale_factor=1)
    page = await context.new_page()
    page.on("console", page_errors.on_console)
    page.on("pageerror", page_errors.on_page_error)
    page.set_default_timeout(10_000)
    await page.goto(flowhost.login_url)
    await page.wait_for_selector("body.ready")
    try:
        yield page
    finally:
        await context.close()
    assert not page_errors.errors, "\n".join(page_errors.errors)


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"editor-{name}.png"
    await page.screenshot(path=str(path))
    return path
