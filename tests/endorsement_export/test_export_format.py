"""The endorsement export (``core.endorsement_export``) and its verifier: a good export verifies, every kind of
tampering fails with a clear message, ``--jobs 2`` reports what ``--jobs 1`` does, and the stock openssl and
sha256sum recipe of VERIFY.txt passes on a good export and fails on a tampered one."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing import verify as verify_cli
from signing.core import ed25519_pool, endorsement_export, payload
from tests.conftest import missing

from . import synthetic
from .helpers import members, reseal, rezip, run_recipe, verify

FOLDER = endorsement_export.folder_name(synthetic.SLUG)
PLATFORM = Ed25519PrivateKey.generate()
FINGERPRINT = payload.fingerprint(synthetic.raw(PLATFORM))


def build(count: int = 12, withdraw_every: int = 4, items: list[endorsement_export.Item] | None = None) -> bytes:
    buffer = io.BytesIO()
    chosen = items if items is not None else synthetic.items(count, withdraw_every=withdraw_every)
    endorsement_export.write_export(buffer, synthetic.header(), chosen, PLATFORM)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def archive() -> bytes:
    return build()


def failures(report_lines: list[str]) -> list[str]:
    return [line for line in report_lines if line.startswith("FAIL")]


def test_a_good_export_verifies_and_counts_the_standing_endorsements(archive: bytes, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    report = verify(archive, pinned=FINGERPRINT)
    assert report.failures == 0, report.lines
    assert report.signatures_ok == 9  # 12 endorsements, 3 withdrawn (0, 4, 8)
    files = members(archive)
    manifest = json.loads(files[f"{FOLDER}/manifest.json"])
    assert (manifest["format"], manifest["endorsements"], manifest["withdrawn"], manifest["standing"]) == \
        ("accord.endorsements/1", 12, 3, 9)
    assert manifest["bundle_manifest_sha256"] == synthetic.BUNDLE_SHA256
    assert len([n for n in files if n.startswith(f"{FOLDER}/endorsements/")]) == 24
    assert len([n for n in files if n.startswith(f"{FOLDER}/keys/")]) == 12
    path = tmp_path / "export.zip"
    path.write_bytes(archive)
    assert verify_cli.main([str(path), "--platform-key", FINGERPRINT, "--jobs", "2"]) == 0
    assert "VERIFIED: 9 standing endorsement(s)" in capsys.readouterr().out


def test_an_export_without_endorsements_verifies() -> None:
    report = verify(build(items=[]))
    assert report.failures == 0 and report.signatures_ok == 0, report.lines


def test_jobs_2_reports_exactly_what_jobs_1_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ed25519_pool, "CHUNK", 7)  # several chunks, the last one short
    items = list(synthetic.items(40, withdraw_every=5))
    forged = items[7]
    items[7] = endorsement_export.Item(forged.payload, bytes(64), forged.public_key)  # a signature of zeros
    archive = build(items=items)
    one, two = verify(archive, jobs=1), verify(archive, jobs=2)
    assert failures(one.lines)[0].endswith("Ed25519 signature does not verify with the key it names")
    assert failures(one.lines)[1:] == ["FAIL  47 statement(s) signed by the keys they name"]
    assert (two.lines, two.failures, two.signatures_ok) == (one.lines, one.failures, one.signatures_ok)


def _changed(archive: bytes, change: Callable[[dict[str, bytes]], None]) -> list[str]:
    files = members(archive)
    change(files)
    report = verify(rezip(files))
    assert report.failures, report.lines
    return failures(report.lines)


def _first(files: dict[str, bytes], folder: str, suffix: str = ".json") -> str:
    return next(name for name in sorted(files) if name.startswith(f"{FOLDER}/{folder}") and name.endswith(suffix))


def test_a_changed_byte_in_a_statement_fails(archive: bytes) -> None:
    def change(files: dict[str, bytes]) -> None:
        name = _first(files, "endorsements/")
        files[name] = files[name].replace(b"\"country\":\"", b"\"country\":\"X", 1)

    lines = _changed(archive, change)
    assert any("SHA-256 differs from the manifest" in line for line in lines), lines


def test_a_changed_signature_fails(archive: bytes) -> None:
    def change(files: dict[str, bytes]) -> None:
        name = _first(files, "endorsements/", ".sig")
        files[name] = bytes([files[name][0] ^ 1]) + files[name][1:]

    assert any("SHA-256 differs" in line for line in _changed(archive, change))


def test_a_missing_file_fails(archive: bytes) -> None:
    def change(files: dict[str, bytes]) -> None:
        del files[_first(files, "keys/", ".pem")]

    lines = _changed(archive, change)
    assert any("listed in the manifest but missing" in line for line in lines), lines
    assert any("no key file holds its key" in line for line in lines), lines


def test_an_added_file_fails(archive: bytes) -> None:
    lines = _changed(archive, lambda files: files.update({f"{FOLDER}/endorsements/extra.txt": b"x"}))
    assert any("not listed in the manifest (extra file)" in line for line in lines), lines


def test_a_forged_manifest_seal_fails(archive: bytes) -> None:
    """A manifest re-sealed by another key: the seal no longer verifies with platform.pem, nor is it pinned."""
    files = members(archive)
    reseal(files, FOLDER, Ed25519PrivateKey.generate(), standing=8)
    report = verify(rezip(files), pinned=FINGERPRINT)
    lines = failures(report.lines)
    assert "FAIL  manifest signature by the platform key" in lines, lines


def test_a_changed_manifest_without_a_new_seal_fails(archive: bytes) -> None:
    files = members(archive)
    name = f"{FOLDER}/manifest.json"
    files[name] = files[name].replace(b'"standing":9', b'"standing":10')
    assert "FAIL  manifest signature by the platform key" in failures(verify(rezip(files)).lines)


def test_a_wrong_count_fails_even_when_sealed_by_the_platform(archive: bytes) -> None:
    files = members(archive)
    reseal(files, FOLDER, PLATFORM, standing=10, endorsements=13)
    lines = failures(verify(rezip(files), pinned=FINGERPRINT).lines)
    assert lines == ["FAIL  the manifest's endorsements count 13 is the export's (12)",
                     "FAIL  the manifest's standing count 10 is the export's (9)"], lines


def test_a_removed_endorsement_changes_the_count(archive: bytes) -> None:
    """Dropping an endorsement and re-sealing the file list: the count betrays it."""
    files = members(archive)
    name = _first(files, "endorsements/")
    withdrawn_ones = {json.loads(content).get("withdraws_payload_sha256") for n, content in files.items()
                      if "/withdrawals/" in n and n.endswith(".json")}
    name = next(n for n in sorted(files) if "/endorsements/" in n and n.endswith(".json")
                and n.rsplit("/", 1)[1][:-5] not in withdrawn_ones)
    del files[name], files[name[:-5] + ".sig"]
    reseal(files, FOLDER, PLATFORM)
    lines = failures(verify(rezip(files)).lines)
    assert any("endorsements count 12 is the export's (11)" in line for line in lines), lines


def test_statements_of_another_declaration_or_bundle_or_forged_withdrawals_fail() -> None:
    who, other = synthetic.endorser(0), synthetic.endorser(1)
    moment = synthetic.SNAPSHOT
    good, good_sig = synthetic.endorsement(who, moment)
    elsewhere, elsewhere_sig = synthetic.endorsement(other, moment, bundle_manifest_sha256="cd" * 32)
    third = synthetic.endorser(2)
    third_data, third_sig = synthetic.endorsement(third, moment)
    items = [
        endorsement_export.Item(good, good_sig, synthetic.raw(who.key),
                                synthetic.withdrawal(who, b"not in the export", moment)),
        endorsement_export.Item(elsewhere, elsewhere_sig, synthetic.raw(other.key)),
        # withdrawn by someone else
        endorsement_export.Item(third_data, third_sig, synthetic.raw(third.key),
                                synthetic.withdrawal(other, third_data, moment)),
    ]
    lines = failures(verify(build(items=items)).lines)
    assert any("withdraws no endorsement of this export" in line for line in lines), lines
    assert any("names another frozen bundle" in line for line in lines), lines
    assert any("withdraws the endorsement of another endorser" in line for line in lines), lines


def test_the_same_endorsement_twice_is_refused_by_the_builder() -> None:
    item = next(synthetic.items(1))
    with pytest.raises(ValueError, match="twice in the export"):
        build(items=[item, item])


def test_a_bundle_is_still_verified_as_a_bundle() -> None:
    """signing.verify tells the two apart by the manifest's format: the issued v1 bundle fixture still verifies."""
    fixture = Path(__file__).resolve().parent.parent / "data" / "v1" / "bundle.zip"
    assert verify_cli.main([str(fixture)]) == 0


def _unpack(archive: bytes, tmp_path: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        opened.extractall(tmp_path)
    return tmp_path / FOLDER


@pytest.fixture
def tools() -> None:
    for tool in ("openssl", "sha256sum", "bash", "find", "xargs", "diff"):
        if shutil.which(tool) is None:
            missing(tool, "not on PATH")


@pytest.mark.usefixtures("tools")
def test_the_verify_txt_recipe_passes_with_stock_openssl_and_sha256sum(archive: bytes, tmp_path: Path) -> None:
    folder = _unpack(archive, tmp_path)
    assert run_recipe(folder, FINGERPRINT) == []


@pytest.mark.usefixtures("tools")
@pytest.mark.parametrize("tamper", ["statement", "signature", "key", "extra", "wrong-bundle"])
def test_the_verify_txt_recipe_catches_tampering(archive: bytes, tmp_path: Path, tamper: str) -> None:
    files = members(archive)
    if tamper == "statement":  # re-listed and re-sealed by a forger with their own key
        name = _first(files, "endorsements/")
        files[name] = files[name].replace(b'"country":"', b'"country":"X', 1)
        reseal(files, FOLDER, Ed25519PrivateKey.generate())
    elif tamper == "signature":  # sealed by the platform itself: only the signature check can catch it
        name = _first(files, "endorsements/", ".sig")
        files[name] = bytes([files[name][0] ^ 1]) + files[name][1:]
        reseal(files, FOLDER, PLATFORM)
    elif tamper == "key":
        name = _first(files, "keys/", ".pem")
        other = payload.public_key_pem(synthetic.raw(Ed25519PrivateKey.generate()))
        files[name] = other
        reseal(files, FOLDER, PLATFORM)
    elif tamper == "extra":
        files[f"{FOLDER}/endorsements/{'0' * 64}.json"] = b"{}"
    else:
        who = synthetic.endorser(5)
        data, signature = synthetic.endorsement(who, synthetic.SNAPSHOT, bundle_manifest_sha256="cd" * 32)
        name = f"{FOLDER}/endorsements/{hashlib.sha256(data).hexdigest()}"
        files[name + ".json"], files[name + ".sig"] = data, signature
        files[f"{FOLDER}/{endorsement_export.key_name(synthetic.raw(who.key))}"] = \
            payload.public_key_pem(synthetic.raw(who.key))
        reseal(files, FOLDER, PLATFORM)
    folder = _unpack(rezip(files), tmp_path)
    assert run_recipe(folder, FINGERPRINT), "VERIFY.txt's recipe passed a tampered export"
    assert verify(rezip(files), pinned=FINGERPRINT).failures
