"""The log's evidence in an exported bundle (accord.bundle/2), and what signing.verify makes of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.freeze.conftest import run_verify_cli, unpack, zip_folder
from tests.tlog.test_witness import entries


def _pins(vkeys: list[str]) -> list[str]:
    return [arg for vkey in vkeys for arg in ("--witness", vkey)]


def test_the_exported_bundle_proves_its_entries_and_carries_three_cosignatures(witnessed: dict[str, Any]) -> None:
    path, vkeys = witnessed["path"], witnessed["vkeys"]
    result = run_verify_cli(path, *_pins(vkeys), "--min-witnesses", "3")
    assert result.returncode == 0, result.stdout
    for city in ("izmir", "athens", "sofia"):
        assert f"OK    witnessed by {city} " in result.stdout
    assert "3 pinned witness(es) cosigned the checkpoint" in result.stdout
    assert "OK    the freeze (this manifest's SHA-256) is logged" in result.stdout
    assert result.stdout.count("is logged as accepted") == 4  # three standing, one withdrawn

    unpinned = run_verify_cli(path)
    assert unpinned.returncode == 0 and "key from the bundle (not pinned)" in unpinned.stdout
    assert run_verify_cli(path, *_pins(vkeys[:2]), "--min-witnesses", "3").returncode == 1
    assert run_verify_cli(witnessed["path"], "--min-witnesses", "1").returncode == 1  # nothing pinned


def test_the_stored_core_verifies_but_not_when_log_evidence_is_required(app: Flask, witnessed: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    core = tmp_path / "core.zip"
    core.write_bytes(bytes(witnessed["bundle"].archive))
    plain = run_verify_cli(core)
    assert plain.returncode == 0 and "no transparency-log evidence" in plain.stdout
    assert run_verify_cli(core, "--min-witnesses", "1", *_pins(witnessed["vkeys"])).returncode == 1


def _tampered(witnessed: dict[str, Any], tmp_path: Path, change: Any) -> Path:
    folder = unpack(witnessed["path"].read_bytes(), tmp_path / "unpacked")
    change(folder)
    return zip_folder(folder, tmp_path / "tampered.zip")


def _flip_last_entry(folder: Path) -> None:
    last = max((folder / "log" / "entries").iterdir(), key=lambda p: int(p.stem))
    last.write_bytes(last.read_bytes().replace(b'"at":"', b'"at":"1'))


def _drop_an_acceptance(folder: Path) -> None:
    for path in (folder / "log" / "entries").iterdir():
        if b"signature.accepted" in path.read_bytes() and b'"city":"izmir"' in path.read_bytes():
            path.unlink()


def _forge_root(folder: Path) -> None:
    path = folder / "log" / "checkpoint"
    lines = path.read_text().split("\n")
    lines[2] = "A" * 43 + "="
    path.write_text("\n".join(lines))


def _extra_file(folder: Path) -> None:
    (folder / "log" / "notes.txt").write_text("hello")


@pytest.mark.parametrize("change", [_flip_last_entry, _drop_an_acceptance, _forge_root, _extra_file])
def test_tampered_log_evidence_fails(witnessed: dict[str, Any], tmp_path: Path, change: Any) -> None:
    result = run_verify_cli(_tampered(witnessed, tmp_path, change))
    assert result.returncode == 1, result.stdout
    assert "FAIL" in result.stdout


def test_a_newer_checkpoint_is_checked_with_a_consistency_proof(app: Flask, witnessed: dict[str, Any],
                                                                client: FlaskClient, tmp_path: Path) -> None:
    folder = unpack(witnessed["path"].read_bytes(), tmp_path / "unpacked")
    old_size = int((folder / "log" / "checkpoint").read_text().split("\n")[1])
    entries(5, "later")
    newer = tmp_path / "newer"
    newer.write_bytes(client.get("/log/checkpoint").get_data())
    size = int(newer.read_text().split("\n")[1])
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(client.get(f"/api/v1/log/proof/consistency?old={old_size}&size={size}").json))
    result = run_verify_cli(witnessed["path"], "--checkpoint", str(newer), "--consistency-proof", str(proof))
    assert result.returncode == 0 and f"extends the bundle's ({old_size})" in result.stdout, result.stdout
    forged = json.loads(proof.read_text())
    forged["hashes"] = forged["hashes"][::-1]
    proof.write_text(json.dumps(forged))
    result = run_verify_cli(witnessed["path"], "--checkpoint", str(newer), "--consistency-proof", str(proof))
    assert result.returncode == 1 and "does not provably extend" in result.stdout
