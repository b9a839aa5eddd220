"""Hostile text in every field a user can fill, rendered by a real browser: nothing runs.

Each payload goes through every text field of the declaration feature (title, text, revision
note, comment and reply, amendment replacement and reason, decline reason, accept note) and the
names around it (city name and country, delegate display name). Chromium then opens every page
that shows them. No dialog may open, no script error happen, no Content Security Policy
violation be reported (the CSP would block an injected inline script, and say so), the DOM may
hold no injected script, event handler or dangerous URL, and ``{{7*7}}`` stays text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
TEMPLATE = "{{7*7}}"
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "![x](javascript:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    '"><script>alert(1)</script>',
    TEMPLATE,
    "<javascript:alert(1)>",
    # Extra: breaking out of a textarea or an attribute, and an HTML entity smuggled through Markdown.
    "</textarea><script>alert(1)</script>",
    "' onmouseover='alert(1)' x='",
    "[x](&#106;avascript:alert(1))",
]

# Everything in the DOM that would mean the payload became markup.
DOM_CHECK = """() => {
  const found = [];
  for (const s of document.querySelectorAll('script')) {
    if (!s.src || !s.src.endsWith('/static/js/app.js')) found.push('script: ' + s.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      if (name.startsWith('on')) found.push('handler: ' + el.outerHTML.slice(0, 120));
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(name)
          && (value.startsWith('javascript:') || value.startsWith('data:') || value.startsWith('vbscript:'))) {
        found.push('url: ' + el.outerHTML.slice(0, 120));
      }
    }
  }
  for (const el of document.querySelectorAll('main img, main svg, main iframe, main object, main embed')) {
    found.push('element: ' + el.outerHTML.slice(0, 120));
  }
  return {found: found, text: document.body.innerText};
}"""


@dataclass
class Watch:
    """Dialogs, uncaught errors and console messages of every page, with the page they came from."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    current: str = ""

    def attach(self, page: Any) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{self.current}: {dialog.type} {dialog.message!r}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"{self.current}: {exc}"))
        page.on("console", lambda msg: self.console.append(f"{self.current}: {msg.type} {msg.text}"))

    def csp_reports(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]


def _scrub(text: str) -> str:
    """Remove hashes and times, which may contain "49" innocently."""
    text = re.sub(r"[0-9a-f]{8,}", " ", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?", " ", text)
    text = re.sub(r"[A-Z][a-z]{2} \d{1,2}, \d{4}(?: \d{2}:\d{2})?", " ", text)  # the pages' times ("|when")
    return text


@dataclass
class Seeded:
    declarations: list[str]  # slug per payload
    cities: list[str]
    delegates: list[str]  # e-mail per payload


def _seed(server: LiveServer) -> Seeded:
    from signing.extensions import db
    from signing.models import Role
    from signing.services import accounts, cities, declarations, review

    seeded = Seeded([], [], [])
    with server.app.app_context():
        secretariat = accounts.create_user("sec@b40.example", "Sema Secretariat", Role.SECRETARIAT,
                                           password=PASSWORD)
        for index, payload in enumerate(PAYLOADS):
            city = cities.create_city(payload, payload, secretariat, slug=f"city-{index}")
            # No password: they never log in here (and, not being members yet, get no notifications).
            delegate = accounts.create_user(f"d{index}@b40.example", payload, Role.DELEGATE, city=city)
            text = f"Intro paragraph.\n\n{payload}\n\nClosing paragraph.\n"
            declaration = declarations.create(payload, text, secretariat, slug=f"x{index}")
            declarations.open_consultation(declaration, secretariat)
            second = declarations.add_revision(
                declaration, f"Intro paragraph {payload}.\n\n{payload} changed\n\nClosing paragraph.\n", payload,
                secretariat)
            comment = review.add_comment(second, 1, payload, delegate)
            review.add_comment(second, 1, payload, secretariat, parent_id=comment.id)
            accepted = review.propose_amendment(second, 2, payload, payload, delegate)
            declined = review.propose_amendment(second, 0, f"{payload} instead", payload, delegate)
            review.approve(second, delegate)
            review.accept_amendment(accepted, secretariat, payload)
            review.decline_amendment(declined, secretariat, payload)
            review.propose_amendment(declaration.latest, 1, f"{payload} again", payload, delegate)
            seeded.declarations.append(declaration.slug)
            seeded.cities.append(city.slug)
            seeded.delegates.append(delegate.email)
        accounts.create_user("viewer@b40.example", "Viewer", Role.DELEGATE, city=city, password=PASSWORD)
        db.session.remove()
    return seeded


def _become(server: LiveServer, email: str, name: str, city_slug: str) -> None:
    """Rename the delegate ``email`` to ``name`` and attach them to the city ``city_slug``."""
    from signing.extensions import db
    from signing.services import accounts, cities

    with server.app.app_context():
        user = accounts.find_by_email(email)
        assert user is not None
        user.display_name = name
        user.city = cities.get_by_slug(city_slug)
        db.session.commit()
        db.session.remove()




def test_no_payload_runs_anywhere(live_server: LiveServer, browser: Any) -> None:
    base = live_server.url
    seeded = _seed(live_server)
    watch = Watch()
    problems: list[str] = []
    visited = 0

    def visit(page: Any, path: str, payload: str | None) -> None:
        nonlocal visited
        watch.current = path
        response = page.goto(base + path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        visited += 1
        result = page.evaluate(DOM_CHECK)
        problems.extend(f"{path}: {found}" for found in result["found"])
        text = result["text"]
        if payload is not None and "alert(1)" not in text and TEMPLATE not in text:
            problems.append(f"{path}: the payload {payload!r} is not on the page (as text)")
        if payload == TEMPLATE:
            if TEMPLATE not in text:
                problems.append(f"{path}: {TEMPLATE} is not shown as text")
            if re.search(r"(?<!\d)49(?!\d)", _scrub(text)):
                problems.append(f"{path}: {TEMPLATE} was evaluated to 49")

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)
    log_in(page, base, "sec@b40.example")
    for path in ("/", "/declarations/", "/admin/cities", "/admin/users", "/admin/audit", "/admin/mail"):
        visit(page, path, None)
    for index, payload in enumerate(PAYLOADS):
        slug = seeded.declarations[index]
        for path in (f"/declarations/{slug}", f"/declarations/{slug}/revisions/1",
                     f"/declarations/{slug}/revisions/2", f"/declarations/{slug}/revisions",
                     f"/declarations/{slug}/compare?from=1&to=3",
                     f"/declarations/{slug}/dashboard", f"/declarations/{slug}/edit",
                     f"/declarations/{slug}/open-signing", f"/admin/cities/{seeded.cities[index]}"):
            visit(page, path, payload)
    context.close()

    # A delegate whose name and city are the payload, on their own pages. One login: between
    # payloads the account is renamed and moved to the payload's city (the session stays valid).
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)
    log_in(page, base, "viewer@b40.example")
    for index, payload in enumerate(PAYLOADS):
        _become(live_server, "viewer@b40.example", payload, seeded.cities[index])
        for path in ("/", f"/cities/{seeded.cities[index]}", f"/declarations/{seeded.declarations[index]}/revisions/2"):
            visit(page, path, payload)
    context.close()

    assert visited == 6 + len(PAYLOADS) * 12
    assert watch.dialogs == [], watch.dialogs
    assert watch.errors == [], watch.errors
    assert watch.csp_reports() == [], watch.csp_reports()
    assert problems == [], "\n".join(problems)
