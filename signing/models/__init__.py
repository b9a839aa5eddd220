"""SQLAlchemy models; import from here."""

from .accounts import AccountLink, City, LinkPurpose, Role, User
from .audit import AuditEvent
from .outbox import OutboxEmail
from .types import UTCDateTime, utcnow

__all__ = [
    "AccountLink",
    "AuditEvent",
    "City",
    "LinkPurpose",
    "OutboxEmail",
    "Role",
    "UTCDateTime",
    "User",
    "utcnow",
]
