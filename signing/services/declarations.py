"""Declarations: creation, revisions and the workflow transitions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core import log_entry
from ..extensions import db
from ..models import (
    City,
    Declaration,
    LanguageVersion,
    Revision,
    RevisionVersion,
    RevisionView,
    Role,
    Signatory,
    Signature,
    SignatureStatus,
    Status,
    User,
    utcnow,
)
from ..text.canonical import CanonicalTextError, canonicalize, text_sha256
from . import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    audit,
    outbox,
    refuse_bidi,
    tlog,
    transactions,
    versions,
    webhooks,
)
from .cities import slugify
from .signatures import void_standing
from .workflow import Action, require

MAX_TITLE = 200
MAX_NOTE = 500
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Control characters (but TAB, LF, CR) and U+FFFD: PostgreSQL cannot even store NUL.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


def check_printable(text: str, what: str) -> str:
    if _UNPRINTABLE.search(text):
        raise ServiceError(_("The %(what)s contains characters that are not allowed.", what=what))
    return text


def get(slug: str) -> Declaration:
    declaration = db.session.scalar(select(Declaration).where(Declaration.slug == slug))
    if declaration is None:
        raise NotFound(_("No such declaration."))
    return declaration


def get_revision(declaration: Declaration, number: int) -> Revision:
    if not 0 < number < 2**31:  # beyond an INTEGER column: not found, not a database error
        raise NotFound(_("This declaration has no revision %(number)s.", number=number))
    revision = db.session.scalar(
        select(Revision).where(Revision.declaration_id == declaration.id, Revision.number == number)
    )
    if revision is None:
        raise NotFound(_("This declaration has no revision %(number)s.", number=number))
    return revision


def visible_to(user: User) -> list[Declaration]:
    query = select(Declaration).order_by(Declaration.created_at.desc())
    if user.role != Role.SECRETARIAT:
        query = query.where(Declaration.status != Status.DRAFT.value)
    return list(db.session.scalars(query))


def _canonical(text: str) -> str:
    try:
        return canonicalize(text)
    except CanonicalTextError as exc:
        raise ServiceError(str(exc)) from exc


def _clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ServiceError(_("A title is required."))
    if len(title) > MAX_TITLE:
        raise ServiceError(_("The title is too long (%(MAX_TITLE)s characters at most).", MAX_TITLE=MAX_TITLE))
    return refuse_bidi(check_printable(title, _("title")), _("title"))


def _notify(key: str, template: str, recipients: Iterable[User], **context: Any) -> None:
    """Queue one e-mail per recipient; ``key`` names the event, so each is sent once."""
    for user in recipients:
        outbox.queue_email(f"{key}:user{user.id}", user.email, template, display_name=user.display_name, **context)


def followers() -> list[User]:
    """Everyone who has joined (accepted their invitation) and is active."""
    return list(
        db.session.scalars(
            select(User).where(User.active.is_(True), User.password_hash.is_not(None)).order_by(User.id)
        )
    )


def create(title: str, text: str, actor: User, slug: str | None = None) -> Declaration:
    if actor.role != Role.SECRETARIAT:
        raise Forbidden(_("Only the secretariat creates declarations."))
    title = _clean_title(title)
    canonical = _canonical(text)
    slug = (slug or "").strip() or slugify(title)[:60].strip("-")
    if not _SLUG_RE.match(slug):
        raise ServiceError(_("The short name may contain only a-z, 0-9 and single hyphens."))
    if db.session.scalar(select(Declaration.id).where(Declaration.slug == slug)) is not None:
        raise Conflict(_("A declaration with the short name %(slug)s already exists.", slug=repr(slug)))
    declaration = Declaration(slug=slug, title=title, status=Status.DRAFT.value, created_by_id=actor.id)
    db.session.add(declaration)
    db.session.flush()
    revision = Revision(
        declaration_id=declaration.id, number=1, text=canonical, sha256=text_sha256(canonical),
        author_id=actor.id, note="First draft",
    )
    db.session.add(revision)
    db.session.flush()
    audit.record("declaration.created", declaration, actor, title=title, revision=1, sha256=revision.sha256)
    transactions.commit()
    return declaration


def _lock(declaration: Declaration) -> None:
    """Serialise writers on one declaration (row lock on PostgreSQL; SQLite locks the database)."""
    db.session.execute(select(Declaration.id).where(Declaration.id == declaration.id).with_for_update())
    db.session.refresh(declaration)


def add_revision(
    declaration: Declaration, text: str, note: str, actor: User, *, credited_to: User | None = None,
    commit: bool = True, language: str | None = None,
) -> Revision:
    """Save a new immutable revision (the secretariat, in draft or consultation).

    ``text`` is the new text of one language version (``language``, by default the authoritative one);
    the other versions of the latest revision are carried over unchanged.
    """
    _lock(declaration)
    require(Action.EDIT_TEXT, declaration, actor)
    latest = declaration.latest
    tag = versions.clean_tag(language) if language else latest.authoritative_language
    texts = {version.tag: version.text for version in latest.versions}
    labels = {version.tag: version.label for version in latest.versions}
    if tag not in texts:
        raise NotFound(_("Revision %(number)s has no version in %(tag)s.", number=latest.number, tag=tag))
    texts[tag] = text
    return _save(declaration, versions.prepare(texts, latest.authoritative_language, labels), note, actor,
                 credited_to=credited_to, commit=commit)


def save_versions(declaration: Declaration, texts: Mapping[str, str], authoritative: str, note: str,
                  actor: User, labels: Mapping[str, str] | None = None) -> Revision:
    """Save every language version at once (add a language, edit any): one new revision."""
    _lock(declaration)
    require(Action.EDIT_TEXT, declaration, actor)
    return _save(declaration, versions.prepare(texts, authoritative, labels), note, actor)


def _save(declaration: Declaration, prepared: list[LanguageVersion], note: str, actor: User, *,
          credited_to: User | None = None, commit: bool = True) -> Revision:
    note = check_printable(" ".join((note or "").split()), _("note"))
    if len(note) > MAX_NOTE:
        raise ServiceError(_("The note is too long (%(MAX_NOTE)s characters at most).", MAX_NOTE=MAX_NOTE))
    latest = declaration.latest
    if prepared == latest.versions:
        raise Conflict(_("The text is the same as revision %(number)s; nothing was saved.",
                         number=latest.number))
    main = next(version for version in prepared if version.authoritative)
    revision = Revision(
        declaration_id=declaration.id, number=latest.number + 1, text=main.text, sha256=main.sha256,
        author_id=actor.id, note=note, credited_to_id=credited_to.id if credited_to else None,
    )
    db.session.add(revision)
    try:
        db.session.flush()
    except IntegrityError as exc:
        transactions.rollback()
        raise Conflict(_("Someone saved another revision at the same moment; reload and try again.")) from exc
    for version in prepared:
        db.session.add(RevisionVersion(revision_id=revision.id, tag=version.tag, text=version.text,
                                       sha256=version.sha256, authoritative=version.authoritative,
                                       label=version.label))
    db.session.flush()
    db.session.refresh(revision)
    audit.record(
        "declaration.revision_added", declaration, actor, revision=revision.number, sha256=revision.sha256,
        note=note, credited_to=credited_to.id if credited_to else None,
        versions={version.tag: version.sha256 for version in prepared}, authoritative=main.tag,
    )
    if declaration.state is Status.CONSULTATION:
        tlog.append(log_entry.REVISION_PUBLISHED, declaration=declaration.slug, revision=revision.number,
                    text_sha256=revision.sha256)
        _notify(
            f"revision:{revision.id}", "new_revision", followers(), title=declaration.title, slug=declaration.slug,
            number=revision.number, previous=latest.number, note=note, sha256=revision.sha256,
        )
    if commit:
        transactions.commit()
    return revision


def open_consultation(declaration: Declaration, actor: User) -> None:
    _lock(declaration)
    require(Action.OPEN_CONSULTATION, declaration, actor)
    declaration.status = Status.CONSULTATION.value
    audit.record("declaration.consultation_opened", declaration, actor, revision=declaration.latest.number)
    tlog.append(log_entry.CONSULTATION_OPENED, declaration=declaration.slug, revision=declaration.latest.number,
                text_sha256=declaration.latest.sha256)
    _notify(
        f"consultation:{declaration.id}:{declaration.latest.id}", "consultation_opened", followers(),
        title=declaration.title, slug=declaration.slug, number=declaration.latest.number,
    )
    transactions.commit()


def parse_rule(kind: str, required: int | None, city_count: int) -> dict[str, Any]:
    """``{"kind": "all"}`` or ``{"kind": "quorum", "required": M}`` with 1 ≤ M ≤ N."""
    if kind == "all":
        return {"kind": "all"}
    if kind == "quorum":
        if required is None or not 1 <= required <= city_count:
            raise ServiceError(_("A quorum must be between 1 and the %(city_count)s signatory cities.",
                                 city_count=city_count))
        return {"kind": "quorum", "required": required}
    raise ServiceError(_("The signing rule must be 'all' or 'quorum'."))


def open_signing(
    declaration: Declaration, revision_number: int, actor: User, *, excluded_city_ids: Iterable[int] = (),
    rule_kind: str = "all", quorum: int | None = None, deadline: datetime | None = None,
    require_mandates: bool = False,
) -> None:
    """Lock the text and open one exact revision for signature by the chosen member cities.

    ``require_mandates``: a signature is then accepted only under a mayor's standing mandate (fixed while open).
    """
    _lock(declaration)
    require(Action.OPEN_SIGNING, declaration, actor)
    revision = get_revision(declaration, revision_number)
    excluded = set(excluded_city_ids)
    cities = [c for c in db.session.scalars(select(City).order_by(City.slug)) if c.id not in excluded]
    if not cities:
        raise ServiceError(_("At least one city must be asked to sign."))
    rule = parse_rule(rule_kind, quorum, len(cities))
    if deadline is not None and deadline <= utcnow():
        raise ServiceError(_("The signing deadline must be in the future."))
    for old in list(declaration.signatories):
        db.session.delete(old)
    db.session.flush()
    for city in cities:
        db.session.add(Signatory(declaration_id=declaration.id, city_id=city.id))
    declaration.status = Status.OPEN_FOR_SIGNATURE.value
    declaration.open_revision_id = revision.id
    declaration.signing_rule = rule
    declaration.signing_deadline = deadline
    declaration.signing_opened_at = utcnow()
    declaration.require_mandates = bool(require_mandates)
    audit.record(
        "declaration.signing_opened", declaration, actor, revision=revision.number, sha256=revision.sha256,
        rule=rule, require_mandates=declaration.require_mandates,
        deadline=deadline.isoformat() if deadline else None, cities=[c.slug for c in cities],
    )
    tlog.append(log_entry.SIGNING_OPENED, declaration=declaration.slug, revision=revision.number,
                text_sha256=revision.sha256, rule=rule,
                deadline=log_entry.timestamp(deadline) if deadline else None, signatories=[c.slug for c in cities])
    # Delegates of asked cities whose earlier signature was voided are told to sign again (issue 11).
    voided = set(db.session.scalars(select(Signature.city_id).where(
        Signature.declaration_id == declaration.id, Signature.status == SignatureStatus.VOID.value)))
    asked = {city.id for city in cities}
    everyone = followers()
    again = [u for u in everyone if u.role == Role.DELEGATE.value and u.city_id in voided and u.city_id in asked]
    for group, sign_again in ((again, True), ([u for u in everyone if u not in again], False)):
        _notify(
            f"signing:{declaration.id}:{revision.id}:{declaration.signing_opened_at.timestamp():.6f}",
            "signing_opened", group, title=declaration.title, slug=declaration.slug, number=revision.number,
            sha256=revision.sha256, deadline=deadline.strftime("%Y-%m-%d %H:%M UTC") if deadline else "",
            sign_again=sign_again,
        )
    webhooks.emit("declaration.signing_opened", {
        "declaration": webhooks.declaration_data(declaration), "revision": {"number": revision.number,
                                                                           "sha256": revision.sha256},
        "signing_rule": rule, "deadline": deadline.isoformat() if deadline else None,
        "cities": [c.slug for c in cities],
    })
    transactions.commit()


def return_to_consultation(declaration: Declaration, actor: User, reason: str) -> None:
    _lock(declaration)
    require(Action.RETURN_TO_CONSULTATION, declaration, actor)
    reason = check_printable(" ".join((reason or "").split()), _("reason"))
    if not reason:
        raise ServiceError(_("Say why the declaration goes back to consultation."))
    if len(reason) > 2000:
        raise ServiceError(_("The reason is too long (2000 characters at most)."))
    previous = declaration.open_revision.number if declaration.open_revision else None
    standing_cities = list(db.session.scalars(select(Signature.city_id).where(
        Signature.revision_id == declaration.open_revision_id, Signature.status == SignatureStatus.VALID.value)))
    voided = void_standing(declaration)
    _notify_voided(declaration, previous, standing_cities, reason)
    declaration.status = Status.CONSULTATION.value
    declaration.open_revision_id = None
    audit.record("declaration.returned_to_consultation", declaration, actor, revision=previous, reason=reason,
                 signatures_voided=voided)
    tlog.append(log_entry.RETURNED_TO_CONSULTATION, declaration=declaration.slug, revision=previous)
    transactions.commit()


def _notify_voided(declaration: Declaration, number: int | None, city_ids: list[int], reason: str) -> None:
    """E-mail the delegates of each city whose signature a return to consultation voided: what, why, what next."""
    if not city_ids:
        return
    delegates = db.session.scalars(
        select(User).where(User.role == Role.DELEGATE.value, User.city_id.in_(city_ids), User.active.is_(True),
                           User.password_hash.is_not(None)).order_by(User.id))
    stamp = utcnow().timestamp()
    for user in delegates:
        outbox.queue_email(
            f"signature_voided:{declaration.id}:{number}:{stamp:.6f}:user{user.id}", user.email, "signature_voided",
            display_name=user.display_name, title=declaration.title, slug=declaration.slug, number=number,
            city=user.city.name if user.city else "", reason=reason,
        )


def mark_viewed(user: User, revision: Revision) -> None:
    """Remember the newest revision this user has opened (never goes backwards)."""
    row = db.session.scalar(
        select(RevisionView).where(
            RevisionView.user_id == user.id, RevisionView.declaration_id == revision.declaration_id
        )
    )
    if row is None:
        db.session.add(
            RevisionView(user_id=user.id, declaration_id=revision.declaration_id, revision_number=revision.number)
        )
    elif revision.number > row.revision_number:
        row.revision_number = revision.number
        row.viewed_at = utcnow()
    else:
        return
    try:
        db.session.commit()
    except IntegrityError:  # a parallel request recorded it first
        db.session.rollback()


def last_viewed(user: User, declaration: Declaration) -> int | None:
    return db.session.scalar(
        select(RevisionView.revision_number).where(
            RevisionView.user_id == user.id, RevisionView.declaration_id == declaration.id
        )
    )
