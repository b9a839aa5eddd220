"""Endorsements of frozen declarations: endorsers, their keys, the signed endorsements and one-time e-mail links.

An endorser is named in signed statements only by its random ``public_id``; its e-mail address and name are
kept here, apart from the statements (the name is shown only with consent and can be erased). The signed bytes
of an endorsement never change (database triggers); only its withdrawal and moderation columns may be set.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import City, User
from .declarations import Declaration
from .types import UTCDateTime, utcnow


class EndorserKind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    CITY = "city"


class Endorser(db.Model):  # type: ignore[name-defined,misc]
    """Someone who endorses: a person (e-mail only), an organisation or a city (an account)."""

    __tablename__ = "endorsers"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # en_ + 26 base32 characters
    kind: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2), default="")
    display_name: Mapped[str | None] = mapped_column(String(200))
    show_name: Mapped[bool] = mapped_column(default=False)
    website: Mapped[str | None] = mapped_column(String(300))
    # Private: people's and organisations' contact address; never in a statement, never shown publicly.
    email: Mapped[str | None] = mapped_column(String(254))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # organisations and cities
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    city: Mapped[City | None] = relationship()

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def public_name(self) -> str | None:
        """The name the public list may show: only with consent, never after erasure."""
        if self.erased_at is not None or not self.show_name:
            return None
        return self.display_name


# One person endorser per e-mail address (case-insensitive): the same address always endorses as the same id.
Index("uq_endorsers_person_email", func.lower(Endorser.email), unique=True,
      sqlite_where=text("kind = 'person'"), postgresql_where=text("kind = 'person'"))


# The verified organisations and cities, which the public list searches by name.
Index("ix_endorsers_verified", Endorser.id,
      sqlite_where=text("verified_at IS NOT NULL AND kind <> 'person'"),
      postgresql_where=text("verified_at IS NOT NULL AND kind <> 'person'"))


class EndorserKey(db.Model):  # type: ignore[name-defined,misc]
    """An endorser's Ed25519 public key (made in the browser, or by the seeding command)."""

    __tablename__ = "endorser_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    endorser_id: Mapped[int] = mapped_column(ForeignKey("endorsers.id", ondelete="RESTRICT"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    fingerprint: Mapped[str] = mapped_column(String(71), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    endorser: Mapped[Endorser] = relationship()


class Endorsement(db.Model):  # type: ignore[name-defined,misc]
    """One signed ``accord.endorsement/1`` statement, and its signed withdrawal if any. Never deleted."""

    __tablename__ = "endorsements"
    __table_args__ = (
        # One standing endorsement per endorser and declaration: a replay or a race inserts nothing more.
        Index("uq_endorsements_one_standing", "declaration_id", "endorser_id", unique=True,
              sqlite_where=text("withdrawn_at IS NULL"), postgresql_where=text("withdrawn_at IS NULL")),
        # The public list (keyset by id) and the counts read only the visible standing rows.
        Index("ix_endorsements_public", "declaration_id", "id",
              sqlite_where=text("withdrawn_at IS NULL AND hidden_at IS NULL"),
              postgresql_where=text("withdrawn_at IS NULL AND hidden_at IS NULL")),
        Index("ix_endorsements_counts", "declaration_id", "endorser_kind", "country",
              sqlite_where=text("withdrawn_at IS NULL AND hidden_at IS NULL"),
              postgresql_where=text("withdrawn_at IS NULL AND hidden_at IS NULL")),
        Index("ix_endorsements_accepted", "accepted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"))
    endorser_id: Mapped[int] = mapped_column(ForeignKey("endorsers.id", ondelete="RESTRICT"), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("endorser_keys.id", ondelete="RESTRICT"))
    # Copied from the signed bytes (which never change) so that counts need no join.
    endorser_kind: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    endorsed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the statement's own time
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    withdrawal_signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    withdrawal_key_id: Mapped[int | None] = mapped_column(ForeignKey("endorser_keys.id", ondelete="RESTRICT"))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    declaration: Mapped[Declaration] = relationship()
    endorser: Mapped[Endorser] = relationship()
    key: Mapped[EndorserKey] = relationship(foreign_keys=[key_id])

    @property
    def standing(self) -> bool:
        return self.withdrawn_at is None


class EndorsementLink(db.Model):  # type: ignore[name-defined,misc]
    """A one-time e-mail link that confirms a person's address and opens the endorsement step; only its hash."""

    __tablename__ = "endorsement_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    endorser_id: Mapped[int] = mapped_column(ForeignKey("endorsers.id", ondelete="RESTRICT"), index=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endorser: Mapped[Endorser] = relationship()
    declaration: Mapped[Declaration] = relationship()
