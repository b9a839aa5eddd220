"""Public endorsement pages: counts (HTML, JSON, SVG), the list, a person's e-mail link, the signing step.

No login is needed to endorse as a person: the e-mail form sends a one-time link; opening it (and pressing
Continue: a POST, so that mail scanners fetching the link do not use it) marks this browser's session as that
person's for this declaration. Organisations endorse from their verified account; a member city's delegate
endorses for the city. The signing itself happens in the browser (``static/js/endorse.js``), which posts the
statement to ``endorse_json`` (``signing/web/endorse_json.py``).
"""

from __future__ import annotations

import hashlib
from html import escape

from flask import Blueprint, Flask, Response, abort, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from ..core import payload, statements
from ..extensions import db, limiter
from ..models import Declaration, Endorser, Status
from ..services import (
    Forbidden,
    ServiceError,
    endorsement_admin,
    endorsement_links,
    endorsement_queries,
    endorsements,
    endorsers,
)
from ..services import declarations as declaration_service
from ..services.endorsement_queries import FrozenDeclaration
from . import endorse_pages
from .endorse_forms import AccountRequestForm, ContinueForm, EndorseEmailForm

bp = Blueprint("endorse", __name__)
SESSION_KEY = "accord_endorser"  # {"endorser": public id, "declaration": id}: a person who opened a link
COUNT_MAX_AGE = 60


def frozen(slug: str) -> Declaration:
    try:
        declaration = declaration_service.get(slug)
    except ServiceError:
        abort(404)
    if declaration.status != Status.FROZEN.value:
        abort(404)
    return declaration


def frozen_view(slug: str) -> FrozenDeclaration:
    """For the public pages that show only its id, slug and title: kept per process once frozen (no query)."""
    found = endorsement_queries.frozen_declaration(slug)
    if found is None:
        abort(404)
    return found


def current_endorser(declaration: Declaration, *, create: bool = False) -> Endorser | None:
    """Who this browser endorses as: an organisation's account, a delegate's city, or a person's opened link."""
    if current_user.is_authenticated:
        if current_user.is_endorser:
            return endorsers.for_user(current_user)
        if current_user.is_delegate and current_user.city_id is not None:
            found = endorsers.for_user(current_user)
            if found is None and create:
                found = endorsers.for_city_delegate(current_user)
                db.session.commit()
            return found
    held = session.get(SESSION_KEY)
    if isinstance(held, dict) and held.get("declaration") == declaration.id:
        return endorsers.by_public_id(str(held.get("endorser", "")))
    return None


def _signed_in_kind() -> bool:
    return bool(current_user.is_authenticated and (current_user.is_endorser or current_user.is_delegate))


@bp.route("/d/<slug>/endorsements")
def index(slug: str) -> ResponseReturnValue:
    """Counts and one page of the list (``after``: keyset; ``q``: search), kept rendered (``endorse_pages``)."""
    return endorse_pages.list_page(frozen_view(slug), request.args.get("after", type=int), request.args.get("q", ""))


def _cached(response: Response) -> ResponseReturnValue:
    response.headers["Cache-Control"] = f"public, max-age={COUNT_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.add_etag()
    return response.make_conditional(request)


@bp.route("/d/<slug>/endorsements/count.json")
def count_json(slug: str) -> ResponseReturnValue:
    body, etag = endorse_pages.count_json(frozen_view(slug))
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    return _cached(response)


@bp.route("/d/<slug>/endorsements/count.svg")
def count_svg(slug: str) -> ResponseReturnValue:
    total = endorsement_queries.total(frozen_view(slug))
    label, value = escape(_("endorsements")), f"{total:,}".replace(",", "\u202f")
    left, right = 8 + 7 * len(label), 12 + 8 * len(value)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" role="img" '
           f'aria-label="{label}: {value}"><rect width="{left}" height="20" fill="#555"/>'
           f'<rect x="{left}" width="{right}" height="20" fill="#1f6f43"/>'
           f'<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
           f'<text x="6" y="14">{label}</text><text x="{left + 6}" y="14">{value}</text></g></svg>')
    return _cached(Response(svg, mimetype="image/svg+xml"))


@bp.route("/d/<slug>/endorse", methods=["GET", "POST"])
@limiter.limit(lambda: str(current_app.config["ENDORSEMENT_LINK_RATE_LIMIT"]), methods=["POST"])
def start(slug: str) -> ResponseReturnValue:
    """The e-mail form (people); an organisation's account or a delegate goes straight to the signing step."""
    declaration = frozen(slug)
    if _signed_in_kind() or current_endorser(declaration) is not None:
        return redirect(url_for("endorse.sign_page", slug=slug))
    form = EndorseEmailForm()
    if form.validate_on_submit():
        try:
            endorsement_links.request_link(declaration, form.email.data or "")
        except ServiceError as exc:
            form.email.errors = [exc.message]
            return render_template("endorse/start.html", declaration=declaration, form=form), exc.status
        return render_template("endorse/link_sent.html", declaration=declaration)
    return render_template("endorse/start.html", declaration=declaration, form=form), \
        400 if request.method == "POST" else 200


@bp.route("/d/<slug>/endorse/link/<token>", methods=["GET", "POST"])
def open_link(slug: str, token: str) -> ResponseReturnValue:
    """GET shows a button; POST uses the link once and opens the signing step in this browser."""
    declaration = frozen(slug)
    form = ContinueForm()
    if request.method == "POST" and form.validate_on_submit():
        person = endorsement_links.consume(declaration, token)
        session[SESSION_KEY] = {"endorser": person.public_id, "declaration": declaration.id}
        return redirect(url_for("endorse.sign_page", slug=slug))
    if request.method == "POST":
        abort(400)
    return render_template("endorse/open_link.html", declaration=declaration, form=form)


@bp.route("/d/<slug>/endorse/sign")
def sign_page(slug: str) -> ResponseReturnValue:
    declaration = frozen(slug)
    endorser = current_endorser(declaration, create=True)
    if endorser is None:
        if current_user.is_authenticated and current_user.is_endorser:
            abort(403)
        return redirect(url_for("endorse.start", slug=slug))
    if endorser.kind != "person" and endorser.verified_at is None:
        raise Forbidden(_("Your organisation is not verified yet: the secretariat will tell you by e-mail."))
    standing = endorsements.standing_of(declaration, endorser)
    return render_template(
        "endorse/sign.html", declaration=declaration, endorser=endorser, standing=standing,
        facts=endorsements.facts(declaration, endorser), countries=endorsers.countries(),
        statement_format=(statements.ENDORSEMENT_WITHDRAWAL if standing else statements.ENDORSEMENT).as_json(),
    )


@bp.route("/d/<slug>/endorsements/e/<sha256>")
def statement(slug: str, sha256: str) -> ResponseReturnValue:
    """One endorsement as anyone can check it: the exact bytes, the signature and the public key."""
    declaration = frozen(slug)
    record = endorsements.by_sha256(declaration, sha256)
    return render_template("endorse/statement.html", declaration=declaration, record=record,
                           payload_b64=payload.b64encode(record.payload),
                           signature_b64=payload.b64encode(record.signature),
                           key_pem=payload.public_key_pem(record.key.public_key).decode("ascii"),
                           name=record.endorser.public_name,
                           digest=hashlib.sha256(record.payload).hexdigest())


@bp.route("/d/<slug>/endorsements/e/<sha256>/withdraw")
def withdraw_page(slug: str, sha256: str) -> ResponseReturnValue:
    declaration = frozen(slug)
    record = endorsements.by_sha256(declaration, sha256)
    return render_template("endorse/withdraw.html", declaration=declaration, record=record,
                           facts=endorsements.facts(declaration, record.endorser),
                           statement_format=statements.ENDORSEMENT_WITHDRAWAL.as_json())


@bp.route("/endorsers/request", methods=["GET", "POST"])
@limiter.limit(lambda: str(current_app.config["ENDORSEMENT_LINK_RATE_LIMIT"]), methods=["POST"])
def request_account() -> ResponseReturnValue:
    """An organisation (or a city outside the network) asks for an account to endorse with."""
    form = AccountRequestForm()
    if form.validate_on_submit():
        try:
            endorsement_admin.request_account(form.kind.data or "", form.name.data or "", form.country.data or "",
                                              form.website.data or "", form.email.data or "")
        except ServiceError as exc:
            form.name.errors = [exc.message]
            return render_template("endorse/request.html", form=form, sent=False), exc.status
        return render_template("endorse/request.html", form=form, sent=True)
    return render_template("endorse/request.html", form=form, sent=False), 400 if request.method == "POST" else 200


# Pages an ``endorser`` account may open; it sees nothing of the network's internal work.
ENDORSER_BLUEPRINTS = frozenset({"endorse", "endorse_json", "public", "auth", "account_security", "passkeys",
                                 "home", "log", "static"})


def _endorser_accounts_stay_public() -> None:
    if current_user.is_authenticated and current_user.is_endorser and request.blueprint not in ENDORSER_BLUEPRINTS \
            and request.endpoint != "static":
        abort(403)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_endorser_accounts_stay_public)
