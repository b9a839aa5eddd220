"""The race over real HTTP: 50 concurrent signature submissions for one city against the running app.

Each request carries its own issued payload (all issued before any is used), all are
released together by a barrier; exactly one is stored, the other 49 get 409, none a 5xx.
Runs on PostgreSQL and on SQLite.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import BACKENDS, PASSWORD, People, free_port

CONCURRENT = 50


def _post(url: str, token: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built by the test
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@BACKENDS
@pytest.mark.slow
def test_fifty_concurrent_http_signatures_store_exactly_one(app_factory: Callable[..., Flask],
                                                              people: People, app: Flask) -> None:
    from signing.core import payload as payloads
    from signing.extensions import db
    from signing.models import Signature
    from signing.services import declarations, keys, signatures, tokens

    declaration = declarations.create("Race Declaration", "One text.\n\nSigned once.\n", people.secretariat,
                                      slug="race")
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 1, people.secretariat)
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = keys.enrol(people.delegate, payloads.b64encode(raw), "laptop", PASSWORD)
    _, token = tokens.create(people.delegate, "race")
    bodies = []
    for _ in range(CONCURRENT):
        issued = signatures.issue_signature_payload(declaration, people.delegate, key.fingerprint)
        bodies.append({"payload": base64.b64encode(issued.payload).decode(),
                       "signature": base64.b64encode(private.sign(issued.payload)).decode()})
    db.session.commit()

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{port}/api/v1/declarations/race/signatures"
    barrier = threading.Barrier(CONCURRENT)
    results: list[tuple[int, dict[str, object]]] = []
    lock = threading.Lock()

    def submit(body: dict[str, str]) -> None:
        barrier.wait(timeout=30)
        outcome = _post(url, token, body)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=submit, args=(body,)) for body in bodies]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        server.shutdown()
        serving.join(timeout=10)
        server.server_close()

    statuses = Counter(status for status, _ in results)
    assert len(results) == CONCURRENT
    assert statuses == {201: 1, 409: CONCURRENT - 1}, statuses
    codes = {body["error"]["code"] for status, body in results if status == 409}  # type: ignore[index]
    assert codes <= {"already_signed", "payload_used", "conflict"}, codes
    db.session.expire_all()
    stored = db.session.query(Signature).filter_by(declaration_id=declaration.id).all()
    assert len(stored) == 1 and stored[0].status == "valid"
