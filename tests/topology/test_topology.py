"""docker-compose's topology without Docker, driven through the HTTP API only.

A fresh PostgreSQL database, a dedicated Redis database, an aiosmtpd server; ``flask db upgrade``,
``platform-key generate``, ``create-user`` and ``tokens create`` as an operator runs them; then
gunicorn (2 workers), a Celery worker (2 processes) and Celery beat as real subprocesses. The
secretariat opens signing, each delegate enrols a key and signs over HTTP, the worker freezes the
declaration, and the bundle verifies with ``signing.verify`` and with its own VERIFY.txt.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import PASSWORD, free_port
from tests.topology.conftest import (
    MAIL_FROM_ADDRESS,
    SECRETARIAT_EMAIL,
    TEXT,
    TITLE,
    Processes,
    SmtpServer,
    all_mail_sent,
    api_tokens,
    assert_each_once,
    count,
    flask_cli,
    mail_counts,
    process_env,
    rows,
    run_verify_txt,
    seed_network,
    service_env,
    wait_until,
)

pytestmark = pytest.mark.slow
SLUG = "black-sea"


class Api:
    """A bearer-token client of gunicorn's /api/v1."""

    def __init__(self, port: int, token: str) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, expected: int, json: Any = None) -> requests.Response:
        response = requests.request(method, self.base + path, headers=self.headers, json=json, timeout=30)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response


def test_the_production_topology_signs_and_freezes_through_the_api(
    database: str, shared_redis: str, procs: Processes, smtp_factory: Callable[..., SmtpServer],
    app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path,
) -> None:
    from signing.core import payload as payloads
    from signing.core.verifier import verify_bundle
    from signing.models import Bundle, OutboxEmail, OutboxTask

    smtp = smtp_factory()
    key_path = tmp_path / "keys" / "platform_key.pem"
    values = service_env(database, shared_redis, smtp.port, key_path)
    env = process_env(values)

    # What an operator runs once, with the production environment.
    flask_cli(values, "db", "upgrade")
    platform_fingerprint = flask_cli(values, "platform-key", "generate").split()[-1]
    assert platform_fingerprint.startswith("sha256:") and key_path.stat().st_mode & 0o777 == 0o600
    assert not (key_path.parent / "seal.crt").exists(), "production never invents the PDF seal"
    assert flask_cli(values, "seal", "generate").startswith("Created a self-signed seal certificate")
    flask_cli(values, "create-user", SECRETARIAT_EMAIL, "--name", "Secretariat", "--role", "secretariat",
              "--password", PASSWORD)
    secretariat_token = flask_cli(values, "tokens", "create", SECRETARIAT_EMAIL, "--name", "desk").split()[-1]
    assert secretariat_token.startswith("acc_")

    # The member cities and their delegates, set up in this process against the same database.
    app = app_builder(values)
    network = seed_network(app, create_secretariat=False)
    tokens = api_tokens(app, network)

    port = free_port()
    web = procs.gunicorn(env, port, workers=2)
    worker = procs.worker(env, concurrency=2)
    beat = procs.beat(env, tmp_path / "celerybeat-schedule")

    # The secretariat drafts, opens the consultation and opens signing, over HTTP.
    secretariat = Api(port, secretariat_token)
    secretariat.call("POST", "/declarations", 201, {"title": TITLE, "text": TEXT, "slug": SLUG})
    secretariat.call("POST", f"/declarations/{SLUG}/consultation", 200)
    opened = secretariat.call("POST", f"/declarations/{SLUG}/open-signing", 200,
                              {"revision": 1, "rule": {"kind": "all"}}).json()
    assert opened["status"] == "open_for_signature"
    text_sha256 = opened["open_revision"]["sha256"]
    assert text_sha256 == hashlib.sha256(TEXT.encode()).hexdigest()

    # Each delegate enrols a key made here (only its public half leaves), then signs the issued bytes.
    for delegate in network.delegates:
        api = Api(port, tokens[delegate.user_id])
        enrolled = api.call("POST", "/keys", 201, {"public_key": base64.b64encode(delegate.public_key).decode(),
                                                   "label": "laptop", "password": PASSWORD, "origin": "cli"}).json()
        assert enrolled["fingerprint"] == payloads.fingerprint(delegate.public_key)
        delegate.fingerprint = enrolled["fingerprint"]
        issued = api.call("POST", f"/declarations/{SLUG}/signing-payload", 201,
                          {"key_fingerprint": delegate.fingerprint}).json()
        data = base64.b64decode(issued["payload"])
        fields = payloads.parse(data)  # what a careful signer reads before signing
        assert (fields["text_sha256"], fields["city_slug"]) == (text_sha256, delegate.city_slug)
        receipt = api.call("POST", f"/declarations/{SLUG}/signatures", 201, {
            "payload": issued["payload"], "signature": base64.b64encode(delegate.private_key.sign(data)).decode(),
        }).json()
        assert receipt["city"] == delegate.city_slug and receipt["key_fingerprint"] == delegate.fingerprint

    # The last signature met the rule: the worker freezes the declaration.
    state: dict[str, Any] = {}

    def frozen() -> bool:
        state.update(secretariat.call("GET", f"/declarations/{SLUG}", 200).json())
        return state["status"] == "frozen"

    wait_until(frozen, "the declaration to be frozen", interval=0.3, details=procs.logs)
    assert {c["slug"]: c["signature_status"] for c in state["cities"]} == {
        d.city_slug: "valid" for d in network.delegates}

    response = secretariat.call("GET", f"/declarations/{SLUG}/bundle", 200)
    assert response.headers["Content-Type"] == "application/zip"
    archive = response.content
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(archive).hexdigest()
    report = verify_bundle(archive, trusted_platform_key=platform_fingerprint)
    assert report.failures == 0 and report.signatures_ok == len(network.delegates), "\n".join(report.lines)

    unpacked = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        bundle.extractall(unpacked)
    [folder] = [p for p in unpacked.iterdir() if p.is_dir()]
    verified, failures = run_verify_txt(folder, platform_fingerprint)
    assert failures == []
    assert verified == 1 + len(network.delegates)  # the manifest and every city's signature

    # The e-mail: one per recipient per event, all sent by the worker over SMTP.
    secretariat_email = network.secretariat_email
    expected: list[tuple[str, str]] = []
    for address in network.everyone:
        expected += [(address, f"Consultation open: “{TITLE}”"), (address, f"Signing is open: “{TITLE}”"),
                     (address, f"Frozen: “{TITLE}” is signed and sealed")]
    for d in network.delegates:
        expected += [
            (d.email, "A signing key was enrolled for your account"),
            (secretariat_email, f"{d.display_name} ({d.city_name}) enrolled a signing key"),
            (d.email, f"You signed “{TITLE}” (revision 1) for {d.city_name}"),
            (secretariat_email, f"{d.city_name} signed “{TITLE}” (revision 1)"),
        ]
    wait_until(lambda: len(smtp.received) >= len(expected) and all_mail_sent(app), "every e-mail to be sent",
               details=lambda: f"{mail_counts(smtp.received)}\n{procs.logs()}")
    time.sleep(1.5)  # room for a duplicate to show up
    assert_each_once(smtp.received)
    assert mail_counts(smtp.received) == Counter(expected)
    assert {m.mail_from for m in smtp.received} == {MAIL_FROM_ADDRESS}

    emails = rows(app, OutboxEmail)
    assert len(emails) == len(expected)
    assert {(r.status, r.attempts) for r in emails} == {("sent", 1)}
    assert all(r.published_at is not None for r in emails), "the web process handed every e-mail to the workers"
    [task] = rows(app, OutboxTask, OutboxTask.kind == "freeze")  # log.sequence tasks aside
    assert (task.kind, task.status, task.attempts) == ("freeze", "done", 0)
    assert count(app, Bundle) == 1

    for process in (web, worker, beat):
        assert process.alive(), f"{process.name} died:\n{process.log()}"
    assert "workers.tasks.run_task" in worker.log(tail=10**7)
