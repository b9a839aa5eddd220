"""Approvals in the audit log: new events under the new name, events recorded as "endorsement" kept as they are."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.conftest import BACKENDS, People, login


def _audit_rows(app: Flask, person: Any) -> list[str]:
    client = app.test_client()
    assert login(client, person.email).status_code == 302
    response = client.get("/admin/audit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", row)).strip()
            for row in re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>", 1)[1], re.S)]


@BACKENDS
def test_old_endorsement_events_are_kept_and_shown_as_approvals(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent
    from signing.services import declarations, review

    declaration = declarations.create("Network declaration", "One.\n\nTwo.\n", people.secretariat, slug="network")
    declarations.open_consultation(declaration, people.secretariat)
    # An event as recorded before migration 0005 (the audit log is append-only: it is never rewritten).
    db.session.add(AuditEvent(action="endorsement.added", object_type="endorsements", object_id="41",
                              actor_id=people.other_delegate.id, details={"revision": 1}))
    db.session.commit()
    approval = review.approve(declaration.latest, people.delegate)

    recorded = list(db.session.execute(
        select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
        .where(AuditEvent.action.in_(["approval.added", "endorsement.added"])).order_by(AuditEvent.id)
    ))
    assert recorded == [("endorsement.added", "endorsements", "41"), ("approval.added", "approvals", str(approval.id))]

    rows = _audit_rows(app, people.secretariat)
    new = next(row for row in rows if f"approvals {approval.id}" in row)
    old = next(row for row in rows if "approvals 41" in row)
    assert "approval.added" in new and "recorded as" not in new
    assert "approval.added (recorded as endorsement.added)" in old
    assert "(recorded as endorsements)" in old
