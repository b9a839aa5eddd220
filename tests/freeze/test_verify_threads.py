"""``verify_bundle(jobs=N)`` / ``python -m signing.verify --jobs N``: the Ed25519 checks on N threads, same report."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing import verify
from signing.core import verifier
from signing.core.bundle import BundleInput, SignedItem, build_bundle
from tests.freeze.test_verify_reader import FROZEN, TEXT, TEXT_SHA, raw_public, signed_payload

CITIES = [f"city-{n:02d}" for n in range(12)]
FORGED = {"city-03", "city-10"}  # their signature is over other bytes: only the Ed25519 check can tell


@pytest.fixture(scope="module")
def archive() -> bytes:
    items = []
    for city in CITIES:
        key = Ed25519PrivateKey.generate()
        data = signed_payload(key, city)
        signature = key.sign(data + b" " if city in FORGED else data)
        items.append(SignedItem(city, city.title(), f"Delegate of {city}", FROZEN - timedelta(hours=1),
                                       raw_public(key), data, signature))
    built, _ = build_bundle(BundleInput(
        declaration_slug="decl", declaration_title="Declaration", revision=1, text=TEXT, text_sha256=TEXT_SHA,
        signing_rule={"kind": "all"}, signing_opened_at=FROZEN - timedelta(days=1), signing_deadline=None,
        frozen_at=FROZEN, issuer="https://accord.example.org", signatories=CITIES, signatures=items,
    ), b"%PDF-1.4\n%%EOF\n", Ed25519PrivateKey.generate())
    return built


@pytest.mark.parametrize("jobs", [2, 3, 5])
def test_the_report_is_the_same_on_any_number_of_threads(archive: bytes, jobs: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    one = verifier.verify_bundle(archive)
    assert one.failures == len(FORGED) and one.signatures_ok == len(CITIES) - len(FORGED)
    failed = [line for line in one.lines if line.startswith("FAIL")]
    assert sorted(line.split(":")[0] for line in failed) == [f"FAIL  signature of {c.title()}" for c in sorted(FORGED)]
    assert all("Ed25519 signature does not verify" in line for line in failed)

    monkeypatch.setattr(verifier, "MIN_SHARE", 2)  # 12 signatures are then worth several threads
    parts: list[tuple[str, int]] = []  # (thread, signatures) per share
    real = verifier._verify_all

    def recording(checks: list[tuple[object, bytes, bytes]]) -> list[bool]:
        parts.append((threading.current_thread().name, len(checks)))
        return real(checks)  # type: ignore[arg-type]

    monkeypatch.setattr(verifier, "_verify_all", recording)
    many = verifier.verify_bundle(archive, jobs=jobs)
    shares = sorted(size for _, size in parts)
    assert 1 < len(parts) <= jobs and sum(shares) == len(CITIES) and min(shares) >= 2, parts  # split, all checked
    assert all(name.startswith("ed25519") for name, _ in parts), parts  # on the pool, not the caller's thread
    assert (many.lines, many.failures, many.signatures_ok) == (one.lines, one.failures, one.signatures_ok)


def test_the_command_takes_jobs_and_refuses_a_negative_number(archive: bytes, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(archive)
    assert verify.main([str(path)]) == 1
    single = capsys.readouterr().out
    assert verify.main([str(path), "--jobs", "0"]) == 1  # one thread per CPU
    assert capsys.readouterr().out == single
    with pytest.raises(SystemExit) as exit_info:
        verify.main([str(path), "--jobs", "-1"])
    assert exit_info.value.code == 2
