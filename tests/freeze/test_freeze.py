"""Freezing end to end, on SQLite and PostgreSQL: signing rule, exactly once, the bundle, e-mail, withdrawals."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import BACKENDS, csrf_token, login, read_mail
from tests.freeze.conftest import (
    TEXT_2,
    Network,
    bundle_of,
    count,
    open_for_signature,
    run_verify_cli,
    unpack,
)


def frozen_state(declaration: Any) -> str:
    from signing.extensions import db

    db.session.expire_all()
    return str(declaration.status)


def freeze_tasks() -> list[Any]:
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import OutboxTask

    return list(db.session.scalars(select(OutboxTask).where(OutboxTask.kind == "freeze").order_by(OutboxTask.id)))


def assert_verifies(archive: bytes, tmp_path: Path, signatures: int) -> dict[str, Any]:
    """The offline verifier (a separate interpreter) accepts the bundle; returns its manifest."""
    path = tmp_path / "bundle.zip"
    path.write_bytes(archive)
    result = run_verify_cli(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"CONSISTENT: {signatures} signature(s)" in result.stdout, result.stdout  # no key pinned
    folder = unpack(archive, tmp_path / "unpacked")
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_bytes())
    return manifest


def rebuild_from_contents(archive: bytes, app: Flask) -> bytes:
    """Build the bundle again from nothing but its own files and the platform key."""
    import io
    import zipfile

    from signing.core import payload as payloads
    from signing.core.bundle import BundleInput, BundleVersion, SignedItem, WithdrawnItem, build_bundle
    from signing.services import platform_key

    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        files = {name.split("/", 1)[1]: bundle.read(name) for name in bundle.namelist()}
    manifest = json.loads(files["manifest.json"])

    def key(name: str) -> bytes:
        from cryptography.hazmat.primitives import serialization

        loaded = serialization.load_pem_public_key(files[name])
        return loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def signed(entry: dict[str, Any]) -> SignedItem:
        return SignedItem(
            city_slug=entry["city_slug"], city_name=entry["city_name"], signer_name=entry["signer_name"],
            signed_at=payloads.parse_timestamp(entry["signed_at"]), public_key=key(entry["key_file"]),
            payload=files[entry["payload_file"]], signature=files[entry["signature_file"]],
        )

    def when(value: str | None) -> Any:
        return payloads.parse_timestamp(value) if value else None

    data = BundleInput(
        declaration_slug=manifest["declaration_slug"], declaration_title=manifest["declaration_title"],
        revision=manifest["revision"], text=files["declaration.md"].decode("utf-8"),
        text_sha256=manifest["text_sha256"], signing_rule=manifest["signing_rule"],
        signing_opened_at=when(manifest["signing_opened_at"]), signing_deadline=when(manifest["signing_deadline"]),
        frozen_at=payloads.parse_timestamp(manifest["frozen_at"]), issuer=manifest["issuer"],
        signatories=manifest["signatories"], signatures=[signed(e) for e in manifest["signatures"]],
        withdrawals=[
            WithdrawnItem(
                signed=signed(w["signature"]), withdrawn_at=payloads.parse_timestamp(w["withdrawn_at"]),
                public_key=key(w["withdrawal_key_file"]), payload=files[w["withdrawal_file"]],
                signature=files[w["withdrawal_signature_file"]],
            )
            for w in manifest["withdrawals"]
        ],
        versions=[BundleVersion(v["tag"], files[v["file"]].decode("utf-8"), v["authoritative"])
                  for v in manifest.get("versions", [])],
    )
    with app.app_context():
        rebuilt, manifest_bytes = build_bundle(data, files["declaration.pdf"], platform_key.load(),
                                               files.get("seal.crt"))
    assert manifest_bytes == files["manifest.json"]
    return rebuilt


@BACKENDS
def test_rule_all_freezes_exactly_once_when_the_last_city_signs(app: Flask, network: Network, tmp_path: Path) -> None:
    from signing.models import AuditEvent, Bundle, Status

    declaration = open_for_signature(network)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    assert frozen_state(declaration) == Status.OPEN_FOR_SIGNATURE.value, "two of three is not all"
    assert bundle_of(declaration) is None and freeze_tasks() == []

    network.sofia.sign(declaration)
    assert frozen_state(declaration) == Status.FROZEN.value
    assert declaration.frozen_at is not None
    bundle = bundle_of(declaration)
    assert bundle is not None and count(Bundle) == 1
    assert [t.status for t in freeze_tasks()] == ["done"]
    assert count(AuditEvent, action="declaration.frozen") == 1
    assert bundle.archive_sha256 == hashlib.sha256(bundle.archive).hexdigest()

    manifest = assert_verifies(bundle.archive, tmp_path, 3)
    assert manifest["signing_rule"] == {"kind": "all"}
    assert manifest["revision"] == 2
    assert manifest["text_sha256"] == hashlib.sha256(TEXT_2.encode()).hexdigest()
    assert [s["city_slug"] for s in manifest["signatures"]] == ["athens", "izmir", "sofia"]
    assert manifest["signatories"] == ["athens", "izmir", "sofia"]
    assert manifest["withdrawals"] == []
    assert manifest["platform_key_fingerprint"] == bundle.platform_key_fingerprint
    assert bytes(bundle.manifest) == (tmp_path / "unpacked" / "decl-bundle" / "manifest.json").read_bytes()


@BACKENDS
def test_a_quorum_of_two_of_three_freezes_at_the_second_signature(app: Flask, network: Network,
                                                                  tmp_path: Path) -> None:
    from signing.models import Status
    from signing.services import Conflict

    declaration = open_for_signature(network, rule="quorum", quorum=2)
    network.sofia.sign(declaration)
    assert frozen_state(declaration) == Status.OPEN_FOR_SIGNATURE.value
    network.athens.sign(declaration)
    assert frozen_state(declaration) == Status.FROZEN.value
    assert len(freeze_tasks()) == 1

    with pytest.raises(Conflict):  # too late: the text is sealed
        network.izmir.sign(declaration)
    manifest = assert_verifies(bundle_of(declaration).archive, tmp_path, 2)
    assert manifest["signing_rule"] == {"kind": "quorum", "required": 2}
    assert [s["city_slug"] for s in manifest["signatures"]] == ["athens", "sofia"]
    assert manifest["signatories"] == ["athens", "izmir", "sofia"]


@BACKENDS
def test_freezing_again_changes_nothing_and_the_bundle_is_reproducible(app: Flask, network: Network) -> None:
    from signing.models import Bundle
    from signing.services import freeze, outbox

    declaration = open_for_signature(network, cities=[network.izmir, network.athens])
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    first = bundle_of(declaration)
    archive, bundle_id = bytes(first.archive), first.id

    assert freeze.freeze_declaration(declaration.id) == bundle_id
    assert freeze.freeze_declaration(declaration.id, "again") == bundle_id
    (task,) = freeze_tasks()
    assert outbox.run_task(task.id) == "done"
    assert outbox.run_task(task.id) == "done"
    assert outbox.drain() == {"emails": 0, "tasks": 0}
    assert count(Bundle) == 1
    assert bytes(bundle_of(declaration).archive) == archive

    # The same input gives the same bytes: rebuilt from its own files, the bundle is identical.
    assert rebuild_from_contents(archive, app) == archive


@BACKENDS
def test_the_secretariat_freezes_only_once_the_deadline_has_passed(app: Flask, network: Network, client: FlaskClient,
                                                                   tmp_path: Path) -> None:
    from signing.extensions import db
    from signing.models import Status, utcnow
    from signing.services import Conflict, Forbidden, freeze

    declaration = open_for_signature(network, deadline=utcnow() + timedelta(days=2))
    with pytest.raises(Conflict, match="No city has signed|not met"):
        freeze.request(declaration, network.secretariat)
    network.izmir.sign(declaration)
    with pytest.raises(Conflict) as refused:
        freeze.request(declaration, network.secretariat)
    assert refused.value.status == 409
    with pytest.raises(Forbidden):
        freeze.request(declaration, network.izmir.user)

    # The same refusal through the web page.
    assert login(client, network.secretariat.email).status_code == 302
    path = f"/declarations/{declaration.slug}/freeze"
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 409, response.get_data(as_text=True)[:500]
    assert frozen_state(declaration) == Status.OPEN_FOR_SIGNATURE.value

    # The deadline passes (set directly; the service refuses a deadline in the past).
    declaration.signing_deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    freeze.request(declaration, network.secretariat)
    assert frozen_state(declaration) == Status.FROZEN.value
    manifest = assert_verifies(bundle_of(declaration).archive, tmp_path, 1)
    assert [s["city_slug"] for s in manifest["signatures"]] == ["izmir"]
    assert manifest["signing_rule"] == {"kind": "all"} and len(manifest["signatories"]) == 3
    assert manifest["signing_deadline"] is not None
    with pytest.raises(Conflict):  # frozen: nothing more to freeze
        freeze.request(declaration, network.secretariat)


@BACKENDS
def test_the_frozen_email_goes_to_every_member_once(app: Flask, network: Network) -> None:
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import OutboxEmail, Role
    from signing.services import accounts, freeze, outbox

    gone = accounts.create_user("gone@b40.example", "Former observer", Role.OBSERVER, password="x" * 16)
    accounts.set_active(gone, False, network.secretariat)
    declaration = open_for_signature(network, rule="quorum", quorum=1)
    network.athens.sign(declaration)
    freeze.freeze_declaration(declaration.id)
    outbox.drain()

    rows = list(db.session.scalars(select(OutboxEmail).where(OutboxEmail.template == "frozen")))
    members = {network.secretariat.email, network.people.observer.email, *(s.user.email for s in network.signers)}
    assert sorted(r.recipient for r in rows) == sorted(members)
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    files = [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if str(m["Subject"]).startswith("Frozen:")]
    assert sorted(str(m["To"]) for m in files) == sorted(members)


@BACKENDS
def test_withdrawn_signatures_and_their_withdrawals_are_in_the_bundle(app: Flask, network: Network,
                                                                      tmp_path: Path) -> None:
    from signing.core import payload as payloads

    declaration = open_for_signature(network, cities=[network.izmir, network.athens])
    first = network.izmir.sign(declaration)
    first_payload = bytes(first.payload)
    withdrawal = network.izmir.withdraw(declaration)
    second = network.izmir.sign(declaration)
    network.athens.sign(declaration)

    manifest = assert_verifies(bundle_of(declaration).archive, tmp_path, 2)
    folder = tmp_path / "unpacked" / "decl-bundle"
    (entry,) = manifest["withdrawals"]
    assert entry["city_slug"] == "izmir"
    assert entry["signature"]["payload_file"] == "withdrawn/izmir-1.json"
    assert (folder / "withdrawn/izmir-1.json").read_bytes() == first_payload
    assert (folder / "withdrawn/izmir-1.sig").read_bytes() == bytes(first.signature)
    assert (folder / "withdrawals/izmir-1.json").read_bytes() == bytes(withdrawal.payload)
    assert payloads.parse(bytes(withdrawal.payload))["withdraws_payload_sha256"] == \
        hashlib.sha256(first_payload).hexdigest()
    assert (folder / "signatures/izmir.json").read_bytes() == bytes(second.payload)
    assert [s["city_slug"] for s in manifest["signatures"]] == ["athens", "izmir"]


@BACKENDS
def test_returning_to_consultation_voids_the_signatures(app: Flask, network: Network, tmp_path: Path) -> None:
    from signing.models import SignatureStatus, Status
    from signing.services import declarations

    declaration = open_for_signature(network, cities=[network.izmir, network.athens])
    old = network.izmir.sign(declaration)
    declarations.return_to_consultation(declaration, network.secretariat, "Athens asks for one more change.")
    assert frozen_state(declaration) == Status.CONSULTATION.value
    assert old.status == SignatureStatus.VOID.value

    excluded = [network.sofia.user.city_id]
    declarations.open_signing(declaration, 2, network.secretariat, excluded_city_ids=excluded)
    network.athens.sign(declaration)
    assert frozen_state(declaration) == Status.OPEN_FOR_SIGNATURE.value, "the void signature does not count"
    new = network.izmir.sign(declaration)
    assert frozen_state(declaration) == Status.FROZEN.value

    manifest = assert_verifies(bundle_of(declaration).archive, tmp_path, 2)
    folder = tmp_path / "unpacked" / "decl-bundle"
    assert (folder / "signatures/izmir.json").read_bytes() == bytes(new.payload)
    assert manifest["withdrawals"] == [] and not (folder / "withdrawn").exists()
    assert all(bytes(old.payload) != p.read_bytes() for p in folder.rglob("*.json"))


@BACKENDS
def test_a_freeze_task_that_ran_after_a_return_does_not_block_the_next_round(app: Flask, network: Network) -> None:
    """The worker may run the freeze task only after the secretariat returned the declaration to consultation.

    That task finds nothing to freeze and is done; when signing reopens and the rule is met again, a new task
    must be queued (the outbox key names the signing round), or the declaration would never freeze.
    """
    from signing.models import Status
    from signing.services import declarations, outbox

    declaration = open_for_signature(network, cities=[network.izmir, network.athens])
    app.config["TASK_MODE"] = "celery"  # queued for a worker that has not run yet (in-memory broker)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    (task,) = freeze_tasks()
    assert task.status == "pending" and frozen_state(declaration) == Status.OPEN_FOR_SIGNATURE.value
    declarations.return_to_consultation(declaration, network.secretariat, "One more change after all.")
    assert outbox.run_task(task.id) == "done"  # the worker, late
    assert frozen_state(declaration) == Status.CONSULTATION.value

    app.config["TASK_MODE"] = "inline"
    declarations.open_signing(declaration, 2, network.secretariat, excluded_city_ids=[network.sofia.user.city_id])
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    assert frozen_state(declaration) == Status.FROZEN.value
    assert len(freeze_tasks()) == 2

