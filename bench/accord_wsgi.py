"""``wsgi:app`` for the benchmark: the same ``create_app()``, plus the ceiling route, instance in a temporary folder.

``wsgi.py`` always uses the repository's ``instance/``; the benchmark serves this module instead
(``ACCORD_BENCH_INSTANCE`` names the folder). Everything else comes from the environment as in production
(``DATABASE_URL``, ``SECRET_KEY``, ``TASK_MODE=celery``, ``REDIS_URL``).

The **ceiling** is one extra route registered here and nowhere else: ``POST /bench/ceiling`` parses a JSON
body, does one Ed25519 verification (``signing.core.payload.verify``) and one ``INSERT`` through the app's own
SQLAlchemy session, then commits — the least a signature intake must do, on the very same stack as the
signing API (gunicorn settings, Flask app object and its request hooks, Flask-SQLAlchemy session and pool,
PostgreSQL). It has no token check, no lookups and no outbox: that is what makes it a ceiling. The table
``bench_ceiling`` is created by ``bench/signing_intake.py`` before the server starts.

``POST /bench/authenticated-ceiling`` is the same after the API's bearer-token check (one query), for a
second point of comparison: what is left once a request has to know who is signing.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from signing import create_app
from signing.core.payload import verify
from signing.extensions import csrf, db
from signing.services import tokens

app = create_app(instance_path=os.environ["ACCORD_BENCH_INSTANCE"])

_INSERT = text("INSERT INTO bench_ceiling (payload, signature) VALUES (:payload, :signature)")


@csrf.exempt  # like the API blueprint: a JSON body and no cookie
def bench_ceiling() -> ResponseReturnValue:
    body: Any = request.get_json(silent=True)
    try:
        public = base64.b64decode(body["public_key"], validate=True)
        payload = base64.b64decode(body["payload"], validate=True)
        signature = base64.b64decode(body["signature"], validate=True)
    except (binascii.Error, KeyError, TypeError, ValueError):
        return jsonify(error="bad body"), 400
    if not verify(public, signature, payload):
        return jsonify(error="bad signature"), 400
    db.session.execute(_INSERT, {"payload": payload, "signature": signature})
    db.session.commit()
    return jsonify(ok=True), 201


@csrf.exempt
def bench_authenticated_ceiling() -> ResponseReturnValue:
    """The ceiling plus the API's token check (``services.tokens.authenticate``, as the API's hook calls it)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or tokens.authenticate(raw.strip()) is None:
        return jsonify(error="bad token"), 401
    return bench_ceiling()


app.add_url_rule("/bench/ceiling", "bench_ceiling", bench_ceiling, methods=["POST"])
app.add_url_rule("/bench/authenticated-ceiling", "bench_authenticated_ceiling", bench_authenticated_ceiling,
                 methods=["POST"])
