"""Project Wycheproof's Ed25519 vectors through ``signing.core.payload.verify``.

valid → True and invalid → False, every one. The "acceptable" vectors (public keys of
small or mixed order, which a cofactorless verifier accepts) are Accord's documented
choice in docs/signature-format.md: ``verify`` must say exactly what stock
``openssl pkeyutl -verify`` says, because that command is how anyone checks a signature
outside Accord. Today both accept them; the expected answer is pinned below too, so a
change of library behaviour is noticed.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing
from tests.crypto.conftest import OPENSSL

VECTORS = Path(__file__).resolve().parents[1] / "data" / "wycheproof" / "ed25519_test.json"
ACCEPTABLE_CHOICE = True  # documented: Accord accepts what OpenSSL accepts (small/mixed-order keys)


@cache
def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return data


def vectors() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(group, test) for group in load()["testGroups"] for test in group["tests"]]


def test_the_vendored_file_is_the_whole_wycheproof_ed25519_set() -> None:
    data = load()
    assert data["algorithm"] == "EDDSA"
    assert data["header"], "keep the upstream header"
    assert data["numberOfTests"] == len(vectors()) == 210
    results = [test["result"] for _, test in vectors()]
    assert (results.count("valid"), results.count("invalid"), results.count("acceptable")) == (117, 64, 29)
    assert {group["publicKey"]["curve"] for group, _ in vectors()} == {"edwards25519"}


@pytest.mark.parametrize("result", ["valid", "invalid", "acceptable"])
def test_every_vector_gives_the_expected_answer(result: str) -> None:
    from signing.core.payload import verify

    expected = {"valid": True, "invalid": False, "acceptable": ACCEPTABLE_CHOICE}[result]
    wrong = []
    checked = 0
    for group, test in vectors():
        if test["result"] != result:
            continue
        got = verify(bytes.fromhex(group["publicKey"]["pk"]), bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"]))
        checked += 1
        if got is not expected:
            wrong.append((test["tcId"], test["flags"], test["comment"], got))
    assert checked > 0
    assert not wrong, f"{len(wrong)} {result} vectors gave the wrong answer: {wrong}"


def test_verify_agrees_with_stock_openssl_on_every_vector(tmp_path: Path) -> None:
    """The documented recipe (openssl pkeyutl -rawin) and the server never disagree.

    OpenSSL 3.0's ``pkeyutl`` cannot read an empty message ("Could not allocate 0 bytes"), so
    the vectors with an empty message are left out here; an Accord payload is never empty.
    """
    from signing.core.payload import public_key_pem, verify

    if OPENSSL is None:
        missing("openssl", "no openssl command on PATH")
    disagree = []
    compared = 0
    for index, (group, test) in enumerate(vectors()):
        if not test["msg"]:
            continue
        compared += 1
        public = bytes.fromhex(group["publicKey"]["pk"])
        signature = bytes.fromhex(test["sig"])
        message = bytes.fromhex(test["msg"])
        key_pem = tmp_path / f"key{index}.pem"
        key_pem.write_bytes(public_key_pem(public))
        assert key_pem.read_text(encoding="ascii").split() == group["publicKeyPem"].split()
        (tmp_path / "msg.bin").write_bytes(message)
        (tmp_path / "sig.bin").write_bytes(signature)
        run = subprocess.run(
            [OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(key_pem), "-rawin", "-in", "msg.bin",
             "-sigfile", "sig.bin"],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
        )
        by_openssl = run.returncode == 0 and "Signature Verified Successfully" in run.stdout
        if by_openssl != verify(public, signature, message):
            disagree.append((test["tcId"], test["result"], test["flags"], by_openssl))
    assert compared == 180  # of 210; 16 of the 29 acceptable ones
    assert not disagree, f"signing.core.payload.verify and openssl disagree on: {disagree}"


def test_verify_refuses_malformed_input_without_raising() -> None:
    from signing.core.payload import verify

    group, test = next((g, t) for g, t in vectors() if t["result"] == "valid")
    public, signature, message = (bytes.fromhex(group["publicKey"]["pk"]), bytes.fromhex(test["sig"]),
                                  bytes.fromhex(test["msg"]))
    assert verify(public, signature, message) is True
    assert verify(public[:31], signature, message) is False
    assert verify(public + b"\0", signature, message) is False
    assert verify(public, signature[:63], message) is False
    assert verify(public, signature + b"\0", message) is False
    assert verify(b"", b"", message) is False
    assert verify(b"\xff" * 32, signature, message) is False  # not a point encoding
