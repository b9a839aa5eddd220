"""Screenshots of the main pages at 1280 and 390 px, for the README (``make screenshots``).

Builds a throw-away demo instance (SQLite, tasks inline, mail to files) in a temporary folder, seeds it
(the 12 demo cities; one declaration open for signature with 7 of 12 signed, one in consultation, one frozen),
serves it on 127.0.0.1 and drives Chromium (Playwright) through the delegate's path and the secretariat's
dashboard. Writes ``docs/screenshots/<name>-<width>.png``.

    .venv/bin/python docs/screenshots/make_screenshots.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

WIDTHS = {1280: 860, 390: 844}  # width -> viewport height
SIGNED = 7


def _seed(app: Any) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from signing.core import payload
    from signing.extensions import db
    from signing.manage.demo import declaration_text, load_demo
    from signing.services import accounts, declarations, keys, review, signatures

    with app.app_context():
        logins = load_demo()
        by_email = {login.email: login for login in logins}
        sec = accounts.find_by_email(next(login.email for login in logins if login.role == "secretariat"))
        delegates = [(accounts.find_by_email(login.email), login.password) for login in logins
                     if login.role == "delegate"]
        text = declaration_text()

        consultation = declarations.create("B40 Youth Declaration", text, sec, slug="b40-youth")
        declarations.open_consultation(consultation, sec)
        athens = next(user for user, _ in delegates if user.city and user.city.slug == "athens")
        review.add_comment(consultation.latest, 1, "Could we name the youth councils of each city here?", athens)

        frozen = declarations.create("B40 Climate Declaration", text, sec, slug="b40-climate")
        declarations.open_consultation(frozen, sec)
        declarations.open_signing(frozen, 1, sec, rule_kind="quorum", quorum=2)

        opened = declarations.create("B40 Declaration on Local Democracy", text, sec, slug="b40-democracy")
        declarations.open_consultation(opened, sec)
        declarations.open_signing(opened, 1, sec)

        others = [(user, password) for user, password in delegates
                  if user.city and user.city.slug not in {"izmir", "istanbul"}]
        for index, (user, password) in enumerate(others[:SIGNED]):
            private = Ed25519PrivateKey.generate()
            public = private.public_key().public_bytes_raw()
            key = keys.enrol(user, payload.b64encode(public), "Office laptop", password, origin="cli")
            for declaration in ([opened, frozen] if index < 2 else [opened]):
                issued = signatures.issue_signature_payload(declaration, user, key.fingerprint)
                signatures.submit_signature(declaration, user, issued.payload, private.sign(issued.payload))
        secretariat = sec.email if sec else ""
        db.session.remove()
    return {"logins": by_email, "secretariat": secretariat}


def _serve(app: Any) -> tuple[Any, str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _log_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.locator("form button[type=submit], form input[type=submit]").first.click()


def _shot(page: Any, name: str, width: int) -> None:
    page.wait_for_load_state("load")
    page.screenshot(path=str(HERE / f"{name}-{width}.png"), full_page=False)
    print(f"docs/screenshots/{name}-{width}.png")


def _sign_in_browser(page: Any, base: str, password: str) -> None:
    """Enrol a key in this browser, then sign the open declaration; stops on the completion state."""
    slug = "b40-democracy"
    page.goto(f"{base}/account/keys?back=/declarations/{slug}/sign")
    page.locator("#key-label").fill("This phone" if page.viewport_size["width"] < 600 else "This laptop")
    page.locator("#key-password").fill(password)
    page.locator("#enrol-button").click()
    page.locator("#keys-table td.key-here").wait_for()
    page.goto(f"{base}/declarations/{slug}/sign")
    page.wait_for_selector('#signing[data-ready="true"]', state="attached")
    page.locator("#prepare-button").click()
    page.locator("#confirm-step").wait_for()
    page.locator("#confirm-checkbox").check()
    page.locator("#sign-button").click()
    page.locator("#signing-status").wait_for()
    page.locator("#progress-after .signing-progress, #progress-after section").first.wait_for()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    args = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE"):
        os.environ.pop(name, None)

    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright

    from signing import create_app

    with tempfile.TemporaryDirectory(prefix="accord-shots-") as tmp:
        app = create_app({"SECRET_KEY": "screenshots-" + "x" * 40, "ARGON2_TIME_COST": 1,
                          "ARGON2_MEMORY_COST": 8192, "ARGON2_PARALLELISM": 1,
                          "LOGIN_RATE_LIMIT": "1000 per minute"}, instance_path=tmp)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
        server, base = _serve(app)
        app.config["PUBLIC_URL"] = base  # links and the issuer named in signed statements follow the real address
        seeded = _seed(app)  # before Playwright starts: freezing (inline) runs its own event loop
        izmir = seeded["logins"]["izmir@b40.example"]
        istanbul = seeded["logins"]["istanbul@b40.example"]
        secretariat = seeded["logins"][seeded["secretariat"]]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                                     args=["--no-sandbox", "--disable-gpu"])
                for width, height in WIDTHS.items():
                    delegate = izmir if width > 600 else istanbul
                    context = browser.new_context(viewport={"width": width, "height": height}, locale="en")
                    page = context.new_page()
                    page.goto(f"{base}/login")
                    _shot(page, "login", width)
                    _log_in(page, base, delegate.email, delegate.password)
                    _shot(page, "inbox", width)
                    page.goto(f"{base}/declarations/b40-democracy")
                    _shot(page, "declaration", width)
                    page.goto(f"{base}/declarations/b40-democracy/sign")
                    page.wait_for_selector('#signing[data-ready="true"]', state="attached")
                    _shot(page, "sign-no-key", width)
                    _sign_in_browser(page, base, delegate.password)
                    page.locator("#signing-done-heading").scroll_into_view_if_needed()
                    _shot(page, "signed", width)
                    page.goto(f"{base}/declarations/b40-youth")
                    page.locator("#p-2 details.paragraph-actions summary").click()
                    page.locator("#comment-p2").fill("x" * 10_050)
                    page.locator("#comment-p2-count").scroll_into_view_if_needed()
                    _shot(page, "comment-too-long", width)
                    context.close()

                    context = browser.new_context(viewport={"width": width, "height": height}, locale="en")
                    page = context.new_page()
                    _log_in(page, base, secretariat.email, secretariat.password)
                    page.goto(f"{base}/declarations/b40-democracy/dashboard")
                    _shot(page, "dashboard", width)
                    context.close()

                    context = browser.new_context(viewport={"width": width, "height": height}, locale="en")
                    page = context.new_page()
                    page.goto(f"{base}/public/declarations/b40-climate")
                    _shot(page, "public", width)
                    context.close()
                browser.close()
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
