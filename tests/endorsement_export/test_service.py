"""``flask --app wsgi export-endorsements SLUG PATH`` and the outbox task: the export of a frozen declaration's
endorsements, read from the database (SQLite and PostgreSQL), verifies with ``signing.verify`` and with VERIFY.txt."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from flask import Flask

from signing import verify as verify_cli
from signing.core import endorsement_export
from signing.core.bundle_log import LogOptions
from signing.core.endorsement_verifier import verify_export
from signing.core.verifier import read_archive
from tests.conftest import BACKENDS, People
from tests.endorsements.conftest import Holder, freeze_one, organisation, person
from tests.freeze.conftest import make_network, open_for_signature, platform_fingerprint

from .helpers import members, rezip, run_recipe, verify


def _endorse(declaration: object, holder: Holder) -> object:
    from signing.services import endorsements

    signed = holder.signed(declaration)
    return endorsements.accept(declaration, signed.payload, signed.signature, signed.public_key,  # type: ignore[arg-type]
                               endorser=holder.endorser)


def _endorsed(people: People) -> object:
    """A frozen declaration with three endorsements by people (one withdrawn) and one hidden by moderation."""
    from signing.extensions import db
    from signing.models import Endorsement, utcnow
    from signing.services import endorsements, transactions

    declaration = freeze_one(people)
    holders = [person(f"endorser{index}@example.org") for index in range(3)]
    records = [_endorse(declaration, holder) for holder in holders]
    withdrawal = holders[0].signed(declaration, withdraws=records[0].payload_sha256)  # type: ignore[attr-defined]
    endorsements.withdraw(declaration, withdrawal.payload, withdrawal.signature, withdrawal.public_key,
                          endorser=holders[0].endorser)
    hidden = _endorse(declaration, organisation())
    row = db.session.get(Endorsement, hidden.id)  # type: ignore[attr-defined]
    assert row is not None
    row.hidden_at, row.hidden_reason = utcnow(), "spam"
    transactions.commit()
    return declaration


@BACKENDS
def test_the_export_command_writes_an_export_that_verifies(app: Flask, people: People, tmp_path: Path) -> None:
    _endorsed(people)
    path = tmp_path / "endorsements.zip"
    result = app.test_cli_runner().invoke(args=["export-endorsements", "decl", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 endorsement(s), 1 withdrawn, 2 standing" in result.output
    fingerprint = platform_fingerprint(app)
    report = verify(path, jobs=2, pinned=fingerprint)
    assert report.failures == 0 and report.signatures_ok == 2, report.lines
    assert verify_cli.main([str(path), "--platform-key", fingerprint]) == 0
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        archive.extractall(tmp_path / "unpacked")
        names = archive.namelist()
    assert len([n for n in names if "/endorsements/" in n]) == 6
    assert len([n for n in names if "/withdrawals/" in n]) == 2
    assert run_recipe(tmp_path / "unpacked" / "decl-endorsements", fingerprint) == []
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


def test_refusals_are_clear_and_write_nothing(app: Flask, people: People, tmp_path: Path) -> None:
    network = make_network(people)
    open_for_signature(network, slug="open-one")
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["export-endorsements", "no-such", str(tmp_path / "a.zip")])
    assert unknown.exit_code == 1 and "No such declaration." in unknown.output
    not_frozen = runner.invoke(args=["export-endorsements", "open-one", str(tmp_path / "b.zip")])
    assert not_frozen.exit_code == 1 and "is not frozen" in not_frozen.output
    frozen = open_for_signature(network, slug="frozen-one")
    for signer in network.signers:
        signer.sign(frozen)
    nowhere = runner.invoke(args=["export-endorsements", "frozen-one", str(tmp_path / "missing" / "c.zip")])
    assert nowhere.exit_code == 1 and "Cannot write" in nowhere.output
    assert [p.name for p in tmp_path.iterdir() if p.suffix in (".zip", ".part")] == []


def test_the_outbox_task_writes_the_same_export(app: Flask, people: People, tmp_path: Path) -> None:
    """In the embedded default the task runs after the commit; in production a Celery worker runs it."""
    from signing.extensions import db
    from signing.models import OutboxTask

    _endorsed(people)
    path = tmp_path / "queued.zip"
    result = app.test_cli_runner().invoke(args=["export-endorsements", "decl", str(path), "--in-background"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    task = db.session.query(OutboxTask).filter_by(kind="export_endorsements").one()
    assert (task.status, task.arguments) == ("done", {"slug": "decl", "path": str(path), "with_log": False})
    report = verify(path, pinned=platform_fingerprint(app))
    assert report.failures == 0 and report.signatures_ok == 2, report.lines


def test_with_the_log_every_statement_is_proven_in_the_checkpoint(app: Flask, people: People, tmp_path: Path) -> None:
    _endorsed(people)
    path = tmp_path / "with-log.zip"
    result = app.test_cli_runner().invoke(args=["export-endorsements", "decl", str(path), "--with-log"])
    assert result.exit_code == 0, result.output
    fingerprint = platform_fingerprint(app)
    report = verify(path, pinned=fingerprint)
    assert report.failures == 0 and report.signatures_ok == 2, report.lines
    assert "OK    4 of 4 statement(s) are in the log's checkpoint" in report.lines
    files = members(path.read_bytes())
    entries = sorted(n for n in files if "/log/entries/" in n)
    assert len(entries) == 4  # three endorsements and a withdrawal; the hidden endorsement is not exported
    folder = endorsement_export.folder_name("decl")
    assert run_recipe(_unpacked(path, tmp_path), fingerprint) == []  # the recipe leaves log/ to signing.verify

    changed = dict(files)
    changed[entries[0]] = changed[entries[0]].replace(b'"kind":"endorsement.', b'"kind":"endorsement.x')
    lines = [line for line in verify(rezip(changed)).lines if line.startswith("FAIL")]
    assert any("not in the log at index" in line for line in lines), lines
    proof = f"{folder}/log/proofs/{entries[0].split('/')[-1][:-5]}"
    dropped = {name: content for name, content in files.items() if name not in (entries[0], proof)}
    assert not verify(rezip(dropped)).failures
    strict, read = read_archive(rezip(dropped))  # the log required (one pinned witness): a missing entry fails
    verify_export(read, strict, fingerprint, log_options=LogOptions(min_witnesses=1))
    assert "FAIL  3 of 4 statement(s) are in the log's checkpoint; 1 not (accepted after it, or never logged)" \
        in strict.lines


def _unpacked(path: Path, tmp_path: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "unpacked-log")
    return tmp_path / "unpacked-log" / "decl-endorsements"
