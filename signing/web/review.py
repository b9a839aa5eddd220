"""Review actions during consultation: comments, amendments, approvals for signature (POST only)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from ..models import Declaration
from ..services import ServiceError, declarations, review
from ..services.workflow import Action
from .declarations import revision_page
from .forms import AmendmentForm, CommentForm, ConfirmForm, DecisionForm
from .guards import declaration_action

bp = Blueprint("review", __name__, url_prefix="/declarations")



def _csrf_again() -> str:
    text: str = _("The form has expired or was not sent from this site. Reload the page and try again.")
    return text


def _back(declaration: Declaration, number: int, anchor: str = "") -> Response:
    return redirect(url_for("declarations.revision", slug=declaration.slug, number=number) + anchor)


def _form_errors(form: CommentForm | AmendmentForm | DecisionForm | ConfirmForm) -> str:
    parts = [" ".join(str(e) for e in errs) for errs in form.errors.values()]
    return " ".join(parts) or _("The form was not valid. Reload the page and try again.")


def _kept(*names: str) -> dict[str, str]:
    """What the user typed, to show again in the refused form (never lost)."""
    return {name: request.form.get(name, "") for name in names}


def _again(declaration: Declaration, number: int, form_id: str, values: dict[str, str], error: str,
           status: int = 400) -> ResponseReturnValue:
    """Refused: the same revision page, the same form open with the input kept and the reason beside it."""
    return revision_page(declaration, number, failed={"form": form_id, "values": values, "error": error},
                         status=status)


def _comment_form_id() -> str:
    parent = request.form.get("parent_id", "")
    return f"reply-{parent}" if parent else f"comment-p{request.form.get('paragraph', '')}"


@bp.route("/<slug>/revisions/<int:number>/comments", methods=["POST"])
@declaration_action(Action.COMMENT)
def comment(declaration: Declaration, number: int) -> ResponseReturnValue:
    revision = declarations.get_revision(declaration, number)
    form = CommentForm()
    if not form.validate_on_submit():
        return _again(declaration, number, _comment_form_id(), _kept("body"), _form_errors(form))
    try:
        created = review.add_comment(revision, (form.paragraph.data or 0) - 1, form.body.data or "", current_user,
                                     parent_id=form.parent_id.data)
    except ServiceError as exc:
        return _again(declaration, number, _comment_form_id(), _kept("body"), exc.message, exc.status)
    flash(_("Comment added."), "success")
    return _back(declaration, number, f"#comment-{created.id}")


@bp.route("/<slug>/comments/<int:comment_id>/resolve", methods=["POST"])
@declaration_action(Action.RESOLVE_COMMENT)
def resolve(declaration: Declaration, comment_id: int) -> ResponseReturnValue:
    found = review.get_comment(declaration.latest, comment_id)
    if not ConfirmForm().validate_on_submit():
        return _again(declaration, found.revision.number, "page", {}, _csrf_again())
    try:
        review.resolve_comment(found, current_user)
    except ServiceError as exc:
        return _again(declaration, found.revision.number, "page", {}, exc.message, exc.status)
    flash(_("Comment resolved."), "success")
    return _back(declaration, found.revision.number, f"#comment-{found.id}")


@bp.route("/<slug>/revisions/<int:number>/amendments", methods=["POST"])
@declaration_action(Action.AMEND)
def propose(declaration: Declaration, number: int) -> ResponseReturnValue:
    revision = declarations.get_revision(declaration, number)
    form = AmendmentForm()
    form_id = f"amend-p{request.form.get('paragraph', '')}"
    if not form.validate_on_submit():
        return _again(declaration, number, form_id, _kept("replacement", "reason"), _form_errors(form))
    try:
        amendment = review.propose_amendment(revision, (form.paragraph.data or 0) - 1, form.replacement.data or "",
                                             form.reason.data or "", current_user)
    except ServiceError as exc:
        return _again(declaration, number, form_id, _kept("replacement", "reason"), exc.message, exc.status)
    flash(_("Amendment proposed. The secretariat will accept or decline it."), "success")
    return _back(declaration, number, f"#amendment-{amendment.id}")


def _decide(declaration: Declaration, amendment_id: int, accept: bool) -> ResponseReturnValue:
    amendment = review.get_amendment(declaration.id, amendment_id)
    form = DecisionForm()
    number = amendment.revision.number
    form_id = f"decline-{amendment.id}"
    if not form.validate_on_submit():
        return _again(declaration, number, form_id, _kept("reason"), _form_errors(form))
    try:
        if accept:
            revision = review.accept_amendment(amendment, current_user, form.reason.data or "")
        else:
            review.decline_amendment(amendment, current_user, form.reason.data or "")
    except ServiceError as exc:
        return _again(declaration, number, form_id, _kept("reason"), exc.message, exc.status)
    if accept:
        flash(_("Amendment accepted: revision %(n)s applies it.", n=revision.number), "success")
        return _back(declaration, revision.number)
    flash(_("Amendment declined."), "success")
    return _back(declaration, amendment.revision.number, f"#amendment-{amendment.id}")


@bp.route("/<slug>/amendments/<int:amendment_id>/accept", methods=["POST"])
@declaration_action(Action.DECIDE_AMENDMENT)
def accept(declaration: Declaration, amendment_id: int) -> ResponseReturnValue:
    return _decide(declaration, amendment_id, accept=True)


@bp.route("/<slug>/amendments/<int:amendment_id>/decline", methods=["POST"])
@declaration_action(Action.DECIDE_AMENDMENT)
def decline(declaration: Declaration, amendment_id: int) -> ResponseReturnValue:
    return _decide(declaration, amendment_id, accept=False)


@bp.route("/<slug>/revisions/<int:number>/approve", methods=["POST"])
@declaration_action(Action.APPROVE)
def approve(declaration: Declaration, number: int) -> ResponseReturnValue:
    revision = declarations.get_revision(declaration, number)
    if not ConfirmForm().validate_on_submit():
        return _again(declaration, number, "page", {}, _csrf_again())
    try:
        review.approve(revision, current_user)
    except ServiceError as exc:
        return _again(declaration, number, "page", {}, exc.message, exc.status)
    flash(_("You approved revision %(n)s for signature (SHA-256 %(sha)s…).", n=number, sha=revision.sha256[:16]),
          "success")
    return _back(declaration, number)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
