"""Tampering with a real bundle is caught by ``python -m signing.verify`` AND by the openssl recipe of VERIFY.txt.

One bundle is frozen for the module (three cities, one of which signed, withdrew and signed
again, so every kind of file is present). Each case copies the unpacked folder, changes it,
and then requires: the verifier (a separate interpreter, on the re-zipped folder) exits
non-zero, at least one step of the VERIFY.txt recipe — run as stock ``openssl``/``sha256sum``
bash commands inside the folder — fails, and so does the script of docs/bundle-format.md.
The untouched bundle passes all three.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import base_overrides, seed_people
from tests.freeze.conftest import (
    Step,
    bundle_of,
    files_of,
    make_network,
    need_tools,
    open_for_signature,
    raw_public,
    recipe,
    run_doc_script,
    run_recipe,
    run_verify_cli,
    unpack,
    zip_folder,
)

Tamper = Callable[[Path], None]


@dataclass
class Sealed:
    folder: Path  # the unpacked, untouched bundle
    platform_fingerprint: str
    steps: list[Step]
    izmir_key: Ed25519PrivateKey
    other_text_sha256: str


@pytest.fixture(scope="module")
def sealed(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sealed]:
    from signing import create_app
    from signing.extensions import db
    from signing.services import declarations, platform_key

    need_tools()
    root = tmp_path_factory.mktemp("sealed")
    shutil.copyfile(sqlite_template, root / "db.sqlite3")
    app = create_app({**base_overrides(root / "instance"), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root}/db.sqlite3"},
                     instance_path=root / "instance")
    with app.app_context():
        network = make_network(seed_people())
        declaration = open_for_signature(network)
        network.izmir.sign(declaration)
        network.izmir.withdraw(declaration)
        network.izmir.sign(declaration)
        network.athens.sign(declaration)
        network.sofia.sign(declaration)
        archive = bytes(bundle_of(declaration).archive)
        fingerprint = platform_key.fingerprint(platform_key.load())
        other_text = declarations.get_revision(declaration, 1).sha256
        db.session.remove()
        db.engine.dispose()
    folder = unpack(archive, root / "bundle")
    steps = recipe((folder / "VERIFY.txt").read_text("utf-8"), fingerprint)
    yield Sealed(folder, fingerprint, steps, network.izmir.private_key, other_text)


def check_case(sealed: Sealed, work: Path, name: str, tamper: Tamper) -> list[str]:
    """Apply ``tamper`` to a copy; returns what failed to notice it (empty: every check caught it)."""
    folder = work / name.replace("/", "_") / sealed.folder.name
    shutil.copytree(sealed.folder, folder)
    tamper(folder)
    misses = []
    result = run_verify_cli(zip_folder(folder, folder.parent / "bundle.zip"))
    if result.returncode != 1 or "Traceback" in result.stderr:
        misses.append(f"{name}: signing.verify exited {result.returncode}\n{result.stdout}{result.stderr}")
    outcomes = run_recipe(folder, sealed.steps, stop_at_first_failure=True)
    if all(ok for _, ok in outcomes):
        misses.append(f"{name}: every VERIFY.txt step passed")
    script = run_doc_script(folder, sealed.platform_fingerprint)
    if script.returncode == 0:
        misses.append(f"{name}: the docs/bundle-format.md script passed\n{script.stdout}")
    return misses


def check_all(sealed: Sealed, work: Path, cases: dict[str, Tamper]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda item: check_case(sealed, work, *item), cases.items())
        misses = [miss for result in results for miss in result]
    assert not misses, "\n".join(misses)


# --- The untouched bundle ------------------------------------------------------------------------------


def test_the_untouched_bundle_passes_every_check(sealed: Sealed, tmp_path: Path) -> None:
    names = files_of(sealed.folder)
    assert [n for n in names if not n.startswith("keys/")] == sorted([
        "SHA256SUMS", "VERIFY.txt", "declaration.en.md", "declaration.md", "declaration.pdf", "manifest.json",
        "manifest.sig",
        "platform.pem", "seal.crt",
        *[f"signatures/{c}.{x}" for c in ("athens", "izmir", "sofia") for x in ("json", "sig")],
        "withdrawals/izmir-1.json", "withdrawals/izmir-1.sig", "withdrawn/izmir-1.json", "withdrawn/izmir-1.sig",
    ])
    # İzmir's one key made three signatures (signed, withdrew, signed again): three keys in all.
    assert len([n for n in names if n.startswith("keys/")]) == 3

    result = run_verify_cli(zip_folder(sealed.folder, tmp_path / "bundle.zip"))
    assert result.returncode == 0, result.stdout
    assert "CONSISTENT: 3 signature(s)" in result.stdout  # no key pinned
    result = run_verify_cli(zip_folder(sealed.folder, tmp_path / "bundle.zip"), "--platform-key",
                            sealed.platform_fingerprint)
    assert result.returncode == 0, result.stdout

    outcomes = run_recipe(sealed.folder, sealed.steps)
    assert [name for name, ok in outcomes if not ok] == []
    names = [name for name, _ in outcomes]
    # manifest + 3 signatures + the withdrawn one + the withdrawal statement
    assert sum(name.startswith("signature ") for name in names) == 6, names
    assert {"sha256sum -c SHA256SUMS", "SHA256SUMS is the one the manifest names", "no file added or removed",
            "text hash", "fingerprint of platform.pem", "PDF seal (pdfsig)",
            "seal certificate fingerprint"} <= set(names)

    script = run_doc_script(sealed.folder, sealed.platform_fingerprint)
    assert script.returncode == 0, script.stdout + script.stderr
    assert "VERIFIED" in script.stdout and script.stdout.count("\nOK ") == 5


# --- Every file: one byte changed, or removed ------------------------------------------------------------


def flip_a_byte(name: str) -> Tamper:
    def tamper(folder: Path) -> None:
        data = bytearray((folder / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (folder / name).write_bytes(bytes(data))

    return tamper


def remove(name: str) -> Tamper:
    return lambda folder: (folder / name).unlink()


def test_changing_one_byte_of_any_file_is_caught(sealed: Sealed, tmp_path: Path) -> None:
    check_all(sealed, tmp_path, {f"flip {name}": flip_a_byte(name) for name in files_of(sealed.folder)})


def test_removing_any_file_is_caught(sealed: Sealed, tmp_path: Path) -> None:
    check_all(sealed, tmp_path, {f"remove {name}": remove(name) for name in files_of(sealed.folder)})


# --- Added, swapped, re-signed, re-sealed ------------------------------------------------------------------


def add(name: str, content: bytes) -> Tamper:
    def tamper(folder: Path) -> None:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)

    return tamper


def swap(first: str, second: str) -> Tamper:
    def tamper(folder: Path) -> None:
        a, b = (folder / first).read_bytes(), (folder / second).read_bytes()
        (folder / first).write_bytes(b)
        (folder / second).write_bytes(a)

    return tamper


def swap_cities(first: str, second: str) -> Tamper:
    """Each payload keeps its own valid signature, but under the other city's file names."""

    def tamper(folder: Path) -> None:
        swap(f"signatures/{first}.json", f"signatures/{second}.json")(folder)
        swap(f"signatures/{first}.sig", f"signatures/{second}.sig")(folder)

    return tamper


def sign_another_text(sealed: Sealed, *, update_sums: bool = False) -> Tamper:
    """İzmir's own key, validly signing a payload that names another text (revision 1)."""

    def tamper(folder: Path) -> None:
        from signing.core import payload as payloads

        fields = payloads.parse((folder / "signatures/izmir.json").read_bytes())
        del fields["statement"]
        fields["text_sha256"] = sealed.other_text_sha256
        if "versions" in fields:  # accord.signature/2 names the authoritative version's hash twice
            fields["versions"] = [{**v, "sha256": sealed.other_text_sha256} if v["authoritative"] else v
                                  for v in fields["versions"]]
        data = payloads.build(fields)
        (folder / "signatures/izmir.json").write_bytes(data)
        (folder / "signatures/izmir.sig").write_bytes(sealed.izmir_key.sign(data))
        if update_sums:  # and cover the tracks as far as possible without the platform key
            reseal(folder, None)

    return tamper


def reseal(folder: Path, key: Ed25519PrivateKey | None, change: Callable[[dict[str, object]], None] | None = None,
           ) -> None:
    """Recompute SHA256SUMS and the manifest's hashes; sign with ``key`` (None: keep the old manifest.sig)."""
    from signing.core import payload as payloads

    manifest = json.loads((folder / "manifest.json").read_bytes())
    if change:
        change(manifest)
    if key is not None:
        (folder / "platform.pem").write_bytes(payloads.public_key_pem(raw_public(key)))
        manifest["platform_key_fingerprint"] = payloads.fingerprint(raw_public(key))
    names = [n for n in files_of(folder) if n not in ("manifest.json", "manifest.sig", "SHA256SUMS")]
    digests = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}
    (folder / "SHA256SUMS").write_text("".join(f"{digests[n]}  {n}\n" for n in names))
    digests["SHA256SUMS"] = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()
    manifest["files"] = dict(sorted(digests.items()))
    manifest["text_sha256"] = digests["declaration.md"]
    for entry in manifest["signatures"]:
        if isinstance(entry, dict) and "payload_file" in entry:
            entry["payload_sha256"] = hashlib.sha256((folder / entry["payload_file"]).read_bytes()).hexdigest()
    data = payloads.canonical_json(manifest)
    (folder / "manifest.json").write_bytes(data)
    if key is not None:
        (folder / "manifest.sig").write_bytes(key.sign(data))


def another_platform_key(folder: Path) -> None:
    from signing.core import payload as payloads

    key = Ed25519PrivateKey.generate()
    (folder / "platform.pem").write_bytes(payloads.public_key_pem(raw_public(key)))
    (folder / "manifest.sig").write_bytes(key.sign((folder / "manifest.json").read_bytes()))


def forged_text_resealed(folder: Path) -> None:
    text = (folder / "declaration.md").read_text("utf-8")
    (folder / "declaration.md").write_text(text.replace("First paragraph.", "First paragraph, as amended."))
    reseal(folder, Ed25519PrivateKey.generate())


def malformed_manifest(folder: Path) -> None:
    """Structure an honest verifier must report, not crash on (the signature no longer matches anyway)."""

    def change(manifest: dict[str, object]) -> None:
        manifest["signatures"] = [1, "two", {"city_slug": 3}]
        manifest["withdrawals"] = [{"signature": "none"}]

    reseal(folder, None, change)


def test_added_swapped_and_resigned_files_are_caught(sealed: Sealed, tmp_path: Path) -> None:
    from signing.core import payload as payloads

    some_key = next(n for n in files_of(sealed.folder) if n.startswith("keys/"))
    stranger = Ed25519PrivateKey.generate()

    cases: dict[str, Tamper] = {
        "extra file at the top": add("NOTES.txt", b"nothing to see\n"),
        "extra key file": add(f"keys/{'0' * 64}.pem", payloads.public_key_pem(raw_public(stranger))),
        "extra signature": add("signatures/tirana.json", (sealed.folder / "signatures/izmir.json").read_bytes()),
        "extra file in a new folder": add("extra/readme.md", b"hello"),
        "duplicate key file": add(some_key.replace(".pem", ".copy.pem"), (sealed.folder / some_key).read_bytes()),
        "swap two .sig files": swap("signatures/athens.sig", "signatures/izmir.sig"),
        "swap two payloads": swap("signatures/athens.json", "signatures/sofia.json"),
        "swap the withdrawn and the standing signature": swap("signatures/izmir.sig", "withdrawn/izmir-1.sig"),
        "swap two cities' payload and signature": swap_cities("athens", "izmir"),
        "signature over another text": sign_another_text(sealed),
        "signature over another text, sums updated": sign_another_text(sealed, update_sums=True),
        "another platform key": another_platform_key,
        "forged text resealed by another key": forged_text_resealed,
        "malformed manifest entries": malformed_manifest,
    }
    check_all(sealed, tmp_path, cases)


def test_a_bundle_resealed_by_another_key_is_caught_by_the_platform_fingerprint(sealed: Sealed,
                                                                                 tmp_path: Path) -> None:
    """Dropping a city and resealing with one's own key leaves a self-consistent bundle: only the
    published platform fingerprint tells it apart (both the verifier and VERIFY.txt say so)."""

    def drop_athens(manifest: dict[str, object]) -> None:
        entries = manifest["signatures"]
        assert isinstance(entries, list)
        manifest["signatures"] = [e for e in entries if e["city_slug"] != "athens"]

    def tamper(folder: Path) -> None:
        (folder / "signatures/athens.json").unlink()
        (folder / "signatures/athens.sig").unlink()
        reseal(folder, Ed25519PrivateKey.generate(), drop_athens)

    folder = tmp_path / sealed.folder.name
    shutil.copytree(sealed.folder, folder)
    tamper(folder)
    bundle = zip_folder(folder, tmp_path / "bundle.zip")
    assert run_verify_cli(bundle).returncode == 0, "self-consistent without the trusted fingerprint"
    result = run_verify_cli(bundle, "--platform-key", sealed.platform_fingerprint)
    assert result.returncode == 1 and "FAIL  platform key is the trusted one" in result.stdout, result.stdout
    outcomes = dict(run_recipe(folder, sealed.steps))
    assert outcomes["fingerprint of platform.pem"] is False
    script = run_doc_script(folder, sealed.platform_fingerprint)
    assert script.returncode == 1 and "not the published one" in script.stdout


# --- The zip itself ------------------------------------------------------------------------------------------


def test_the_verifier_reads_stored_and_deflated_zips_and_refuses_a_corrupt_one(sealed: Sealed, tmp_path: Path) -> None:
    """The verifier's fast member reader agrees with ``zipfile``: same files, and corruption is an error."""
    import zipfile

    from signing.core.verifier import verify_bundle

    deflated = zip_folder(sealed.folder, tmp_path / "deflated.zip").read_bytes()
    stored_path = tmp_path / "stored.zip"
    with zipfile.ZipFile(stored_path, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name in files_of(sealed.folder):
            bundle.write(sealed.folder / name, f"{sealed.folder.name}/{name}")
    for archive in (deflated, stored_path.read_bytes()):
        report = verify_bundle(archive, sealed.platform_fingerprint)
        assert report.failures == 0 and report.signatures_ok == 3, report.lines

    member = f"{sealed.folder.name}/signatures/athens.json".encode()
    header = deflated.index(member) - 30  # the first occurrence is the local header (contents are deflated)
    assert deflated[header : header + 4] == b"PK\x03\x04"
    data_start = header + 30 + len(member)
    corrupt = bytearray(deflated)
    corrupt[data_start + 5] ^= 0xFF  # inside the compressed bytes: the CRC-32 no longer matches
    report = verify_bundle(bytes(corrupt))
    assert report.failures and any("cannot read the archive" in line for line in report.lines), report.lines

    renamed = bytearray(deflated)
    renamed[header + 30 : header + 30 + len(member)] = member.replace(b"athens", b"athenz")
    report = verify_bundle(bytes(renamed))
    assert report.failures and any("cannot read the archive" in line for line in report.lines), report.lines

    path = tmp_path / "corrupt.zip"
    path.write_bytes(bytes(corrupt))
    assert run_verify_cli(path).returncode == 1


def test_the_verifier_exit_codes(sealed: Sealed, tmp_path: Path) -> None:
    """0: verified; 1: a check failed or the file is not a readable zip; 2: wrong usage (docs/bundle-format.md)."""
    import subprocess
    import sys

    from tests.freeze.conftest import REPO_ROOT

    assert run_verify_cli(zip_folder(sealed.folder, tmp_path / "ok.zip")).returncode == 0
    missing = run_verify_cli(tmp_path / "no-such.zip")
    assert missing.returncode == 1 and "cannot read the archive" in missing.stdout
    (tmp_path / "not.zip").write_bytes(b"PK but not a zip")
    assert run_verify_cli(tmp_path / "not.zip").returncode == 1
    usage = subprocess.run([sys.executable, "-m", "signing.verify"], cwd=REPO_ROOT, capture_output=True, text=True,
                           timeout=30, check=False)
    assert usage.returncode == 2 and "usage:" in usage.stderr
