"""Signing in a real browser (Chromium via Playwright): a key made by WebCrypto, a signature, a receipt.

A delegate logs in, makes an Ed25519 key in the browser (non-extractable, kept in
IndexedDB) and enrols its public half with their password, opens the sign page,
checks the statement, signs, and downloads a receipt whose signature verifies in
Python with the enrolled public key; the secretariat's dashboard shows the city as
signed. A second test alters the displayed text before signing: the browser must
refuse and send nothing. No page may log a script error or a CSP violation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SLUG = "b40-izmir"
TITLE = "B40 Local Economic and Cultural Cooperation Summit Declaration"
SECRETARIAT_EMAIL = "sec@b40.example"
DELEGATE_EMAIL = "izmir@b40.example"
DELEGATE_NAME = "Ayşe Yılmaz"
KEY_LABEL = "Chromium on the test machine"
TIMEOUT_MS = 15_000

# Reports CSP violations on the console, where the watcher below sees them (Chromium logs them too).
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@dataclass
class Watch:
    """Console errors, uncaught page errors and requests of the pages being watched."""

    base: str
    problems: list[str]
    requests: list[tuple[str, str]]
    expected_http_errors: set[str]

    def attach(self, page: Any) -> None:
        page.add_init_script(CSP_REPORTER)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught error: {exc}"))
        page.on("request", lambda request: self.requests.append((request.method, request.url)))

    def _console(self, message: Any) -> None:
        text, url = message.text, message.location.get("url", "")
        if "Content Security Policy" in text or "Refused to" in text or "CSP violation" in text:
            self.problems.append(f"CSP violation on {url}: {text}")
        elif message.type == "error":
            if text.startswith("Failed to load resource") and (
                url in self.expected_http_errors or url.endswith("/favicon.ico")
            ):
                return
            self.problems.append(f"console error on {url}: {text}")

    def posts_to(self, suffix: str) -> list[str]:
        return [url for method, url in self.requests if method == "POST" and url.endswith(suffix)]


def _seed(server: LiveServer) -> None:
    """The demo in small: two cities, the secretariat, a delegate each, a declaration open for signature."""
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
        declarations.open_signing(declaration, 1, secretariat)
        db.session.remove()


def _revision_sha256(server: LiveServer) -> str:
    from signing.extensions import db
    from signing.services import declarations

    with server.app.app_context():
        revision = declarations.get(SLUG).open_revision
        assert revision is not None
        value = revision.sha256
        db.session.remove()
    return value


def _signature_count(server: LiveServer) -> int:
    from sqlalchemy import func, select

    from signing.extensions import db
    from signing.models import IssuedPayload, Signature

    with server.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Signature)) or 0
        used = db.session.scalar(select(func.count()).select_from(IssuedPayload).where(
            IssuedPayload.used_at.is_not(None)))
        db.session.remove()
    assert used == count
    return int(count)


def _enrolled_key(server: LiveServer, fingerprint: str) -> tuple[bytes, str]:
    from signing.extensions import db
    from signing.services import keys

    with server.app.app_context():
        key = keys.get_by_fingerprint(fingerprint)
        result = (bytes(key.public_key), key.origin)
        db.session.remove()
    return result




def _enrol_key_in_browser(page: Any, base: str, watch: Watch) -> str:
    """Make and enrol a key on /account/keys (a wrong password first); returns its fingerprint."""
    from playwright.sync_api import expect

    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Signing keys").click()
    expect(page).to_have_url(f"{base}/account/keys")
    expect(page.get_by_role("heading", level=1)).to_have_text("Signing keys")
    expect(page.locator("#keys-table")).to_contain_text("You have no signing key yet.")
    button = page.get_by_role("button", name="Create and enrol a key")
    expect(button).to_be_enabled()

    # A wrong password: refused by the server, and the browser keeps no key.
    watch.expected_http_errors.add(f"{base}/account/keys")
    page.get_by_label("Label").fill(KEY_LABEL)
    page.get_by_label("Your Accord password").fill("not the password")
    button.click()
    expect(page.locator("#enrol-status")).to_contain_text("The password is not correct")
    expect(page.locator("#enrol-status")).to_contain_text("The key was not kept.")
    assert page.evaluate(
        """() => new Promise((resolve, reject) => {
             const req = indexedDB.open("accord-signing");
             req.onsuccess = () => {
               const tx = req.result.transaction("keys", "readonly");
               const all = tx.objectStore("keys").getAll();
               all.onsuccess = () => { resolve(all.result.length); req.result.close(); };
               all.onerror = () => reject(all.error);
             };
             req.onerror = () => reject(req.error);
           })"""
    ) == 0

    # The right password.
    page.get_by_label("Your Accord password").fill(PASSWORD)
    with page.expect_navigation():
        button.click()
    expect(page).to_have_url(f"{base}/account/keys")
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text(f"The key “{KEY_LABEL}” is enrolled. Its fingerprint is sha256:")
    match = re.search(r"sha256:[0-9a-f]{64}", flash.inner_text())
    assert match, flash.inner_text()
    fingerprint = match.group(0)
    row = page.locator(f'#keys-table tr[data-fingerprint="{fingerprint}"]')
    expect(row).to_contain_text(KEY_LABEL)
    expect(row.locator("td.key-status")).to_have_text("active")
    expect(row.locator("td.in-browser")).to_have_text("yes, in this browser")

    # The key in IndexedDB is a non-extractable Ed25519 CryptoKeyPair; its public half hashes to the fingerprint.
    stored = page.evaluate(
        """async (fingerprint) => {
             const db = await new Promise((resolve, reject) => {
               const req = indexedDB.open("accord-signing");
               req.onsuccess = () => resolve(req.result);
               req.onerror = () => reject(req.error);
             });
             const record = await new Promise((resolve, reject) => {
               const get = db.transaction("keys").objectStore("keys").get(fingerprint);
               get.onsuccess = () => resolve(get.result);
               get.onerror = () => reject(get.error);
             });
             db.close();
             const raw = new Uint8Array(await crypto.subtle.exportKey("raw", record.keyPair.publicKey));
             let exportable = true;
             try {
               await crypto.subtle.exportKey("pkcs8", record.keyPair.privateKey);
             } catch (e) {
               exportable = false;
             }
             return {
               algorithm: record.keyPair.privateKey.algorithm.name,
               extractable: record.keyPair.privateKey.extractable,
               exportable,
               publicKey: Array.from(raw),
             };
           }""",
        fingerprint,
    )
    assert stored["algorithm"] == "Ed25519"
    assert stored["extractable"] is False and stored["exportable"] is False
    assert "sha256:" + hashlib.sha256(bytes(stored["publicKey"])).hexdigest() == fingerprint
    return fingerprint


def _open_sign_page(page: Any, base: str, fingerprint: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/declarations/{SLUG}")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign revision 1").click()
    expect(page).to_have_url(f"{base}/declarations/{SLUG}/sign")
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    expect(page.locator("#key-select")).to_have_value(fingerprint)
    expect(page.locator("#chosen-fingerprint")).to_have_text(fingerprint)


def test_delegate_signs_in_the_browser(live_server: LiveServer, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from signing.core import payload as payloads

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    _seed(live_server)
    sha256 = _revision_sha256(live_server)
    watch = Watch(base, [], [], set())

    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)
    log_in(page, base, DELEGATE_EMAIL)
    fingerprint = _enrol_key_in_browser(page, base, watch)
    public_key, origin = _enrolled_key(live_server, fingerprint)
    assert origin == "browser"
    assert payloads.fingerprint(public_key) == fingerprint

    _open_sign_page(page, base, fingerprint)
    facts = page.locator(".signing-facts")
    expect(facts).to_contain_text(TITLE)
    expect(facts).to_contain_text("İzmir")
    expect(facts).to_contain_text(DELEGATE_NAME)
    expect(page.locator("#expected-sha256")).to_have_text(sha256)
    text = page.locator("#canonical-text").text_content()
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == sha256

    page.get_by_role("button", name="Prepare the signature").click()
    fields = page.locator("#payload-fields")
    expect(fields.locator('dd[data-field="text_sha256"]')).to_have_text(sha256)
    expect(fields.locator('dd[data-field="revision"]')).to_have_text("1")
    expect(fields.locator('dd[data-field="city_name"]')).to_have_text("İzmir")
    expect(fields.locator('dd[data-field="signer_name"]')).to_have_text(DELEGATE_NAME)
    expect(fields.locator('dd[data-field="key_fingerprint"]')).to_have_text(fingerprint)
    expect(fields.locator('dd[data-field="statement"]')).to_contain_text(
        f"{DELEGATE_NAME}, for İzmir, signs revision 1")
    expect(page.locator("#hash-check")).to_contain_text("✓")
    sign_button = page.get_by_role("button", name="Sign revision 1")
    expect(sign_button).to_be_disabled()
    page.get_by_label("I have read revision 1 above and sign it for İzmir.").check()
    expect(sign_button).to_be_enabled()
    sign_button.click()

    status = page.locator("#signing-status")
    expect(status).to_be_visible()
    expect(status).to_contain_text("Signed. Revision 1 is signed for İzmir")
    expect(page.locator("#signing-error")).to_be_hidden()
    assert _signature_count(live_server) == 1

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the receipt").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"{SLUG}-izmir-signature-")
    target = tmp_path / "receipt.json"
    download.save_as(str(target))
    receipt = json.loads(target.read_text("utf-8"))
    payload_bytes = base64.b64decode(receipt["payload_base64"])
    signature = base64.b64decode(receipt["signature_base64"])
    assert base64.b64decode(receipt["public_key_base64"]) == public_key
    assert payloads.verify(public_key, signature, payload_bytes), "the browser's signature must verify"
    fields_signed = payloads.parse(payload_bytes)
    assert fields_signed["text_sha256"] == sha256 and fields_signed["key_fingerprint"] == fingerprint
    assert receipt["status"] == "valid"

    # Reloaded, the page shows the standing signature and offers its withdrawal instead.
    page.reload()
    expect(page.locator("#standing-signature")).to_contain_text("İzmir signed revision 1")
    expect(page.get_by_role("button", name="Prepare the withdrawal")).to_be_visible()
    page.goto(f"{base}/declarations/{SLUG}")
    expect(page.locator(".signed-status")).to_contain_text("Your city signed revision 1")

    # The secretariat sees İzmir as signed.
    admin_context = browser.new_context()
    admin_context.set_default_timeout(TIMEOUT_MS)
    admin = admin_context.new_page()
    watch.attach(admin)
    log_in(admin, base, SECRETARIAT_EMAIL)
    admin.goto(f"{base}/declarations/{SLUG}/dashboard")
    expect(admin.locator("#signed-count")).to_have_text("1")
    expect(admin.locator('tr[data-city="izmir"] td.signature')).to_have_text(re.compile(r"^signed .*\d{4}"))
    expect(admin.locator('tr[data-city="athens"] td.signature')).to_have_text("not signed")
    with admin.expect_navigation():
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Keys").click()
    expect(admin.locator(f'#all-keys tr[data-fingerprint="{fingerprint}"]')).to_contain_text(DELEGATE_NAME)
    admin.screenshot(path=str(tmp_path / "admin-keys.png"), full_page=True)

    # The delegate withdraws the signature in the same way: a signed statement, checked and confirmed.
    page.goto(f"{base}/declarations/{SLUG}/sign")
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    page.get_by_role("button", name="Prepare the withdrawal").click()
    expect(fields.locator('dd[data-field="format"]')).to_have_text("accord.withdrawal/1")
    expect(fields.locator('dd[data-field="withdraws_payload_sha256"]')).to_have_text(
        hashlib.sha256(payload_bytes).hexdigest())
    withdraw_button = page.get_by_role("button", name="Withdraw the signature")
    expect(withdraw_button).to_be_disabled()
    page.get_by_label("I withdraw the signature of İzmir").check()
    withdraw_button.click()
    expect(status).to_contain_text("Withdrawn. The signature of İzmir on revision 1 is withdrawn")
    expect(page.locator("#standing-signature")).to_be_hidden()
    admin.goto(f"{base}/declarations/{SLUG}/dashboard")
    expect(admin.locator("#signed-count")).to_have_text("0")
    expect(admin.locator('tr[data-city="izmir"] td.signature')).to_have_text(re.compile(r"^withdrawn \(signed "))

    admin_context.close()
    context.close()
    assert watch.problems == []


def test_altered_text_is_refused_and_nothing_is_sent(live_server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    _seed(live_server)
    watch = Watch(base, [], [], set())
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)
    log_in(page, base, DELEGATE_EMAIL)
    fingerprint = _enrol_key_in_browser(page, base, watch)
    _open_sign_page(page, base, fingerprint)
    alter = """() => {
      const pre = document.getElementById("canonical-text");
      pre.textContent = pre.textContent.replace("democratic", "autocratic");
    }"""
    error = page.locator("#signing-error")

    # 1. Altered after the statement was prepared, before signing: the second check refuses.
    page.get_by_role("button", name="Prepare the signature").click()
    expect(page.locator("#hash-check")).to_contain_text("✓")
    assert len(watch.posts_to("/sign/payload")) == 1
    page.evaluate(alter)
    page.get_by_label("I have read revision 1 above and sign it for İzmir.").check()
    page.get_by_role("button", name="Sign revision 1").click()
    expect(error).to_be_visible()
    expect(error).to_contain_text("Refused: the text shown on this page does not match revision 1")
    expect(error).to_contain_text("Nothing was signed or sent.")
    expect(page.get_by_role("button", name="Sign revision 1")).to_be_hidden()
    expect(page.locator("#signing-status")).to_be_hidden()
    page.wait_for_timeout(300)  # a request, had one been made, would have started by now
    assert watch.posts_to("/sign/submit") == []

    # 2. Altered before anything is asked of the server: refused at once, not even a payload is requested.
    page.reload()
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    requests_before = len(watch.requests)
    page.evaluate(alter)
    page.get_by_role("button", name="Prepare the signature").click()
    expect(error).to_be_visible()
    expect(error).to_contain_text("Refused: the text shown on this page does not match revision 1")
    expect(page.locator("#payload-view")).to_be_hidden()
    page.wait_for_timeout(300)
    assert [r for r in watch.requests[requests_before:] if r[0] == "POST"] == []
    assert len(watch.posts_to("/sign/payload")) == 1
    assert watch.posts_to("/sign/submit") == []

    assert _signature_count(live_server) == 0
    context.close()
    assert watch.problems == []
