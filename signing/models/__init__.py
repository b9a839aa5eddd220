"""SQLAlchemy models; import from here."""

from .accounts import AccountLink, ApiToken, City, LinkPurpose, Role, User
from .audit import AuditEvent
from .bundles import Bundle
from .declarations import (
    Amendment,
    AmendmentStatus,
    Approval,
    Comment,
    Declaration,
    Revision,
    RevisionView,
    Signatory,
    Status,
)
from .outbox import OutboxEmail, OutboxTask
from .second_factor import Passkey, RecoveryCode, TotpSecret, WebAuthnChallenge
from .sessions import UserSession
from .signatures import (
    IssuedPayload,
    PayloadKind,
    Signature,
    SignatureStatus,
    SigningDecline,
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
from .webhooks import WebhookAttempt, WebhookEndpoint, WebhookMessage

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
    "Passkey",
    "RecoveryCode",
    "TotpSecret",
    "WebAuthnChallenge",
    "OutboxTask",
    "ApiToken",
    "IssuedPayload",
    "PayloadKind",
    "Signature",
    "SignatureStatus",
    "SigningDecline",
    "SigningKey",
    "Withdrawal",
    "AccountLink",
    "Amendment",
    "AmendmentStatus",
    "Approval",
    "Comment",
    "Declaration",
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
    "UserSession",
    "utcnow",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookMessage",
]
