"""The secretariat's webhook pages: the secret shown once, the delivery log, the test button."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import People, csrf_token, login
from tests.webhooks.conftest import Receiver


def _secretariat(client: FlaskClient, people: People) -> str:
    assert login(client, people.secretariat.email).status_code == 302
    return csrf_token(client, "/admin/webhooks/")


def test_an_endpoint_is_added_its_secret_shown_once_and_a_test_event_logged(app: Flask, client: FlaskClient,
                                                                             people: People,
                                                                             receiver: Receiver) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent, WebhookEndpoint

    token = _secretariat(client, people)
    response = client.post("/admin/webhooks/", data={
        "csrf_token": token, "url": receiver.url, "description": "Newsroom",
        "events": ["declaration.frozen", "signature.accepted"],
    })
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    match = re.search(r'id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)<', page)
    assert match
    secret = match.group(1)
    endpoint = db.session.scalars(db.select(WebhookEndpoint)).one()
    assert endpoint.events == ["signature.accepted", "declaration.frozen"]
    for path in ("/admin/webhooks/", f"/admin/webhooks/{endpoint.id}"):
        shown = client.get(path)
        assert shown.status_code == 200 and secret not in shown.get_data(as_text=True)
    assert secret not in str([e.details for e in db.session.scalars(db.select(AuditEvent))])

    token = csrf_token(client, f"/admin/webhooks/{endpoint.id}")
    response = client.post(f"/admin/webhooks/{endpoint.id}/test", data={"csrf_token": token})
    assert response.status_code == 302
    assert [b["type"] for b in receiver.verified(secret)] == ["webhook.test"]
    log = client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert receiver.ids()[0] in log and "HTTP 200 ok" in log


def test_bad_input_is_refused_with_a_message_and_changes_nothing(app: Flask, client: FlaskClient,
                                                                  people: People) -> None:
    from signing.extensions import db
    from signing.models import WebhookEndpoint

    token = _secretariat(client, people)
    cases: list[dict[str, Any]] = [
        {"url": "ftp://example.org/", "events": ["signature.accepted"]},
        {"url": "http://example.org/hook"},
        {"url": "http://example.org/hook", "events": ["no.such.event"]},
        {"url": "", "events": ["signature.accepted"]},
        {"url": "http://exa mple.org/", "events": ["signature.accepted"]},
    ]
    for data in cases:
        response = client.post("/admin/webhooks/", data={"csrf_token": token, **data})
        assert 400 <= response.status_code < 500, data
        assert 'class="error"' in response.get_data(as_text=True), data
    assert db.session.scalars(db.select(WebhookEndpoint)).all() == []


def test_disable_and_enable(app: Flask, client: FlaskClient, people: People, receiver: Receiver) -> None:
    from signing.extensions import db
    from signing.services import webhooks

    endpoint, _ = webhooks.create_endpoint(receiver.url, ["signature.accepted"], "", people.secretariat)
    token = _secretariat(client, people)
    assert client.post(f"/admin/webhooks/{endpoint.id}/disable", data={"csrf_token": token}).status_code == 302
    db.session.refresh(endpoint)
    assert not endpoint.active
    assert client.post(f"/admin/webhooks/{endpoint.id}/test", data={"csrf_token": token}).status_code == 409
    assert client.post(f"/admin/webhooks/{endpoint.id}/enable", data={"csrf_token": token}).status_code == 302
    db.session.refresh(endpoint)
    assert endpoint.active
    assert receiver.deliveries == []
