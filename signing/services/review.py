"""Review during consultation: paragraph comments, amendment proposals, approvals for signature."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Amendment, AmendmentStatus, Approval, Comment, Revision, Role, User, utcnow
from ..text.canonical import CanonicalTextError, canonicalize, join_paragraphs, split_paragraphs
from . import Conflict, Forbidden, NotFound, ServiceError, audit, transactions, versions, webhooks
from .declarations import _lock, _notify, add_revision, check_printable
from .workflow import Action, require

MAX_COMMENT = 10_000
MAX_REASON = 5_000
MAX_PARAGRAPH = 20_000


def paragraphs(revision: Revision, language: str | None = None) -> list[str]:
    """The paragraphs of one language version (the authoritative one by default)."""
    return split_paragraphs(versions.shown(revision, language).text)


def _language(revision: Revision, language: str | None) -> str:
    """The tag of the version a comment or amendment is about: ``language`` if the revision has it."""
    return versions.shown(revision, language).tag


def _check_paragraph(revision: Revision, paragraph: int, language: str) -> str:
    items = paragraphs(revision, language)
    if not 0 <= paragraph < len(items):
        raise ServiceError(_("Revision %(number)s has no paragraph %(paragraph)s in %(tag)s.",
                             number=revision.number, paragraph=paragraph + 1, tag=language))
    return items[paragraph]


def _clean(text: str, limit: int, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ServiceError(_("The %(what)s is empty.", what=what))
    if len(text) > limit:
        raise ServiceError(_("The %(what)s is too long (%(limit)s characters at most).",
                             what=what, limit=limit))
    return check_printable(text, what)


def get_comment(revision: Revision, comment_id: int) -> Comment:
    if not 0 < comment_id < 2**31:  # beyond an INTEGER column: not found, not a database error
        raise NotFound(_("No such comment."))
    comment = db.session.get(Comment, comment_id)
    if comment is None or comment.revision.declaration_id != revision.declaration_id:
        raise NotFound(_("No such comment."))
    return comment


def comments_for(revision: Revision) -> list[Comment]:
    """Top-level comments on this revision, oldest first (replies hang off them)."""
    return list(
        db.session.scalars(
            select(Comment)
            .where(Comment.revision_id == revision.id, Comment.parent_id.is_(None))
            .order_by(Comment.paragraph, Comment.id)
        )
    )


def add_comment(revision: Revision, paragraph: int, body: str, actor: User, parent_id: int | None = None,
                language: str | None = None) -> Comment:
    """A comment on one paragraph of one language version (``language``; the authoritative one by default)."""
    declaration = revision.declaration
    _lock(declaration)
    require(Action.COMMENT, declaration, actor)
    body = _clean(body, MAX_COMMENT, _("comment"))
    tag = _language(revision, language)
    if parent_id is not None:
        parent = get_comment(revision, parent_id)
        if parent.revision_id != revision.id or parent.parent_id is not None:
            raise ServiceError(_("Replies go under a comment on the same revision."))
        paragraph, tag = parent.paragraph, parent.language
    _check_paragraph(revision, paragraph, tag)
    comment = Comment(
        revision_id=revision.id, paragraph=paragraph, parent_id=parent_id, author_id=actor.id, body=body,
        language=tag,
    )
    db.session.add(comment)
    db.session.flush()
    audit.record("comment.added", comment, actor, revision=revision.number, paragraph=paragraph + 1,
                 reply_to=parent_id, language=tag)
    transactions.commit()
    return comment


def resolve_comment(comment: Comment, actor: User) -> None:
    declaration = comment.revision.declaration
    _lock(declaration)
    require(Action.RESOLVE_COMMENT, declaration, actor)
    if actor.role != Role.SECRETARIAT and actor.id != comment.author_id:
        raise Forbidden(_("Only the author or the secretariat can resolve a comment."))
    if comment.resolved_at is not None:
        raise Conflict(_("This comment is already resolved."))
    comment.resolved_at = utcnow()
    comment.resolved_by_id = actor.id
    audit.record("comment.resolved", comment, actor)
    transactions.commit()


def get_amendment(revision_or_declaration_id: int, amendment_id: int) -> Amendment:
    amendment = db.session.get(Amendment, amendment_id)
    if amendment is None or amendment.revision.declaration_id != revision_or_declaration_id:
        raise NotFound(_("No such amendment."))
    return amendment


def amendments_for(declaration_id: int) -> list[Amendment]:
    return list(
        db.session.scalars(
            select(Amendment)
            .join(Revision, Amendment.revision_id == Revision.id)
            .where(Revision.declaration_id == declaration_id)
            .order_by(Amendment.id)
        )
    )


def propose_amendment(revision: Revision, paragraph: int, replacement: str, reason: str, actor: User,
                      language: str | None = None) -> Amendment:
    """A proposed replacement of one paragraph of one language version (the authoritative one by default)."""
    declaration = revision.declaration
    _lock(declaration)
    require(Action.AMEND, declaration, actor)
    tag = _language(revision, language)
    original = _check_paragraph(revision, paragraph, tag)
    replacement = _clean(replacement, MAX_PARAGRAPH, _("replacement text"))
    try:
        replacement = canonicalize(replacement).rstrip("\n")
    except CanonicalTextError as exc:
        raise ServiceError(str(exc)) from exc
    if replacement == original:
        raise ServiceError(_("The replacement is the same as the paragraph."))
    reason = _clean(reason, MAX_REASON, _("reason"))
    amendment = Amendment(
        revision_id=revision.id, paragraph=paragraph, original=original, replacement=replacement, reason=reason,
        proposer_id=actor.id, language=tag,
    )
    db.session.add(amendment)
    db.session.flush()
    audit.record("amendment.proposed", amendment, actor, revision=revision.number, paragraph=paragraph + 1,
                 language=tag)
    transactions.commit()
    return amendment


def _decide(amendment: Amendment, actor: User, status: AmendmentStatus, reason: str) -> None:
    amendment.status = status.value
    amendment.decided_at = utcnow()
    amendment.decided_by_id = actor.id
    amendment.decision_reason = reason
    declaration = amendment.revision.declaration
    audit.record(f"amendment.{status.value}", amendment, actor, reason=reason,
                 result_revision=amendment.result_revision.number if amendment.result_revision else None)
    _notify(
        f"amendment:{amendment.id}:{status.value}", "amendment_decided", [amendment.proposer],
        title=declaration.title, slug=declaration.slug, amendment_id=amendment.id, decision=status.value,
        reason=reason, paragraph=amendment.paragraph + 1,
        result_revision=amendment.result_revision.number if amendment.result_revision else None,
    )
    transactions.commit()


def _require_open(amendment: Amendment, actor: User) -> None:
    declaration = amendment.revision.declaration
    _lock(declaration)
    require(Action.DECIDE_AMENDMENT, declaration, actor)
    db.session.refresh(amendment)
    if amendment.status != AmendmentStatus.OPEN.value:
        if amendment.status == AmendmentStatus.ACCEPTED:
            raise Conflict(_("This amendment has already been accepted."))
        raise Conflict(_("This amendment has already been declined."))


def accept_amendment(amendment: Amendment, actor: User, note: str = "") -> Revision:
    """Apply the replacement to the latest revision, crediting the proposer."""
    _require_open(amendment, actor)
    declaration = amendment.revision.declaration
    latest = declaration.latest
    version = latest.version(amendment.language)
    items = split_paragraphs(version.text) if version is not None else []
    index = amendment.paragraph
    if index >= len(items) or items[index] != amendment.original:
        raise Conflict(
            _("Paragraph %(value)s has changed since revision %(number)s; the amendment cannot be applied as "
              "proposed. Decline it and ask for a new proposal.",
              value=index + 1, number=amendment.revision.number)
        )
    items[index] = amendment.replacement
    note = note.strip() or f"Amendment #{amendment.id} by {amendment.proposer.display_name} accepted"
    try:
        revision = add_revision(declaration, join_paragraphs(items), note, actor, credited_to=amendment.proposer,
                                commit=False, language=amendment.language)
    except IntegrityError as exc:  # pragma: no cover - add_revision converts this already
        raise Conflict(_("Another revision was saved at the same time; try again.")) from exc
    amendment.result_revision_id = revision.id
    db.session.flush()
    _decide(amendment, actor, AmendmentStatus.ACCEPTED, note)
    return revision


def decline_amendment(amendment: Amendment, actor: User, reason: str) -> None:
    _require_open(amendment, actor)
    _decide(amendment, actor, AmendmentStatus.DECLINED, _clean(reason, MAX_REASON, _("reason for declining")))


def approve(revision: Revision, actor: User) -> Approval:
    """The delegate's city approves this exact revision (by its hash) for signature."""
    declaration = revision.declaration
    _lock(declaration)
    require(Action.APPROVE, declaration, actor)
    assert actor.city_id is not None  # noqa: S101 - require() checked it
    existing = db.session.scalar(
        select(Approval).where(Approval.revision_id == revision.id, Approval.city_id == actor.city_id)
    )
    if existing is not None:
        raise Conflict(_("%(value)s has already approved revision %(number)s for signature.",
                         value=actor.city.name if actor.city else _('Your city'), number=revision.number))
    approval = Approval(
        declaration_id=declaration.id, revision_id=revision.id, city_id=actor.city_id, user_id=actor.id,
        sha256=revision.sha256,
    )
    db.session.add(approval)
    try:
        db.session.flush()
    except IntegrityError as exc:
        transactions.rollback()
        raise Conflict(_("Your city has already approved this revision for signature.")) from exc
    audit.record("approval.added", approval, actor, revision=revision.number, sha256=revision.sha256,
                 city=actor.city.slug if actor.city else None)
    webhooks.emit("revision.approved", {
        "declaration": webhooks.declaration_data(declaration),
        "revision": {"number": revision.number, "sha256": revision.sha256},
        "city": {"slug": actor.city.slug, "name": actor.city.name} if actor.city else None,
    })
    transactions.commit()
    return approval


def latest_approvals(declaration_id: int) -> dict[int, Approval]:
    """city_id → that city's most recent approval on this declaration."""
    result: dict[int, Approval] = {}
    for row in db.session.scalars(
        select(Approval).where(Approval.declaration_id == declaration_id).order_by(Approval.id)
    ):
        result[row.city_id] = row
    return result
