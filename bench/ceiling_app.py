"""The ceiling for ``signing_intake.py``: the least a signature intake must do, and nothing else.

One request = parse a JSON body, one Ed25519 verification (``signing.payload.verify``) and one
``INSERT`` on the same PostgreSQL, through a SQLAlchemy pool — no framework, no auth, no checks.
Served by gunicorn with the same settings as the app (``CEILING_DATABASE_URL`` names the database;
the table ``bench_ceiling`` is created by the benchmark before the server starts).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import create_engine, text

from signing.payload import verify

ENGINE = create_engine(os.environ["CEILING_DATABASE_URL"], pool_size=8, max_overflow=4, pool_pre_ping=True)
INSERT = text("INSERT INTO bench_ceiling (payload, signature) VALUES (:payload, :signature)")


def _reply(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("REQUEST_METHOD") != "POST":
        return _reply(start_response, "405 Method Not Allowed", {"error": "POST only"})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        body = json.loads(environ["wsgi.input"].read(min(length, 65536)))
        public = base64.b64decode(body["public_key"])
        payload = base64.b64decode(body["payload"])
        signature = base64.b64decode(body["signature"])
    except (ValueError, KeyError, TypeError):
        return _reply(start_response, "400 Bad Request", {"error": "bad body"})
    if not verify(public, signature, payload):
        return _reply(start_response, "400 Bad Request", {"error": "bad signature"})
    with ENGINE.begin() as connection:
        connection.execute(INSERT, {"payload": payload, "signature": signature})
    return _reply(start_response, "201 Created", {"ok": True})
