"""Declarations, their immutable revisions, and the review around them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import City, User
from .types import UTCDateTime, utcnow

# The language of a revision saved without language versions (every revision before issue #13).
DEFAULT_LANGUAGE = "en"
MAX_TAG = 35
MAX_LABEL = 100


@dataclass(frozen=True)
class LanguageVersion:
    """One language version of a revision: its BCP 47 tag, canonical text, SHA-256, and whether authoritative."""

    tag: str
    text: str
    sha256: str
    authoritative: bool
    label: str = ""  # shown beside the language's name, e.g. "demonstration translation" (never signed)


class Status(enum.StrEnum):
    DRAFT = "draft"
    CONSULTATION = "consultation"
    OPEN_FOR_SIGNATURE = "open_for_signature"
    FROZEN = "frozen"

    @property
    def label(self) -> str:
        return str({
            "draft": _("Draft"),
            "consultation": _("In consultation"),
            "open_for_signature": _("Open for signature"),
            "frozen": _("Frozen"),
        }[self.value])


class Declaration(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "declarations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30), default=Status.DRAFT.value)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Set while open for signature (and kept when frozen): the one revision being signed.
    open_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("revisions.id", ondelete="RESTRICT", use_alter=True, name="fk_declarations_open_revision")
    )
    signing_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    signing_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signing_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Chosen when signing opens, fixed while open: a signature needs a mayor's standing mandate.
    require_mandates: Mapped[bool] = mapped_column(default=False, server_default=false())

    revisions: Mapped[list[Revision]] = relationship(
        back_populates="declaration", order_by="Revision.number", foreign_keys="Revision.declaration_id"
    )
    open_revision: Mapped[Revision | None] = relationship(foreign_keys=[open_revision_id], post_update=True)
    signatories: Mapped[list[Signatory]] = relationship(back_populates="declaration", order_by="Signatory.id")

    @property
    def state(self) -> Status:
        return Status(self.status)

    @property
    def latest(self) -> Revision:
        return self.revisions[-1]


class Revision(db.Model):  # type: ignore[name-defined,misc]
    """One saved text. Never modified: database triggers reject UPDATE and DELETE."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("declaration_id", "number", name="uq_revisions_declaration_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(Text)  # canonical text (signing.text.canonical)
    sha256: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the revision applies an accepted amendment: whose proposal it was.
    credited_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    declaration: Mapped[Declaration] = relationship(back_populates="revisions", foreign_keys=[declaration_id])
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    credited_to: Mapped[User | None] = relationship(foreign_keys=[credited_to_id])
    version_rows: Mapped[list[RevisionVersion]] = relationship(
        back_populates="revision", order_by="RevisionVersion.tag", lazy="selectin")

    @property
    def versions(self) -> list[LanguageVersion]:
        """Every language version, sorted by tag; a revision saved without any is one version in English."""
        if not self.version_rows:
            return [LanguageVersion(DEFAULT_LANGUAGE, self.text, self.sha256, True)]
        return [LanguageVersion(row.tag, row.text, row.sha256, row.authoritative, row.label)
                for row in self.version_rows]

    @property
    def authoritative_language(self) -> str:
        return next(version.tag for version in self.versions if version.authoritative)

    @property
    def tags(self) -> list[str]:
        return [version.tag for version in self.versions]

    def version(self, tag: str) -> LanguageVersion | None:
        return next((version for version in self.versions if version.tag == tag), None)


class RevisionVersion(db.Model):  # type: ignore[name-defined,misc]
    """One language version of a revision. Never modified: database triggers reject UPDATE and DELETE.

    The authoritative version's text and SHA-256 are also the revision's own ``text`` and ``sha256``.
    """

    __tablename__ = "revision_versions"
    __table_args__ = (UniqueConstraint("revision_id", "tag", name="uq_revision_versions_revision_tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"), index=True)
    tag: Mapped[str] = mapped_column(String(MAX_TAG))
    text: Mapped[str] = mapped_column(Text)  # canonical text (signing.text.canonical)
    sha256: Mapped[str] = mapped_column(String(64))
    authoritative: Mapped[bool] = mapped_column(Boolean, default=False)
    # Shown beside the language's name, e.g. "demonstration translation" (migration 0013; never signed).
    label: Mapped[str] = mapped_column(String(MAX_LABEL), default="", server_default="")

    revision: Mapped[Revision] = relationship(back_populates="version_rows")


class Signatory(db.Model):  # type: ignore[name-defined,misc]
    """A city expected to sign, fixed when signing opens (the secretariat may leave some out)."""

    __tablename__ = "signatories"
    __table_args__ = (UniqueConstraint("declaration_id", "city_id", name="uq_signatories_declaration_city"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))

    declaration: Mapped[Declaration] = relationship(back_populates="signatories")
    city: Mapped[City] = relationship()


class Comment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"), index=True)
    paragraph: Mapped[int] = mapped_column()  # 0-based index into the paragraphs of its language version
    language: Mapped[str] = mapped_column(String(MAX_TAG), default=DEFAULT_LANGUAGE, server_default=DEFAULT_LANGUAGE)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="RESTRICT"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    revision: Mapped[Revision] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    replies: Mapped[list[Comment]] = relationship(order_by="Comment.id")


class AmendmentStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Amendment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"), index=True)
    paragraph: Mapped[int] = mapped_column()  # 0-based, in the paragraphs of its language version
    language: Mapped[str] = mapped_column(String(MAX_TAG), default=DEFAULT_LANGUAGE, server_default=DEFAULT_LANGUAGE)
    original: Mapped[str] = mapped_column(Text)  # the paragraph as proposed against
    replacement: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default=AmendmentStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    result_revision_id: Mapped[int | None] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"))

    revision: Mapped[Revision] = relationship(foreign_keys=[revision_id])
    proposer: Mapped[User] = relationship(foreign_keys=[proposer_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    result_revision: Mapped[Revision | None] = relationship(foreign_keys=[result_revision_id])


class Approval(db.Model):  # type: ignore[name-defined,misc]
    """A delegate's approval, for their city, of one exact revision for signature (during consultation)."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("revision_id", "city_id", name="uq_approvals_revision_city"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    revision: Mapped[Revision] = relationship()
    city: Mapped[City] = relationship()
    user: Mapped[User] = relationship()


class RevisionView(db.Model):  # type: ignore[name-defined,misc]
    """The newest revision number each user has opened, per declaration."""

    __tablename__ = "revision_views"
    __table_args__ = (UniqueConstraint("user_id", "declaration_id", name="uq_revision_views_user_declaration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    revision_number: Mapped[int] = mapped_column()
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
