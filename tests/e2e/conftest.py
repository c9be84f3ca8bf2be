"""Browser fixtures: the app on a loopback port and Debian's Chromium through Playwright.

One app (fresh data directory, demo CRM, demo users, default policies indexed) and one
browser serve a whole test module; each test opens its own browser contexts, so every
user has a separate cookie jar. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from copilot.config import Settings
from copilot.web import startup
from copilot.web.auth import DEMO_USERS
from server import create_app

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the browser tests, with the reason, when Debian's Chromium is absent."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@dataclass
class LiveApp:
    """The running app: its base URL and the Flask app behind it."""

    url: str
    app: Flask


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app served by werkzeug on 127.0.0.1 and a free port, in a thread."""
    from werkzeug.serving import make_server

    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    settings = Settings(data_dir=data_dir, connector="demo", llm_provider="none")
    app = create_app({"TESTING": False}, settings=settings)
    startup.run_all(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveApp(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["copilot"].close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh temporary profile."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shoot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot of *page* as ``<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture
def signed_in(browser: Any, live_app: LiveApp) -> Iterator[Callable[..., Any]]:
    """Open a page signed in as the demo user of a role, in its own context."""
    contexts: list[Any] = []

    def open_as(role: str, width: int = 1100, height: int = 900, lang: str = "en") -> Any:
        email, _name, _role, password = next(u for u in DEMO_USERS if u[2] == role)
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="es-CO" if lang == "es" else "en-US")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_app.url}/login?lang={lang}")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(f"{live_app.url}/sidebar")
        return page

    yield open_as
    for context in contexts:
        context.close()
