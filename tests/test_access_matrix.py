"""Who may do what: every route of the app against every kind of visitor.

The table below has one row per (endpoint, method). A route added to the app
without a row here fails ``test_matrix_covers_every_route``. Declaration routes
are checked on a declaration in consultation (with one comment and one amendment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import BACKENDS, PASSWORD, People, csrf_token, login

pytestmark = pytest.mark.usefixtures("fresh_g")

ROLES = ("anonymous", "observer", "delegate", "other_delegate", "secretariat")
MEMBERS = ROLES[1:]

# Expected outcomes.
OK = "200"  # GET answered
ALLOWED = "allowed"  # a POST the guard lets through: not 403, not sent to log in, never 5xx
LOGIN = "login"  # 302 to /login?next=...
FORBIDDEN = "403"
BAD_LINK = "400"  # a bogus invitation / reset token: a clear 400, never 500
CONFLICT = "409"  # allowed role, wrong workflow state
NOT_FOUND = "404"  # allowed past the guard, but the thing named in the URL does not exist
UNAUTHORIZED = "401"  # a same-origin JSON endpoint without a session: JSON 401, never a redirect
HOME = "home"  # 302 to / (already logged in)
LOGGED_OUT = "logged out"  # 302 to /login without next
FAVICON = "301 /static/favicon.svg"  # "<status> <path>": a redirect to exactly there


def everyone(outcome: str) -> dict[str, str]:
    return dict.fromkeys(ROLES, outcome)


def members(outcome: str) -> dict[str, str]:
    return {"anonymous": LOGIN, **dict.fromkeys(MEMBERS, outcome)}


def secretariat(outcome: str) -> dict[str, str]:
    return {**members(FORBIDDEN), "secretariat": outcome}


def delegates(outcome: str) -> dict[str, str]:
    return {**members(FORBIDDEN), "delegate": outcome, "other_delegate": outcome}


def secretariat_and_delegates(outcome: str) -> dict[str, str]:
    return {**delegates(outcome), "secretariat": outcome}


MATRIX: dict[tuple[str, str], dict[str, str]] = {
    ("auth.login", "GET"): {"anonymous": OK, **dict.fromkeys(MEMBERS, HOME)},
    ("auth.login", "POST"): {"anonymous": ALLOWED, **dict.fromkeys(MEMBERS, HOME)},
    ("auth.logout", "POST"): everyone(LOGGED_OUT),
    ("auth.accept_invitation", "GET"): everyone(BAD_LINK),
    ("auth.accept_invitation", "POST"): everyone(BAD_LINK),
    ("auth.request_reset", "GET"): everyone(OK),
    ("auth.request_reset", "POST"): everyone(ALLOWED),
    ("auth.reset_password", "GET"): everyone(BAD_LINK),
    ("auth.reset_password", "POST"): everyone(BAD_LINK),
    ("auth.account", "GET"): members(OK),
    # The interface language (tests/test_i18n.py): anyone may choose one; it is remembered, then back to a page.
    ("language.choose", "POST"): everyone(ALLOWED),
    ("auth.account", "POST"): members(ALLOWED),
    ("auth.token_create", "POST"): members(ALLOWED),
    ("auth.token_revoke", "POST"): members(ALLOWED),
    # No such session (tests/test_sessions.py ends real ones); ending them all logs out.
    ("auth.session_end", "POST"): members(NOT_FOUND),
    ("auth.sessions_end_all", "POST"): {"anonymous": LOGIN, **dict.fromkeys(MEMBERS, LOGGED_OUT)},
    # Second factor (tests/test_second_factor.py, test_passkeys.py). No password given: back to log in.
    ("auth.second_factor_step", "GET"): {"anonymous": LOGGED_OUT, **dict.fromkeys(MEMBERS, HOME)},
    ("auth.second_factor_step", "POST"): {"anonymous": LOGGED_OUT, **dict.fromkeys(MEMBERS, HOME)},
    ("account_security.totp_begin", "POST"): members(ALLOWED),
    ("account_security.totp_confirm", "POST"): members(ALLOWED),
    ("account_security.totp_disable", "POST"): members(ALLOWED),
    ("account_security.recovery_codes_renew", "POST"): members(ALLOWED),
    ("account_security.passkey_remove", "POST"): members(ALLOWED),
    ("passkeys.register_options", "POST"): {**members(ALLOWED), "anonymous": UNAUTHORIZED},
    ("passkeys.register", "POST"): {**members(ALLOWED), "anonymous": UNAUTHORIZED},
    ("passkeys.login_options", "POST"): {"anonymous": ALLOWED, **dict.fromkeys(MEMBERS, CONFLICT)},
    ("passkeys.login", "POST"): {"anonymous": ALLOWED, **dict.fromkeys(MEMBERS, CONFLICT)},
    ("home.home", "GET"): members(OK),
    ("home.city", "GET"): {
        "anonymous": LOGIN,
        "observer": FORBIDDEN,
        "delegate": OK,
        "other_delegate": FORBIDDEN,
        "secretariat": OK,
    },
    ("home.healthz", "GET"): everyone(OK),
    ("home.favicon", "GET"): everyone(FAVICON),
    ("admin.city_list", "GET"): secretariat(OK),
    ("admin.city_new", "GET"): secretariat(OK),
    ("admin.city_new", "POST"): secretariat(ALLOWED),
    ("admin.city_edit", "GET"): secretariat(OK),
    ("admin.city_edit", "POST"): secretariat(ALLOWED),
    ("admin.city_detail", "GET"): secretariat(OK),
    ("admin.city_invite", "POST"): secretariat(ALLOWED),
    ("admin.user_list", "GET"): secretariat(OK),
    ("admin.user_list", "POST"): secretariat(ALLOWED),
    ("admin.user_resend", "POST"): secretariat(ALLOWED),
    ("admin.user_deactivate", "POST"): secretariat(ALLOWED),
    ("admin.user_reactivate", "POST"): secretariat(ALLOWED),
    ("admin.audit_log", "GET"): secretariat(OK),
    ("admin.mail_log", "GET"): secretariat(OK),
    # Webhooks (the endpoint in the URL does not exist: tests/webhooks checks a real one).
    ("webhooks.index", "GET"): secretariat(OK),
    ("webhooks.index", "POST"): secretariat(ALLOWED),
    ("webhooks.show", "GET"): secretariat(NOT_FOUND),
    ("webhooks.send_test", "POST"): secretariat(ALLOWED),
    ("webhooks.enable", "POST"): secretariat(ALLOWED),
    ("webhooks.disable", "POST"): secretariat(ALLOWED),
    # Declarations (in consultation).
    ("declarations.index", "GET"): members(OK),
    ("declarations.new", "GET"): secretariat(OK),
    ("declarations.new", "POST"): secretariat(ALLOWED),
    ("declarations.show", "GET"): members(OK),
    ("declarations.revisions", "GET"): members(OK),
    ("declarations.revision", "GET"): members(OK),
    ("declarations.revision_source", "GET"): members(OK),
    ("declarations.compare", "GET"): members(OK),
    ("declarations.edit", "GET"): secretariat(OK),
    ("declarations.edit", "POST"): secretariat(ALLOWED),
    ("declarations.open_consultation", "GET"): secretariat(CONFLICT),
    ("declarations.open_consultation", "POST"): secretariat(CONFLICT),
    ("declarations.open_signing", "GET"): secretariat(OK),
    ("declarations.open_signing", "POST"): secretariat(ALLOWED),
    ("declarations.return_to_consultation", "GET"): secretariat(CONFLICT),
    ("declarations.return_to_consultation", "POST"): secretariat(CONFLICT),
    ("declarations.freeze_now", "GET"): secretariat(CONFLICT),
    ("declarations.freeze_now", "POST"): secretariat(CONFLICT),
    ("declarations.board", "GET"): secretariat(OK),
    # The link in every e-mail (issue 11): to what is asked now; in consultation, reading the latest revision.
    ("declarations.next_step", "GET"): members("302 /declarations/b40-izmir"),
    # Per-city nudges on the dashboard: nothing to remind in consultation, and İzmir's delegate has joined.
    ("nudges.remind", "POST"): secretariat(CONFLICT),
    ("nudges.resend_invitation", "POST"): secretariat(CONFLICT),
    ("declarations.board_csv", "GET"): secretariat(OK),
    ("review.comment", "POST"): secretariat_and_delegates(ALLOWED),
    # The comment is İzmir's: its author and the secretariat may resolve it, no one else.
    ("review.resolve", "POST"): {**secretariat(ALLOWED), "delegate": ALLOWED},
    ("review.propose", "POST"): delegates(ALLOWED),
    ("review.accept", "POST"): secretariat(ALLOWED),
    ("review.decline", "POST"): secretariat(ALLOWED),
    ("review.approve", "POST"): delegates(ALLOWED),
    # Signing in the browser (signing/web/signing.py, and its JSON endpoints in signing/api/browser.py, posted with
    # JSON_BODIES). No key or signature exists here (tests/test_web_signing.py checks them with real ones); the
    # declaration is in consultation, so signing is refused with 409.
    # Public pages: no login; a declaration that is not frozen does not exist there (tests/test_public.py
    # checks a frozen one).
    ("public.index", "GET"): everyone(OK),
    ("public.declaration", "GET"): everyone(NOT_FOUND),
    ("public.bundle_zip", "GET"): everyone(NOT_FOUND),
    ("public.bundle_pdf", "GET"): everyone(NOT_FOUND),
    ("public.bundle_asice", "GET"): everyone(NOT_FOUND),
    ("public.bundle_text", "GET"): everyone(NOT_FOUND),
    # The transparency log: public (tests/tlog checks its contents). The declaration in consultation put
    # entries in it; the full tile 0 does not exist yet (only partial ones).
    ("log.index", "GET"): everyone(OK),
    ("log.checkpoint", "GET"): everyone(OK),
    ("log.key", "GET"): everyone(OK),
    ("log.tile", "GET"): everyone(NOT_FOUND),
    ("signing.keys_page", "GET"): delegates(OK),
    ("signing.admin_keys", "GET"): secretariat(OK),
    ("signing.revoke_key", "POST"): secretariat_and_delegates(NOT_FOUND),
    ("signing.sign_page", "GET"): delegates(CONFLICT),
    ("signing.decline", "POST"): delegates(CONFLICT),
    ("signing.retract_decline", "POST"): delegates(CONFLICT),
    ("signing.receipt", "GET"): secretariat_and_delegates(NOT_FOUND),
    ("signing_json.enrol_key", "POST"): {**delegates(ALLOWED), "anonymous": UNAUTHORIZED},
    ("signing_json.sign_payload", "POST"): {**delegates(CONFLICT), "anonymous": UNAUTHORIZED},
    ("signing_json.sign_submit", "POST"): {**delegates(CONFLICT), "anonymous": UNAUTHORIZED},
    ("signing_json.withdraw_payload", "POST"): {**delegates(CONFLICT), "anonymous": UNAUTHORIZED},
    ("signing_json.withdraw_submit", "POST"): {**delegates(CONFLICT), "anonymous": UNAUTHORIZED},
    # Witness keys of the transparency log (tests/tlog/test_witness_keys.py, tests/browser/test_witness_journey.py).
    ("signing.revoke_witness_key", "POST"): secretariat_and_delegates(NOT_FOUND),
    ("signing_json.enrol_witness_key", "POST"): {**delegates(ALLOWED), "anonymous": UNAUTHORIZED},
    # Mayors' mandates: the mayor's page and its JSON endpoints are the mayor's only (the mayor's own outcomes,
    # and the mayor's on the other signing routes: tests/mandates/test_mandate_access.py).
    ("mandates.index", "GET"): members(FORBIDDEN),
    ("mandates_json.mandate_payload", "POST"): {**members(FORBIDDEN), "anonymous": UNAUTHORIZED},
    ("mandates_json.mandate_submit", "POST"): {**members(FORBIDDEN), "anonymous": UNAUTHORIZED},
    ("mandates_json.revocation_payload", "POST"): {**members(FORBIDDEN), "anonymous": UNAUTHORIZED},
    ("mandates_json.revocation_submit", "POST"): {**members(FORBIDDEN), "anonymous": UNAUTHORIZED},
    # Endorsements (signing/web/endorse*.py): public pages of a FROZEN declaration only, so here (a slug that is no
    # frozen declaration) every one of them is 404 for everyone, the JSON ones included (tests/endorsements checks
    # them on a frozen one). Anyone may ask for an endorser account. The secretariat's pages: no such endorser or
    # endorsement exists here.
    ("endorse.index", "GET"): everyone(NOT_FOUND),
    ("endorse.count_json", "GET"): everyone(NOT_FOUND),
    ("endorse.count_svg", "GET"): everyone(NOT_FOUND),
    ("endorse.start", "GET"): everyone(NOT_FOUND),
    ("endorse.start", "POST"): everyone(NOT_FOUND),
    ("endorse.open_link", "GET"): everyone(NOT_FOUND),
    ("endorse.open_link", "POST"): everyone(NOT_FOUND),
    ("endorse.sign_page", "GET"): everyone(NOT_FOUND),
    ("endorse.statement", "GET"): everyone(NOT_FOUND),
    ("endorse.withdraw_page", "GET"): everyone(NOT_FOUND),
    ("endorse.request_account", "GET"): everyone(OK),
    ("endorse.request_account", "POST"): everyone(ALLOWED),
    ("endorse_json.submit", "POST"): everyone(NOT_FOUND),
    ("endorse_json.withdraw", "POST"): everyone(NOT_FOUND),
    ("endorse_admin.endorsers_page", "GET"): secretariat(OK),
    ("endorse_admin.verify", "POST"): secretariat(NOT_FOUND),
    ("endorse_admin.erase_name", "POST"): secretariat(NOT_FOUND),
    ("endorse_admin.moderation", "GET"): secretariat(OK),
    ("endorse_admin.hide", "POST"): secretariat(NOT_FOUND),
    ("endorse_admin.unhide", "POST"): secretariat(NOT_FOUND),
}

# The signing pages' JSON endpoints take JSON only (a form post is a 400 before any role is looked at): they get
# well-formed bodies, with the CSRF token in the X-CSRFToken header as the scripts send it.
_NO_KEY = {"key_fingerprint": "sha256:" + "0" * 64}
_JUNK = {"payload": "e30=", "signature": "A" * 86 + "=="}  # "{}" and 64 zero bytes: well-formed, never issued
JSON_BODIES: dict[str, dict[str, str]] = {
    "signing_json.enrol_key": {"public_key": "oHxVDlhrMd7B5WGdtBk/OwjOGxs7tYp66ex5GbJFhKc=", "label": "Matrix",
                               "password": PASSWORD},
    "signing_json.enrol_witness_key": {"public_key": "oHxVDlhrMd7B5WGdtBk/OwjOGxs7tYp66ex5GbJFhKc=",
                                       "password": PASSWORD},
    "signing_json.sign_payload": _NO_KEY, "signing_json.withdraw_payload": _NO_KEY,
    "signing_json.sign_submit": _JUNK, "signing_json.withdraw_submit": _JUNK,
    "mandates_json.mandate_payload": {**_NO_KEY, "delegate_id": "1", "scope": "network",
                                      "valid_until": "2030-01-01T00:00:00Z"},
    "mandates_json.revocation_payload": _NO_KEY,
    "mandates_json.mandate_submit": _JUNK, "mandates_json.revocation_submit": _JUNK,
    "endorse_json.submit": _JUNK, "endorse_json.withdraw": _JUNK,
}

# Form data that would change something if the request got through (used by the CSRF test).
FORM_DATA: dict[str, dict[str, str]] = {
    "auth.login": {"email": "sec@b40.example", "password": PASSWORD},
    "auth.accept_invitation": {"password": "a new long password", "confirm": "a new long password"},
    "auth.request_reset": {"email": "izmir@b40.example"},
    "auth.reset_password": {"password": "a new long password", "confirm": "a new long password"},
    "language.choose": {"locale": "tr"},
    "auth.account": {"current": PASSWORD, "password": "a new long password", "confirm": "a new long password"},
    "admin.city_new": {"name": "Sofia", "country": "Bulgaria"},
    "admin.city_edit": {"name": "Smyrna", "country": "Türkiye"},
    "admin.city_invite": {"display_name": "New delegate", "email": "new@b40.example"},
    "admin.user_list": {"display_name": "New observer", "email": "newobs@b40.example", "role": "observer"},
    "webhooks.index": {"url": "http://127.0.0.1:9/hook", "events": "signature.accepted"},
    "declarations.new": {"title": "Another declaration", "text": "One.\n\nTwo."},
    "declarations.edit": {"text": "A different text.", "note": "rewritten"},
    "declarations.open_signing": {"revision": "1", "rule": "all"},
    "declarations.return_to_consultation": {"reason": "Not ready."},
    "review.comment": {"paragraph": "1", "body": "A comment."},
    "review.propose": {"paragraph": "1", "replacement": "Better.", "reason": "Because."},
    "review.accept": {"reason": "Fine."},
    "review.decline": {"reason": "No."},
    "endorse.request_account": {"kind": "organisation", "name": "Civic Forum", "country": "RO",
                                "email": "forum@example.org"},
    "endorse_admin.hide": {"reason": "Spam."},
    "signing.decline": {"reason": "We will not sign."},
}


@dataclass
class Targets:
    """What the URL arguments point at."""

    people: People
    declaration_slug: str
    comment_id: int
    amendment_id: int


@pytest.fixture
def targets(app: Flask, people: People) -> Targets:
    """A declaration in consultation, with a comment and an amendment by İzmir's delegate."""
    from signing.manage.demo import declaration_text
    from signing.services import declarations, review

    declaration = declarations.create("B40 İzmir Declaration", declaration_text(), people.secretariat,
                                      slug="b40-izmir")
    declarations.open_consultation(declaration, people.secretariat)
    revision = declaration.latest
    comment = review.add_comment(revision, 0, "Please name the cities.", people.delegate)
    paragraphs = review.paragraphs(revision)
    amendment = review.propose_amendment(revision, 1, paragraphs[1] + " Together.", "Stronger.", people.delegate)
    return Targets(people, declaration.slug, comment.id, amendment.id)


IGNORED_METHODS = {"HEAD", "OPTIONS"}


def routes(app: Flask) -> list[tuple[str, str, Any]]:
    """(endpoint, method, rule) for every route but ``static`` and the bearer-token API (tests/api has its own)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            found.append((rule.endpoint, method, rule))
    return found


def url_for_rule(app: Flask, rule: Any, targets: Targets) -> str:
    people = targets.people
    candidates: dict[str, Any] = {
        "slug": targets.declaration_slug if "/declarations/" in rule.rule else people.city.slug,
        "user_id": people.delegate.id,
        "token": "bogus-token",
        "number": 1,
        "comment_id": targets.comment_id,
        "amendment_id": targets.amendment_id,
        "key_id": 999_999,  # no such key
        "signature_id": 999_999,  # no such signature
        "token_id": 1,
        "endpoint_id": 999_999,  # no such webhook endpoint
        "session_id": 999_999,  # no such session
        "passkey_id": 999_999,  # no such passkey
        "mandate_id": 999_999,  # no such mandate
        "tile": "0/000",
        "sha256": "0" * 64,  # no such endorsement
        "endorser_id": 999_999,  # no such endorser
        "endorsement_id": 999_999,  # no such endorsement
        "city_slug": people.city.slug,
    }
    needed = set(rule.arguments) - set(rule.defaults or {})  # a rule's defaults are its own, not the URL's
    unknown = needed - set(candidates)
    assert not unknown, f"the access matrix does not know how to fill {unknown} in {rule.rule}"
    values = {name: candidates[name] for name in needed}
    path: str = app.url_map.bind("localhost").build(rule.endpoint, values)
    return path


def test_matrix_covers_every_route(app: Flask) -> None:
    in_app = {(endpoint, method) for endpoint, method, _ in routes(app)}
    missing = sorted(in_app - MATRIX.keys())
    stale = sorted(MATRIX.keys() - in_app)
    assert not missing, f"routes without a row in the access matrix: {missing}"
    assert not stale, f"rows in the access matrix for routes that no longer exist: {stale}"
    for key, row in MATRIX.items():
        assert set(row) == set(ROLES), f"{key}: the row must say what happens to every role"


def _location(response: Any) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(response.headers.get("Location", ""))
    assert parts.netloc in {"", "localhost"}, response.headers.get("Location")
    return parts.path, parse_qs(parts.query)


def _problem(outcome: str, response: Any) -> str | None:
    """None if ``response`` is the expected ``outcome``, else what went wrong."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if outcome in {OK, FORBIDDEN, BAD_LINK, CONFLICT, NOT_FOUND, UNAUTHORIZED}:
        return None if status == int(outcome) else f"expected {outcome}, got {status}"
    if outcome[0].isdigit():
        want_status, want_path = outcome.split(" ", 1)
        if status == int(want_status) and _location(response)[0] == want_path:
            return None
        return f"expected {outcome}, got {status} {response.headers.get('Location')}"
    redirect = _location(response) if status in {301, 302, 303, 307, 308} else None
    to_login = redirect is not None and redirect[0] == "/login"
    if outcome == LOGIN:
        if status == 302 and to_login and redirect and "next" in redirect[1]:
            return None
        return f"expected a redirect to log in, got {status} {response.headers.get('Location')}"
    if outcome == LOGGED_OUT:
        if status == 302 and to_login and redirect and "next" not in redirect[1]:
            return None
        return f"expected a redirect to /login after logging out, got {status} {response.headers.get('Location')}"
    if outcome == HOME:
        if status == 302 and redirect and redirect[0] == "/":
            return None
        return f"expected a redirect home, got {status} {response.headers.get('Location')}"
    if outcome == ALLOWED:
        if status == 403:
            return "refused (403) but should be allowed"
        if to_login:
            return "sent to log in but should be allowed"
        if status == 405:
            return "405: the route does not accept this method"
        return None
    raise AssertionError(f"unknown outcome {outcome!r}")


def _client_as(app: Flask, role: str, people: People) -> tuple[FlaskClient, str]:
    """A fresh client logged in as ``role``, and a CSRF token valid for its session."""
    client = app.test_client()
    if role == "anonymous":
        return client, csrf_token(client, "/login")
    response = login(client, people.by_role(role).email)
    assert response.status_code == 302, f"{role} cannot log in: {response.status_code}"
    return client, csrf_token(client, "/account")


@BACKENDS
@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app: Flask, people: People, targets: Targets, role: str) -> None:
    problems = []
    checked = 0
    for endpoint, method, rule in routes(app):
        row = MATRIX.get((endpoint, method))
        if row is None:
            continue  # reported by test_matrix_covers_every_route
        path = url_for_rule(app, rule, targets)
        client, token = _client_as(app, role, people)
        checked += 1
        try:
            if method == "GET":
                response = client.get(path)
            elif endpoint in JSON_BODIES:
                response = client.post(path, json=JSON_BODIES[endpoint], headers={"X-CSRFToken": token})
            else:
                response = client.post(path, data={"csrf_token": token})
        except Exception as exc:  # TESTING propagates server errors: report them all, in one list
            problems.append(f"{role} {method} {path} ({endpoint}): server error {exc!r}")
            continue
        problem = _problem(row[role], response)
        if problem:
            problems.append(f"{role} {method} {path} ({endpoint}): {problem}")
    assert checked == len(MATRIX)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("role", "expected"),
    [("secretariat", 200), ("delegate", 200), ("other_delegate", 403), ("observer", 403)],
)
def test_city_page_shows_the_city_only_to_those_allowed(app: Flask, people: People, role: str,
                                                        expected: int) -> None:
    client, _ = _client_as(app, role, people)
    response = client.get(f"/cities/{people.city.slug}")
    assert response.status_code == expected
    body = response.get_data(as_text=True)
    assert ("İzmir" in body) == (expected == 200)
    # The other city's page is open to its own delegate only.
    other = client.get(f"/cities/{people.other_city.slug}").status_code
    assert other == (200 if role in {"secretariat", "other_delegate"} else 403)


@BACKENDS
def test_post_without_csrf_token_is_refused_and_changes_nothing(app: Flask, people: People,
                                                                targets: Targets) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent, City, OutboxEmail, Revision, User

    def counts() -> tuple[int, ...]:
        db.session.expire_all()
        return tuple(
            db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (AuditEvent, User, City, OutboxEmail, Revision)
        )

    client, _ = _client_as(app, "secretariat", people)
    before = counts()
    posted = 0
    for endpoint, method, rule in routes(app):
        if method != "POST":
            continue
        path = url_for_rule(app, rule, targets)
        response = client.post(path, data=FORM_DATA.get(endpoint, {}))
        posted += 1
        assert response.status_code == 400, f"POST {path} without a CSRF token: {response.status_code}"
        assert "The form has expired" in response.get_data(as_text=True), path
        # A wrong token is no better than none.
        response = client.post(path, data={**FORM_DATA.get(endpoint, {}), "csrf_token": "forged"})
        assert response.status_code == 400, f"POST {path} with a forged CSRF token: {response.status_code}"
    assert posted >= 10
    assert counts() == before
    # Still logged in (the logout POST was refused), and nobody was deactivated.
    assert client.get("/").status_code == 200
    db.session.refresh(people.delegate)
    assert people.delegate.active
    assert people.city.name == "İzmir"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", LOGIN), ("observer", FORBIDDEN), ("delegate", FORBIDDEN), ("other_delegate", FORBIDDEN),
     ("secretariat", OK)],
)
def test_a_draft_declaration_is_the_secretariats_alone(app: Flask, people: People, role: str,
                                                       expected: str) -> None:
    from signing.services import declarations

    declarations.create("Draft declaration", "First paragraph.\n\nSecond paragraph.", people.secretariat,
                        slug="draft")
    client, _ = _client_as(app, role, people)
    for path in ("/declarations/draft", "/declarations/draft/revisions", "/declarations/draft/revisions/1",
                 "/declarations/draft/revisions/1.md", "/declarations/draft/compare"):
        problem = _problem(expected, client.get(path))
        assert problem is None, f"{role} GET {path}: {problem}"
    listing = client.get("/declarations/")
    if role != "anonymous":
        assert listing.status_code == 200
        assert ("Draft declaration" in listing.get_data(as_text=True)) == (role == "secretariat")
