"""SQLAlchemy models; import from here."""

from .accounts import AccountLink, City, LinkPurpose, Role, User
from .audit import AuditEvent
from .bundles import Bundle
from .declarations import (
    Amendment,
    AmendmentStatus,
    Comment,
    Declaration,
    Endorsement,
    Revision,
    RevisionView,
    Signatory,
    Status,
)
from .outbox import OutboxEmail, OutboxTask
from .signatures import (
    ApiToken,
    IssuedPayload,
    PayloadKind,
    Signature,
    SignatureStatus,
    SigningKey,
    Withdrawal,
)
from .transparency import (
    LogCheckpoint,
    LogCosignature,
    LogEntry,
    LogForkReport,
    LogPending,
    LogState,
    LogTile,
    WitnessKey,
)
from .types import UTCDateTime, utcnow

__all__ = [
    "LogCheckpoint",
    "LogCosignature",
    "LogForkReport",
    "WitnessKey",
    "LogEntry",
    "LogPending",
    "LogState",
    "LogTile",
    "Bundle",
    "OutboxTask",
    "ApiToken",
    "IssuedPayload",
    "PayloadKind",
    "Signature",
    "SignatureStatus",
    "SigningKey",
    "Withdrawal",
    "AccountLink",
    "Amendment",
    "AmendmentStatus",
    "Comment",
    "Declaration",
    "Endorsement",
    "Revision",
    "RevisionView",
    "Signatory",
    "Status",
    "AuditEvent",
    "City",
    "LinkPurpose",
    "OutboxEmail",
    "Role",
    "UTCDateTime",
    "User",
    "utcnow",
]
