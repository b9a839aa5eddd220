"""A new delegate's whole path in Turkish, on a phone (390 px wide, Chromium with ``Accept-Language: tr-TR``).

From the invitation e-mail's link: choose a password, keep Turkish on the account page, make and enrol a key
in the browser, read the declaration, sign revision 1 and receive the receipt e-mail in Turkish. Every page
visited is in Turkish (``<html lang="tr">``, no English left in its headings), no page scrolls sideways, and no
page logs a script error or a CSP violation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_signing_journey import SLUG, TITLE, Watch, _seed, _signature_count
from tests.conftest import link_in, read_mail

pytestmark = pytest.mark.browser

NEW_EMAIL = "yeni@b40.example"
NEW_NAME = "Elif Demir"
NEW_PASSWORD = "uzun ve gizli bir parola cümlesi"
WIDTH = 390
TIMEOUT_MS = 20_000


def _invite(server: LiveServer) -> str:
    """The secretariat invites a new delegate of İzmir; the path of the link in the invitation e-mail."""
    from signing.extensions import db
    from signing.models import City, Role, User
    from signing.services import accounts

    with server.app.app_context():
        izmir = db.session.query(City).filter_by(slug="izmir").one()
        secretariat = db.session.query(User).filter_by(role=Role.SECRETARIAT).one()
        accounts.invite(NEW_EMAIL, NEW_NAME, Role.DELEGATE, city=izmir, actor=secretariat)
        db.session.remove()
    invitations = [m for m in read_mail(server.app.config["MAIL_FILE_DIR"]) if str(m["To"]) == NEW_EMAIL]
    assert len(invitations) == 1
    return link_in(invitations[0], "/invitation/").replace("http://accord.test", "")


def _check_page(page: Any, visited: list[str]) -> None:
    """In Turkish, and nothing wider than the phone."""
    from playwright.sync_api import expect

    expect(page.locator("html")).to_have_attribute("lang", "tr")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} scrolls sideways: {width} px wide at {WIDTH} px"
    visited.append(page.url)


def test_a_new_delegate_signs_in_turkish_on_a_phone(live_server: LiveServer, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    _seed(live_server)
    live_server.app.config["PUBLIC_URL"] = "http://accord.test"
    invitation = _invite(live_server)
    watch = Watch(base, [], [], set())
    visited: list[str] = []

    context = browser.new_context(viewport={"width": WIDTH, "height": 844}, locale="tr-TR", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)

    # The invitation's link: a Turkish page, the password chosen.
    page.goto(f"{base}{invitation}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Accord'a hoş geldiniz, {NEW_NAME}")
    expect(page.locator("main")).to_contain_text("İzmir")
    _check_page(page, visited)
    page.get_by_label("Yeni parola").fill(NEW_PASSWORD)
    page.get_by_label("Parolayı yineleyin").fill(NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Parolayı belirle").click()
    expect(page.locator(".flash-success")).to_contain_text("Parolanız belirlendi. Accord'a hoş geldiniz.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hoş geldiniz, {NEW_NAME}")
    _check_page(page, visited)

    # The account page: Turkish kept as the account's choice (e-mails follow it).
    page.goto(f"{base}/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hesabınız")
    _check_page(page, visited)
    page.get_by_label("Dil", exact=True).select_option("tr")
    with page.expect_navigation():
        page.get_by_role("button", name="Dili kaydet").click()
    expect(page.locator(".flash-success")).to_contain_text("Arayüz artık şu dilde: Türkçe.")

    # A key made in this browser, enrolled with the password.
    page.goto(f"{base}/account/keys")
    expect(page.get_by_role("heading", level=1)).to_have_text("İmza anahtarları")
    expect(page.locator("#keys-table")).to_contain_text("Henüz bir imza anahtarınız yok.")
    _check_page(page, visited)
    page.get_by_label("Etiket (bu hangi cihaz ya da tarayıcı?)").fill("Telefonum")
    page.get_by_label("Accord parolanız (anahtar kaydı için yeniden sorulur)").fill("yanlış parola")
    page.get_by_role("button", name="Anahtar oluştur ve kaydet").click()
    watch.expected_http_errors.add(f"{base}/account/keys")
    expect(page.locator("#enrol-status")).to_contain_text("Parola doğru değil")  # the server's words, in Turkish
    expect(page.locator("#enrol-status")).to_contain_text("Anahtar saklanmadı.")  # the script's, in Turkish
    page.get_by_label("Accord parolanız (anahtar kaydı için yeniden sorulur)").fill(NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Anahtar oluştur ve kaydet").click()
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text("“Telefonum” anahtarı kaydedildi. Parmak izi: sha256:")
    fingerprint = re.search(r"sha256:[0-9a-f]{64}", flash.inner_text())
    assert fingerprint
    row = page.locator(f'#keys-table tr[data-fingerprint="{fingerprint.group(0)}"]')
    expect(row.locator("td.key-status")).to_have_text("etkin")
    expect(row.locator("td.in-browser")).to_have_text("evet, bu tarayıcıda")
    _check_page(page, visited)

    # The declaration, then its sign page.
    page.goto(f"{base}/declarations/{SLUG}")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)  # the declaration's own words stay
    _check_page(page, visited)
    with page.expect_navigation():
        page.get_by_role("link", name="1 numaralı revizyonu imzala").first.click()
    expect(page).to_have_url(f"{base}/declarations/{SLUG}/sign")
    expect(page.locator("#signing")).to_have_attribute("data-ready", "true")
    _check_page(page, visited)
    page.locator(".jump-to-sign a").click()  # on a phone, the first screen leads to the signature
    page.get_by_role("button", name="İmzayı hazırla").click()
    expect(page.locator("#hash-check")).to_contain_text("✓")
    page.get_by_label("Yukarıdaki 1 numaralı revizyonu okudum ve İzmir adına imzalıyorum.").check()
    page.get_by_role("button", name="1 numaralı revizyonu imzala").click()
    expect(page.locator("#signing-status")).to_be_visible()
    expect(page.locator("#signing-done-heading")).to_have_text("İmzalandı")
    expect(page.locator("#signing-status-text")).to_contain_text("İmzalandı. 1 numaralı revizyon İzmir adına")
    expect(page.locator("#signing-error")).to_be_hidden()
    assert _signature_count(live_server) == 1
    _check_page(page, visited)
    page.screenshot(path=str(tmp_path / "signed-tr-390.png"), full_page=True)

    # The receipt e-mail, in the language the delegate chose.
    receipts = [m for m in read_mail(live_server.app.config["MAIL_FILE_DIR"])
                if str(m["To"]) == NEW_EMAIL and "imzaladınız" in str(m["Subject"])]
    assert len(receipts) == 1, [str(m["Subject"]) for m in read_mail(live_server.app.config["MAIL_FILE_DIR"])]
    assert str(receipts[0]["Subject"]) == f"“{TITLE}” bildirgesini İzmir adına imzaladınız (revizyon 1)"

    context.close()
    assert len(visited) >= 7
    assert watch.problems == []
