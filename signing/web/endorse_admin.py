"""The secretariat's endorsement pages: organisations' requests and their verification, erasing a name on
request, and moderation (hide or show again, with a logged reason; the signed statement is never touched).

CSRF is checked for every POST by ``CSRFProtect`` before the view runs; the forms put the token in the page."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from ..models import Role
from ..services import endorsement_admin
from .endorse_forms import ActionForm, HideForm
from .guards import role_required

bp = Blueprint("endorse_admin", __name__, url_prefix="/admin")
secretariat_only = role_required(Role.SECRETARIAT)


@bp.route("/endorsers")
@secretariat_only
def endorsers_page() -> ResponseReturnValue:
    return render_template("endorse/admin_endorsers.html", pending=endorsement_admin.pending(),
                           verified=endorsement_admin.verified(), form=ActionForm())


@bp.post("/endorsers/<int:endorser_id>/verify")
@secretariat_only
def verify(endorser_id: int) -> ResponseReturnValue:
    endorser = endorsement_admin.get(endorser_id)
    endorsement_admin.verify(endorser, current_user)
    flash(_("%(name)s is verified and invited by e-mail.", name=endorser.display_name or ""), "success")
    return redirect(url_for("endorse_admin.endorsers_page"))


@bp.post("/endorsers/<int:endorser_id>/erase-name")
@secretariat_only
def erase_name(endorser_id: int) -> ResponseReturnValue:
    endorsement_admin.erase_name(endorsement_admin.get(endorser_id), current_user)
    flash(_("The name is erased; the signed statements stay, anonymous."), "success")
    return redirect(request.referrer or url_for("endorse_admin.endorsers_page"))


@bp.route("/endorsements")
@secretariat_only
def moderation() -> ResponseReturnValue:
    before = request.args.get("before", type=int)
    rows = endorsement_admin.recent(before=before)
    return render_template("endorse/admin_moderation.html", rows=rows, form=ActionForm(), hide_form=HideForm(),
                           next_before=rows[-1].id if len(rows) == 50 else None)


@bp.post("/endorsements/<int:endorsement_id>/hide")
@secretariat_only
def hide(endorsement_id: int) -> ResponseReturnValue:
    record = endorsement_admin.endorsement(endorsement_id)
    form = HideForm()
    form.validate_on_submit()  # the service checks the reason (CSRF is checked for every POST by CSRFProtect)
    endorsement_admin.hide(record, form.reason.data or "", current_user)
    flash(_("The endorsement is hidden from the public list."), "success")
    return redirect(url_for("endorse_admin.moderation"))


@bp.post("/endorsements/<int:endorsement_id>/unhide")
@secretariat_only
def unhide(endorsement_id: int) -> ResponseReturnValue:
    endorsement_admin.unhide(endorsement_admin.endorsement(endorsement_id), current_user)
    flash(_("The endorsement shows on the public list again."), "success")
    return redirect(url_for("endorse_admin.moderation"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
