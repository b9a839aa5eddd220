"""Cities, users and the single-use links sent to them."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class Role(enum.StrEnum):
    SECRETARIAT = "secretariat"
    DELEGATE = "delegate"
    OBSERVER = "observer"
    MAYOR = "mayor"  # one per city: signs mandates for the city's delegates, signs no declaration
    # An organisation (or a city outside the network) verified to endorse frozen declarations; sees nothing else.
    ENDORSER = "endorser"


class City(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # passive_deletes="all": deleting a city with members is refused by the database (RESTRICT).
    delegates: Mapped[list[User]] = relationship(
        back_populates="city", order_by="User.display_name", passive_deletes="all"
    )

    def __repr__(self) -> str:
        return f"<City {self.slug}>"


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; the functional unique index also guards direct SQL.
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change and deactivation: invalidates every existing session.
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The interface language this person chose (a code of ``signing.i18n.LANGUAGES``); None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(16))

    city: Mapped[City | None] = relationship(back_populates="delegates")

    # Flask-Login: the session stores "<id>:<epoch>" so a bumped epoch logs the user out everywhere.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def is_secretariat(self) -> bool:
        return self.role == Role.SECRETARIAT

    @property
    def is_delegate(self) -> bool:
        return self.role == Role.DELEGATE

    @property
    def is_mayor(self) -> bool:
        return self.role == Role.MAYOR

    @property
    def is_endorser(self) -> bool:
        return self.role == Role.ENDORSER

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


# Case-insensitive uniqueness, enforced by the database on every write path.
Index("uq_users_email_lower", func.lower(User.email), unique=True)
# One mayor per city, whatever the concurrency (the service checks first, with a clear message).
Index("uq_users_one_mayor_per_city", User.city_id, unique=True,
      sqlite_where=text("role = 'mayor'"), postgresql_where=text("role = 'mayor'"))


class LinkPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name, not a secret


class AccountLink(db.Model):  # type: ignore[name-defined,misc]
    """A single-use link (invitation or password reset); only its hash is stored."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))  # shown to help the owner tell tokens apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
