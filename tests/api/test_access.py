"""Who may call what: every API operation against every kind of caller.

One row per (operation, target). A route under /api/v1 without a row fails
``test_matrix_covers_every_api_route``. Each caller gets a fresh database with
declarations in every state (``scene``); rows run in order, so a row that
changes something comes after the rows that rely on the state before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import API, CALLERS, TEXT, Api, Key, Scene, b64
from tests.conftest import BACKENDS, PASSWORD

REFUSED = {"no_token": 401, "bad_token": 401, "revoked_token": 401}


def by_role(observer: int, delegate: int, other_delegate: int, secretariat: int) -> dict[str, int]:
    return {**REFUSED, "observer": observer, "delegate": delegate, "other_delegate": other_delegate,
            "secretariat": secretariat}


def everyone(status: int) -> dict[str, int]:
    return by_role(status, status, status, status)


def secretariat(status: int, others: int = 403) -> dict[str, int]:
    return by_role(others, others, others, status)


def delegate(status: int, other_delegate: int = 403) -> dict[str, int]:
    return by_role(403, status, other_delegate, 403)


Body = Callable[[Scene], Any]


def _issued(slug: str, kind: str) -> Body:
    """A payload issued to İzmir's delegate and signed with their key (whoever then posts it)."""

    def make(scene: Scene) -> dict[str, str]:
        from signing.services import declarations, signatures

        declaration = declarations.get(scene.slugs[slug])
        issue = signatures.issue_signature_payload if kind == "signature" else signatures.issue_withdrawal_payload
        issued = issue(declaration, scene.people.delegate, scene.key.fingerprint)
        return {"payload": b64(issued.payload), "signature": b64(scene.key.private.sign(issued.payload))}

    return make


@dataclass
class Row:
    method: str
    path: str  # "{draft}" etc. name a declaration of the scene; "{spare_key}" the spare key's fingerprint
    expected: dict[str, int]
    body: Body | None = None

    def url(self, scene: Scene) -> str:
        return API + self.path.format(**scene.slugs, spare_key=scene.spare_key.fingerprint)


ROWS = [
    Row("GET", "/openapi.json", dict.fromkeys(CALLERS, 200)),
    # The transparency log is public: the scene's events are in it (tests/tlog checks the contents).
    Row("GET", "/log/entries?start=0&end=1", dict.fromkeys(CALLERS, 200)),
    Row("GET", "/log/proof/inclusion?index=0&size=1", dict.fromkeys(CALLERS, 200)),
    Row("GET", "/log/proof/consistency?old=1&size=1", dict.fromkeys(CALLERS, 200)),
    Row("GET", "/log/witnesses", dict.fromkeys(CALLERS, 200)),
    Row("POST", "/log/witnesses", delegate(201, 201), lambda s: {"public_key": Key().public_b64, "password": PASSWORD}),
    Row("POST", "/log/witnesses/{spare_key}/revoke", everyone(404)),  # a signing key, not a witness key: tests/tlog
    # Cosignatures and fork reports authenticate themselves (tests/tlog): anyone may send one, a bogus one is a 400.
    Row("POST", "/log/cosignatures", dict.fromkeys(CALLERS, 400), lambda s: {"size": 1, "cosignature": "bogus"}),
    Row("POST", "/log/fork-reports", dict.fromkeys(CALLERS, 400),
        lambda s: {"old_checkpoint": "x", "new_checkpoint": "y", "reason": "noise"}),
    Row("GET", "/me", everyone(200)),
    Row("GET", "/declarations", everyone(200)),
    Row("POST", "/declarations", secretariat(201), lambda s: {"title": "A new one", "text": TEXT}),
    Row("GET", "/declarations/{open}", everyone(200)),
    Row("GET", "/declarations/{draft}", secretariat(200)),
    Row("GET", "/declarations/no-such-thing", everyone(404)),
    Row("GET", "/declarations/{open}/revisions", everyone(200)),
    Row("GET", "/declarations/{draft}/revisions", secretariat(200)),
    Row("POST", "/declarations/{consultation}/revisions", secretariat(201),
        lambda s: {"text": TEXT + "\n\nA third paragraph.", "note": "added"}),
    Row("POST", "/declarations/{open}/revisions", secretariat(409), lambda s: {"text": "Another text."}),
    Row("GET", "/declarations/{open}/revisions/1", everyone(200)),
    Row("GET", "/declarations/{open}/revisions/99", everyone(404)),
    Row("GET", "/declarations/{draft}/revisions/1", secretariat(200)),
    Row("POST", "/declarations/{draft2}/consultation", secretariat(200)),
    Row("POST", "/declarations/{consultation}/consultation", secretariat(409)),
    Row("POST", "/declarations/{consultation2}/open-signing", secretariat(200),
        lambda s: {"revision": 1, "rule": {"kind": "all"}}),
    Row("POST", "/declarations/{open}/open-signing", secretariat(409),
        lambda s: {"revision": 1, "rule": {"kind": "all"}}),
    Row("POST", "/keys", delegate(201, 201),
        lambda s: {"public_key": Key().public_b64, "label": "laptop", "password": PASSWORD}),
    Row("GET", "/keys", everyone(200)),
    Row("POST", "/keys/{spare_key}/revoke", by_role(403, 200, 403, 200)),
    Row("POST", "/keys/sha256:" + "0" * 64 + "/revoke", everyone(404)),
    Row("POST", "/declarations/{open}/signing-payload", delegate(201),
        lambda s: {"key_fingerprint": s.key.fingerprint}),
    Row("POST", "/declarations/{open}/signatures", delegate(201, 400), _issued("open", "signature")),
    Row("POST", "/declarations/{signed}/signing-payload", delegate(409),
        lambda s: {"key_fingerprint": s.key.fingerprint}),
    Row("POST", "/declarations/{consultation}/signing-payload", by_role(403, 409, 409, 403),
        lambda s: {"key_fingerprint": s.key.fingerprint}),
    Row("POST", "/declarations/{signed}/withdrawal-payload", delegate(201),
        lambda s: {"key_fingerprint": s.key.fingerprint}),
    Row("POST", "/declarations/{signed}/withdrawals", delegate(201, 400), _issued("signed", "withdrawal")),
    Row("GET", "/declarations/{signed}/signatures", everyone(200)),
    Row("GET", "/declarations/{draft}/signatures", secretariat(200)),
    Row("POST", "/declarations/{consultation}/freeze", secretariat(409)),
    Row("POST", "/declarations/{open}/freeze", secretariat(409)),  # rule not met, no deadline passed
    Row("GET", "/declarations/{open}/bundle", everyone(404)),  # not frozen: no bundle yet
    Row("GET", "/declarations/{draft}/bundle", secretariat(404)),
]


def _endpoint(app: Flask, method: str, url: str) -> str:
    endpoint, _ = app.url_map.bind("localhost").match(url.partition("?")[0], method=method)
    return str(endpoint)


def test_matrix_covers_every_api_route(app: Flask, scene: Scene) -> None:
    in_app = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules() if rule.rule.startswith(API + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    covered = {(_endpoint(app, row.method, row.url(scene)), row.method) for row in ROWS}
    assert in_app - covered == set(), "API routes without a row in the access matrix"
    assert covered <= in_app
    for row in ROWS:
        assert set(row.expected) == set(CALLERS), row.path


@BACKENDS
@pytest.mark.parametrize("caller", CALLERS)
def test_access_matrix(app: Flask, api: Api, scene: Scene, caller: str) -> None:
    problems = []
    for row in ROWS:
        body = row.body(scene) if row.body else None
        response = api.call(row.method, row.url(scene), caller, json=body)
        status, want = response.status_code, row.expected[caller]
        if status != want:
            problems.append(f"{caller} {row.method} {row.path}: expected {want}, got {status} {response.get_json()}")
            continue
        if status >= 400:
            error = (response.get_json() or {}).get("error")
            if not (isinstance(error, dict) and set(error) == {"code", "message"}
                    and all(isinstance(v, str) and v for v in error.values())):
                problems.append(f"{caller} {row.method} {row.path}: error body {response.get_data(as_text=True)}")
        if status == 401 and not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            problems.append(f"{caller} {row.method} {row.path}: 401 without WWW-Authenticate: Bearer")
    assert not problems, "\n".join(problems)
