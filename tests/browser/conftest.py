"""Fixtures for the browser tests: the app served over HTTP and a headless Chromium.

The app is the normal test app (SQLite through ``app_factory``) served by
Werkzeug in a daemon thread on 127.0.0.1. Chromium is Debian's, driven by
Playwright; without it the tests skip (or fail under ``CI=true``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import CHROMIUM, PASSWORD, free_port, missing

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    app: Flask
    url: str  # http://127.0.0.1:<port>, no trailing slash


@pytest.fixture
def live_server(app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The app on its own SQLite database, served over real HTTP from a daemon thread."""
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE"):
        monkeypatch.delenv(name, raising=False)  # the embedded default: file mail, inline tasks
    app = app_factory()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"live-server-{port}", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        assert not thread.is_alive(), "the live server thread did not stop"


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium (Debian's binary; Playwright cannot download browsers here)."""
    if not os.path.exists(CHROMIUM):
        missing("Chromium", f"no browser at {CHROMIUM} (set CHROMIUM_PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing("Playwright", str(exc))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def log_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the real form, in whatever language the browser asks for; the dashboard must follow."""
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    form = page.locator("form.login-form")
    expect(form).to_be_visible()
    form.locator("#email").fill(email)
    form.locator("#password").fill(password)
    with page.expect_navigation():
        form.locator("#submit").click()
    expect(page).to_have_url(f"{base}/")
