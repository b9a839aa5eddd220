"""The append-only audit log.

There is deliberately no update or delete path in the code, and database
triggers (see the initial migration) reject UPDATE and DELETE on the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import User
from .types import UTCDateTime, utcnow

# Names recorded before a rename. Audit rows are never rewritten, so the log shows the current
# name and, next to it, the name as recorded. Migration 0005 renamed the consultation
# "endorsement" (ready to sign) to "approval" (for signature).
RENAMED_ACTIONS = {"endorsement.added": "approval.added"}
RENAMED_OBJECT_TYPES = {"endorsements": "approvals"}


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()

    @property
    def current_action(self) -> str:
        """The action under its current name (``action`` is the name as recorded)."""
        return RENAMED_ACTIONS.get(self.action, self.action)

    @property
    def current_object_type(self) -> str:
        """The object type under its current name (``object_type`` is the name as recorded)."""
        return RENAMED_OBJECT_TYPES.get(self.object_type, self.object_type)
