"""Signing in the browser: delegates' keys, the sign and withdraw page, receipts.

HTML pages and form posts (``/account/keys``, ``/admin/keys``, ``/declarations/<slug>/sign``, the receipt
download). The JSON endpoints the pages' scripts call (``static/js/keys.js``, ``static/js/sign.js``) are the
``signing_json`` blueprint of ``signing.api.browser``, on the API's signing path.

The private keys stay in the browser (IndexedDB); only public keys, payloads and signatures reach the server.
Who may sign is decided by the services (``services.keys``, ``services.signatures``), once.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..core import statements
from ..extensions import db
from ..models import City, Declaration, Role, Signature, SigningKey, User
from ..services import Conflict, ServiceError, declarations, declines, inbox, keys, mandate_rules, signatures, witness
from ..services.workflow import Action
from ..text.render import render_paragraphs
from . import redirects
from .conflicts import conflict_page
from .forms import ConfirmForm
from .guards import declaration_action, role_required

bp = Blueprint("signing", __name__)


def _receipt_allowed(record: Signature, user: User) -> bool:
    """The signer, the delegates of the signing city, and the secretariat."""
    if user.role == Role.SECRETARIAT:
        return True
    if record.user_id == user.id:
        return True
    return user.role == Role.DELEGATE and user.city_id == record.city_id


@bp.app_context_processor
def _signing_helpers() -> dict[str, object]:
    def sign_status(declaration: Declaration) -> dict[str, Any] | None:
        """For the declaration pages: None unless the current user may sign it now."""
        if not signatures.may_sign(declaration, current_user):
            return None
        return {"standing": signatures.standing_signature(declaration, current_user.city_id or 0)}

    def witness_fingerprints() -> list[str]:
        """For ``static/js/witness.js``: the current delegate's enrolled, unrevoked witness keys."""
        if not current_user.is_authenticated or current_user.role != Role.DELEGATE:
            return []
        return [key.fingerprint for key in witness.keys_of(current_user) if key.revoked_at is None]

    return {"sign_status": sign_status, "witness_fingerprints": witness_fingerprints}


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@bp.route("/account/keys")
@role_required(Role.DELEGATE, Role.MAYOR)
def keys_page() -> ResponseReturnValue:
    # ``back``: the Sign page that sent a delegate here without a key in this browser (a path on this site only).
    back = redirects.same_site_path(request.args.get("back"))
    back = back if back and back.startswith("/declarations/") else None
    return render_template("signing/keys.html", keys=keys.keys_of(current_user), confirm=ConfirmForm(),
                           witness_keys=witness.keys_of(current_user), back=back)


@bp.route("/account/keys/<int:key_id>/revoke", methods=["POST"])
@role_required(Role.DELEGATE, Role.MAYOR, Role.SECRETARIAT)
def revoke_key(key_id: int) -> ResponseReturnValue:
    key = db.session.get(SigningKey, key_id)
    if key is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    keys.revoke(key, current_user)  # the owner or the secretariat, else 403
    flash(_("The key “%(label)s” (%(fingerprint)s) is revoked. Signatures already made with it stay valid.",
            label=key.label, fingerprint=key.fingerprint),
          "success")
    if current_user.role == Role.SECRETARIAT:
        return redirect(url_for("signing.admin_keys"))
    return redirect(url_for("signing.keys_page"))


@bp.route("/account/witness-keys/<int:key_id>/revoke", methods=["POST"])
@role_required(Role.DELEGATE, Role.SECRETARIAT)
def revoke_witness_key(key_id: int) -> ResponseReturnValue:
    key = witness.get(key_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    witness.revoke(key, current_user)  # the owner or the secretariat, else 403
    flash(_("The witness key %(fingerprint)s of %(name)s is revoked. Its cosignatures stay on the checkpoints it "
            "cosigned.", fingerprint=key.fingerprint, name=key.city.name), "success")
    if current_user.role == Role.SECRETARIAT:
        return redirect(url_for("signing.admin_keys"))
    return redirect(url_for("signing.keys_page"))


@bp.route("/admin/keys")
@role_required(Role.SECRETARIAT)
def admin_keys() -> ResponseReturnValue:
    rows = db.session.execute(
        select(SigningKey, User, City)
        .join(User, SigningKey.user_id == User.id)
        .outerjoin(City, User.city_id == City.id)
        .order_by(City.name, User.display_name, SigningKey.id)
    ).all()
    return render_template("signing/admin_keys.html", rows=rows, confirm=ConfirmForm(),
                           witness_keys=witness.all_keys())


@bp.route("/declarations/<slug>/sign")
@login_required
def sign_page(slug: str) -> ResponseReturnValue:
    declaration = declarations.get(slug)
    try:
        signatures.require_signer(declaration, current_user)
    except Conflict as exc:  # e.g. reloaded after signing closed: say so, and the way forward
        return conflict_page(declaration, exc.message, exc.status)
    return _sign_page(declaration)


def _sign_page(declaration: Declaration, decline_error: str | None = None, decline_text: str = "",
               status: int = 200) -> ResponseReturnValue:
    revision = declaration.open_revision
    if revision is None:  # open for signature always names a revision; be safe anyway
        raise ServiceError(_("This declaration is not open for signature."), status=409, code="conflict")
    standing = signatures.standing_signature(declaration, current_user.city_id or 0)
    active = [{"fingerprint": k.fingerprint, "label": k.label} for k in keys.keys_of(current_user) if k.active]
    return render_template(
        "signing/sign.html", declaration=declaration, revision=revision, city=current_user.city,
        standing=standing, active_keys=active, paragraphs=render_paragraphs(revision.text),
        versions=revision.versions, version_paragraphs={v.tag: render_paragraphs(v.text) for v in revision.versions},
        expected_versions=[{"tag": v.tag, "sha256": v.sha256, "authoritative": v.authoritative}
                           for v in revision.versions],
        mode="withdraw" if standing else "sign",
        statement_format=_sign_format(declaration, standing is not None).as_json(),
        mandate_missing=None if standing else mandate_rules.missing(declaration, current_user),
        decline=inbox.decline_of(declaration, current_user.city_id or 0), confirm=ConfirmForm(),
        decline_error=decline_error, decline_text=decline_text,
    ), status


@bp.route("/declarations/<slug>/decline", methods=["POST"])
@declaration_action(Action.SIGN)
def decline(declaration: Declaration) -> ResponseReturnValue:
    """The city will not sign (an optional reason for the secretariat); refused: the Sign page, text kept."""
    text = request.form.get("reason", "")
    if not ConfirmForm().validate_on_submit():
        return _sign_page(declaration, _("The form has expired. Reload the page and try again."), text, 400)
    try:
        declines.decline(declaration, current_user, text)
    except ServiceError as exc:
        return _sign_page(declaration, exc.message, text, exc.status)
    flash(_("Noted: your city declines to sign. The secretariat sees your reason. You can change your mind "
            "until the declaration is frozen."), "success")
    return redirect(url_for("signing.sign_page", slug=declaration.slug))


@bp.route("/declarations/<slug>/decline/retract", methods=["POST"])
@declaration_action(Action.SIGN)
def retract_decline(declaration: Declaration) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return _sign_page(declaration, _("The form has expired. Reload the page and try again."), status=400)
    try:
        declines.retract(declaration, current_user)
    except ServiceError as exc:
        return _sign_page(declaration, exc.message, status=exc.status)
    flash(_("Your city no longer declines: you can sign below."), "success")
    return redirect(url_for("signing.sign_page", slug=declaration.slug))


def _sign_format(declaration: Declaration, withdrawing: bool) -> statements.StatementFormat:
    """What the page signs: a withdrawal, or a signature naming every language version (and the mandate, if any)."""
    return statements.WITHDRAWAL if withdrawing else statements.SIGNATURE_V2


@bp.route("/declarations/<slug>/signatures/<int:signature_id>/receipt.json")
@declaration_action(Action.VIEW)
def receipt(declaration: Declaration, signature_id: int) -> ResponseReturnValue:
    if current_user.role not in (Role.SECRETARIAT, Role.DELEGATE):
        abort(403)
    record = db.session.get(Signature, signature_id)
    if record is None or record.declaration_id != declaration.id:
        abort(404)
    if not _receipt_allowed(record, current_user):
        abort(403)
    body = json.dumps(signatures.receipt(record), indent=2, ensure_ascii=False) + "\n"
    filename = f"{declaration.slug}-{record.city.slug}-signature-{record.id}.json"
    return Response(body.encode("utf-8"), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

