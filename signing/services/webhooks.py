"""Webhook endpoints and the events sent to them.

The secretariat registers endpoints (``create_endpoint``); a service raising an event calls ``emit`` in
its own transaction, which adds one ``WebhookMessage`` per subscribed endpoint and an outbox task that
sends it (``webhook_delivery``), so an event is sent if and only if its change is committed. The body
names the event and the public URLs of what it is about.
"""

from __future__ import annotations

import base64
import json
import secrets
import unicodedata
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import webhook_http
from ..extensions import db
from ..models import Declaration, User, WebhookEndpoint, WebhookMessage, utcnow
from . import NotFound, ServiceError, audit, transactions, webhook_delivery

EVENTS: dict[str, str] = {
    "declaration.signing_opened": _l("Signing opened"),
    "signature.accepted": _l("A signature accepted"),
    "signature.withdrawn": _l("A signature withdrawn"),
    "declaration.frozen": _l("A declaration frozen"),
    # A city approved a revision for signature in consultation.
    "revision.approved": _l("A revision approved for signature"),
    "endorsement.accepted": _l("An endorsement of a frozen declaration accepted"),
}
TEST_EVENT = "webhook.test"
MAX_URL_LENGTH = 2000


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ServiceError(_("Give the URL that receives the events."))
    if len(url) > MAX_URL_LENGTH:
        raise ServiceError(_("The URL is too long (%(MAX_URL_LENGTH)s characters at most).",
                             MAX_URL_LENGTH=MAX_URL_LENGTH))
    if any(unicodedata.category(ch) in {"Cc", "Zs"} for ch in url):
        raise ServiceError(_("The URL may not contain spaces or control characters."))
    try:
        _scheme, host, port, _target = webhook_http.check_url(url)
        if not current_app.config["WEBHOOKS_ALLOW_PRIVATE"]:
            webhook_http.resolve(host, port, allow_private=False)
    except webhook_http.RefusedAddress as exc:
        raise ServiceError(_("This URL cannot receive webhooks: %(exc)s.", exc=exc)) from exc
    return url


def create_endpoint(url: str, events: list[str], description: str,
                    actor: User | None) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown this once). ``actor`` None: the command line."""
    url = _clean_url(url)
    chosen = [event for event in EVENTS if event in set(events)]
    if not chosen or len(chosen) != len(set(events)):
        raise ServiceError(_("Choose at least one event, from the list."))
    description = " ".join((description or "").split())[:200]
    secret = new_secret()
    endpoint = WebhookEndpoint(url=url, events=chosen, description=description, secret=secret,
                               created_by_id=actor.id if actor else None)
    db.session.add(endpoint)
    audit.record("webhook.created", endpoint, actor, url=url, events=chosen)  # never the secret
    transactions.commit(keep=(endpoint,))
    return endpoint, secret


def list_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."))
    return endpoint


def set_active(endpoint: WebhookEndpoint, active: bool, actor: User) -> None:
    """Enable (its failure count starts again from zero) or disable an endpoint."""
    endpoint.active = active
    endpoint.consecutive_failures = 0
    endpoint.disabled_at = None if active else utcnow()
    endpoint.disabled_reason = None if active else f"disabled by {actor.display_name}"
    audit.record("webhook.enabled" if active else "webhook.disabled", endpoint, actor)
    transactions.commit()


def messages_of(endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookMessage]:
    """The newest messages of an endpoint, each with its attempts (the delivery log)."""
    return list(db.session.scalars(
        select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id)
        .order_by(WebhookMessage.id.desc()).limit(limit)
    ))


def message_body(event_type: str, data: dict[str, Any], now: datetime) -> str:
    """The exact JSON of an event's message (sent and signed as is on every attempt)."""
    return json.dumps({"type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data},
                      ensure_ascii=False, separators=(",", ":"))


def _queue(endpoint: WebhookEndpoint, event_type: str, data: dict[str, Any]) -> WebhookMessage:
    message_id = "msg_" + secrets.token_hex(16)
    now = utcnow()
    body = message_body(event_type, data, now)
    message = WebhookMessage(endpoint=endpoint, message_id=message_id, event_type=event_type, body=body,
                             created_at=now, next_attempt_at=now)
    db.session.add(message)
    webhook_delivery.queue_attempt(message_id, 1)
    return message


def emit(event_type: str, data: dict[str, Any]) -> int:
    """In the caller's transaction: a message to every active endpoint that wants ``event_type``."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoints = [e for e in db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
                                               .order_by(WebhookEndpoint.id)) if event_type in e.events]
    for endpoint in endpoints:
        _queue(endpoint, event_type, data)
    return len(endpoints)


def send_test(endpoint: WebhookEndpoint, actor: User) -> WebhookMessage:
    """The "send test event" button: one ``webhook.test`` message, sent and logged like any other."""
    if not endpoint.active:
        raise ServiceError(_("Enable the endpoint before sending it a test event."), status=409, code="conflict")
    message = _queue(endpoint, TEST_EVENT, {"endpoint_id": endpoint.id, "sent_by": actor.display_name,
                                            "public_url": current_app.config["PUBLIC_URL"]})
    audit.record("webhook.test_sent", endpoint, actor, message_id=message.message_id)
    transactions.commit()
    return message


def declaration_data(declaration: Declaration) -> dict[str, Any]:
    """What every event about a declaration says of it: its slug, title, state and URLs."""
    base = current_app.config["PUBLIC_URL"]
    data: dict[str, Any] = {
        "slug": declaration.slug, "title": declaration.title, "status": declaration.status,
        "url": f"{base}/declarations/{declaration.slug}",
    }
    if declaration.status == "frozen":
        public = f"{base}/public/declarations/{declaration.slug}"
        data.update(public_url=public, bundle_url=f"{public}/bundle.zip", pdf_url=f"{public}/declaration.pdf")
    return data
