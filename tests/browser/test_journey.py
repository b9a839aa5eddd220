"""The whole invitation journey in a real browser (Chromium via Playwright).

A secretariat member logs in, invites a delegate for a city, the delegate opens
the e-mailed link in a separate browser, chooses a password, looks around, logs
out and back in. Along the way no page may log a script error or a Content
Security Policy violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in
from tests.conftest import PASSWORD, link_in, read_mail

pytestmark = pytest.mark.browser

SECRETARIAT_EMAIL = "sec@b40.example"
DELEGATE_NAME = "Ayşe Yılmaz"
DELEGATE_EMAIL = "ayse@izmir.example"
DELEGATE_PASSWORD = "Ayşe chooses a long passphrase 42"
TIMEOUT_MS = 15_000


@dataclass
class Console:
    """Everything the pages said on the console, and uncaught script errors."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, source url)
    page_errors: list[str] = field(default_factory=list)
    # Pages the test visits on purpose that answer with an HTTP error: Chromium logs
    # "Failed to load resource: ... 403" for them, which is expected.
    expected_http_errors: set[str] = field(default_factory=set)
    # The app serves no favicon; Chromium asks for one on its own and logs the 404.
    ignored_urls: tuple[str, ...] = ("/favicon.ico",)

    def watch(self, page: Any) -> None:
        page.on("console", lambda msg: self.messages.append((msg.type, msg.text, msg.location.get("url", ""))))
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def problems(self) -> list[str]:
        found = [f"uncaught error: {text}" for text in self.page_errors]
        for kind, text, url in self.messages:
            if "Content Security Policy" in text or "Refused to" in text:
                found.append(f"CSP violation on {url}: {text}")
            elif kind == "error":
                if text.startswith("Failed to load resource") and (
                    url in self.expected_http_errors or url.endswith(self.ignored_urls)
                ):
                    continue
                found.append(f"console error on {url}: {text}")
        return found


@dataclass
class Dialogs:
    """Answers ``window.confirm`` with the queued decisions, recording each question."""

    decisions: list[bool] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def handle(self, dialog: Any) -> None:
        self.questions.append(f"{dialog.type}: {dialog.message}")
        if self.decisions and self.decisions.pop(0):
            dialog.accept()
        else:
            dialog.dismiss()


def _seed(server: LiveServer) -> str:
    from signing.extensions import db
    from signing.models import Role
    from signing.services import accounts, cities

    with server.app.app_context():
        city = cities.create_city("İzmir", "Türkiye", None)
        accounts.create_user(SECRETARIAT_EMAIL, "Sema Secretariat", Role.SECRETARIAT, password=PASSWORD)
        slug = city.slug
        db.session.remove()
    return slug




def _log_out(page: Any, base: str) -> None:
    from playwright.sync_api import expect

    with page.expect_navigation():
        page.locator("header").get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login")
    expect(page.locator(".flash")).to_have_text("You have logged out.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 5_000, f"{path} is suspiciously small ({len(data)} bytes)"


def test_invitation_journey(live_server: LiveServer, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    slug = _seed(live_server)
    mail_dir = live_server.app.config["MAIL_FILE_DIR"]
    console = Console()

    # --- The secretariat logs in and invites a delegate -------------------------------------
    admin_context = browser.new_context()
    admin_context.set_default_timeout(TIMEOUT_MS)
    admin = admin_context.new_page()
    console.watch(admin)
    dialogs = Dialogs()
    admin.on("dialog", dialogs.handle)

    log_in(admin, base, SECRETARIAT_EMAIL, PASSWORD)
    expect(admin).to_have_url(f"{base}/")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Welcome, Sema Secretariat")

    with admin.expect_navigation():
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Cities").click()
    with admin.expect_navigation():
        admin.get_by_role("link", name="İzmir").click()
    expect(admin).to_have_url(f"{base}/admin/cities/{slug}")
    expect(admin.get_by_role("heading", level=1)).to_contain_text("İzmir")
    expect(admin.get_by_text("No delegate yet.")).to_be_visible()

    admin.get_by_label("Name").fill(DELEGATE_NAME)
    admin.get_by_label("E-mail").fill(DELEGATE_EMAIL)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Send invitation").click()
    expect(admin).to_have_url(f"{base}/admin/cities/{slug}")
    expect(admin.locator(".flash")).to_have_text(f"Invitation sent to {DELEGATE_EMAIL}.")
    row = admin.locator("tbody tr", has_text=DELEGATE_EMAIL)
    expect(row).to_contain_text(DELEGATE_NAME)
    expect(row.locator("td").nth(2)).to_have_text("invited")
    assert dialogs.questions == [], "the invite form must not ask for confirmation"
    admin.screenshot(path=str(tmp_path / "admin-city.png"), full_page=True)
    _assert_png(tmp_path / "admin-city.png")

    first_mail = read_mail(mail_dir)
    assert len(first_mail) == 1, [m["Subject"] for m in first_mail]
    assert first_mail[0]["To"] == DELEGATE_EMAIL
    first_link = link_in(first_mail[0], "/invitation/")

    # Declining the confirmation of "Deactivate" sends nothing (static/js/app.js).
    dialogs.decisions.append(False)
    row.get_by_role("button", name="Deactivate").click()
    admin.wait_for_timeout(300)  # a submission, had it happened, would have started by now
    assert dialogs.questions == [f"confirm: Deactivate {DELEGATE_NAME}? They are logged out at once."]
    admin.reload()
    expect(row.locator("td").nth(2)).to_have_text("invited")
    expect(admin.locator(".flash")).to_have_count(0)

    # Accepting the confirmation of "Resend invitation" sends a new link; the first one stops working.
    dialogs.decisions.append(True)
    with admin.expect_navigation():
        row.get_by_role("button", name="Resend invitation").click()
    assert dialogs.questions[1] == f"confirm: Send a new invitation to {DELEGATE_EMAIL}? Earlier links stop working."
    expect(admin.locator(".flash")).to_have_text(f"Invitation sent again to {DELEGATE_EMAIL}.")

    mail = read_mail(mail_dir)
    assert len(mail) == 2, [m["Subject"] for m in mail]
    assert mail[-1]["To"] == DELEGATE_EMAIL
    invitation_path = link_in(mail[-1], "/invitation/")
    assert invitation_path != first_link

    # --- The delegate, in a browser of their own, accepts the invitation -------------------
    delegate_context = browser.new_context()
    delegate_context.set_default_timeout(TIMEOUT_MS)
    delegate = delegate_context.new_page()
    console.watch(delegate)

    console.expected_http_errors.add(base + first_link)
    response = delegate.goto(base + first_link)
    assert response is not None and response.status == 410
    expect(delegate.locator(".error-message")).to_contain_text("replaced by a newer one")

    response = delegate.goto(base + invitation_path)
    assert response is not None and response.status == 200
    expect(delegate.get_by_role("heading", level=1)).to_have_text(f"Welcome to Accord, {DELEGATE_NAME}")
    expect(delegate.locator("main")).to_contain_text("İzmir")
    expect(delegate.locator("main")).to_contain_text(DELEGATE_EMAIL)
    delegate.screenshot(path=str(tmp_path / "invitation.png"), full_page=True)
    _assert_png(tmp_path / "invitation.png")

    delegate.get_by_label("New password").fill(DELEGATE_PASSWORD)
    delegate.get_by_label("Repeat the password").fill(DELEGATE_PASSWORD)
    with delegate.expect_navigation():
        delegate.get_by_role("button", name="Set password").click()
    expect(delegate).to_have_url(f"{base}/")
    expect(delegate.locator(".flash")).to_have_text("Your password is set. Welcome to Accord.")
    expect(delegate.get_by_role("heading", level=1)).to_have_text(f"Welcome, {DELEGATE_NAME}")
    expect(delegate.locator("main")).to_contain_text("You represent İzmir (Türkiye)")
    expect(delegate.locator("header .who")).to_contain_text(DELEGATE_NAME)

    # Their own city is open to them; the secretariat pages are not.
    response = delegate.goto(f"{base}/cities/{slug}")
    assert response is not None and response.status == 200
    expect(delegate.get_by_role("heading", level=1)).to_contain_text("İzmir")
    expect(delegate.locator("ul.people")).to_contain_text(DELEGATE_NAME)

    console.expected_http_errors.add(f"{base}/admin/cities")
    response = delegate.goto(f"{base}/admin/cities")
    assert response is not None and response.status == 403
    expect(delegate.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(delegate.locator("header nav")).not_to_contain_text("Cities")

    # Log out through the header button, back in with the new password, out again.
    _log_out(delegate, base)
    delegate.goto(f"{base}/")
    expect(delegate).to_have_url(f"{base}/login?next=%2F")

    log_in(delegate, base, DELEGATE_EMAIL, DELEGATE_PASSWORD)
    expect(delegate).to_have_url(f"{base}/")
    expect(delegate.get_by_role("heading", level=1)).to_have_text(f"Welcome, {DELEGATE_NAME}")
    _log_out(delegate, base)

    # The secretariat now sees the delegate as active.
    admin.reload()
    expect(row.locator("td").nth(2)).to_have_text("active")

    delegate_context.close()
    admin_context.close()
    assert console.problems() == []
