"""Recording audit events. Events are only ever added, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditEvent, User


def record(action: str, obj: object, actor: User | None, **details: Any) -> AuditEvent:
    """Add an audit event for ``obj`` to the current transaction (the caller commits)."""
    object_type = getattr(obj, "__tablename__", type(obj).__name__.lower())
    object_id = getattr(obj, "id", None)
    if object_id is None:
        db.session.flush()
        object_id = getattr(obj, "id", "")
    event = AuditEvent(
        action=action,
        object_type=str(object_type),
        object_id=str(object_id),
        actor_id=actor.id if actor is not None else None,
        details=details,
    )
    db.session.add(event)
    return event
