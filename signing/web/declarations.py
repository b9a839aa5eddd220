"""Declaration pages: list, draft, revisions, redline, transitions, dashboard."""

from __future__ import annotations

from datetime import UTC

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import SelectChoice

from ..core import languages
from ..extensions import db
from ..models import City, Declaration, Revision, Role
from ..services import (
    Conflict,
    ServiceError,
    dashboard,
    declarations,
    declines,
    freeze,
    inbox,
    progress,
    review,
    versions,
    workflow,
)
from ..services.workflow import Action
from ..text import bidi
from ..text.canonical import canonicalize
from ..text.redline import redline_html, redline_summary
from ..text.render import render_markdown, render_paragraphs
from .forms import ConfirmForm, DeclarationForm, OpenSigningForm, ReturnForm, RevisionForm
from .guards import declaration_action, role_required

bp = Blueprint("declarations", __name__, url_prefix="/declarations")


def _form_status() -> int:
    return 400 if request.method == "POST" else 200


@bp.app_context_processor
def _workflow_helpers() -> dict[str, object]:
    def can(action: str, declaration: Declaration) -> bool:
        return workflow.allowed(Action[action], declaration, current_user)

    def redline(old: str, new: str) -> Markup:
        return redline_html(canonicalize(old), canonicalize(new))

    # show_bidi: plain text with bidirectional-override characters shown as marked placeholders.
    return {"can": can, "render_markdown": render_markdown, "redline": redline, "show_bidi": bidi.visible,
            "bidi_found": bidi.found, "language_name": languages.name, "signing_progress": progress.build,
            "step_url": step_url, "inbox_ask": lambda declaration: inbox.ask(declaration, current_user)}


def step_url(item: inbox.Ask) -> str:
    """Where the one button of an inbox item leads (the page that does the step)."""
    slug = item.declaration.slug
    if item.kind in (inbox.Kind.SIGN, inbox.Kind.SIGN_AGAIN, inbox.Kind.SIGNED, inbox.Kind.DECLINED):
        return url_for("signing.sign_page", slug=slug)
    if item.kind is inbox.Kind.APPROVE:
        return url_for("declarations.show", slug=slug) + "#approve"
    return url_for("declarations.show", slug=slug)


@bp.route("/")
@role_required(Role.SECRETARIAT, Role.DELEGATE, Role.OBSERVER)
def index() -> ResponseReturnValue:
    items = declarations.visible_to(current_user)
    asks = {d.id: inbox.ask(d, current_user) for d in items} if current_user.role == Role.DELEGATE else {}
    return render_template("declarations/index.html", items=items, asks=asks)


@bp.route("/<slug>/next-step")
@declaration_action(Action.VIEW)
def next_step(declaration: Declaration) -> ResponseReturnValue:
    """The link in every e-mail: through the log-in if needed (``next=`` kept), to what is asked now."""
    return redirect(step_url(inbox.ask(declaration, current_user)))


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.SECRETARIAT)
def new() -> ResponseReturnValue:
    form = DeclarationForm()
    if form.validate_on_submit():
        try:
            declaration = declarations.create(form.title.data or "", form.text.data or "", current_user,
                                              form.slug.data)
        except ServiceError as exc:
            form.text.errors = [exc.message]
            return render_template("declarations/new.html", form=form), exc.status
        flash(_("Draft created as revision 1."), "success")
        return redirect(url_for("declarations.show", slug=declaration.slug))
    return render_template("declarations/new.html", form=form), _form_status()


def _changed_since(declaration: Declaration) -> list[tuple[str, int]]:
    """Revisions the user knows (last viewed, last approved by their city) older than the latest."""
    notes: list[tuple[str, int]] = []
    latest = declaration.latest.number
    viewed = declarations.last_viewed(current_user, declaration)
    if viewed is not None and viewed < latest:
        notes.append(("you last viewed", viewed))
    if current_user.city_id is not None:
        approval = review.latest_approvals(declaration.id).get(current_user.city_id)
        if approval is not None and approval.revision.number < latest:
            notes.append(("your city last approved for signature", approval.revision.number))
    return notes


def revision_page(declaration: Declaration, number: int, failed: dict[str, object] | None = None,
                  status: int = 200) -> ResponseReturnValue:
    """One revision in one language version (``?lang=``, by default the authoritative one), with its review.

    ``failed``: a refused review form to show again, open, with its input and the reason
    (``{"form": "comment-3" | "reply-12" | "amend-3" | "decline-7", "values": {...}, "error": str}``)."""
    revision = declarations.get_revision(declaration, number)
    shown = versions.shown(revision, request.args.get("lang"))
    changed = _changed_since(declaration)
    declarations.mark_viewed(current_user, revision)
    comments = [c for c in review.comments_for(revision) if c.language == shown.tag]
    by_paragraph: dict[int, list[object]] = {}
    for comment in comments:
        by_paragraph.setdefault(comment.paragraph, []).append(comment)
    amendments = [a for a in review.amendments_for(declaration.id) if a.revision_id == revision.id]
    approved = review.latest_approvals(declaration.id).get(current_user.city_id or -1)
    return render_template(
        "declarations/revision.html", declaration=declaration, revision=revision, shown=shown,
        paragraphs=render_paragraphs(shown.text), paragraph_sources=review.paragraphs(revision, shown.tag),
        comments=by_paragraph, amendments=amendments,
        changed=changed, approved=approved, confirm=ConfirmForm(), failed=failed or {},
    ), status


@bp.route("/<slug>")
@declaration_action(Action.VIEW)
def show(declaration: Declaration) -> ResponseReturnValue:
    return revision_page(declaration, declaration.latest.number)


@bp.route("/<slug>/revisions")
@declaration_action(Action.VIEW)
def revisions(declaration: Declaration) -> ResponseReturnValue:
    return render_template("declarations/revisions.html", declaration=declaration,
                           amendments=review.amendments_for(declaration.id), confirm=ConfirmForm())


@bp.route("/<slug>/revisions/<int:number>")
@declaration_action(Action.VIEW)
def revision(declaration: Declaration, number: int) -> ResponseReturnValue:
    return revision_page(declaration, number)


@bp.route("/<slug>/revisions/<int:number>.md")
@declaration_action(Action.VIEW)
def revision_source(declaration: Declaration, number: int) -> ResponseReturnValue:
    """The exact canonical bytes whose SHA-256 is shown (and later signed)."""
    revision = declarations.get_revision(declaration, number)
    return Response(revision.text.encode("utf-8"), mimetype="text/markdown",
                    headers={"Content-Disposition": f"inline; filename={declaration.slug}-r{number}.md",
                             "X-Content-SHA256": revision.sha256})


@bp.route("/<slug>/compare")
@declaration_action(Action.VIEW)
def compare(declaration: Declaration) -> ResponseReturnValue:
    latest = declaration.latest.number
    old_n = request.args.get("from", type=int, default=max(1, latest - 1))
    new_n = request.args.get("to", type=int, default=latest)
    old = declarations.get_revision(declaration, old_n)
    new = declarations.get_revision(declaration, new_n)
    lang = request.args.get("lang") or new.authoritative_language  # compare one language version
    old_version, new_version = versions.shown(old, lang), versions.shown(new, lang)
    tags = sorted({*old.tags, *new.tags})
    return render_template(
        "declarations/compare.html", declaration=declaration, old=old, new=new, lang=new_version.tag, tags=tags,
        old_version=old_version, new_version=new_version,
        diff=redline_html(old_version.text, new_version.text),
        summary=redline_summary(old_version.text, new_version.text),
    )


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@declaration_action(Action.EDIT_TEXT)
def edit(declaration: Declaration) -> ResponseReturnValue:
    """Every language version side by side (the authoritative one is ``text``); one save is one new revision."""
    form = RevisionForm()
    latest = declaration.latest
    if request.method == "GET":
        form.text.data = latest.text
    if form.validate_on_submit():
        try:
            texts, authoritative, labels = _submitted_versions(latest)
            texts[latest.authoritative_language] = form.text.data or ""
            revision = declarations.save_versions(declaration, texts, authoritative, form.note.data or "",
                                                  current_user, labels)
        except ServiceError as exc:
            form.text.errors = [exc.message]
            return _edit_page(declaration, form), exc.status
        flash(_("Saved as revision %(number)s.", number=revision.number), "success")
        return redirect(url_for("declarations.show", slug=declaration.slug))
    return _edit_page(declaration, form), _form_status()


def _edit_page(declaration: Declaration, form: RevisionForm) -> str:
    latest = declaration.latest
    submitted = request.method == "POST"
    others = [(v, request.form.get(f"version-{v.tag}", "") if submitted else v.text,
               request.form.get(f"label-{v.tag}", "") if submitted else v.label)
              for v in latest.versions if not v.authoritative]
    return render_template("declarations/edit.html", declaration=declaration, form=form, others=others,
                           authoritative=latest.version(latest.authoritative_language),
                           new_version={name: request.form.get(name, "") for name in ("new_tag", "new_text",
                                                                                      "new_label")})


def _submitted_versions(latest: Revision) -> tuple[dict[str, str], str, dict[str, str]]:
    """The other versions of the edit form (``version-<tag>``, ``remove-<tag>``, ``label-<tag>``, ``new_*``)."""
    texts: dict[str, str] = {}
    labels = {latest.authoritative_language: request.form.get(f"label-{latest.authoritative_language}", "")}
    for version in latest.versions:
        if version.authoritative or request.form.get(f"remove-{version.tag}"):
            continue
        texts[version.tag] = request.form.get(f"version-{version.tag}", "")
        labels[version.tag] = request.form.get(f"label-{version.tag}", "")
    new_tag = request.form.get("new_tag", "").strip()
    if new_tag:
        tag = versions.clean_tag(new_tag)
        if tag in texts or tag == latest.authoritative_language:
            raise ServiceError(_("The revision already has a version in %(tag)s; edit it instead.", tag=tag))
        texts[tag] = request.form.get("new_text", "")
        labels[tag] = request.form.get("new_label", "")
    elif request.form.get("new_text", "").strip():
        raise ServiceError(_("Give the new version's language tag (e.g. tr)."))
    authoritative = request.form.get("authoritative", "").strip() or latest.authoritative_language
    return texts, versions.clean_tag(authoritative), labels


@bp.route("/<slug>/open-consultation", methods=["GET", "POST"])
@declaration_action(Action.OPEN_CONSULTATION)
def open_consultation(declaration: Declaration) -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        declarations.open_consultation(declaration, current_user)
        flash(_("Consultation is open: delegates can comment, propose amendments and approve a revision for "
                "signature."),
              "success")
        return redirect(url_for("declarations.show", slug=declaration.slug))
    return render_template("declarations/confirm.html", declaration=declaration, form=form,
                           question=_("Open consultation? Every member of the network is notified."),
                           action=url_for("declarations.open_consultation", slug=declaration.slug)), _form_status()


@bp.route("/<slug>/open-signing", methods=["GET", "POST"])
@declaration_action(Action.OPEN_SIGNING)
def open_signing(declaration: Declaration) -> ResponseReturnValue:
    form = OpenSigningForm()
    form.revision.choices = [
        SelectChoice(r.number, f"Revision {r.number} · {r.sha256[:12]}…") for r in reversed(declaration.revisions)
    ]
    cities = list(db.session.scalars(select(City).order_by(City.slug)))
    form.excluded.choices = [SelectChoice(c.id, c.name) for c in cities]
    if request.method == "GET":
        form.revision.data = declaration.latest.number
    if form.validate_on_submit():
        deadline = form.deadline.data.replace(tzinfo=UTC) if form.deadline.data else None
        try:
            declarations.open_signing(
                declaration, form.revision.data or 0, current_user, excluded_city_ids=form.excluded.data or [],
                rule_kind=form.rule.data or "all", quorum=form.quorum.data, deadline=deadline,
                require_mandates=bool(form.require_mandates.data),
            )
        except ServiceError as exc:
            form.revision.errors = [exc.message]
            return render_template("declarations/open_signing.html", declaration=declaration, form=form,
                                   board=dashboard.build(declaration)), exc.status
        flash(_("Signing is open. The text is locked until you return it to consultation."), "success")
        return redirect(url_for("declarations.show", slug=declaration.slug))
    return render_template("declarations/open_signing.html", declaration=declaration, form=form,
                           board=dashboard.build(declaration)), _form_status()


@bp.route("/<slug>/return-to-consultation", methods=["GET", "POST"])
@declaration_action(Action.RETURN_TO_CONSULTATION)
def return_to_consultation(declaration: Declaration) -> ResponseReturnValue:
    form = ReturnForm()
    if form.validate_on_submit():
        declarations.return_to_consultation(declaration, current_user, form.reason.data or "")
        flash(_("The declaration is back in consultation."), "success")
        return redirect(url_for("declarations.show", slug=declaration.slug))
    return render_template("declarations/return.html", declaration=declaration, form=form), _form_status()


@bp.route("/<slug>/freeze", methods=["GET", "POST"])
@declaration_action(Action.FREEZE)
def freeze_now(declaration: Declaration) -> ResponseReturnValue:
    form = ConfirmForm()
    state = progress.build(declaration)
    # Offered only when the rule allows it; otherwise the page says when it will (never a confirm, then a 409).
    blocked = None if state.can_freeze else state.freeze_hint()
    if blocked is None and form.validate_on_submit():
        try:
            freeze.request(declaration, current_user)
        except Conflict as exc:
            blocked = exc.message
        else:
            flash(_("Freezing requested: the bundle is being built and everyone will be notified."), "success")
            return redirect(url_for("declarations.show", slug=declaration.slug))
    status = 409 if blocked and request.method == "POST" else _form_status()
    return render_template(
        "declarations/confirm.html", declaration=declaration, form=form, blocked=blocked, progress=state,
        question=_("Freeze the declaration now with the signatures it has? This cannot be undone."),
        action=url_for("declarations.freeze_now", slug=declaration.slug),
    ), status


@bp.route("/<slug>/dashboard")
@declaration_action(Action.DASHBOARD)
def board(declaration: Declaration) -> ResponseReturnValue:
    return dashboard_page(declaration)


def dashboard_page(declaration: Declaration, error: str | None = None, status: int = 200) -> tuple[str, int]:
    """The dashboard; ``error``: a refused nudge (``web/nudges.py``), said here, where it happened."""
    return render_template("declarations/dashboard.html", board=dashboard.build(declaration), error=error,
                           declines=declines.of_declaration(declaration), confirm=ConfirmForm()), status


@bp.route("/<slug>/dashboard.csv")
@declaration_action(Action.DASHBOARD)
def board_csv(declaration: Declaration) -> ResponseReturnValue:
    body = dashboard.to_csv(dashboard.build(declaration))
    return Response(body.encode("utf-8-sig"), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={declaration.slug}-status.csv"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
