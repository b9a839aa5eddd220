"""``python -m signing.cli`` without a server: key files, refusals, and no Flask.

The journey against a live server (keygen → enrol → sign → openssl) is in
``test_cli_journey.py``; here are the parts that need no server, plus the
checks the signer makes on what a (possibly hostile) server asks it to sign.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "a long enough passphrase"


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signing.cli", *args], cwd=REPO, input=stdin, capture_output=True,
                          text=True, timeout=60, check=False, env={**os.environ, **(env or {})})


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


def test_the_cli_does_not_import_flask() -> None:
    code = ("import sys, signing.cli; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'werkzeug')); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_keygen_writes_an_encrypted_pkcs8_key_readable_only_by_its_owner(tmp_path: Path,
                                                                         passphrase_file: Path) -> None:
    from signing.core import payload as payloads

    key_path = tmp_path / "key.pem"
    result = cli("keygen", "--out", str(key_path), "--passphrase-file", str(passphrase_file))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    pem = key_path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=b"not the passphrase")
    key = serialization.load_pem_private_key(pem, password=PASSPHRASE.encode())
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert f"fingerprint: {payloads.fingerprint(raw)}" in result.stdout
    assert f"public key (base64): {base64.b64encode(raw).decode()}" in result.stdout

    again = cli("keygen", "--out", str(key_path), "--passphrase-file", str(passphrase_file))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert key_path.read_bytes() == pem


def test_keygen_refuses_a_short_or_mismatched_passphrase(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n", encoding="utf-8")
    result = cli("keygen", "--out", str(tmp_path / "k.pem"), "--passphrase-file", str(short))
    assert result.returncode == 1 and "at least" in result.stderr
    assert not (tmp_path / "k.pem").exists()


@pytest.mark.parametrize("url", ["ftp://example.org", "file:///etc/passwd", "example.org", "javascript:alert(1)",
                                 "http://user:pw@example.org", "https://example.org/?next=x"])
def test_only_plain_http_or_https_urls_are_accepted(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from signing.cli import main

    for command in (["sign", "--declaration", "d", "--yes"], ["enrol", "--label", "x"]):
        code = main([command[0], "--url", url, "--token", "acc_x", "--key", "no-such-key.pem", *command[1:]])
        assert code == 1
        assert "the server URL must" in capsys.readouterr().err


def test_a_token_is_required(tmp_path: Path, passphrase_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ACCORD_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "signing.cli", "sign", "--url", "http://127.0.0.1:9", "--key", "k.pem",
         "--declaration", "d"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert result.returncode == 1 and "ACCORD_TOKEN" in result.stderr


# --- what the signer checks before signing (a fake API, no network) ----------------------------


class FakeApi:
    """Answers the signer's calls like the server would, with whatever a test wants to change."""

    def __init__(self, data: bytes, text: str, **overrides: Any) -> None:
        self.answers = {
            "issue": {"payload": base64.b64encode(data).decode(), "payload_sha256": hashlib.sha256(data).hexdigest(),
                      "expires_at": "2099-01-01T00:00:00Z"},
            "revision": {"number": 2, "text": text, "sha256": hashlib.sha256(text.encode()).hexdigest()},
            "submit": {"city": "izmir", "payload_sha256": hashlib.sha256(data).hexdigest()},
        }
        for name, value in overrides.items():
            self.answers[name].update(value)
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((method, path, body))
        if path.endswith("-payload"):
            return self.answers["issue"]
        if "/revisions/" in path:
            return self.answers["revision"]
        return self.answers["submit"]


def make_payload(key: Ed25519PrivateKey, text: str, **changes: Any) -> bytes:
    from signing.core import payload as payloads

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    now = datetime.now(UTC).replace(microsecond=0)
    fields = {
        "format": payloads.SIGNATURE_FORMAT, "issuer": "http://accord.test", "declaration_slug": "decl",
        "declaration_title": "Declaration", "revision": 2,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(), "city_slug": "izmir", "city_name": "İzmir",
        "signer_id": 3, "signer_name": "İzmir delegate", "key_fingerprint": payloads.fingerprint(raw),
        "issued_at": payloads.timestamp(now), "expires_at": payloads.timestamp(now + timedelta(minutes=5)),
        "nonce": "n" * 32, **changes,
    }
    return payloads.build(fields)


@pytest.fixture
def signer(tmp_path: Path, passphrase_file: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``sign`` in-process against a FakeApi; returns (run, key)."""
    from signing import cli as signer_cli

    key = Ed25519PrivateKey.generate()
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(PASSPHRASE.encode())))

    def run(fake: FakeApi, *extra: str) -> int:
        monkeypatch.setattr(signer_cli.Api, "call", lambda self, *a, **k: fake.call(*a, **k))
        return signer_cli.main(["sign", "--url", "http://127.0.0.1:9", "--token", "acc_x", "--key", str(key_path),
                                "--passphrase-file", str(passphrase_file), "--declaration", "decl", "--yes", *extra])

    return run, key


TEXT = "The text.\n"


def submitted(fake: FakeApi) -> bool:
    return any(path.endswith("/signatures") for _, path, _ in fake.calls)


def test_the_signer_signs_exactly_the_issued_bytes(signer: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from signing.core import payload as payloads

    run, key = signer
    data = make_payload(key, TEXT)
    fake = FakeApi(data, TEXT)
    assert run(fake) == 0
    method, path, body = fake.calls[-1]
    assert (method, path) == ("POST", "/declarations/decl/signatures")
    assert base64.b64decode(body["payload"]) == data
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert payloads.verify(raw, base64.b64decode(body["signature"]), data)
    out = capsys.readouterr().out
    assert payloads.parse(data)["statement"] in out


@pytest.mark.parametrize("case", [
    "text differs", "server sha differs", "other key", "other declaration", "withdrawal format", "expired",
    "not canonical", "payload sha differs", "local text differs",
])
def test_the_signer_refuses_what_it_should_not_sign(case: str, signer: Any, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from signing.core import payload as payloads

    run, key = signer
    data = make_payload(key, TEXT)
    extra: list[str] = []
    overrides: dict[str, Any] = {}
    if case == "text differs":
        overrides["revision"] = {"text": "Another text.\n", "sha256": hashlib.sha256(b"Another text.\n").hexdigest()}
    elif case == "server sha differs":
        overrides["revision"] = {"sha256": "0" * 64}
    elif case == "other key":
        data = make_payload(key, TEXT, key_fingerprint="sha256:" + "ab" * 32)
    elif case == "other declaration":
        data = make_payload(key, TEXT, declaration_slug="other")
    elif case == "withdrawal format":
        data = make_payload(key, TEXT, format=payloads.WITHDRAWAL_FORMAT, withdraws_payload_sha256="0" * 64)
    elif case == "expired":
        data = make_payload(key, TEXT, expires_at="2020-01-01T00:00:00Z")
    elif case == "not canonical":
        data = json.dumps(json.loads(make_payload(key, TEXT)), indent=1).encode()
    elif case == "payload sha differs":
        overrides["issue"] = {"payload_sha256": "0" * 64}
    elif case == "local text differs":
        local = tmp_path / "mine.txt"
        local.write_bytes(b"The text, as I received it.\n")
        extra = ["--text-file", str(local)]
    fake = FakeApi(data, TEXT, **overrides)
    assert run(fake, *extra) == 1
    assert not submitted(fake), "nothing may be signed and sent"
    assert "refusing to sign" in capsys.readouterr().err


def test_confirmation_is_required_without_yes(signer: Any, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path, passphrase_file: Path) -> None:
    from signing import cli as signer_cli

    _, key = signer
    data = make_payload(key, TEXT)
    for answer, expected in (("no", 1), ("", 1), ("yes", 0)):
        fake = FakeApi(data, TEXT)
        monkeypatch.setattr(signer_cli.Api, "call", lambda self, *a, f=fake, **k: f.call(*a, **k))
        monkeypatch.setattr("builtins.input", lambda prompt, a=answer: a)
        code = signer_cli.main(["sign", "--url", "http://127.0.0.1:9", "--token", "acc_x", "--key",
                                str(tmp_path / "key.pem"), "--passphrase-file", str(passphrase_file),
                                "--declaration", "decl"])
        assert code == expected, answer
        assert submitted(fake) is (expected == 0)


def test_the_signer_never_follows_a_redirect(tmp_path: Path, passphrase_file: Path) -> None:
    """A redirect could carry the bearer token to another host: the signer stops instead."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.conftest import free_port

    caught: list[str] = []
    catcher_port = free_port()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{catcher_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Catcher(Redirect):
        def do_POST(self) -> None:
            caught.append(self.headers.get("Authorization", ""))
            self.send_response(201)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Redirect),
               ThreadingHTTPServer(("127.0.0.1", catcher_port), Catcher)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        key_path = tmp_path / "key.pem"
        assert cli("keygen", "--out", str(key_path), "--passphrase-file", str(passphrase_file)).returncode == 0
        url = f"http://127.0.0.1:{servers[0].server_address[1]}"
        for command in (["sign", "--declaration", "decl", "--yes"], ["enrol", "--label", "x", "--password-file",
                                                                    str(passphrase_file)]):
            result = cli(command[0], "--url", url, "--token", "acc_secret", "--key", str(key_path),
                         "--passphrase-file", str(passphrase_file), *command[1:],
                         env={"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
            assert result.returncode == 1, result.stdout
            assert "redirect" in result.stderr.lower(), result.stderr
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert caught == [], "the token went to the redirect target"
