"""``signing.verify`` reads an endorsement export in parts (``core.export_zip``), each worker its own range of the
zip: the report is the one of the archive read whole, on one process or two, and whatever the reader of parts does
not take (a damaged member in a worker's range, a name twice, a key file in another part) is read whole, which
decides as it always did."""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import warnings
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from signing import verify as verify_cli
from signing.core import ed25519_pool, endorsement_export, endorsement_verifier, export_zip

from . import synthetic
from .helpers import members, rezip, verify, verify_in_parts
from .test_export_format import FINGERPRINT, FOLDER, PLATFORM, build, failures


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ed25519_pool, "CHUNK", 5)  # several parts with statements, the last one short


def _layout(archive: bytes, tmp_path: Path) -> tuple[Path, export_zip.Layout]:
    path = tmp_path / "export.zip"
    path.write_bytes(archive)
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return path, export_zip.layout(str(path), data)


def _cli(path: Path, jobs: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = verify_cli.main([str(path), "--platform-key", FINGERPRINT, "--jobs", str(jobs)])
    return status, capsys.readouterr().out


def test_two_processes_report_what_one_does_and_what_the_archive_read_whole_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = list(synthetic.items(40, withdraw_every=5))
    forged = items[23]  # in the fourth part of statements: the second worker's
    items[23] = endorsement_export.Item(forged.payload, bytes(64), forged.public_key)
    archive = build(items=items)
    path, found = _layout(archive, tmp_path)
    assert len([part for part in found.parts if part.statements]) > 4
    assert [part.statements for part in found.parts][-1] == 0  # the files after the statements: read by the parent
    one, two = verify_in_parts(path, jobs=1, pinned=FINGERPRINT), verify_in_parts(path, jobs=2, pinned=FINGERPRINT)
    assert one is not None and two is not None
    assert (two.lines, two.failures, two.signatures_ok) == (one.lines, one.failures, one.signatures_ok)
    whole = verify(archive, jobs=2, pinned=FINGERPRINT)  # asserts that the parts' report is the whole's
    assert failures(whole.lines)[0].endswith("Ed25519 signature does not verify with the key it names")
    assert _cli(path, 2, capsys) == (1, "\n".join(one.lines) + "\n\nFAILED: 2 problem(s). Do not trust this bundle.\n")


def test_a_damaged_member_in_the_second_workers_range_fails_as_when_read_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = bytearray(build(30, withdraw_every=0))
    names = [name for name in members(bytes(archive)) if name.endswith(".json") and "/endorsements/" in name]
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as opened:
        info = opened.getinfo(names[17])  # in the fourth part
    start = info.header_offset + 30 + len(info.filename.encode())
    archive[start + 40] ^= 1  # the statement's bytes, under an unchanged CRC-32
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(archive))
    assert verify_in_parts(path, jobs=2) is None  # left to the reader of whole archives, which says why
    status, out = _cli(path, 2, capsys)
    assert status == 1
    assert f"FAIL  cannot read the archive: member '{info.filename}': CRC-32 mismatch" in out, out


def test_a_key_file_first_written_in_an_earlier_part_is_read_from_there(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """An endorser who withdrew and endorsed again: their key file is written once, with the first endorsement;
    the second is checked again with it once every part is read."""
    items = list(synthetic.items(20))
    who = synthetic.endorser(0)
    first, first_signature = synthetic.endorsement(who, synthetic.SNAPSHOT - timedelta(days=2))
    again, again_signature = synthetic.endorsement(who, synthetic.SNAPSHOT - timedelta(days=1))
    items.insert(0, endorsement_export.Item(first, first_signature, synthetic.raw(who.key),
                                            synthetic.withdrawal(who, first, synthetic.SNAPSHOT - timedelta(days=2))))
    items.append(endorsement_export.Item(again, again_signature, synthetic.raw(who.key)))
    archive = build(items=items)
    path, found = _layout(archive, tmp_path)
    again_name = f"endorsements/{hashlib.sha256(again).hexdigest()}.json"
    key_name = endorsement_export.key_name(synthetic.raw(who.key))
    parts = [part for part in found.parts if part.statements]
    assert found.starts[found.names.index(key_name)] < parts[-1].start <= found.starts[found.names.index(again_name)]
    in_parts = verify_in_parts(path, jobs=2, pinned=FINGERPRINT)
    assert in_parts is not None and in_parts.failures == 0, in_parts
    assert verify(archive, jobs=2).failures == 0  # the same report as read whole
    status, out = _cli(path, 2, capsys)
    assert status == 0 and "VERIFIED: 21 standing endorsement(s)" in out, out
    files = members(archive)  # the key file removed: the statements that name it fail, read in parts or whole
    del files[f"{FOLDER}/{key_name}"]
    lines = failures(verify(rezip(files), jobs=2).lines)
    assert sum(f"no key file holds its key sha256:{key_name[5:-4]}" in line for line in lines) == 3, lines


def test_a_name_twice_in_two_parts_is_refused_as_when_read_whole(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    files = members(build(20, withdraw_every=0))
    twice = sorted(name for name in files if "/endorsements/" in name)[0]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it writes
        for name, content in files.items():
            archive.writestr(name, content)
            if name.endswith("manifest.sig"):
                archive.writestr(twice, files[twice])
    path = tmp_path / "twice.zip"
    path.write_bytes(buffer.getvalue())
    assert verify_in_parts(path, jobs=2) is None
    status, out = _cli(path, 2, capsys)
    assert status == 1 and "FAIL  cannot read the archive: duplicate member name" in out, out


def test_statements_checked_against_facts_the_manifest_does_not_state_are_checked_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers start from the manifest's facts read around its file list; the manifest parsed whole decides."""
    archive = build(12)
    path, _ = _layout(archive, tmp_path)

    def elsewhere(data: bytes) -> dict[str, object] | None:
        return {"declaration_slug": "another", "bundle_manifest_sha256": "cd" * 32, "issuer": synthetic.ISSUER}

    monkeypatch.setattr(endorsement_verifier, "_guess", elsewhere)
    assert verify_in_parts(path, jobs=2) is None
    monkeypatch.undo()
    report = verify_in_parts(path, jobs=2)
    assert report is not None and report.failures == 0, report


def test_a_bundle_and_an_export_without_statements_are_read_whole(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parent.parent / "data" / "v1" / "bundle.zip"
    assert verify_in_parts(fixture) is None
    assert verify_in_parts(build(items=[])) is None
    assert verify_in_parts(tmp_path / "no such file.zip") is None
    assert verify_in_parts(b"") is None
    assert not failures(verify(build(items=[])).lines)


def _relisted(archive: bytes, change: Callable[[dict[str, object]], None]) -> list[str]:
    """The export with its manifest's file list changed and sealed again by the platform: the failures (the same
    read whole and in parts, which ``verify`` asserts)."""
    files = members(archive)
    name = f"{FOLDER}/manifest.json"
    manifest = json.loads(files[name])
    change(manifest["files"])
    files[name] = endorsement_export.manifest_bytes(manifest)
    files[f"{FOLDER}/manifest.sig"] = PLATFORM.sign(files[name])
    assert verify_in_parts(rezip(files)) is not None  # read in parts, not left to the reader of whole archives
    return failures(verify(rezip(files), jobs=2, pinned=FINGERPRINT).lines)


def test_a_listed_name_of_two_lines_or_a_signature_without_its_statement_is_not_in_the_layout() -> None:
    archive = build(12, withdraw_every=0)
    key = next(name for name in json.loads(members(archive)[f"{FOLDER}/manifest.json"])["files"]
               if name.startswith("keys/"))
    lines = _relisted(archive, lambda listed: listed.update({f"{key}\nVERIFY.txt": "00" * 32}))
    assert f"FAIL  {key}\nVERIFY.txt: a file the export format does not have" in lines, lines
    lines = _relisted(archive, lambda listed: listed.update({f"endorsements/{'ab' * 32}.sig": "00" * 32}))
    assert f"FAIL  endorsements/{'ab' * 32}.sig: a signature file without its statement" in lines, lines


def test_a_listed_hash_that_is_not_a_string_or_differs_is_reported() -> None:
    archive = build(12, withdraw_every=0)
    files = json.loads(members(archive)[f"{FOLDER}/manifest.json"])["files"]
    statement = next(name for name in files if name.startswith("endorsements/"))
    lines = _relisted(archive, lambda listed: listed.update({"VERIFY.txt": 7, statement: "00" * 32}))
    assert "FAIL  SHA256SUMS agrees with the manifest" in lines, lines
    assert "FAIL  VERIFY.txt: SHA-256 differs from the manifest" in lines, lines
    assert f"FAIL  {statement}: SHA-256 differs from the manifest" in lines, lines
