"""``python -m signing.verify`` says what it proved: with the platform key pinned (a fingerprint or a PEM file),
the bundle is the platform's; without, only its internal consistency. VERIFY.txt compares the key first."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.freeze.conftest import run_verify_cli, unpack
from tests.freeze.test_verify_reader import Built, built  # noqa: F401 - the fixture

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "v1"
ISSUED = FIXTURES / "bundle.zip"
PLATFORM_FINGERPRINT = (FIXTURES / "platform-fingerprint.txt").read_text("ascii").strip()


def _last_lines(stdout: str) -> str:
    return stdout.rsplit("\n\n", 1)[-1]


def test_without_a_pin_only_consistency_is_claimed() -> None:
    result = run_verify_cli(ISSUED)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = _last_lines(result.stdout)
    assert summary.startswith("CONSISTENT: 12 signature(s), every file intact")
    assert "Only internal consistency is proven: the platform key was not pinned" in summary
    assert "VERIFIED" not in result.stdout


def test_a_fingerprint_pin(tmp_path: Path) -> None:
    for pin in (PLATFORM_FINGERPRINT, PLATFORM_FINGERPRINT.upper().replace("SHA256:", "sha256:"),
                PLATFORM_FINGERPRINT.removeprefix("sha256:")):
        result = run_verify_cli(ISSUED, "--platform-key", pin)
        assert result.returncode == 0, result.stdout + result.stderr
        assert _last_lines(result.stdout) == (
            f"VERIFIED: 12 signature(s), every file intact, sealed by the pinned platform key "
            f"{PLATFORM_FINGERPRINT}.\n")
    other = "sha256:" + "0" * 64
    result = run_verify_cli(ISSUED, "--platform-key", other)
    assert result.returncode == 1
    assert "FAIL  platform key is the trusted one" in result.stdout
    assert _last_lines(result.stdout).startswith("FAILED: 1 problem(s)")


def test_a_pem_file_pin(tmp_path: Path) -> None:
    published = tmp_path / "published.pem"
    published.write_bytes((unpack(ISSUED.read_bytes(), tmp_path / "bundle") / "platform.pem").read_bytes())
    result = run_verify_cli(ISSUED, "--platform-key", str(published))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"sealed by the pinned platform key {PLATFORM_FINGERPRINT}" in result.stdout

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert run_verify_cli(ISSUED, "--platform-key", str(stranger)).returncode == 1


def test_a_bad_pin_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    for pin in ("sha256:1234", str(tmp_path / "missing.pem"), str(junk)):
        result = run_verify_cli(ISSUED, "--platform-key", pin)
        assert result.returncode == 2, (pin, result.stdout, result.stderr)
        assert "--platform-key" in result.stderr


def test_verify_txt_compares_the_platform_key_first(built: Built) -> None:  # noqa: F811
    text = built.files["VERIFY.txt"].decode("utf-8")
    commands = [line.strip() for line in text.splitlines()
                if line.startswith("   ") and line.split()[0] in {"openssl", "sha256sum", "grep", "find"}]
    assert commands[0] == "openssl pkey -pubin -in platform.pem -outform DER | tail -c 32 | sha256sum"
    assert text.index("1. The platform key is the network's") < text.index("2. The platform signed the manifest")
    assert "--platform-key sha256:" in text
