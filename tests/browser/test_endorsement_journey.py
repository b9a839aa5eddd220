"""Endorsing in a real browser (Chromium via Playwright), as a newcomer would, from the demo's frozen public page.

A person endorses with an e-mail link only: the browser makes an Ed25519 key (WebCrypto, non-extractable,
IndexedDB), builds and signs the statement, and the count rises; they withdraw (the count falls) and endorse
again. An organisation asks for an account, the secretariat verifies it, the organisation chooses its password
from the invitation, endorses from its account and shows on the public list with its verified badge. No page
may log a script error or a CSP violation.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in
from tests.browser.test_signing_journey import Watch
from tests.conftest import PASSWORD, link_in, read_mail

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000
PERSON = "ana.popescu@example.org"
ORGANISATION = "desk@civic-forum.example"


def _demo(server: LiveServer) -> tuple[str, str]:
    """``flask demo --complete``; returns the frozen declaration's slug and the secretariat's password."""
    from signing.extensions import db
    from signing.manage import demo

    outputs: list[Any] = []

    def run() -> None:  # in a thread of its own: Playwright's event loop runs in this one (the demo uses asyncio)
        with server.app.app_context():
            outputs.append(server.app.test_cli_runner().invoke(args=["demo", "--complete"]))
            db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    result = outputs[0]
    assert result.exit_code == 0, result.output
    assert "endorsements added" in result.output, result.output
    match = re.search(r"secretariat\s+secretariat@b40\.example\s+(\S+)", result.output)
    assert match, result.output
    return demo.DEMO_SLUG, match.group(1)


def _mail_link(server: LiveServer, recipient: str, prefix: str) -> str:
    found = [m for m in read_mail(server.app.config["MAIL_FILE_DIR"]) if m["To"] == recipient]
    assert found, f"no e-mail to {recipient}"
    return link_in(found[-1], prefix)


def _total(page: Any) -> int:
    return int(page.locator("#endorsement-total").inner_text())


def test_endorse_withdraw_and_endorse_again_then_an_organisation_endorses(live_server: LiveServer,
                                                                         browser: Any) -> None:
    from playwright.sync_api import expect

    slug, secretariat_password = _demo(live_server)
    base = live_server.url
    watch = Watch(base, [], [], set())
    person = browser.new_context()
    page = person.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch.attach(page)

    # The frozen public page: counts, and a way to endorse.
    page.goto(f"{base}/public/declarations/{slug}")
    before = _total(page)
    assert before == 40
    with page.expect_navigation():
        page.get_by_role("link", name="Endorse this declaration").click()
    page.get_by_label("Your e-mail address").fill(PERSON)
    with page.expect_navigation():
        page.get_by_role("button", name="E-mail me a link to endorse").click()
    expect(page.locator("#link-sent")).to_be_visible()

    # The link from the e-mail: a button to continue (a GET uses nothing), then the signing step.
    page.goto(base + _mail_link(live_server, PERSON, f"/d/{slug}/endorse/link/"))
    with page.expect_navigation():
        page.get_by_role("button", name="Continue to endorse").click()
    expect(page).to_have_url(f"{base}/d/{slug}/endorse/sign")
    page.get_by_label("Your name (optional)").fill("Ana Popescu")
    page.get_by_label("Your country (optional; part of the signed statement)").select_option("RO")
    page.get_by_label(re.compile("Show my name on the public list")).check()
    page.get_by_role("button", name="Sign and endorse").click()
    expect(page.locator("#endorse-status")).to_contain_text(f"Endorsements now: {before + 1}.")
    expect(page.locator("#statement-fields")).to_contain_text("accord.endorsement/1")
    page.goto(f"{base}/public/declarations/{slug}")
    assert _total(page) == before + 1
    expect(page.locator("#endorsements")).to_contain_text("Ana Popescu")
    assert PERSON not in page.content()

    # Withdraw (a signed withdrawal from the same browser), then endorse again.
    page.goto(f"{base}/d/{slug}/endorse/sign")
    page.get_by_role("button", name="Withdraw my endorsement").click()
    expect(page.locator("#endorse-status")).to_contain_text(f"Endorsements now: {before}.")
    time.sleep(1.1)  # a new statement names a new second
    page.goto(f"{base}/d/{slug}/endorse/sign")
    page.get_by_role("button", name="Sign and endorse").click()
    expect(page.locator("#endorse-status")).to_contain_text(f"Endorsements now: {before + 1}.")
    page.goto(f"{base}/d/{slug}/endorsements/count.json")
    assert f'"total":{before + 1}' in page.content()

    # An organisation asks for an account.
    organisation = browser.new_context()
    org_page = organisation.new_page()
    org_page.set_default_timeout(TIMEOUT_MS)
    watch.attach(org_page)
    org_page.goto(f"{base}/d/{slug}/endorse")
    with org_page.expect_navigation():
        org_page.get_by_role("link", name="Ask for an account").click()
    org_page.get_by_label("Name").fill("Civic Forum Constanța")
    org_page.get_by_label("Country").select_option("RO")
    org_page.get_by_label("Website").fill("https://civic-forum.example")
    org_page.get_by_label("Contact e-mail (never shown)").fill(ORGANISATION)
    with org_page.expect_navigation():
        org_page.get_by_role("button", name="Ask for an account").click()
    expect(org_page.locator("#request-sent")).to_be_visible()

    # The secretariat verifies it.
    secretariat = browser.new_context()
    sec_page = secretariat.new_page()
    sec_page.set_default_timeout(TIMEOUT_MS)
    watch.attach(sec_page)
    log_in(sec_page, base, "secretariat@b40.example", secretariat_password)
    with sec_page.expect_navigation():
        sec_page.get_by_role("navigation", name="Main").get_by_role("link", name="Endorsers").click()
    row = sec_page.locator("#pending-endorsers tr", has_text="Civic Forum Constanța")
    with sec_page.expect_navigation():
        row.get_by_role("button", name="Verify and invite").click()
    expect(sec_page.locator(".flash-success")).to_contain_text("verified")

    # The organisation chooses its password from the invitation and endorses from its account.
    org_page.goto(base + _mail_link(live_server, ORGANISATION, "/invitation/"))
    org_page.get_by_label("New password").fill(PASSWORD)
    org_page.get_by_label("Repeat the password").fill(PASSWORD)
    with org_page.expect_navigation():
        org_page.get_by_role("button", name="Set password").click()
    org_page.goto(f"{base}/public/declarations/{slug}")
    with org_page.expect_navigation():
        org_page.get_by_role("link", name="Endorse this declaration").click()
    expect(org_page).to_have_url(f"{base}/d/{slug}/endorse/sign")
    org_page.get_by_role("button", name="Sign and endorse").click()
    expect(org_page.locator("#endorse-status")).to_contain_text(f"Endorsements now: {before + 2}.")
    page.goto(f"{base}/public/declarations/{slug}")
    listed = page.locator("#endorsements tr", has_text="Civic Forum Constanța")
    expect(listed.locator(".badge.verified")).to_be_visible()
    assert _total(page) == before + 2
    assert not watch.problems, "\n".join(watch.problems)
