"""The review journey in a real browser (Chromium via Playwright).

A delegate reads revision 2 of a declaration in consultation, looks at the redline, comments on
a paragraph, proposes an amendment and approves the revision for signature. The secretariat, in a browser of
its own, accepts the amendment (revision 3 credits the delegate) and opens signing on revision 3.
The text is then locked: no comment or amendment form is left on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in
from tests.conftest import PASSWORD, read_mail

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
SECRETARIAT_EMAIL = "sec@b40.example"
DELEGATE_EMAIL = "ayse@izmir.example"
DELEGATE_NAME = "Ayşe Yılmaz"
SLUG = "b40-izmir"
TITLE = "B40 İzmir Declaration"
TEXT_1 = (
    "We, the cities of the B40 network, meet in İzmir.\n\n"
    "We shall share what we learn about culture and the economy.\n\n"
    "We shall meet again next year.\n"
)
TEXT_2 = TEXT_1.replace("We shall share", "We will share")
REPLACEMENT = "We will share, openly and in every language, what we learn about culture and the economy."


@dataclass
class Browser:
    """Console problems and ``window.confirm`` answers for every page of a journey."""

    decisions: list[bool] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        def on_dialog(dialog: Any) -> None:
            self.questions.append(f"{dialog.type}: {dialog.message}")
            if self.decisions and self.decisions.pop(0):
                dialog.accept()
            else:
                dialog.dismiss()

        def on_console(msg: Any) -> None:
            if msg.type == "error" or "Content Security Policy" in msg.text or "Refused to" in msg.text:
                self.problems.append(f"{msg.type}: {msg.text} ({msg.location.get('url', '')})")

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))


@dataclass
class Seeded:
    sha2: str
    delegate_id: int


def _seed(server: LiveServer) -> Seeded:
    from signing.extensions import db
    from signing.models import Role
    from signing.services import accounts, cities, declarations

    with server.app.app_context():
        izmir = cities.create_city("İzmir", "Türkiye", None)
        athens = cities.create_city("Athens", "Greece", None)
        secretariat = accounts.create_user(SECRETARIAT_EMAIL, "Sema Secretariat", Role.SECRETARIAT,
                                           password=PASSWORD)
        delegate = accounts.create_user(DELEGATE_EMAIL, DELEGATE_NAME, Role.DELEGATE, city=izmir,
                                        password=PASSWORD)
        accounts.create_user("athens@b40.example", "Athens delegate", Role.DELEGATE, city=athens, password=PASSWORD)
        declaration = declarations.create(TITLE, TEXT_1, secretariat, slug=SLUG)
        declarations.open_consultation(declaration, secretariat)
        second = declarations.add_revision(declaration, TEXT_2, "“shall” becomes “will”", secretariat)
        seeded = Seeded(sha2=second.sha256, delegate_id=delegate.id)
        db.session.remove()
    return seeded




def test_review_journey(live_server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    seeded = _seed(live_server)
    watch = Browser()

    # --- The delegate reads revision 2 and its redline ---------------------------------------
    delegate_context = browser.new_context()
    delegate_context.set_default_timeout(TIMEOUT_MS)
    delegate = delegate_context.new_page()
    watch.watch(delegate)
    log_in(delegate, base, DELEGATE_EMAIL)

    with delegate.expect_navigation():
        delegate.get_by_role("navigation", name="Main").get_by_role("link", name="Declarations").click()
    with delegate.expect_navigation():
        delegate.get_by_role("link", name=TITLE).click()
    with delegate.expect_navigation():
        delegate.get_by_role("navigation", name="Declaration").get_by_role("link", name="Revisions").click()
    with delegate.expect_navigation():
        delegate.locator("table.grid").get_by_role("link", name="2", exact=True).click()
    expect(delegate).to_have_url(f"{base}/declarations/{SLUG}/revisions/2")
    expect(delegate.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(delegate.locator(".revision-meta")).to_contain_text("Revision 2 of 2")
    expect(delegate.locator("code.sha256")).to_have_text(seeded.sha2)
    expect(delegate.locator("#p-2 .paragraph-body")).to_have_text("We will share what we learn about culture "
                                                                  "and the economy.")

    with delegate.expect_navigation():
        delegate.get_by_role("navigation", name="Declaration").get_by_role("link", name="Redline").click()
    expect(delegate).to_have_url(f"{base}/declarations/{SLUG}/compare")
    expect(delegate.get_by_role("heading", name="Redline: revision 1 → revision 2")).to_be_visible()
    expect(delegate.locator(".redline del")).to_have_text(["shall"])
    expect(delegate.locator(".redline ins")).to_have_text(["will"])
    expect(delegate.locator(".redline-summary")).to_contain_text("1 paragraph(s) changed")
    delegate.go_back()
    expect(delegate).to_have_url(f"{base}/declarations/{SLUG}/revisions/2")

    # --- ... comments on ¶2 -----------------------------------------------------------------
    paragraph = delegate.locator("#p-2")
    paragraph.locator("summary").click()
    paragraph.get_by_label("Comment on ¶2").fill("Which languages? Let us name them.")
    with delegate.expect_navigation():
        paragraph.get_by_role("button", name="Comment", exact=True).click()
    expect(delegate.locator(".flash")).to_have_text("Comment added.")
    comment = delegate.locator("#p-2 .comments .comment").first
    expect(comment).to_contain_text("Which languages? Let us name them.")
    expect(comment.locator(".comment-meta")).to_contain_text(f"{DELEGATE_NAME} (İzmir)")

    # --- ... proposes an amendment to ¶2 --------------------------------------------------------
    paragraph = delegate.locator("#p-2")
    paragraph.locator("summary").click()
    replacement = paragraph.get_by_label("Replacement text for ¶2")
    expect(replacement).to_have_value("We will share what we learn about culture and the economy.")
    replacement.fill(REPLACEMENT)
    paragraph.get_by_label("Reason").fill("Every member city should be able to read what we learn.")
    with delegate.expect_navigation():
        paragraph.get_by_role("button", name="Propose amendment").click()
    expect(delegate.locator(".flash")).to_have_text("Amendment proposed. The secretariat will accept or decline it.")
    amendment = delegate.locator(".amendment")
    expect(amendment).to_have_count(1)
    expect(amendment).to_contain_text(f"to ¶2 of revision 2 by {DELEGATE_NAME} (İzmir)")
    expect(amendment.locator(".amendment-status")).to_have_text("open")
    expect(amendment.locator("ins")).to_contain_text(["openly and in every language"])
    expect(amendment.get_by_role("button", name="Accept")).to_have_count(0)  # not the delegate's to decide
    amendment_id = (amendment.get_attribute("id") or "").removeprefix("amendment-")
    assert amendment_id.isdigit(), amendment_id

    # --- ... and approves revision 2 for signature, confirming ---------------------------------
    watch.decisions.append(False)  # first, change their mind: nothing happens
    delegate.get_by_role("button", name="Approve this revision for signature").click()
    delegate.wait_for_timeout(300)
    expect(delegate.locator(".approved")).to_have_count(0)
    watch.decisions.append(True)
    with delegate.expect_navigation():
        delegate.get_by_role("button", name="Approve this revision for signature").click()
    question = f"confirm: Approve revision 2 (SHA-256 {seeded.sha2[:16]}…) for signature on behalf of your city?"
    assert watch.questions == [question, question]
    expect(delegate.locator(".flash")).to_contain_text(f"You approved revision 2 for signature (SHA-256 "
                                                       f"{seeded.sha2[:16]}…).")
    expect(delegate.locator(".approved")).to_contain_text("Approved for signature by your city on ")
    expect(delegate.get_by_role("button", name="Approve this revision for signature")).to_have_count(0)

    # --- The secretariat accepts the amendment --------------------------------------------------
    admin_context = browser.new_context()
    admin_context.set_default_timeout(TIMEOUT_MS)
    admin = admin_context.new_page()
    watch.watch(admin)
    log_in(admin, base, SECRETARIAT_EMAIL)
    admin.goto(f"{base}/declarations/{SLUG}/revisions")
    card = admin.locator(f"#amendment-{amendment_id}")
    expect(card).to_contain_text(DELEGATE_NAME)
    watch.decisions.append(True)
    with admin.expect_navigation():
        card.get_by_role("button", name="Accept").click()
    assert watch.questions[-1] == (f"confirm: Accept amendment #{amendment_id}? A new revision is created with the "
                                   "change applied.")
    expect(admin).to_have_url(f"{base}/declarations/{SLUG}/revisions/3")
    expect(admin.locator(".flash")).to_have_text("Amendment accepted: revision 3 applies it.")
    meta = admin.locator(".revision-meta")
    expect(meta).to_contain_text("Revision 3 of 3")
    expect(meta).to_contain_text(f"applies an amendment by {DELEGATE_NAME}")
    expect(admin.locator("#p-2 .paragraph-body")).to_have_text(REPLACEMENT)
    expect(admin.locator("#p-1 .paragraph-body")).to_contain_text("meet in İzmir")
    decided = [m for m in read_mail(live_server.app.config["MAIL_FILE_DIR"]) if "amendment" in m["Subject"]]
    assert [m["To"] for m in decided] == [DELEGATE_EMAIL]

    # --- ... and opens signing on revision 3 ------------------------------------------------------
    with admin.expect_navigation():
        admin.get_by_role("navigation", name="Declaration").get_by_role("link", name="Open signing").click()
    expect(admin).to_have_url(f"{base}/declarations/{SLUG}/open-signing")
    expect(admin.get_by_label("Revision to sign")).to_have_value("3")
    rows = admin.locator("table.grid tbody tr")
    expect(rows).to_have_count(2)
    expect(admin.locator("table.grid tbody tr", has_text="İzmir")).to_contain_text("2")
    admin.get_by_label("Signing rule").select_option("all")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Open signing").click()
    expect(admin).to_have_url(f"{base}/declarations/{SLUG}")
    expect(admin.locator(".flash")).to_contain_text("Signing is open.")
    header = admin.locator(".decl-header")
    expect(header.locator(".status")).to_have_text("Open for signature")
    expect(header).to_contain_text("signing revision 3")

    # The text is locked, for both of them.
    delegate.goto(f"{base}/declarations/{SLUG}")
    for page in (admin, delegate):
        expect(page.locator(".decl-header .status")).to_have_text("Open for signature")
        expect(page.locator("#p-2 .paragraph-body")).to_have_text(REPLACEMENT)
        expect(page.locator("details.paragraph-actions")).to_have_count(0)
        expect(page.locator("textarea[name=body], textarea[name=replacement], textarea[name=reason]")).to_have_count(0)
        expect(page.get_by_role("button", name="Propose amendment")).to_have_count(0)
        expect(page.get_by_role("button", name="Comment", exact=True)).to_have_count(0)
        expect(page.get_by_role("button", name="Accept")).to_have_count(0)
        expect(page.get_by_role("link", name="Edit text")).to_have_count(0)
    expect(delegate.get_by_role("button", name="Approve this revision for signature")).to_have_count(0)

    admin_context.close()
    delegate_context.close()
    assert watch.problems == []
