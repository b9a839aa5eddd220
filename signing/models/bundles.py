"""The frozen, independently verifiable bundle of a signed declaration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .declarations import Declaration, Revision
from .types import UTCDateTime, utcnow


class Bundle(db.Model):  # type: ignore[name-defined,misc]
    """Exactly one per frozen declaration; never changed (database triggers)."""

    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"), unique=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"))
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    archive_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    platform_key_fingerprint: Mapped[str] = mapped_column(String(71))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    declaration: Mapped[Declaration] = relationship()
    revision: Mapped[Revision] = relationship()
