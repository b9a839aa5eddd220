"""``flask demo --complete``, ``export-bundle`` and ``platform-key``: a finished declaration a newcomer can verify."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask

from tests.freeze.conftest import need_tools, recipe, run_doc_script, run_recipe, run_verify_cli, unpack


def test_demo_complete_then_export_bundle_gives_a_bundle_anyone_can_verify(app: Flask, tmp_path: Path) -> None:
    from sqlalchemy import select

    from signing.extensions import db
    from signing.manage import demo
    from signing.models import SigningKey, Status
    from signing.services import declarations

    need_tools()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--complete"])
    assert result.exit_code == 0, result.output
    assert "signed for all 12 cities" in result.output and "is frozen" in result.output

    declaration = declarations.get(demo.DEMO_SLUG)
    assert declaration.state is Status.FROZEN
    assert declaration.open_revision is not None
    assert declaration.open_revision.number == declaration.latest.number == 2
    keys = list(db.session.scalars(select(SigningKey)))
    assert len(keys) == 24 and {k.origin for k in keys} == {"cli"}  # twelve delegates' and twelve mayors'
    assert declaration.require_mandates and "Mayors (each signed a mandate" in result.output
    # The delegates' and mayors' private keys were never written anywhere: the only private keys on disk are the
    # platform's (the Ed25519 key of the manifest, the ECDSA key of the PDF seal).
    holders = [p.name for p in Path(app.instance_path).rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]
    assert sorted(holders) == ["platform_key.pem", "seal_key.pem"]

    target = tmp_path / "demo.zip"
    result = runner.invoke(args=["export-bundle", demo.DEMO_SLUG, str(target)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}" in result.output
    verified = run_verify_cli(target)
    assert verified.returncode == 0, verified.stdout
    assert "CONSISTENT: 12 signature(s), every file intact" in verified.stdout  # no key pinned
    assert verified.stdout.count("OK    mandate chain of signatures/") == 12

    shown = runner.invoke(args=["platform-key", "show"])
    assert shown.exit_code == 0, shown.output
    fingerprint = shown.output.split()[0]
    assert run_verify_cli(target, "--platform-key", fingerprint).returncode == 0

    folder = unpack(target.read_bytes(), tmp_path / "unpacked")
    assert folder.name == f"{demo.DEMO_SLUG}-bundle"
    # Two language versions: English (authoritative, also declaration.md) and the Turkish demonstration translation.
    revision = declaration.open_revision
    assert [(v.tag, v.authoritative, v.label) for v in revision.versions] == [
        ("en", True, ""), ("tr", False, "demonstration translation")]
    assert (folder / "declaration.en.md").read_bytes() == (folder / "declaration.md").read_bytes()
    assert (folder / "declaration.tr.md").read_text("utf-8") == revision.version("tr").text
    assert "kapsayıcı ve demokratik bir dünya" in revision.version("tr").text
    manifest = json.loads((folder / "manifest.json").read_bytes())
    assert manifest["format"] == "accord.bundle/3" and manifest["authoritative_language"] == "en"
    named = [{"tag": v.tag, "sha256": v.sha256, "authoritative": v.authoritative} for v in revision.versions]
    for payload_file in sorted((folder / "signatures").glob("*.json")):
        assert json.loads(payload_file.read_bytes())["versions"] == named, payload_file.name
    steps = recipe((folder / "VERIFY.txt").read_text("utf-8"), fingerprint)
    outcomes = run_recipe(folder, steps)
    assert [name for name, ok in outcomes if not ok] == []
    # The manifest, twelve cities' signatures and their twelve mayors' mandates.
    assert sum(name.startswith("signature ") for name, _ in outcomes) == 25
    assert sum(name.startswith("signature mandates/") for name, _ in outcomes) == 12
    script = run_doc_script(folder, fingerprint)
    assert script.returncode == 0, script.stdout + script.stderr
    assert script.stdout.count("\nOK signatures/") == 12


def test_export_bundle_explains_what_is_missing(app: Flask, tmp_path: Path) -> None:
    from signing.models import Role
    from signing.services import accounts, declarations

    secretariat = accounts.create_user("sec@b40.example", "Secretariat", Role.SECRETARIAT, password="x" * 16)
    declarations.create("A draft", "Only a draft.\n", secretariat, slug="a-draft")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["export-bundle", "a-draft", str(tmp_path / "x.zip")])
    assert result.exit_code == 1
    assert "“A draft” is not frozen (it is draft); it has no bundle yet." in result.output
    result = runner.invoke(args=["export-bundle", "nothing-here", str(tmp_path / "x.zip")])
    assert result.exit_code == 1 and "No declaration with the short name 'nothing-here'" in result.output
    assert not (tmp_path / "x.zip").exists()


def test_platform_key_generate_and_show(app: Flask) -> None:
    runner = app.test_cli_runner()
    path = Path(app.config["PLATFORM_KEY_PATH"])
    assert not path.exists()

    result = runner.invoke(args=["platform-key", "show"])
    assert result.exit_code == 1 and "platform-key generate" in result.output
    assert not path.exists(), "show never creates a key"

    result = runner.invoke(args=["platform-key", "generate"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    fingerprint = lines[1]
    assert fingerprint.startswith("sha256:") and len(fingerprint) == 71
    assert path.stat().st_mode & 0o777 == 0o600
    # The embedded default makes the self-signed seal certificate of the PDF too.
    assert lines[2].startswith("Created a self-signed seal certificate")
    assert Path(app.config["SEAL_KEY_PATH"]).stat().st_mode & 0o777 == 0o600
    assert b"BEGIN CERTIFICATE" in Path(app.config["SEAL_CERT_PATH"]).read_bytes()

    shown = runner.invoke(args=["platform-key", "show"])
    assert shown.exit_code == 0
    assert shown.output.split()[0] == fingerprint
    assert "-----BEGIN PUBLIC KEY-----" in shown.output and "PRIVATE" not in shown.output

    again = runner.invoke(args=["platform-key", "generate"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(args=["platform-key", "show"]).output.split()[0] == fingerprint
