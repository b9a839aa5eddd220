"""The second factor in a real browser: Chromium's virtual authenticator (DevTools WebAuthn domain).

A new delegate sets up an authenticator app (the test computes its codes with pyotp from the key the
page shows) and a passkey on the account page, logs out, then logs in with the password and a TOTP
code, with the password and a recovery code, with the password and the passkey, and with the passkey
alone. WebAuthn needs a secure context and a domain for the relying party, so the app is served at
``http://localhost:<port>`` with ``PUBLIC_URL`` set to that. No page may log a script error or a CSP
violation.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.browser.conftest import LiveServer
from tests.conftest import PASSWORD, free_port

pytestmark = pytest.mark.browser

EMAIL = "newcomer@b40.example"
PASSKEY_NAME = "Chromium virtual authenticator"
TIMEOUT_MS = 15_000
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def localhost_server(app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """Like ``live_server``, but at ``http://localhost:<port>`` (an IP address is no WebAuthn RP ID)."""
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE"):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    app = app_factory(PUBLIC_URL=f"http://localhost:{port}")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"live-server-{port}", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://localhost:{port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _watch(page: Any, problems: list[str]) -> None:
    page.add_init_script(CSP_REPORTER)
    page.on("pageerror", lambda exc: problems.append(f"uncaught error: {exc}"))

    def console(message: Any) -> None:
        # The deliberately wrong code answers 401: the browser logs that response; nothing else may show.
        if message.type == "error" and "status of 401" not in message.text:
            problems.append(f"console error: {message.text}")

    page.on("console", console)


def _log_in_with_password(page: Any, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(f"{base}/login/second-factor")
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()


def _log_out(page: Any, base: str) -> None:
    from playwright.sync_api import expect

    with page.expect_navigation():
        page.locator("header").get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login")


def _enter_code(page: Any, base: str, code: str) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Code").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{base}/")


def test_totp_and_passkey_enrolment_and_every_way_of_logging_in(localhost_server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    from signing.models import Role
    from signing.services import accounts

    base, app = localhost_server.url, localhost_server.app
    with app.app_context():
        accounts.create_user(EMAIL, "New Observer", Role.OBSERVER, password=PASSWORD)

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    _watch(page, problems)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True,
    }})["authenticatorId"]

    # A password alone at first.
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(f"{base}/")

    # The authenticator app: QR code and key shown, confirmed by a first code, recovery codes shown once.
    page.goto(f"{base}/account")
    with page.expect_navigation():
        page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_alt_text("QR code of the authenticator key")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes")).to_be_visible()
    recovery_codes = [code.strip() for code in page.locator("#recovery-codes code").all_inner_texts()]
    assert len(recovery_codes) == 10
    page.goto(f"{base}/account")
    expect(page.locator("#recovery-codes")).to_have_count(0)
    expect(page.locator("#totp-state")).to_contain_text("10 unused recovery codes")

    # A passkey, made by the virtual authenticator.
    page.get_by_label("Name of the new passkey").fill(PASSKEY_NAME)
    with page.expect_navigation():
        page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkeys-table")).to_contain_text(PASSKEY_NAME)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"]
    _log_out(page, base)

    # Password, then a wrong code (refused), then a TOTP code (the next step's: the current one was used).
    _log_in_with_password(page, base)
    page.get_by_label("Code").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right.")).to_be_visible()
    expect(page).to_have_url(f"{base}/login/second-factor")
    _enter_code(page, base, totp.at(time.time() + 30))
    _log_out(page, base)

    # Password and a recovery code.
    _log_in_with_password(page, base)
    _enter_code(page, base, recovery_codes[0])
    _log_out(page, base)

    # Password and the passkey.
    _log_in_with_password(page, base)
    with page.expect_navigation(url=f"{base}/"):
        page.get_by_role("button", name="Use a passkey").click()
    _log_out(page, base)

    # The passkey alone, no password.
    page.goto(f"{base}/login")
    with page.expect_navigation(url=f"{base}/"):
        page.get_by_role("button", name="Use a passkey instead").click()
    expect(page.locator("header")).to_contain_text("New Observer")

    with app.app_context():
        from sqlalchemy import select

        from signing.extensions import db
        from signing.models import AuditEvent

        logins = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "user.login")
                                    .order_by(AuditEvent.id)).all()
        assert [d.get("method", "password") for d in logins] == [
            "password", "password+totp", "password+recovery_code", "password+passkey", "passkey"]
    context.close()
    assert not problems, "\n".join(problems)
