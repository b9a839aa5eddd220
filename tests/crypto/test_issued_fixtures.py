"""Statements and bundles already issued verify forever: the fixtures of ``tests/data/v1`` are checked as they are."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from signing.core import payload as payloads
from signing.core.verifier import verify_bundle
from tests.freeze.conftest import need_tools, recipe, run_recipe, run_verify_cli, unpack

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "v1"
PLATFORM_FINGERPRINT = (FIXTURES / "platform-fingerprint.txt").read_text("ascii").strip()


def _load(name: str) -> tuple[bytes, bytes, bytes]:
    record = json.loads((FIXTURES / name).read_text("utf-8"))
    return tuple(base64.b64decode(record[part]) for part in ("public_key", "payload", "signature"))  # type: ignore[return-value]


@pytest.mark.parametrize(("name", "kind"), [("signature.json", "accord.signature/1"),
                                            ("withdrawal.json", "accord.withdrawal/1")])
def test_issued_statement_parses_and_verifies(name: str, kind: str) -> None:
    public_key, data, signature = _load(name)
    fields = payloads.parse(data)
    assert fields["format"] == kind
    assert payloads.build(fields) == data  # the same fields give the same bytes today
    assert payloads.verify(public_key, signature, data)
    altered = data[:40] + bytes([data[40] ^ 1]) + data[41:]
    assert not payloads.verify(public_key, signature, altered)


def test_issued_bundle_verifies_in_process() -> None:
    report = verify_bundle(FIXTURES / "bundle.zip", PLATFORM_FINGERPRINT)
    assert report.failures == 0, report.lines
    assert report.signatures_ok == 12


def test_issued_bundle_verifies_with_the_documented_command() -> None:
    result = run_verify_cli(FIXTURES / "bundle.zip", "--platform-key", PLATFORM_FINGERPRINT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED: 12 signature(s)" in result.stdout


def test_issued_bundle_verifies_with_its_verify_txt_alone(tmp_path: Path) -> None:
    need_tools()
    folder = unpack((FIXTURES / "bundle.zip").read_bytes(), tmp_path)
    steps = recipe((folder / "VERIFY.txt").read_text("utf-8"), PLATFORM_FINGERPRINT)
    outcomes = run_recipe(folder, steps)
    assert len(outcomes) > 20
    assert all(ok for _, ok in outcomes), [name for name, ok in outcomes if not ok]
