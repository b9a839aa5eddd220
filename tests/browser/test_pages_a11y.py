"""Issue 11, accessibility and phones: every page, for every role, in Chromium.

- axe-core (axe-playwright-python) finds no serious or critical violation on any page at 1280 px;
- at 360 px no page scrolls sideways (``document.documentElement.scrollWidth <= innerWidth``), and the
  header navigation collapses behind its "Menu" button.

The pages are every HTML GET page of the app (``ALL_PAGES`` must name each such endpoint, so a new page
without a row here fails ``test_every_html_page_is_listed``), on declarations in each state.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.browser.conftest import LiveServer, log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
SERIOUS = {"serious", "critical"}

# Endpoints that answer something other than an HTML page (files, JSON, redirects), or need a secret link.
NOT_PAGES = {
    "home.favicon", "home.healthz", "declarations.board_csv", "declarations.revision_source", "declarations.next_step",
    "signing.receipt", "log.checkpoint", "log.key", "log.tile", "public.bundle_zip", "public.bundle_asice",
    "public.bundle_pdf", "public.bundle_text", "auth.accept_invitation", "auth.reset_password",
    "auth.second_factor_step", "static",
    # Endorsements: the embeddable counts (JSON, SVG) and the e-mail's one-time link (a secret).
    "endorse.count_json", "endorse.count_svg", "endorse.open_link",
}


@dataclass
class Seeded:
    consultation: str
    open: str
    frozen: str
    city: str
    webhook_id: int
    endorsement: str = "0" * 64  # the SHA-256 of a stored endorsement of the frozen declaration


def _seed(server: LiveServer) -> Seeded:
    """Seeded in a thread of its own: Playwright's event loop runs in this one, and freezing (inline, in the
    embedded default) uses ``asyncio.run``, which refuses to run inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_seed_now, server).result()


def _seed_now(server: LiveServer) -> Seeded:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from signing.extensions import db
    from signing.manage.demo import declaration_text
    from signing.models import Role
    from signing.services import accounts, cities, declarations, endorsements, review, webhooks
    from tests.endorsements.conftest import person
    from tests.test_web_signing import enrol, sign_with_service

    with server.app.app_context():
        izmir = cities.create_city("İzmir", "Türkiye", None)
        athens = cities.create_city("Athens", "Greece", None)
        sec = accounts.create_user("sec@b40.example", "Sema Secretariat", Role.SECRETARIAT, password=PASSWORD)
        accounts.create_user("obs@b40.example", "Oktay Observer", Role.OBSERVER, password=PASSWORD)
        delegate = accounts.create_user("izmir@b40.example", "Ayşe Yılmaz", Role.DELEGATE, city=izmir,
                                        password=PASSWORD)
        accounts.create_user("athens@b40.example", "Eleni Athens", Role.DELEGATE, city=athens, password=PASSWORD)
        key = Ed25519PrivateKey.generate()
        enrol(delegate, key)
        text = declaration_text()

        consultation = declarations.create("Consultation declaration", text, sec, slug="in-consultation")
        declarations.open_consultation(consultation, sec)
        review.add_comment(consultation.latest, 0, "A long remark. " * 120, delegate)
        paragraphs = review.paragraphs(consultation.latest)
        review.propose_amendment(consultation.latest, 1, paragraphs[1] + " Together.", "Stronger.", delegate)
        declarations.add_revision(consultation, text.replace("İzmir", "Izmir", 1), "A small fix", sec)

        opened = declarations.create("Open declaration", text, sec, slug="open-for-signature")
        declarations.open_consultation(opened, sec)
        declarations.open_signing(opened, 1, sec)
        sign_with_service(opened, delegate, key)

        frozen = declarations.create("Frozen declaration", text, sec, slug="frozen-one")
        declarations.open_consultation(frozen, sec)
        declarations.open_signing(frozen, 1, sec, excluded_city_ids=[athens.id])
        sign_with_service(frozen, delegate, key)  # the rule is met: frozen inline

        # A mayor (Mandates page) and a person's endorsement of the frozen declaration (its public pages).
        mayor = accounts.create_user("mayor@b40.example", "Mehmet Mayor", Role.MAYOR, city=izmir,
                                     password=PASSWORD)
        enrol(mayor, Ed25519PrivateKey.generate())
        ana = person("ana@example.org")
        signed = ana.signed(frozen)
        endorsement = endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key,
                                          endorser=ana.endorser)

        declarations.create("Draft declaration", text, sec, slug="a-draft")
        endpoint, _secret = webhooks.create_endpoint("https://hooks.example.org/accord", ["signature.accepted"],
                                                     "Example", sec)
        seeded = Seeded(consultation.slug, opened.slug, frozen.slug, izmir.slug, endpoint.id,
                        endorsement.payload_sha256)
        db.session.remove()
    return seeded


def _pages(s: Seeded) -> dict[str, list[tuple[str, str]]]:
    """role -> [(endpoint, path)]: every page each role may open."""
    declaration_pages = []
    for slug in (s.consultation, s.open, s.frozen):
        declaration_pages += [
            ("declarations.show", f"/declarations/{slug}"),
            ("declarations.revisions", f"/declarations/{slug}/revisions"),
            ("declarations.revision", f"/declarations/{slug}/revisions/1"),
        ]
    declaration_pages.append(("declarations.compare", f"/declarations/{s.consultation}/compare"))
    common = [
        ("home.home", "/"), ("declarations.index", "/declarations/"), ("auth.account", "/account"),
        ("log.index", "/log/"), ("public.index", "/public/"),
        ("public.declaration", f"/public/declarations/{s.frozen}"),
        *declaration_pages,
    ]
    endorsement_pages = [
        ("endorse.index", f"/d/{s.frozen}/endorsements"), ("endorse.start", f"/d/{s.frozen}/endorse"),
        ("endorse.statement", f"/d/{s.frozen}/endorsements/e/{s.endorsement}"),
        ("endorse.withdraw_page", f"/d/{s.frozen}/endorsements/e/{s.endorsement}/withdraw"),
    ]
    return {
        "anonymous": [("auth.login", "/login"), ("auth.request_reset", "/reset"), ("public.index", "/public/"),
                      ("public.declaration", f"/public/declarations/{s.frozen}"), ("log.index", "/log/"),
                      *endorsement_pages, ("endorse.request_account", "/endorsers/request")],
        "mayor": [("home.home", "/"), ("mandates.index", "/mandates"), ("signing.keys_page", "/account/keys")],
        "observer": common,
        "delegate": [*common, ("signing.keys_page", "/account/keys"), ("home.city", f"/cities/{s.city}"),
                     ("signing.sign_page", f"/declarations/{s.open}/sign"),
                     ("endorse.sign_page", f"/d/{s.frozen}/endorse/sign")],
        "other_delegate": [("home.home", "/"), ("signing.sign_page", f"/declarations/{s.open}/sign"),
                           ("declarations.show", f"/declarations/{s.open}")],
        "secretariat": [
            *common, ("home.city", f"/cities/{s.city}"),
            ("admin.city_list", "/admin/cities"), ("admin.city_new", "/admin/cities/new"),
            ("admin.city_detail", f"/admin/cities/{s.city}"), ("admin.city_edit", f"/admin/cities/{s.city}/edit"),
            ("admin.user_list", "/admin/users"), ("admin.audit_log", "/admin/audit"), ("admin.mail_log", "/admin/mail"),
            ("signing.admin_keys", "/admin/keys"), ("webhooks.index", "/admin/webhooks/"),
            ("webhooks.show", f"/admin/webhooks/{s.webhook_id}"),
            ("declarations.new", "/declarations/new"), ("declarations.edit", f"/declarations/{s.consultation}/edit"),
            ("declarations.open_signing", f"/declarations/{s.consultation}/open-signing"),
            ("declarations.board", f"/declarations/{s.consultation}/dashboard"),
            ("declarations.board", f"/declarations/{s.open}/dashboard"),
            ("declarations.board", f"/declarations/{s.frozen}/dashboard"),
            ("declarations.freeze_now", f"/declarations/{s.open}/freeze"),
            ("declarations.return_to_consultation", f"/declarations/{s.open}/return-to-consultation"),
            ("declarations.show", "/declarations/a-draft"),
            ("declarations.open_consultation", "/declarations/a-draft/open-consultation"),
            ("endorse_admin.endorsers_page", "/admin/endorsers"), ("endorse_admin.moderation", "/admin/endorsements"),
        ],
    }


EMAILS = {"observer": "obs@b40.example", "delegate": "izmir@b40.example", "other_delegate": "athens@b40.example",
          "secretariat": "sec@b40.example", "mayor": "mayor@b40.example"}


def test_every_html_page_is_listed(app: Flask) -> None:
    listed = {endpoint for pages in _pages(Seeded("c", "o", "f", "x", 1)).values() for endpoint, _ in pages}
    html_get = {rule.endpoint for rule in app.url_map.iter_rules()
                if "GET" in (rule.methods or set()) and not rule.rule.startswith("/api/")}
    missing = sorted(html_get - NOT_PAGES - listed)
    assert not missing, f"pages the accessibility test does not visit: {missing}"


def _axe_serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") in SERIOUS:
            targets = [node.get("target") for node in violation.get("nodes", [])][:3]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


def _too_wide(page: Any) -> str:
    """The outermost elements that reach past the viewport's right edge (to say what to fix)."""
    return str(page.evaluate("""() => {
      const out = [];
      for (const el of document.body.querySelectorAll("*")) {
        if (el.getBoundingClientRect().right <= window.innerWidth + 1) continue;
        if (out.some((o) => o.contains(el))) continue;
        out.push(el);
      }
      return out.slice(0, 3).map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + (el.className ? "." + String(el.className).split(" ").join(".") : ""));
    }"""))


def _overflow(page: Any) -> int:
    """How far the page scrolls sideways (0 when it does not)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("role", ["anonymous", "observer", "delegate", "other_delegate", "secretariat", "mayor"])
def test_every_page_accessible_and_no_sideways_scroll(live_server: LiveServer, browser: Any, role: str) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    seeded = _seed(live_server)
    problems: list[str] = []
    for width, height in ((1280, 900), (360, 740)):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        if role != "anonymous":
            log_in(page, base, EMAILS[role])
        for endpoint, path in _pages(seeded)[role]:
            response = page.goto(f"{base}{path}")
            assert response is not None
            if response.status != 200:
                problems.append(f"{width}px {path} ({endpoint}): HTTP {response.status}")
                continue
            page.wait_for_load_state("load")
            if width == 1280:
                problems += [f"{path}: {v}" for v in _axe_serious(page)]
            else:
                if (over := _overflow(page)) > 0:
                    problems.append(f"360px {path}: the page scrolls sideways by {over}px ({_too_wide(page)})")
                if role != "anonymous":
                    toggle = page.locator(".nav-toggle")
                    if not toggle.is_visible():
                        problems.append(f"360px {path}: no collapsed navigation")
        context.close()
    assert not problems, "\n".join(problems)


def test_menu_button_opens_the_navigation_on_a_phone(live_server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    _seed(live_server)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    log_in(page, live_server.url, EMAILS["delegate"])
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Account")).to_be_visible()
    assert _overflow(page) <= 0
    # The skip link is the first stop of the keyboard and leads to the content.
    page.goto(f"{live_server.url}/declarations/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    context.close()


def test_the_axe_check_can_fail(live_server: LiveServer, browser: Any) -> None:
    """The check above is not vacuous: an unlabelled field and an image without text are reported."""
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/login")
    broken = '<img src="x"><input type="text">'
    page.evaluate("html => document.querySelector('main').insertAdjacentHTML('beforeend', html)", broken)
    found = _axe_serious(page)
    assert any(item.startswith("image-alt") for item in found) and any(item.startswith("label") for item in found)
