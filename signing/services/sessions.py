"""Server-side session records: start at login, check on every request, end at logout.

The browser's (signed) Flask session holds a random id; the record holds its SHA-256. A request
whose record is missing or ended is anonymous, whatever the cookie says.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from ..extensions import db
from ..models import User, UserSession, utcnow
from . import Conflict, NotFound, audit, transactions

# The key of the random id in the Flask session.
SESSION_KEY = "sid"
# ``last_seen_at`` is written at most this often per session.
TOUCH_INTERVAL = timedelta(minutes=1)

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))
_TOOL = re.compile(r"^([A-Za-z][A-Za-z0-9._-]{0,30})/")


def describe_device(user_agent: str) -> str:
    """A short, harmless summary of a User-Agent header, such as "Firefox on Linux"."""
    agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"A browser on {system}"
    tool = _TOOL.match(agent)
    return f"{tool.group(1)} (program)" if tool else "Unknown device"


def _hash(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode("utf-8")).hexdigest()


def start(user: User, *, user_agent: str, address: str | None) -> str:
    """Record a new session for ``user`` (the caller commits); return the id for the Flask session."""
    raw_id = secrets.token_urlsafe(32)
    db.session.add(UserSession(token_hash=_hash(raw_id), user_id=user.id, device=describe_device(user_agent),
                               client_address=(address or "unknown")[:64]))
    return raw_id


def _expired(record: UserSession) -> bool:
    lifetime: timedelta = current_app.config["PERMANENT_SESSION_LIFETIME"]
    return record.created_at + lifetime < utcnow()


def resolve(raw_id: object, user: User) -> UserSession | None:
    """The live session record for this id and user, or None; notes when it was last seen."""
    if not isinstance(raw_id, str) or not raw_id or len(raw_id) > 100:
        return None
    record = db.session.scalar(select(UserSession).where(UserSession.token_hash == _hash(raw_id)))
    if record is None or record.user_id != user.id or record.ended_at is not None or _expired(record):
        return None
    now = utcnow()
    if now - record.last_seen_at >= TOUCH_INTERVAL:
        record.last_seen_at = now
        transactions.commit(keep=[record, user])
    return record


def active_for(user: User) -> list[UserSession]:
    """The user's live sessions, the most recently seen first."""
    records = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return [r for r in records if not _expired(r)]


def get_own(session_id: int, user: User) -> UserSession:
    """One of ``user``'s sessions; anyone else's is as if it did not exist."""
    record = db.session.get(UserSession, session_id)
    if record is None or record.user_id != user.id:
        raise NotFound(_("You have no session with that number."))
    return record


def end(record: UserSession, actor: User, reason: str) -> None:
    """End one session (logout, or "log out" on the account page) and commit."""
    if record.ended_at is not None:
        raise Conflict(_("That session has already ended."))
    record.ended_at = utcnow()
    record.end_reason = reason
    audit.record("session.ended", record.user, actor, session=record.id, reason=reason, device=record.device)
    transactions.commit()


def end_all(user: User, reason: str) -> int:
    """End every live session of ``user`` in the caller's transaction (the caller commits)."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def log_out_everywhere(user: User) -> None:
    ended = end_all(user, "logout_everywhere")
    user.session_epoch += 1
    audit.record("session.logout_everywhere", user, user, sessions=ended)
    transactions.commit()
