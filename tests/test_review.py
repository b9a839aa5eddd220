"""Review during consultation: comments, amendments, approvals for signature, the dashboard, notifications, text."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, login, message_text, read_mail

pytestmark = pytest.mark.usefixtures("fresh_g")

TEXT = (
    "The cities of the network meet in İzmir.\n\n"
    "They agree to share what they learn.\n\n"
    "They will meet again next year.\n"
)


def count(model: Any) -> int:
    from signing.extensions import db

    return db.session.scalar(select(func.count()).select_from(model)) or 0


def status_of(exc_info: Any) -> int:
    return int(exc_info.value.status)


@pytest.fixture
def consultation(app: Flask, people: People) -> Any:
    """A declaration in consultation with one revision of three paragraphs."""
    from signing.services import declarations

    declaration = declarations.create("Network declaration", TEXT, people.secretariat, slug="network")
    declarations.open_consultation(declaration, people.secretariat)
    return declaration


def client_for(app: Flask, person: Any) -> FlaskClient:
    client = app.test_client()
    response = login(client, person.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == status, f"GET {path}: {response.status_code} {body[:500]}"
    return body


def section(html: str, paragraph: int) -> str:
    """The HTML of ¶``paragraph`` (1-based) on a revision page."""
    start = html.index(f'<section class="paragraph" id="p-{paragraph}">')
    end = html.find('<section class="paragraph"', start + 1)
    return html[start:] if end == -1 else html[start:end]


# --- comments ---------------------------------------------------------------------------------


@BACKENDS
def test_comments_and_replies(app: Flask, people: People, consultation: Any) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent, Comment
    from signing.services import NotFound, ServiceError, declarations, review

    revision = consultation.latest
    parent = review.add_comment(revision, 1, "Which **lessons**?", people.delegate)
    # A reply names no paragraph of its own: it goes under its parent's (even when told another).
    reply = review.add_comment(revision, 2, "Those on housing.", people.other_delegate, parent_id=parent.id)
    assert (reply.paragraph, reply.parent_id, reply.revision_id) == (1, parent.id, revision.id)
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "comment.added" and event.details["reply_to"] == parent.id
    assert event.details["paragraph"] == 2
    db.session.refresh(parent)
    assert [c.id for c in parent.replies] == [reply.id]
    assert [c.id for c in review.comments_for(revision)] == [parent.id]

    before = count(Comment)
    # No reply to a reply.
    with pytest.raises(ServiceError) as refused:
        review.add_comment(revision, 1, "Nested.", people.secretariat, parent_id=reply.id)
    assert status_of(refused) == 400
    db.session.rollback()
    # No reply from another revision to this comment.
    second = declarations.add_revision(consultation, TEXT + "\nA fourth paragraph.\n", "r2", people.secretariat)
    before = count(Comment)
    with pytest.raises(ServiceError) as refused:
        review.add_comment(second, 1, "Across revisions.", people.secretariat, parent_id=parent.id)
    assert status_of(refused) == 400
    db.session.rollback()
    with pytest.raises(NotFound):
        review.add_comment(revision, 1, "To nothing.", people.secretariat, parent_id=999_999)
    db.session.rollback()
    for paragraph in (-1, 3, 10):
        with pytest.raises(ServiceError) as refused:
            review.add_comment(revision, paragraph, "Nowhere.", people.delegate)
        assert status_of(refused) == 400
        db.session.rollback()
    with pytest.raises(ServiceError) as refused:
        review.add_comment(revision, 0, "   \n ", people.delegate)
    assert status_of(refused) == 400
    db.session.rollback()
    assert count(Comment) == before

    # On the page: the reply is inside its parent, under ¶2, and the Markdown is rendered.
    html = page(client_for(app, people.observer), f"/declarations/{consultation.slug}/revisions/1")
    p2 = section(html, 2)
    assert f'id="comment-{parent.id}"' in p2 and f'id="comment-{reply.id}"' in p2
    assert p2.index(f'id="comment-{parent.id}"') < p2.index(f'id="comment-{reply.id}"')
    assert "<strong>lessons</strong>" in p2 and "Those on housing." in p2
    assert "comment-" not in section(html, 1) and "comment-" not in section(html, 3)

    # Through the form: a reply posted with paragraph 3 still lands under ¶2.
    client = client_for(app, people.secretariat)
    token = csrf_token(client, f"/declarations/{consultation.slug}/revisions/1")
    response = client.post(f"/declarations/{consultation.slug}/revisions/1/comments",
                           data={"csrf_token": token, "paragraph": "3", "parent_id": str(parent.id),
                                 "body": "Noted."})
    assert response.status_code == 302
    created = db.session.scalars(select(Comment).order_by(Comment.id.desc())).first()
    assert (created.paragraph, created.parent_id) == (1, parent.id)
    assert response.headers["Location"].endswith(f"/revisions/1#comment-{created.id}")


@BACKENDS
def test_resolve_is_for_the_author_or_the_secretariat(app: Flask, people: People, consultation: Any) -> None:
    from signing.extensions import db
    from signing.services import Conflict, Forbidden, review

    revision = consultation.latest
    mine = review.add_comment(revision, 0, "Mine.", people.delegate)
    theirs = review.add_comment(revision, 0, "Theirs.", people.delegate)
    for person in (people.other_delegate, people.observer):
        with pytest.raises(Forbidden):
            review.resolve_comment(mine, person)
        db.session.rollback()
    db.session.refresh(mine)
    assert mine.resolved_at is None

    # Over HTTP, the other city's delegate gets 403 and nothing changes.
    client = client_for(app, people.other_delegate)
    token = csrf_token(client, "/account")
    response = client.post(f"/declarations/{consultation.slug}/comments/{mine.id}/resolve",
                           data={"csrf_token": token})
    assert response.status_code == 403
    db.session.refresh(mine)
    assert mine.resolved_at is None

    review.resolve_comment(mine, people.delegate)
    db.session.refresh(mine)
    assert mine.resolved_at is not None and mine.resolved_by_id == people.delegate.id
    review.resolve_comment(theirs, people.secretariat)
    db.session.refresh(theirs)
    assert theirs.resolved_by_id == people.secretariat.id
    with pytest.raises(Conflict):
        review.resolve_comment(mine, people.secretariat)
    db.session.rollback()
    # A resolved comment takes no more replies on the page.
    html = page(client_for(app, people.delegate), f"/declarations/{consultation.slug}")
    assert f'name="parent_id" value="{mine.id}"' not in html
    assert 'class="comment resolved"' in html


# --- amendments -------------------------------------------------------------------------------


def mails_to(app: Flask, address: str) -> list[Any]:
    return [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if m["To"] == address]


@BACKENDS
def test_accepting_an_amendment_makes_the_next_revision(app: Flask, people: People, consultation: Any) -> None:
    from signing.extensions import db
    from signing.models import AmendmentStatus, Revision
    from signing.services import Conflict, Forbidden, declarations, review
    from signing.text.canonical import split_paragraphs

    proposed_on = consultation.latest
    amendment = review.propose_amendment(proposed_on, 1, "They agree to share what they learn, openly.",
                                         "Openness.", people.delegate)
    assert amendment.original == "They agree to share what they learn."
    # Meanwhile another paragraph changes: acceptance applies to the latest revision and keeps that change.
    declarations.add_revision(consultation, TEXT.replace("next year", "in Athens"), "Venue", people.secretariat)
    assert consultation.latest.number == 2
    with pytest.raises(Forbidden):
        review.accept_amendment(amendment, people.delegate)
    db.session.rollback()
    mail_before = len(mails_to(app, people.delegate.email))

    result = review.accept_amendment(amendment, people.secretariat)
    db.session.refresh(amendment)
    assert result.number == 3
    assert split_paragraphs(result.text) == [
        "The cities of the network meet in İzmir.",
        "They agree to share what they learn, openly.",
        "They will meet again in Athens.",
    ]
    assert result.credited_to_id == people.delegate.id and result.author_id == people.secretariat.id
    assert amendment.status == AmendmentStatus.ACCEPTED.value
    assert amendment.result_revision_id == result.id
    assert amendment.decided_by_id == people.secretariat.id and amendment.decided_at is not None
    assert str(amendment.id) in result.note

    # The proposer hears about it, once; nobody else gets "amendment decided".
    decided = [m for m in mails_to(app, people.delegate.email) if "amendment" in m["Subject"]]
    assert len(decided) == 1 and len(mails_to(app, people.delegate.email)) == mail_before + 2  # + new revision
    assert "was accepted" in decided[0]["Subject"]
    assert "revision 3 applies it" in message_text(decided[0])
    others = [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if "Your amendment" in m["Subject"]]
    assert [m["To"] for m in others] == [people.delegate.email]

    # Deciding again is a conflict and changes nothing.
    revisions = count(Revision)
    for decide in (lambda: review.accept_amendment(amendment, people.secretariat),
                   lambda: review.decline_amendment(amendment, people.secretariat, "Changed my mind.")):
        with pytest.raises(Conflict):
            decide()
        db.session.rollback()
    assert count(Revision) == revisions
    db.session.refresh(amendment)
    assert amendment.status == AmendmentStatus.ACCEPTED.value

    # The pages credit the proposer.
    client = client_for(app, people.observer)
    html = page(client, f"/declarations/{consultation.slug}/revisions/3")
    assert "applies an amendment by İzmir delegate" in html
    listing = page(client, f"/declarations/{consultation.slug}/revisions")
    assert "(amendment by İzmir delegate)" in listing
    assert f'id="amendment-{amendment.id}"' in listing and "accepted" in listing


@BACKENDS
def test_declining_needs_a_reason(app: Flask, people: People, consultation: Any) -> None:
    from signing.extensions import db
    from signing.models import AmendmentStatus, Revision
    from signing.services import Forbidden, ServiceError, review

    amendment = review.propose_amendment(consultation.latest, 2, "They will meet again soon.", "Sooner.",
                                         people.other_delegate)
    revisions = count(Revision)
    for reason in ("", "   \n\t "):
        with pytest.raises(ServiceError) as refused:
            review.decline_amendment(amendment, people.secretariat, reason)
        assert status_of(refused) == 400
        db.session.rollback()
    with pytest.raises(Forbidden):
        review.decline_amendment(amendment, people.other_delegate, "My own.")
    db.session.rollback()
    db.session.refresh(amendment)
    assert amendment.status == AmendmentStatus.OPEN.value and amendment.decision_reason is None
    assert all("amendment" not in m["Subject"] for m in mails_to(app, people.other_delegate.email))

    review.decline_amendment(amendment, people.secretariat, "The date is fixed by the statutes.")
    db.session.refresh(amendment)
    assert amendment.status == AmendmentStatus.DECLINED.value
    assert amendment.decision_reason == "The date is fixed by the statutes."
    assert amendment.result_revision_id is None
    assert count(Revision) == revisions
    decided = [m for m in mails_to(app, people.other_delegate.email) if "amendment" in m["Subject"]]
    assert len(decided) == 1 and "was declined" in decided[0]["Subject"]
    assert "The date is fixed by the statutes." in message_text(decided[0])


@BACKENDS
def test_accepting_is_refused_when_the_paragraph_changed(app: Flask, people: People, consultation: Any) -> None:
    from signing.extensions import db
    from signing.models import AmendmentStatus, AuditEvent, OutboxEmail, Revision
    from signing.services import Conflict, declarations, review

    first = review.propose_amendment(consultation.latest, 1, "They agree to share everything.", "More.",
                                     people.delegate)
    second = review.propose_amendment(consultation.latest, 2, "They meet every year.", "Regular.",
                                      people.other_delegate)
    # The secretariat rewrites ¶2 itself, and adds a paragraph before ¶3 (which shifts it).
    changed = TEXT.replace("share what they learn", "share what they know")
    changed = changed.replace("They will meet", "Culture matters.\n\nThey will meet")
    declarations.add_revision(consultation, changed, "Rewritten", people.secretariat)
    before = (count(Revision), count(AuditEvent), count(OutboxEmail))
    for amendment in (first, second):
        with pytest.raises(Conflict) as refused:
            review.accept_amendment(amendment, people.secretariat)
        assert "has changed" in refused.value.message
        db.session.rollback()
        db.session.refresh(amendment)
        assert amendment.status == AmendmentStatus.OPEN.value and amendment.result_revision_id is None
    assert (count(Revision), count(AuditEvent), count(OutboxEmail)) == before
    review.decline_amendment(first, people.secretariat, "Overtaken by revision 2; propose again.")
    db.session.refresh(first)
    assert first.status == AmendmentStatus.DECLINED.value


# --- approvals for signature and the dashboard -------------------------------------------------


@BACKENDS
def test_approvals_survive_new_revisions(app: Flask, people: People, consultation: Any) -> None:
    from signing.extensions import db
    from signing.models import Approval
    from signing.services import Conflict, dashboard, declarations, review

    first = consultation.latest
    approval = review.approve(first, people.delegate)
    assert (approval.revision_id, approval.city_id, approval.user_id) == (
        first.id, people.city.id, people.delegate.id)
    assert approval.sha256 == first.sha256 == hashlib.sha256(TEXT.encode()).hexdigest()
    with pytest.raises(Conflict):
        review.approve(first, people.delegate)
    db.session.rollback()
    assert count(Approval) == 1

    board = dashboard.build(consultation)
    row = {r.city.id: r for r in board.rows}[people.city.id]
    assert (row.approved, row.approved_current, row.approved_sha256) == (1, True, first.sha256)
    assert board.approved_count == 1 and board.total == 2

    second = declarations.add_revision(consultation, TEXT + "\nSigned in İzmir.\n", "Place", people.secretariat)
    assert count(Approval) == 1  # a new revision clears nothing
    board = dashboard.build(consultation)
    rows = {r.city.id: r for r in board.rows}
    assert board.current.id == second.id
    assert (rows[people.city.id].approved, rows[people.city.id].approved_current) == (1, False)
    assert rows[people.city.id].approved_sha256 == first.sha256
    assert (rows[people.other_city.id].approved, rows[people.other_city.id].approved_current) == (None, False)
    assert board.approved_count == 0

    html = page(client_for(app, people.secretariat), f"/declarations/{consultation.slug}/dashboard")
    izmir_row = re.search(r'<tr data-city="izmir"[^>]*>.*?</tr>', html, re.S)
    assert izmir_row and "1 (older)" in izmir_row.group(0)
    assert "0 of 2" in html

    review.approve(second, people.delegate)
    review.approve(first, people.other_delegate)  # Athens approves the older one
    board = dashboard.build(consultation)
    rows = {r.city.id: r for r in board.rows}
    assert (rows[people.city.id].approved, rows[people.city.id].approved_current) == (2, True)
    assert (rows[people.other_city.id].approved, rows[people.other_city.id].approved_current) == (1, False)
    assert board.approved_count == 1
    latest = review.latest_approvals(consultation.id)
    assert latest[people.city.id].revision_id == second.id


@BACKENDS
def test_dashboard_rows_and_csv(app: Flask, people: People, consultation: Any) -> None:
    from signing.services import accounts, cities, review

    revision = consultation.latest
    review.add_comment(revision, 0, "One.", people.delegate)
    review.add_comment(revision, 1, "Two.", people.delegate)
    resolved = review.add_comment(revision, 2, "Three.", people.delegate)
    review.resolve_comment(resolved, people.delegate)
    parent = review.add_comment(revision, 2, "Athens asks.", people.other_delegate)
    review.add_comment(revision, 2, "A reply is not an open comment.", people.delegate, parent_id=parent.id)
    review.propose_amendment(revision, 0, "The cities meet in İzmir.", "Shorter.", people.other_delegate)
    page(client_for(app, people.delegate), f"/declarations/{consultation.slug}")  # İzmir read revision 1

    # Hostile names: each must reach a spreadsheet as text, not as a formula.
    cities.update_city(people.city, '=HYPERLINK("http://evil.example","click")', "+Türkiye", people.secretariat)
    accounts.update_profile(people.delegate, "@SUM(A1:A9)", people.secretariat)
    accounts.update_profile(people.other_delegate, "-2+3", people.secretariat)

    client = client_for(app, people.secretariat)
    response = client.get(f"/declarations/{consultation.slug}/dashboard.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["city", "country", "delegates", "last_revision_viewed", "approved_revision",
                       "approved_sha256", "approved_current", "open_comments", "open_amendments",
                       "signature_status"]
    body = rows[1:]
    assert len(body) == 2, rows  # one per city, in slug order: athens, izmir
    athens, izmir = body
    assert athens[:3] == ["Athens", "Greece", "'-2+3"]
    assert izmir[:3] == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "'+Türkiye", "'@SUM(A1:A9)"]
    assert izmir[3:] == ["1", "", "", "no", "2", "0", "—"]
    assert athens[3:] == ["", "", "", "no", "1", "1", "—"]
    for row in body:
        for cell in row:
            assert cell[:1] not in {"=", "+", "-", "@", "\t", "\r"}, row

    # The same numbers on the page (where the names are simply escaped).
    html = page(client, f"/declarations/{consultation.slug}/dashboard")
    izmir_row = re.search(r'<tr data-city="izmir"[^>]*>(.*?)</tr>', html, re.S)
    assert izmir_row is not None
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", izmir_row.group(1), re.S)]
    assert cells == ["=HYPERLINK(&#34;http://evil.example&#34;,&#34;click&#34;)", "@SUM(A1:A9)", "1", "—",
                     "2", "0", "—", ""]  # the last: the nudges (none in consultation)


@BACKENDS
def test_changed_since_notice(app: Flask, people: People, consultation: Any) -> None:
    from signing.services import declarations, review

    slug = consultation.slug
    izmir = client_for(app, people.delegate)
    athens = client_for(app, people.other_delegate)
    assert "changed-since" not in page(izmir, f"/declarations/{slug}")  # first visit: nothing to compare
    page(athens, f"/declarations/{slug}")
    review.approve(consultation.latest, people.delegate)
    declarations.add_revision(consultation, TEXT.replace("İzmir", "İzmir and Athens"), "Hosts", people.secretariat)

    html = page(izmir, f"/declarations/{slug}")
    notices = re.findall(r'<p class="flash flash-info changed-since".*?</p>', html, re.S)
    assert len(notices) == 2, notices
    assert "the revision you last viewed (revision 1)" in notices[0]
    assert "the revision your city last approved for signature (revision 1)" in notices[1]
    assert f"/declarations/{slug}/compare?from=1&amp;to=2" in notices[0]
    # Athens viewed revision 1 but approved nothing.
    notices = re.findall(r"changed-since.*?</p>", page(athens, f"/declarations/{slug}/revisions/1"), re.S)
    assert len(notices) == 1 and "you last viewed (revision 1)" in notices[0]

    # Having read revision 2, İzmir is only reminded of its approval; Athens read only 1 again.
    html = page(izmir, f"/declarations/{slug}")
    notices = re.findall(r"changed-since.*?</p>", html, re.S)
    assert len(notices) == 1 and "your city last approved for signature (revision 1)" in notices[0]
    assert "you last viewed" in page(athens, f"/declarations/{slug}")
    review.approve(consultation.latest, people.delegate)
    assert "changed-since" not in page(izmir, f"/declarations/{slug}")


# --- notifications ----------------------------------------------------------------------------


@BACKENDS
def test_notifications_go_once_to_each_active_member(app: Flask, people: People) -> None:
    from signing.models import OutboxEmail, Role
    from signing.services import accounts, declarations, delivery, outbox, transactions

    # Not followers: an invitation not yet accepted, a deactivated account.
    accounts.invite("invited@b40.example", "Invited", Role.OBSERVER, city=None, actor=people.secretariat)
    gone = accounts.create_user("gone@b40.example", "Gone", Role.OBSERVER, password=PASSWORD)
    accounts.set_active(gone, False, people.secretariat)
    members = sorted(p.email for p in (people.secretariat, people.observer, people.delegate, people.other_delegate))
    folder = app.config["MAIL_FILE_DIR"]

    def new_mail(before: int) -> list[Any]:
        return read_mail(folder)[before:]

    def check(batch: list[Any], subject: str, must_contain: str) -> None:
        assert sorted(m["To"] for m in batch) == members, [(m["To"], m["Subject"]) for m in batch]
        for message in batch:
            assert message["Subject"] == subject
            assert must_contain in message_text(message)

    declaration = declarations.create("Green cities", TEXT, people.secretariat, slug="green")
    start = len(read_mail(folder))
    declarations.add_revision(declaration, TEXT + "\nDraft two.\n", "", people.secretariat)
    assert new_mail(start) == [], "a revision of a draft notifies nobody"

    start = len(read_mail(folder))
    declarations.open_consultation(declaration, people.secretariat)
    check(new_mail(start), "Consultation open: “Green cities”", "http://accord.test/declarations/green")

    start = len(read_mail(folder))
    revision = declarations.add_revision(declaration, TEXT + "\nDraft three.\n", "Third", people.secretariat)
    check(new_mail(start), "New revision 3 of “Green cities”", revision.sha256)

    start = len(read_mail(folder))
    declarations.open_signing(declaration, 3, people.secretariat)
    check(new_mail(start), "Signing is open: “Green cities”", revision.sha256)

    # Nothing is sent twice: the outbox drained, redelivered, or the same event queued again.
    total = len(read_mail(folder))
    rows = count(OutboxEmail)
    from signing.extensions import db

    assert db.session.scalar(select(func.count()).where(OutboxEmail.status != "sent")) == 0
    outbox.drain()
    all_ids = list(db.session.scalars(select(OutboxEmail.id)))
    assert delivery.deliver(all_ids) == {}
    declarations._notify(f"consultation:{declaration.id}:{declaration.revisions[1].id}", "consultation_opened",
                         declarations.followers(), title=declaration.title, slug=declaration.slug, number=2)
    transactions.commit()
    assert count(OutboxEmail) == rows
    assert len(read_mail(folder)) == total
    keys = Counter((m["To"], m["Subject"]) for m in read_mail(folder))
    assert max(keys.values()) == 1, keys


# --- canonical text and redlines through the web ----------------------------------------------

NFC_TEXT = (
    "# İzmir Bildirgesi\n\n"
    "Şehirlerimiz; çağımızın ğ, ü, ö ve İ harfleriyle yazılan ortak geleceği için birlikte çalışır.\n\n"
    "Η Διακήρυξη της Αθήνας: οι πόλεις ενώνουν τις φωνές τους.\n\n"
    "Декларация Сараево и Белграда: мой город — наш общий дом.\n"
)


def _sha_on_page(html: str) -> str:
    match = re.search(r'data-sha256="([0-9a-f]{64})"', html)
    assert match, html[:2000]
    return match.group(1)


def _create(client: FlaskClient, title: str, slug: str, text: str) -> Any:
    token = csrf_token(client, "/declarations/new")
    return client.post("/declarations/new", data={"csrf_token": token, "title": title, "slug": slug, "text": text})


@BACKENDS
def test_canonical_text_through_the_web(app: Flask, people: People,
                                        login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("secretariat")
    nfd = unicodedata.normalize("NFD", NFC_TEXT)
    assert nfd != NFC_TEXT and "I\u0307" in nfd  # İ decomposed
    # NFD, CRLF line ends, trailing blanks and a byte-order mark: a browser or a word processor's paste.
    messy = "\ufeff" + nfd.replace("\n", "  \r\n") + "\r\n\r\n"
    expected_sha = hashlib.sha256(NFC_TEXT.encode("utf-8")).hexdigest()

    shas = {}
    for slug, text in (("nfc", NFC_TEXT), ("nfd", messy)):
        response = _create(client, f"Üç dil — {slug}", slug, text)
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
        assert response.headers["Location"].endswith(f"/declarations/{slug}")
        html = page(client, f"/declarations/{slug}/revisions/1")
        shas[slug] = _sha_on_page(html)
        assert "Η Διακήρυξη της Αθήνας" in html and "Декларация" in html and "İzmir Bildirgesi" in html
        source = client.get(f"/declarations/{slug}/revisions/1.md")
        assert source.status_code == 200
        assert source.get_data() == NFC_TEXT.encode("utf-8")
        assert source.headers["X-Content-SHA256"] == expected_sha
    assert shas == {"nfc": expected_sha, "nfd": expected_sha}

    # Saving the NFD/CRLF spelling of the same text is "no change" (409).
    token = csrf_token(client, "/declarations/nfc/edit")
    response = client.post("/declarations/nfc/edit", data={"csrf_token": token, "text": messy, "note": "same"})
    assert response.status_code == 409

    # A real change, sent in NFD with CRLF: the redline shows it word by word, in NFC.
    changed = (NFC_TEXT.replace("Αθήνας", "Θεσσαλονίκης").replace("мой", "твой")
               .replace("birlikte", "hep birlikte"))
    response = client.post("/declarations/nfc/edit", data={
        "csrf_token": token, "text": unicodedata.normalize("NFD", changed).replace("\n", "\r\n"),
        "note": "Θεσσαλονίκη"})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    html = page(client, "/declarations/nfc/revisions/2")
    assert _sha_on_page(html) == hashlib.sha256(changed.encode("utf-8")).hexdigest()
    compare = page(client, "/declarations/nfc/compare?from=1&to=2")
    assert "<del>Αθήνας</del><ins>Θεσσαλονίκης</ins>" in compare
    assert "<del>мой</del><ins>твой</ins>" in compare
    assert "<ins>hep </ins>birlikte" in compare
    assert "3 paragraph(s) changed, 0 added, 0 removed" in compare
    assert "3 word(s) inserted, 2 deleted" in compare
    # The default comparison is the previous revision against the latest.
    assert page(client, "/declarations/nfc/compare") == compare
    assert "No changes." in page(client, "/declarations/nfc/compare?from=2&to=2")
