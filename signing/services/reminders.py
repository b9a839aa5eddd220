"""Reminders to the cities that have not signed yet, a few days before the signing deadline.

``REMINDER_DAYS`` (default ``7,3,1``) names the slots: slot *d* opens *d* days before
the deadline and lasts until the deadline. Each run (hourly, from Celery beat, or
``flask --app wsgi reminders send``) e-mails every active delegate of every signatory
city without a standing signature, for the most urgent slot that has opened. The
outbox key names the declaration, the slot, the city and the delegate, so a reminder
goes at most once per city and delegate per slot however often the sweep runs; a run
that starts late (signing opened two days before the deadline) sends one reminder,
not one for every slot it missed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Declaration, OutboxEmail, Role, Signature, SignatureStatus, Status, User, utcnow
from . import outbox, transactions

log = logging.getLogger(__name__)
TEMPLATE = "reminder"


def reminder_days() -> tuple[int, ...]:
    """The configured slots, largest first (a ``"7,3,1"`` string is accepted too)."""
    value = current_app.config.get("REMINDER_DAYS", (7, 3, 1))
    raw: Iterable[int | str] = value.split(",") if isinstance(value, str) else value
    return tuple(sorted({int(day) for day in raw if str(day).strip()}, reverse=True))


def due_slot(deadline: datetime, now: datetime, days: Iterable[int]) -> int | None:
    """The most urgent slot *d* with ``deadline - d days <= now < deadline``, or None."""
    if not now < deadline:
        return None
    due = [day for day in days if deadline - timedelta(days=day) <= now]
    return min(due) if due else None


def dedupe_key(declaration_id: int, slot: int, city_id: int, user_id: int) -> str:
    return f"reminder:{declaration_id}:{slot}d:city{city_id}:user{user_id}"


def _signed_city_ids(declaration: Declaration) -> set[int]:
    return set(db.session.scalars(
        select(Signature.city_id).where(
            Signature.revision_id == declaration.open_revision_id,
            Signature.status == SignatureStatus.VALID.value,
        )
    ))


def _delegates(city_ids: Iterable[int]) -> list[User]:
    ids = list(city_ids)
    if not ids:
        return []
    return list(db.session.scalars(
        select(User).where(
            User.role == Role.DELEGATE.value, User.city_id.in_(ids), User.active.is_(True),
            User.password_hash.is_not(None),
        ).order_by(User.city_id, User.id)
    ))


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue every reminder that is due and not sent yet; returns how many were queued."""
    now = now or utcnow()
    days = reminder_days()
    open_declarations = list(db.session.scalars(
        select(Declaration).where(
            Declaration.status == Status.OPEN_FOR_SIGNATURE.value,
            Declaration.signing_deadline.is_not(None),
            Declaration.signing_deadline > now,
        ).order_by(Declaration.id)
    ))
    queued = 0
    try:
        for declaration in open_declarations:
            queued += _queue_for(declaration, now, days)
        transactions.commit()
    except IntegrityError:  # a concurrent run queued the same reminders first
        transactions.rollback()
        log.info("signing reminders were queued by a concurrent run")
        return 0
    if queued:
        log.info("queued %d signing reminder(s)", queued)
    return queued


def _queue_for(declaration: Declaration, now: datetime, days: Iterable[int]) -> int:
    deadline, revision = declaration.signing_deadline, declaration.open_revision
    if deadline is None or revision is None:
        return 0
    slot = due_slot(deadline, now, days)
    if slot is None:
        return 0
    signed = _signed_city_ids(declaration)
    waiting = [s.city_id for s in declaration.signatories if s.city_id not in signed]
    already = set(db.session.scalars(
        select(OutboxEmail.dedupe_key).where(
            OutboxEmail.dedupe_key.startswith(f"reminder:{declaration.id}:{slot}d:", autoescape=True)
        )
    ))
    days_left = max(1, -(-(deadline - now) // timedelta(days=1)))  # whole days, rounded up
    queued = 0
    for user in _delegates(waiting):
        assert user.city is not None and user.city_id is not None  # noqa: S101 - selected by city
        key = dedupe_key(declaration.id, slot, user.city_id, user.id)
        if key in already:
            continue
        outbox.queue_email(
            key, user.email, TEMPLATE, display_name=user.display_name, title=declaration.title,
            slug=declaration.slug, number=revision.number, sha256=revision.sha256, city=user.city.name,
            slot=slot, days_left=days_left, deadline=deadline.strftime("%Y-%m-%d %H:%M UTC"),
            signed=len(signed), signatories=len(declaration.signatories),
        )
        queued += 1
    return queued
