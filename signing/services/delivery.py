"""Delivering outbox e-mails: a batch of rows, one transaction, one SMTP connection (``signing.mail``).

``deliver`` sends up to ``EMAIL_CHUNK`` pending rows in one transaction (``SELECT … FOR UPDATE SKIP
LOCKED``, so a row is never sent by two deliveries) and marks each sent (its ``secret_*`` context keys
removed), failed, or still pending after a temporary failure. The workers' ``send_email(s)`` tasks and
the in-process relay of the embedded default both call it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask_babel import force_locale
from sqlalchemy import func, select

from ..extensions import db
from ..i18n import DEFAULT_LOCALE, known
from ..mail import PermanentMailError, build_message, send_messages
from ..models import OutboxEmail, User, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
EMAIL_CHUNK = 100  # e-mails per ``send_emails`` task and per SMTP connection
SECRET_PREFIX = "secret_"  # noqa: S105 - context keys removed once the message is sent


def deliver(ids: Iterable[int]) -> dict[int, str]:
    """Send the given pending e-mails in one batch (one SMTP connection); returns ``{id: status}``.

    Idempotent: rows already sent or failed are skipped, and so are rows another transaction holds
    locked (``SKIP LOCKED``: e.g. a duplicate delivery sending them right now); neither is in the result.
    A row left ``pending`` met a temporary failure.
    """
    rows = list(
        db.session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.id.in_(list(ids)), OutboxEmail.status == "pending")
            .order_by(OutboxEmail.id)
            .with_for_update(skip_locked=True)
        )
    )
    outcome: dict[int, str] = {}
    if not rows:
        db.session.commit()
        return outcome
    messages = []
    results: dict[str, Exception | None] = {}
    locales = recipient_locales(row.recipient for row in rows)
    for row in rows:
        try:
            with force_locale(locales.get(row.recipient.lower(), DEFAULT_LOCALE)):  # the recipient's language
                message = build_message(row.template, row.recipient, row.context, str(row.id))
            messages.append((row.dedupe_key, message))
        except Exception as exc:  # a broken template must not block the batch
            log.exception("cannot build e-mail %s", row.id)
            results[row.dedupe_key] = PermanentMailError(f"cannot build the message: {type(exc).__name__}: {exc}")
    if messages:
        results.update(send_messages(messages))
    now = utcnow()
    for row in rows:
        error = results.get(row.dedupe_key)
        row.attempts += 1
        if error is None:
            row.status = "sent"
            row.sent_at = now
            row.last_error = None
            if any(key.startswith(SECRET_PREFIX) for key in row.context):  # rewritten only if it holds secrets
                row.context = {k: v for k, v in row.context.items() if not k.startswith(SECRET_PREFIX)}
        elif isinstance(error, PermanentMailError) or row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            row.last_error = str(error)[:2000]
        else:
            row.last_error = str(error)[:2000]
        outcome[row.id] = row.status
    db.session.commit()
    return outcome


def recipient_locales(recipients: Iterable[str]) -> dict[str, str]:
    """``{lower-cased address: locale}`` of the recipients who chose an interface language (one query)."""
    addresses = sorted({address.lower() for address in recipients})
    if not addresses:
        return {}
    chosen = db.session.execute(
        select(func.lower(User.email), User.locale).where(func.lower(User.email).in_(addresses),
                                                           User.locale.is_not(None))
    )
    return {address: locale for address, locale in chosen if known(locale)}


def still_pending(outbox_ids: list[int]) -> list[int]:
    """Which of these e-mails are still pending (e.g. skipped by ``deliver`` as locked by another transaction)."""
    pending = list(db.session.scalars(
        select(OutboxEmail.id).where(OutboxEmail.id.in_(outbox_ids), OutboxEmail.status == "pending")
    ))
    db.session.rollback()
    return sorted(pending)
