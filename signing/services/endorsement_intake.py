"""The one-request endorsement's hot path: a frozen declaration's facts per process, one statement on PostgreSQL.

``frozen``: a frozen declaration never changes (the database refuses to update or delete it, migration
0004), so its facts (id, slug, title, status) are read once per process and database; each request gets
a transient ``Declaration`` made from them (never added to the session). A declaration that is not
frozen is not remembered (it may freeze later).

``store``: on PostgreSQL, what ``endorsements.accept`` writes after its checks, in **one** data-modifying
statement (bound parameters only): the replay check, the key's look-up (and its registration), the
endorsement, the receipt e-mail, the log's pending entry and its sequencing task, and one webhook
message (and its delivery task) per active endpoint subscribed to ``endorsement.accepted`` — the
endpoints as they are in this transaction, as ``webhooks.emit`` reads them. The outbox rows are
written as ``outbox.queue_email``/``queue_task`` write them and relayed after the commit
(``outbox.inserted``), in celery mode as one message (``workers.tasks.run_jobs``). Anything out of the
ordinary — a key of another endorser or not registered, a concurrent insert of the same key, a unique
index refusing the row (a second standing endorsement, the same bytes racing) — inserts nothing here
and returns ``None``: the caller then takes the general path (the ORM, one statement at a time), which
gives the answer it always gave (403, 409, the replay).
A replay (the same bytes stored before) returns the stored row, or 409 if it was withdrawn.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from ..core import log_entry, payload
from ..extensions import db
from ..models import Declaration, Endorsement, Endorser, Status
from . import Conflict, endorsement_queries, outbox, tlog, transactions, webhook_delivery, webhooks

EVENT = "endorsement.accepted"
RECEIPT_TEMPLATE = "endorsement_receipt"


def frozen(slug: str) -> Declaration | None:
    """The frozen declaration of this slug as a transient ``Declaration`` (never written), made from the facts
    ``endorsement_queries.frozen_declaration`` keeps per process; None if there is none or it is not frozen yet."""
    facts = endorsement_queries.frozen_declaration(slug)
    if facts is None:
        return None
    return Declaration(id=facts.id, slug=facts.slug, title=facts.title, status=Status.FROZEN.value)


def links(declaration: Declaration, sha256: str) -> dict[str, str]:
    """The public page of one endorsement and its withdrawal page (absolute URLs)."""
    view = f"{current_app.config['PUBLIC_URL']}/d/{declaration.slug}/endorsements/e/{sha256}"
    return {"view_url": view, "withdraw_url": view + "/withdraw"}


def receipt_context(declaration: Declaration, endorser: Endorser, sha256: str) -> dict[str, Any]:
    """The receipt e-mail's context (``endorsement_receipt``)."""
    return {"title": declaration.title, "slug": declaration.slug, "endorser_id": endorser.public_id,
            "payload_sha256": sha256, **links(declaration, sha256)}


def event_data(declaration: Declaration, endorser: Endorser, sha256: str, endorsed_at: datetime) -> dict[str, Any]:
    """The ``endorsement.accepted`` webhook event's data."""
    return {
        "declaration": webhooks.declaration_data(declaration),
        "endorsement": {"endorser_id": endorser.public_id, "endorser_kind": endorser.kind,
                        "country": endorser.country, "verified": endorser.verified_at is not None,
                        "payload_sha256": sha256, "endorsed_at": payload.timestamp(endorsed_at)},
    }


@dataclass(frozen=True)
class Row:
    """What ``store`` inserts: the endorsement's columns, and the follow-ups' contents."""

    declaration_id: int
    endorser_id: int
    endorser_kind: str
    country: str
    payload: bytes
    payload_sha256: str
    signature: bytes
    public_key: bytes
    fingerprint: str
    endorsed_at: datetime
    accepted_at: datetime
    register: bool  # the caller proved who the endorser is: an unknown key is registered to them
    email: str | None  # the receipt's recipient (None: no receipt)
    email_context: dict[str, Any]
    log_entry: bytes  # the log's ENDORSEMENT_ACCEPTED entry
    event_body: str  # the webhook message's exact JSON


_STORE = text("""
WITH prior AS (
    SELECT id, withdrawn_at IS NOT NULL AS withdrawn FROM endorsements WHERE payload_sha256 = CAST(:sha256 AS varchar)
), found_key AS (
    SELECT id, endorser_id, public_key FROM endorser_keys WHERE fingerprint = CAST(:fingerprint AS varchar)
), new_key AS (
    INSERT INTO endorser_keys (endorser_id, public_key, fingerprint, created_at)
    SELECT CAST(:endorser_id AS integer), CAST(:public_key AS bytea), CAST(:fingerprint AS varchar),
           CAST(:now AS timestamptz)
    WHERE CAST(:register AS boolean) AND NOT EXISTS (SELECT 1 FROM found_key) AND NOT EXISTS (SELECT 1 FROM prior)
    ON CONFLICT (fingerprint) DO NOTHING
    RETURNING id, endorser_id, public_key
), the_key AS (
    SELECT id, endorser_id, public_key FROM found_key UNION ALL SELECT id, endorser_id, public_key FROM new_key
), new_endorsement AS (
    INSERT INTO endorsements (declaration_id, endorser_id, key_id, endorser_kind, country, payload, payload_sha256,
                              signature, endorsed_at, accepted_at)
    SELECT CAST(:declaration_id AS integer), k.endorser_id, k.id, CAST(:endorser_kind AS varchar),
           CAST(:country AS varchar), CAST(:payload AS bytea), CAST(:sha256 AS varchar), CAST(:signature AS bytea),
           CAST(:endorsed_at AS timestamptz), CAST(:now AS timestamptz)
    FROM the_key AS k
    WHERE k.endorser_id = CAST(:endorser_id AS integer) AND k.public_key = CAST(:public_key AS bytea)
      AND NOT EXISTS (SELECT 1 FROM prior)
    RETURNING id, key_id
), receipt AS (
    INSERT INTO outbox_emails (dedupe_key, recipient, template, context, status, attempts, created_at, published_at)
    SELECT CAST(:receipt_prefix AS varchar) || e.id, CAST(:email AS varchar), CAST(:template AS varchar),
           CAST(:email_context AS json), 'pending', 0, CAST(:now AS timestamptz), CAST(:published_at AS timestamptz)
    FROM new_endorsement AS e WHERE CAST(:email AS varchar) IS NOT NULL
    RETURNING id
), entry AS (
    INSERT INTO log_pending (kind, entry, created_at)
    SELECT CAST(:log_kind AS varchar), CAST(:log_entry AS bytea), CAST(:now AS timestamptz) FROM new_endorsement
    RETURNING id
), sequencing AS (
    INSERT INTO outbox_tasks (dedupe_key, kind, arguments, status, attempts, created_at, published_at)
    SELECT CAST(:log_task_key AS varchar), CAST(:log_task_kind AS varchar), CAST('{}' AS json), 'pending', 0,
           CAST(:now AS timestamptz), CAST(:published_at AS timestamptz)
    FROM new_endorsement
    RETURNING id
), messages AS (
    INSERT INTO webhook_messages (endpoint_id, message_id, event_type, body, status, attempts, created_at,
                                  next_attempt_at)
    SELECT w.id, 'msg_' || replace(CAST(gen_random_uuid() AS text), '-', ''), CAST(:event AS varchar),
           CAST(:event_body AS text), 'pending', 0, CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM webhook_endpoints AS w, new_endorsement
    WHERE w.active AND CAST(w.events AS jsonb) @> jsonb_build_array(CAST(:event AS text))
    ORDER BY w.id
    RETURNING message_id
), attempts AS (
    INSERT INTO outbox_tasks (dedupe_key, kind, arguments, status, attempts, created_at, published_at)
    SELECT CAST(:webhook_key_prefix AS varchar) || m.message_id || CAST(:webhook_key_suffix AS varchar),
           CAST(:webhook_task_kind AS varchar),
           json_build_object('message_id', m.message_id, 'attempt', 1), 'pending', 0, CAST(:now AS timestamptz),
           CAST(:published_at AS timestamptz)
    FROM messages AS m
    RETURNING id
)
SELECT (SELECT id FROM prior) AS prior_id, (SELECT withdrawn FROM prior) AS prior_withdrawn,
       (SELECT id FROM new_endorsement) AS endorsement_id, (SELECT key_id FROM new_endorsement) AS key_id,
       (SELECT id FROM receipt) AS receipt_id,
       (SELECT id FROM sequencing) AS sequencing_id, ARRAY(SELECT id FROM attempts) AS attempt_ids
""")


@dataclass(frozen=True)
class Stored:
    record: Endorsement
    new: bool  # False: a replay, the row stored before (nothing inserted)


def store(row: Row) -> Stored | None:
    """Insert the endorsement and its follow-ups in one statement (PostgreSQL; the caller commits).

    Returns the new endorsement (transient, its columns set), the stored one for a replay, or None when
    nothing was inserted for another reason (the caller takes the general path; see the module's notes).
    """
    try:
        result = db.session.execute(_STORE, {
            "sha256": row.payload_sha256, "fingerprint": row.fingerprint, "endorser_id": row.endorser_id,
            "public_key": row.public_key, "now": row.accepted_at, "register": row.register,
            "declaration_id": row.declaration_id, "endorser_kind": row.endorser_kind, "country": row.country,
            "payload": row.payload, "signature": row.signature, "endorsed_at": row.endorsed_at,
            "receipt_prefix": f"{RECEIPT_TEMPLATE}:", "email": row.email, "template": RECEIPT_TEMPLATE,
            "email_context": json.dumps(row.email_context), "published_at": outbox.publishing_at(),
            "log_kind": log_entry.ENDORSEMENT_ACCEPTED, "log_entry": row.log_entry,
            "log_task_key": f"log:{uuid.uuid4().hex}", "log_task_kind": tlog.TASK_KIND,
            "event": EVENT, "event_body": row.event_body, "webhook_task_kind": webhook_delivery.TASK_KIND,
            "webhook_key_prefix": "webhook:", "webhook_key_suffix": ":1",
        }).one()
    except IntegrityError:  # a unique index: another standing endorsement, or the same bytes just stored
        transactions.rollback()
        return None
    if result.prior_id is not None:  # a replay: nothing was inserted
        if result.prior_withdrawn:
            raise Conflict(_("This endorsement was withdrawn. To endorse again, sign a new statement."),
                           code="withdrawn")
        prior = db.session.get(Endorsement, result.prior_id)
        return None if prior is None else Stored(prior, new=False)
    if result.endorsement_id is None:  # the key: another endorser's, not registered, or registered just now
        return None
    receipt = [("email", result.receipt_id)] if result.receipt_id is not None else []
    tasks = [("task", task_id) for task_id in [result.sequencing_id, *result.attempt_ids]]
    outbox.inserted(receipt + tasks, one_message=True)  # one publish for the request's jobs
    record = Endorsement(id=result.endorsement_id, declaration_id=row.declaration_id, endorser_id=row.endorser_id,
                         key_id=result.key_id, endorser_kind=row.endorser_kind, country=row.country,
                         payload=row.payload, payload_sha256=row.payload_sha256, signature=row.signature,
                         endorsed_at=row.endorsed_at, accepted_at=row.accepted_at)
    # The stored row as the session's own (no query; the columns not given are read if ever asked for), so that
    # a caller's later change of it (a moderator hiding it) is an ordinary UPDATE, as with the general path's row.
    make_transient_to_detached(record)
    db.session.add(record)
    return Stored(record, new=True)
