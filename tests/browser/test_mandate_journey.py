"""Mayors' mandates in a real browser (Chromium via Playwright): issue #13's "done when".

Signing requires mandates. İzmir's delegate makes a key in the browser; the Sign page says a mandate is missing and
that the mayor (by name) gives it, and asking for the statement is refused with that message. The mayor logs in in
another browser, makes a key there, signs a mandate for the delegate on the Mandates page (the script checks the
issued bytes name the mayor's choices); the delegate's signature is then accepted and names the mandate's SHA-256.
The secretariat's dashboard shows the mandate in place; the mayor revokes it, and the signature stays valid.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in
from tests.browser.test_signing_journey import TIMEOUT_MS, Watch, _enrol_key_in_browser
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SLUG = "b40-mandated"
TITLE = "A declaration signed under mandates"
DELEGATE_EMAIL = "izmir@b40.example"
MAYOR_EMAIL = "mayor@izmir.example"
SECRETARIAT_EMAIL = "sec@b40.example"


def _seed(server: LiveServer) -> None:
    from signing.extensions import db
    from signing.manage.demo import declaration_text
    from signing.models import Role
    from signing.services import accounts, cities, declarations

    with server.app.app_context():
        izmir = cities.create_city("İzmir", "Türkiye", None)
        athens = cities.create_city("Athens", "Greece", None)
        secretariat = accounts.create_user(SECRETARIAT_EMAIL, "Sema Secretariat", Role.SECRETARIAT, password=PASSWORD)
        accounts.create_user(DELEGATE_EMAIL, "Ayşe Yılmaz", Role.DELEGATE, city=izmir, password=PASSWORD)
        accounts.create_user("athens@b40.example", "Athens delegate", Role.DELEGATE, city=athens, password=PASSWORD)
        accounts.create_user(MAYOR_EMAIL, "Cemil Tugay", Role.MAYOR, city=izmir, password=PASSWORD)
        declaration = declarations.create(TITLE, declaration_text(), secretariat, slug=SLUG)
        declarations.open_consultation(declaration, secretariat)
        declarations.open_signing(declaration, 1, secretariat, require_mandates=True)
        db.session.remove()


def _stored(server: LiveServer) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The mandates' SHA-256s (revoked ones marked) and the signatures (status, payload)."""
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import Mandate, Signature

    with server.app.app_context():
        mandates = [m.payload_sha256 + (" revoked" if m.revocation else "") for m in db.session.scalars(
            select(Mandate).order_by(Mandate.id))]
        signed = [(s.status, bytes(s.payload)) for s in db.session.scalars(select(Signature).order_by(Signature.id))]
        db.session.remove()
    return mandates, signed


def _prepare_and_sign(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Prepare the signature").click()
    expect(page.locator("#hash-check")).to_contain_text("✓")
    page.get_by_label("I have read revision 1 above and sign it for İzmir.").check()
    page.get_by_role("button", name="Sign revision 1").click()


def test_a_delegate_without_a_mandate_is_refused_then_signs_under_the_mayors(live_server: LiveServer,
                                                                            browser: Any) -> None:
    from playwright.sync_api import expect

    from signing.core import payload
    from signing.models import utcnow

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    _seed(live_server)
    watch = Watch(base, [], [], set())

    # The delegate: a key in this browser, and a Sign page that says what is missing and whom to ask.
    delegate_context = browser.new_context()
    delegate_context.set_default_timeout(TIMEOUT_MS)
    delegate = delegate_context.new_page()
    watch.attach(delegate)
    log_in(delegate, base, DELEGATE_EMAIL)
    fingerprint = _enrol_key_in_browser(delegate, base, watch)
    delegate.goto(f"{base}/declarations/{SLUG}/sign")
    expect(delegate.locator("#signing")).to_have_attribute("data-ready", "true")
    missing = delegate.locator("#mandate-missing")
    expect(missing).to_contain_text("This declaration requires a mayor's mandate")
    expect(missing).to_contain_text("Ask Cemil Tugay, the mayor of your city")
    watch.expected_http_errors.add(f"{base}/declarations/{SLUG}/sign/payload")
    delegate.get_by_role("button", name="Prepare the signature").click()
    error = delegate.locator("#signing-error")
    expect(error).to_contain_text("requires a mayor's mandate")
    expect(error).to_contain_text("Cemil Tugay")
    expect(delegate.locator("#payload-view")).to_be_hidden()
    assert _stored(live_server) == ([], [])

    # The mayor, in another browser: a key of their own, then a mandate signed on the Mandates page.
    mayor_context = browser.new_context()
    mayor_context.set_default_timeout(TIMEOUT_MS)
    mayor = mayor_context.new_page()
    watch.attach(mayor)
    log_in(mayor, base, MAYOR_EMAIL)
    mayor_fingerprint = _enrol_key_in_browser(mayor, base, watch)
    with mayor.expect_navigation():
        mayor.get_by_role("navigation", name="Main").get_by_role("link", name="Mandates").click()
    expect(mayor.locator("#mandates")).to_have_attribute("data-ready", "true")
    expect(mayor.locator("#mandates-table")).to_contain_text("You have signed no mandate yet.")
    expect(mayor.locator("#mayor-key")).to_have_value(mayor_fingerprint)
    expect(mayor.locator("#mandate-keys")).to_contain_text(fingerprint)
    until = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%d")
    mayor.get_by_label("Delegate").select_option(label="Ayşe Yılmaz")
    mayor.get_by_label("Scope").select_option(label=TITLE)
    mayor.get_by_label("Valid until (UTC date)").fill(until)
    mayor.get_by_role("button", name="Prepare the mandate").click()
    statement = mayor.locator("#statement-text")
    expect(statement).to_contain_text(f"Cemil Tugay, mayor of İzmir, mandates Ayşe Yılmaz to sign for İzmir "
                                      f"(scope declaration:{SLUG})")
    expect(statement).to_contain_text(f"until {until}T00:00:00Z")
    mayor.get_by_label("I have read this statement and sign it.").check()
    with mayor.expect_navigation():
        mayor.get_by_role("button", name="Sign", exact=True).click()
    row = mayor.locator("#mandates-table tbody tr").first
    expect(row).to_contain_text("Ayşe Yılmaz")
    expect(row.locator("td.mandate-status")).to_have_text("in force")
    mandates, _ = _stored(live_server)
    assert len(mandates) == 1

    # The delegate signs now; the statement names the mandate.
    delegate.goto(f"{base}/declarations/{SLUG}/sign")
    expect(delegate.locator("#signing")).to_have_attribute("data-ready", "true")
    expect(delegate.locator("#mandate-missing")).to_have_count(0)
    expect(delegate.locator("#mandate-required")).to_be_visible()

    # A statement that names no mandate is refused by the page itself, and nothing is sent.
    payload_url = f"{base}/declarations/{SLUG}/sign/payload"

    def without_mandate(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        fields = json.loads(base64.b64decode(body["payload"]))
        fields["mandate_sha256"] = ""
        body["payload"] = base64.b64encode(json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                                      ensure_ascii=False).encode()).decode()
        route.fulfill(response=response, json=body)

    delegate.route(payload_url, without_mandate)
    delegate.get_by_role("button", name="Prepare the signature").click()
    expect(error).to_contain_text("it names no mayor's mandate")
    expect(delegate.locator("#confirm-step")).to_be_hidden()
    delegate.unroute(payload_url)
    assert watch.posts_to("/sign/submit") == []
    _prepare_and_sign(delegate)
    expect(delegate.locator("#payload-fields dd[data-field='mandate_sha256']")).to_have_text(mandates[0])
    expect(delegate.locator("#signing-status")).to_contain_text("Signed. Revision 1 is signed for İzmir")
    _, signed = _stored(live_server)
    assert [status for status, _ in signed] == ["valid"]
    fields = payload.parse(signed[0][1])
    assert fields["format"] == "accord.signature/2" and fields["mandate_sha256"] == mandates[0]
    assert fields["key_fingerprint"] == fingerprint

    # The secretariat's dashboard: İzmir has a mandate in place, Athens none.
    admin_context = browser.new_context()
    admin = admin_context.new_page()
    watch.attach(admin)
    log_in(admin, base, SECRETARIAT_EMAIL)
    admin.goto(f"{base}/declarations/{SLUG}/dashboard")
    expect(admin.locator('tr[data-city="izmir"] td.mandate')).to_have_text("yes")
    expect(admin.locator('tr[data-city="athens"] td.mandate')).to_have_text("no")

    # The mayor revokes the mandate (a signed statement too); the signature made before stays valid.
    mayor.reload()
    expect(mayor.locator("#mandates")).to_have_attribute("data-ready", "true")
    mayor.get_by_role("button", name="Revoke").click()
    expect(statement).to_contain_text(f"Cemil Tugay, mayor of İzmir, revokes the mandate with SHA-256 {mandates[0]}.")
    mayor.get_by_label("I have read this statement and sign it.").check()
    with mayor.expect_navigation():
        mayor.get_by_role("button", name="Sign", exact=True).click()
    expect(mayor.locator("#mandates-table td.mandate-status").first).to_contain_text("revoked")
    mandates, signed = _stored(live_server)
    assert mandates[0].endswith(" revoked") and [status for status, _ in signed] == ["valid"]

    for context in (delegate_context, mayor_context, admin_context):
        context.close()
    assert watch.problems == []
