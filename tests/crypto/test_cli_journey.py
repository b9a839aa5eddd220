"""The offline signer end to end: keygen, enrol, sign, verify with stock openssl, withdraw.

The app (SQLite) is served over real HTTP by Werkzeug in a thread; ``python -m
signing.cli`` runs as a separate process with the passphrase and password in files;
then the exact ``openssl pkeyutl`` command of docs/signature-format.md checks the
saved files, and fails once one byte of the payload changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, People, free_port, missing
from tests.crypto.conftest import OPENSSL, doc_block, doc_verify_command, open_declaration, run_shell

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "journey passphrase, long enough"


@dataclass
class Served:
    app: Flask
    url: str
    token: str
    declaration: Any
    people: People


@pytest.fixture
def served(app: Flask, people: People, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """The test app on its SQLite database, over HTTP, with a declaration open and a delegate's API token."""
    from signing.extensions import db

    if OPENSSL is None:
        missing("openssl", "no openssl command on PATH")
    from signing.services import tokens

    declaration = open_declaration(people)
    _, token = tokens.create(people.delegate, "cli journey")
    db.session.commit()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"cli-journey-{port}", daemon=True)
    thread.start()
    try:
        yield Served(app=app, url=f"http://127.0.0.1:{port}", token=token, declaration=declaration, people=people)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def run_cli(served: Served, *args: str, stdin: str = "", token: str | None = None) -> subprocess.CompletedProcess[str]:
    from signing.extensions import db

    db.session.rollback()  # hold no SQLite transaction while the server works
    env = {**os.environ, "ACCORD_TOKEN": served.token if token is None else token, "NO_PROXY": "127.0.0.1",
           "no_proxy": "127.0.0.1"}
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "signing.cli", *args], cwd=REPO, input=stdin, capture_output=True,
                          text=True, timeout=120, check=False, env=env)


def signatures_now(city_id: int) -> list[tuple[str, bytes]]:
    from signing.extensions import db
    from signing.models import Signature

    db.session.rollback()
    rows = db.session.query(Signature).filter_by(city_id=city_id).order_by(Signature.id).all()
    return [(row.status, bytes(row.payload)) for row in rows]


def test_keygen_enrol_sign_verify_with_openssl_and_withdraw(served: Served, tmp_path: Path) -> None:
    from signing.core import payload as payloads

    city_id = served.people.delegate.city_id
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    key = tmp_path / "key.pem"
    server = ["--url", served.url, "--key", str(key), "--passphrase-file", str(passphrase)]

    made = run_cli(served, "keygen", "--out", str(key), "--passphrase-file", str(passphrase))
    assert made.returncode == 0, made.stderr
    fingerprint = next(line.split()[-1] for line in made.stdout.splitlines() if line.startswith("fingerprint:"))

    # A wrong account password is the server's refusal, printed as its message.
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n", encoding="utf-8")
    refused = run_cli(served, "enrol", *server, "--label", "laptop", "--password-file", str(wrong))
    assert refused.returncode == 1 and "password is not correct" in refused.stderr, refused.stderr

    enrolled = run_cli(served, "enrol", *server, "--label", "laptop (cli)", "--password-file", str(password))
    assert enrolled.returncode == 0, enrolled.stderr
    assert fingerprint in enrolled.stdout

    # Without --yes the signer asks; "no" signs nothing.
    declined = run_cli(served, "sign", *server, "--declaration", "decl", stdin="no\n")
    assert declined.returncode == 1 and "not confirmed" in declined.stderr
    assert signatures_now(city_id) == []

    # A copy of the text that is not the revision's: refused before signing.
    other_text = tmp_path / "other.txt"
    other_text.write_bytes(b"Some other text.\n")
    mismatch = run_cli(served, "sign", *server, "--declaration", "decl", "--yes", "--text-file", str(other_text))
    assert mismatch.returncode == 1 and "refusing to sign" in mismatch.stderr
    assert signatures_now(city_id) == []

    text_file = tmp_path / "text.md"
    text_file.write_bytes(served.declaration.open_revision.text.encode("utf-8"))
    out = tmp_path / "signed"
    signed = run_cli(served, "sign", *server, "--declaration", "decl", "--yes", "--text-file", str(text_file),
                     "--save-dir", str(out))
    assert signed.returncode == 0, signed.stderr
    assert "signs revision 2 of" in signed.stdout and "Signature recorded" in signed.stdout
    stored = signatures_now(city_id)
    assert len(stored) == 1 and stored[0][0] == "valid"
    payload = (out / "payload.json").read_bytes()
    assert stored[0][1] == payload
    assert payloads.parse(payload)["key_fingerprint"] == fingerprint
    assert len((out / "sig.bin").read_bytes()) == 64

    # The exact command of docs/signature-format.md, then its text and key checks.
    verified = subprocess.run(doc_verify_command(), cwd=out, capture_output=True, text=True, timeout=60, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Signature Verified Successfully" in verified.stdout
    assert "text.txt: OK" in run_shell(doc_block("sha256sum -c"), out).stdout
    assert f"key_fingerprint {fingerprint}: OK" in run_shell(doc_block("tail -c 32"), out).stdout

    flipped = bytearray(payload)
    flipped[len(flipped) // 3] ^= 0x01
    (out / "payload.json").write_bytes(bytes(flipped))
    failed = subprocess.run(doc_verify_command(), cwd=out, capture_output=True, text=True, timeout=60, check=False)
    assert failed.returncode != 0
    assert "Signature Verified Successfully" not in failed.stdout

    # Signing twice is the server's 409, shown as its message.
    again = run_cli(served, "sign", *server, "--declaration", "decl", "--yes")
    assert again.returncode == 1 and "already signed" in again.stderr
    # A bad token is refused by the server.
    bad = run_cli(served, "sign", *server, "--declaration", "decl", "--yes", token="acc_" + "x" * 43)
    assert bad.returncode == 1 and "token" in bad.stderr.lower()

    withdrawn = run_cli(served, "withdraw", *server, "--declaration", "decl", "--yes")
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert "withdraws the signature of revision 2" in withdrawn.stdout
    assert [status for status, _ in signatures_now(city_id)] == ["withdrawn"]
