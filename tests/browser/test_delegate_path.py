"""Issue 11, "done when": a new delegate goes from the invitation e-mail's link to a signed revision, on a phone.

The e-mail goes through a real SMTP server (aiosmtpd); the browser is Chromium at 390 px, in the language given
by ``LOCALE`` (the interface's languages are added to it: each runs the whole journey). On every page visited:
no sideways scrolling and no serious or critical axe-core violation. The steps are found by their element ids,
not their words, so that the same journey runs in every language.

Also here: the error cases a phone user meets on the way stay on their page with the input kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.browser.conftest import LiveServer
from tests.browser.test_pages_a11y import _axe_serious, _overflow
from tests.conftest import PASSWORD, free_port
from tests.smtp_sink import SmtpServer, smtp_servers

pytestmark = pytest.mark.browser

# The interface's languages the journey runs in: the browser's Accept-Language picks the interface's language.
LOCALES = ["en", "tr-TR"]
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000
DELEGATE_EMAIL = "ayse@izmir.example"
NEW_PASSWORD = "Ayşe chooses a long passphrase 42"
SLUG = "b40-izmir-2025"
DONE = {"en": "Signed", "tr-TR": "İmzalandı"}
SIGNED = {"en": "Signed. Revision 1 is signed for İzmir", "tr-TR": "İmzalandı. 1 numaralı revizyon İzmir adına"}


@pytest.fixture
def smtp_factory() -> Iterator[Callable[..., SmtpServer]]:
    yield from smtp_servers()


@pytest.fixture
def smtp_server(app_factory: Callable[..., Flask], smtp_factory: Callable[..., SmtpServer],
                monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, SmtpServer]]:
    """The app sending its mail over SMTP to a real aiosmtpd server, and served over HTTP."""
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE"):
        monkeypatch.delenv(name, raising=False)
    smtp = smtp_factory()
    app = app_factory(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TLS="none",
                      SMTP_TIMEOUT=10)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"path-server-{port}", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{port}"), smtp
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _seed(server: LiveServer) -> None:
    """İzmir and Athens asked to sign revision 1; İzmir's new delegate is invited (the e-mail goes out)."""
    from signing.extensions import db
    from signing.manage.demo import declaration_text
    from signing.models import Role
    from signing.services import accounts, cities, declarations

    def seed() -> None:
        with server.app.app_context():
            izmir = cities.create_city("İzmir", "Türkiye", None)
            athens = cities.create_city("Athens", "Greece", None)
            sec = accounts.create_user("sec@b40.example", "Sema Secretariat", Role.SECRETARIAT, password=PASSWORD)
            accounts.create_user("athens@b40.example", "Eleni", Role.DELEGATE, city=athens, password=PASSWORD)
            declaration = declarations.create("B40 İzmir Declaration", declaration_text(), sec, slug=SLUG)
            declarations.open_consultation(declaration, sec)
            declarations.open_signing(declaration, 1, sec)
            accounts.invite(DELEGATE_EMAIL, "Ayşe Yılmaz", Role.DELEGATE.value, city=izmir, actor=sec)
            db.session.remove()

    with ThreadPoolExecutor(max_workers=1) as pool:  # off Playwright's event loop (see test_pages_a11y._seed)
        pool.submit(seed).result()


@dataclass
class Checks:
    """Every page visited: in the browser's language, no sideways scroll, no serious or critical axe violation."""

    lang: str = "en"
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def page(self, page: Any, what: str) -> None:
        page.wait_for_load_state("load")
        self.visited.append(what)
        if (lang := page.evaluate("() => document.documentElement.lang")) != self.lang:
            self.problems.append(f"{what}: the page is in {lang!r}, not {self.lang!r}")
        if (over := _overflow(page)) > 0:
            self.problems.append(f"{what}: scrolls sideways by {over}px")
        self.problems += [f"{what}: {v}" for v in _axe_serious(page)]


def _invitation_path(smtp: SmtpServer) -> str:
    import re

    for received in smtp.received:
        if DELEGATE_EMAIL in received.rcpt_tos:
            body = received.message.get_body(preferencelist=("plain",))
            assert body is not None
            match = re.search(r"https?://[^/\s]+(/invitation/[^\s\"<]+)", str(body.get_content()))
            if match:
                return match.group(1)
    raise AssertionError(f"no invitation for {DELEGATE_EMAIL} among {[r.pair for r in smtp.received]}")


@pytest.mark.parametrize("locale", LOCALES)
def test_new_delegate_from_invitation_to_signed_revision_on_a_phone(
        smtp_server: tuple[LiveServer, SmtpServer], browser: Any, locale: str) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    server, smtp = smtp_server
    base = server.url
    _seed(server)
    checks = Checks(lang=locale.split("-")[0])
    context = browser.new_context(viewport=PHONE, locale=locale, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # 1. The invitation e-mail's link: choose a password.
    page.goto(base + _invitation_path(smtp))
    checks.page(page, "invitation")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#confirm").fill(NEW_PASSWORD)
    with page.expect_navigation():
        page.locator("form button[type=submit], form input[type=submit]").last.click()
    expect(page).to_have_url(f"{base}/")

    # 2. The inbox says what is asked: sign revision 1, one button.
    checks.page(page, "inbox")
    item = page.locator('.ask[data-kind="sign"]')
    expect(item).to_have_count(1)
    item.locator(".ask-button").click()
    expect(page).to_have_url(f"{base}/declarations/{SLUG}/sign")

    # 3. The Sign page: this browser holds no key yet, and the page says where to make one.
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    missing = page.locator("#key-missing")
    expect(missing).to_be_visible()
    checks.page(page, "sign page, no key")
    missing.locator("a").first.click()
    expect(page).to_have_url(f"{base}/account/keys?back=/declarations/{SLUG}/sign")
    checks.page(page, "keys page")
    page.locator("#key-label").fill("My phone")
    page.locator("#key-password").fill(NEW_PASSWORD)
    expect(page.locator("#enrol-button")).to_be_enabled()
    page.locator("#enrol-button").click()
    expect(page.locator("#keys-table td.key-here")).to_have_count(1)  # the key held on this device is marked
    checks.page(page, "keys page, enrolled")

    # 4. Back to the Sign page (the keys page offers the way back): read, prepare, confirm, sign.
    page.locator(".back-to-signing a").click()
    expect(page).to_have_url(f"{base}/declarations/{SLUG}/sign")
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    expect(page.locator("#key-missing")).to_be_hidden()
    # On a phone the first screen leads to the action.
    jump = page.locator(".jump-to-sign a")
    expect(jump).to_be_in_viewport()
    jump.click()
    checks.page(page, "sign page")
    page.locator("#prepare-button").click()
    expect(page.locator("#hash-check")).to_contain_text("✓")
    page.locator("#confirm-checkbox").check()
    page.locator("#sign-button").click()

    # 5. The completion state: signed, the receipt, the progress, focus on the result, the tab's title.
    status = page.locator("#signing-status")
    expect(status).to_be_visible()
    expect(page.locator("#signing-done-heading")).to_be_focused()
    expect(page.locator("#signing-done-heading")).to_have_text(DONE[locale])  # the page's words, in its language
    expect(page.locator("#signing-status-text")).to_contain_text(SIGNED[locale])  # and the script's
    expect(page.locator("#receipt-link")).to_have_attribute("href", f"/declarations/{SLUG}/signatures/1/receipt.json")
    expect(page.locator("#progress-after .cities-signed li")).to_have_count(1)
    expect(page.locator("#prepare-button")).to_be_hidden()
    assert page.title() != "", page.title()
    checks.page(page, "signed")

    # 6. The inbox now says it is done, and the receipt e-mail went out over SMTP.
    page.goto(f"{base}/")
    expect(page.locator('.ask[data-kind="signed"]')).to_have_count(1)
    checks.page(page, "inbox, done")
    with server.app.app_context():
        from signing.extensions import db
        from signing.models import Signature

        assert db.session.scalar(db.select(db.func.count()).select_from(Signature)) == 1
        db.session.remove()
    to_delegate = [r for r in smtp.received if DELEGATE_EMAIL in r.rcpt_tos]
    assert len(to_delegate) >= 3, [r.pair for r in to_delegate]  # invitation, key enrolled, signature receipt
    assert f"/declarations/{SLUG}/sign" in str(to_delegate[-1].message.get_body(preferencelist=("plain",)))
    context.close()
    assert not errors, errors
    assert not checks.problems, "\n".join(checks.problems)
    assert len(checks.visited) >= 8


@pytest.mark.parametrize("locale", LOCALES)
def test_a_pasted_long_comment_is_refused_visibly_and_kept(smtp_server: tuple[LiveServer, SmtpServer],
                                                           browser: Any, locale: str) -> None:
    """A 22,400-character paste: the counter says it is too long, nothing is cut, nothing is sent."""
    from playwright.sync_api import expect

    from tests.browser.conftest import log_in

    expect.set_options(timeout=TIMEOUT_MS)
    server, _smtp = smtp_server

    def seed() -> None:
        from signing.extensions import db
        from signing.manage.demo import declaration_text
        from signing.models import Role
        from signing.services import accounts, cities, declarations

        with server.app.app_context():
            izmir = cities.create_city("İzmir", "Türkiye", None)
            sec = accounts.create_user("sec@b40.example", "Sema Secretariat", Role.SECRETARIAT, password=PASSWORD)
            accounts.create_user(DELEGATE_EMAIL, "Ayşe", Role.DELEGATE, city=izmir, password=PASSWORD)
            declaration = declarations.create("B40 İzmir Declaration", declaration_text(), sec, slug=SLUG)
            declarations.open_consultation(declaration, sec)
            db.session.remove()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(seed).result()
    context = browser.new_context(viewport=PHONE, locale=locale)
    page = context.new_page()
    log_in(page, server.url, DELEGATE_EMAIL)
    page.goto(f"{server.url}/declarations/{SLUG}")
    page.locator("#p-2 details.paragraph-actions summary").click()
    area = page.locator("#comment-p2")
    pasted = "x" * 22_400
    area.fill(pasted)
    counter = page.locator("#comment-p2-count")
    expect(counter).to_have_class("char-count over")
    expect(counter).to_contain_text("22")  # "22,400" in English, "22.400" in Turkish
    page.locator("#comment-p2-form button[type=submit]").click()
    assert page.url.endswith(f"/declarations/{SLUG}")  # the browser refused to send it
    assert area.input_value() == pasted  # nothing cut
    assert page.evaluate("document.getElementById('comment-p2').validity.valid") is False
    assert _overflow(page) <= 0
    context.close()
