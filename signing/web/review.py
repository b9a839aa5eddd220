"""Review actions during consultation: comments, amendments, approvals for signature (POST only)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from ..models import Declaration
from ..services import ServiceError, declarations, review
from ..services.workflow import Action
from .forms import AmendmentForm, CommentForm, ConfirmForm, DecisionForm
from .guards import declaration_action

bp = Blueprint("review", __name__, url_prefix="/declarations")


def _back(declaration: Declaration, number: int, anchor: str = "") -> Response:
    return redirect(url_for("declarations.revision", slug=declaration.slug, number=number) + anchor)


def _form_errors(form: CommentForm | AmendmentForm | DecisionForm | ConfirmForm) -> str:
    parts = [f"{getattr(form, name).label.text}: {'; '.join(errs)}" for name, errs in form.errors.items()]
    return "The form was not valid. " + " ".join(parts)


@bp.route("/<slug>/revisions/<int:number>/comments", methods=["POST"])
@declaration_action(Action.COMMENT)
def comment(declaration: Declaration, number: int) -> ResponseReturnValue:
    revision = declarations.get_revision(declaration, number)
    form = CommentForm()
    if not form.validate_on_submit():
        raise ServiceError(_form_errors(form))
    created = review.add_comment(revision, (form.paragraph.data or 0) - 1, form.body.data or "", current_user,
                                 parent_id=form.parent_id.data)
    flash(_("Comment added."), "success")
    return _back(declaration, number, f"#comment-{created.id}")


@bp.route("/<slug>/comments/<int:comment_id>/resolve", methods=["POST"])
@declaration_action(Action.RESOLVE_COMMENT)
def resolve(declaration: Declaration, comment_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        raise ServiceError(_("The form was not valid."))
    found = review.get_comment(declaration.latest, comment_id)
    review.resolve_comment(found, current_user)
    flash(_("Comment resolved."), "success")
    return _back(declaration, found.revision.number, f"#comment-{found.id}")


@bp.route("/<slug>/revisions/<int:number>/amendments", methods=["POST"])
@declaration_action(Action.AMEND)
def propose(declaration: Declaration, number: int) -> ResponseReturnValue:
    revision = declarations.get_revision(declaration, number)
    form = AmendmentForm()
    if not form.validate_on_submit():
        raise ServiceError(_form_errors(form))
    amendment = review.propose_amendment(revision, (form.paragraph.data or 0) - 1, form.replacement.data or "",
                                         form.reason.data or "", current_user)
    flash(_("Amendment proposed. The secretariat will accept or decline it."), "success")
    return _back(declaration, number, f"#amendment-{amendment.id}")


def _decide(declaration: Declaration, amendment_id: int, accept: bool) -> ResponseReturnValue:
    amendment = review.get_amendment(declaration.id, amendment_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        raise ServiceError(_form_errors(form))
    if accept:
        revision = review.accept_amendment(amendment, current_user, form.reason.data or "")
        flash(_("Amendment accepted: revision %(number)s applies it.", number=revision.number), "success")
        return _back(declaration, revision.number)
    review.decline_amendment(amendment, current_user, form.reason.data or "")
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
        raise ServiceError(_("The form was not valid."))
    review.approve(revision, current_user)
    flash(_("You approved revision %(number)s for signature (SHA-256 %(sha256)s…).",
            number=number, sha256=revision.sha256[:16]), "success")
    return _back(declaration, number)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
