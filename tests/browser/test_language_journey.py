"""Issue #13 in a real browser: the secretariat adds a Turkish version; a delegate reads it and signs both.

The secretariat adds the Turkish version on the edit page (one save, revision 2, labelled a demonstration
translation); signing opens on revision 2; the delegate enrols a WebCrypto key, switches the Sign page to
Turkish, and signs. The browser hashes every version: a Turkish text altered in the page is refused before
anything is asked of the server. The stored statement is ``accord.signature/2`` naming both hashes, and its
signature verifies. No page may log a script error or a CSP violation.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in
from tests.browser.test_signing_journey import (
    DELEGATE_EMAIL,
    DELEGATE_NAME,
    SECRETARIAT_EMAIL,
    SLUG,
    TIMEOUT_MS,
    TITLE,
    Watch,
    _enrol_key_in_browser,
    _signature_count,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _seed(server: LiveServer) -> None:
    """Two cities, the secretariat, a delegate each, the declaration in consultation (revision 1, English)."""
    from signing.extensions import db
    from signing.manage.demo import declaration_text
    from signing.models import Role
    from signing.services import accounts, cities, declarations

    with server.app.app_context():
        izmir = cities.create_city("İzmir", "Türkiye", None)
        athens = cities.create_city("Athens", "Greece", None)
        secretariat = accounts.create_user(SECRETARIAT_EMAIL, "Sema Secretariat", Role.SECRETARIAT, password=PASSWORD)
        accounts.create_user(DELEGATE_EMAIL, DELEGATE_NAME, Role.DELEGATE, city=izmir, password=PASSWORD)
        accounts.create_user("athens@b40.example", "Athens delegate", Role.DELEGATE, city=athens, password=PASSWORD)
        declaration = declarations.create(TITLE, declaration_text(), secretariat, slug=SLUG)
        declarations.open_consultation(declaration, secretariat)
        db.session.remove()


def _open_signing_on_2(server: LiveServer) -> dict[str, str]:
    from signing.extensions import db
    from signing.services import accounts, declarations

    with server.app.app_context():
        declaration = declarations.get(SLUG)
        declarations.open_signing(declaration, 2, accounts.find_by_email(SECRETARIAT_EMAIL))
        hashes = {v.tag: v.sha256 for v in declarations.get(SLUG).open_revision.versions}
        db.session.remove()
    return hashes


def _stored_statement(server: LiveServer) -> tuple[bytes, bytes, bytes]:
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import Signature

    with server.app.app_context():
        record = db.session.scalars(select(Signature)).one()
        found = bytes(record.payload), bytes(record.signature), bytes(record.key.public_key)
        db.session.remove()
    return found


def test_the_secretariat_adds_turkish_and_a_delegate_reads_it_and_signs_both(live_server: LiveServer,
                                                                            browser: Any) -> None:
    from playwright.sync_api import expect

    from signing.core import payload as payloads
    from signing.manage.demo import turkish_text

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    _seed(live_server)
    watch = Watch(base, [], [], set())
    turkish = turkish_text()

    # The secretariat adds the Turkish version on the edit page: one save, revision 2.
    admin_context = browser.new_context()
    admin_context.set_default_timeout(TIMEOUT_MS)
    admin = admin_context.new_page()
    watch.attach(admin)
    log_in(admin, base, SECRETARIAT_EMAIL)
    admin.goto(f"{base}/declarations/{SLUG}/edit")
    admin.get_by_label("Language tag").fill("tr")
    admin.get_by_label("Text of the new version (Markdown)").fill(turkish)
    admin.locator("#new_label").fill("demonstration translation")
    admin.get_by_label("What changed (note)").fill("Turkish version added")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save as new revision").click()
    expect(admin.locator(".flash-success")).to_contain_text("Saved as revision 2.")
    admin.goto(f"{base}/declarations/{SLUG}/dashboard")
    expect(admin.locator('#revision-versions tr[data-revision="2"] .version-tags')).to_contain_text("en")
    expect(admin.locator('#revision-versions tr[data-revision="2"] .version-tags')).to_contain_text("tr")
    hashes = _open_signing_on_2(live_server)
    canonical_turkish_sha = hashes["tr"]

    # The delegate enrols a key in the browser, opens the Sign page and reads the Turkish version.
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)
    log_in(page, base, DELEGATE_EMAIL)
    fingerprint = _enrol_key_in_browser(page, base, watch)
    page.goto(f"{base}/declarations/{SLUG}/sign")
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    expect(page.locator("#fact-versions")).to_contain_text(canonical_turkish_sha)
    turkish_section = page.locator('section.language-version[data-tag="tr"]')
    english_section = page.locator('section.language-version[data-tag="en"]')
    expect(turkish_section).to_be_hidden()
    page.get_by_role("button", name="Türkçe (tr)").click()
    expect(turkish_section).to_be_visible()
    expect(english_section).to_be_hidden()
    expect(turkish_section).to_contain_text("demonstration translation")
    shown = turkish_section.locator("pre.version-text").text_content() or ""
    assert hashlib.sha256(shown.encode("utf-8")).hexdigest() == canonical_turkish_sha
    assert "B40 Yerel Ekonomik ve Kültürel İşbirliği Zirvesi Bildirgesi" in shown

    # A Turkish text altered in the page: refused before the server is even asked for a statement.
    page.evaluate("""() => { const pre = document.querySelector('pre.version-text[data-tag="tr"]');
                             pre.textContent = pre.textContent.replace("İzmir", "Izmir"); }""")
    page.get_by_role("button", name="Prepare the signature").click()
    expect(page.locator("#signing-error")).to_contain_text(
        "Refused: the text shown on this page does not match revision 2")
    expect(page.locator("#signing-error")).to_contain_text("(language version tr)")
    assert watch.posts_to("/sign/payload") == []

    # Reloaded: every version hashes as the statement says; the delegate signs.
    page.reload()
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    page.get_by_role("button", name="Prepare the signature").click()
    expect(page.locator("#hash-check")).to_contain_text("✓")
    expect(page.locator("#hash-check")).to_contain_text(
        "It names every language version, each hashed by this browser: en, tr.")
    versions_shown = page.locator('#payload-fields dd[data-field="versions"]')
    expect(versions_shown).to_contain_text(hashes["en"])
    expect(versions_shown).to_contain_text(canonical_turkish_sha)
    expect(page.locator('#payload-fields dd[data-field="format"]')).to_have_text("accord.signature/2")
    page.get_by_label("I have read revision 2 above and sign it for İzmir.").check()
    page.get_by_role("button", name="Sign revision 2").click()
    expect(page.locator("#signing-status")).to_contain_text("Signed. Revision 2 is signed for İzmir")
    assert _signature_count(live_server) == 1

    # The stored statement names both hashes, and the browser's signature verifies.
    data, signature, public_key = _stored_statement(live_server)
    fields = payloads.parse(data)
    assert fields["format"] == "accord.signature/2" and fields["key_fingerprint"] == fingerprint
    assert fields["versions"] == [{"tag": "en", "sha256": hashes["en"], "authoritative": True},
                                  {"tag": "tr", "sha256": canonical_turkish_sha, "authoritative": False}]
    assert fields["text_sha256"] == hashes["en"] and fields["authoritative_language"] == "en"
    assert payloads.verify(public_key, signature, data)
    context.close()
    admin_context.close()
    assert watch.problems == []
