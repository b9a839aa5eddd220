"""The issue's "done when": after ``flask demo --complete`` the log verifies, three cities witnessed it, and the
exported bundle passes ``signing.verify --min-witnesses 3`` with their witness keys pinned."""

from __future__ import annotations

import base64
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.freeze.conftest import run_verify_cli


def test_the_demo_log_is_witnessed_by_three_cities_and_its_bundle_verifies(app: Flask, client: FlaskClient,
                                                                           tmp_path: Path) -> None:
    from signing.core import merkle, note
    from signing.manage import demo

    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--complete"])
    assert result.exit_code == 0, result.output
    assert "--min-witnesses 3" in result.output

    log_key = note.parse_verifier(client.get("/log/key").get_data(as_text=True).strip())
    witnesses = client.get("/api/v1/log/witnesses").json["witnesses"]
    assert len(witnesses) == 3
    vkeys = [note.parse_verifier(w["verifier_key"]) for w in witnesses]
    text, verified, _ = note.open_note(client.get("/log/checkpoint").get_data(), [log_key, *vkeys])
    checkpoint = note.parse_checkpoint(text)
    assert verified[0].verifier == log_key and len(verified) == 4  # the log and three cities

    tree = merkle.MemoryTree()
    for start in range(0, checkpoint.size, 1000):
        page = client.get(f"/api/v1/log/entries?start={start}&end={min(checkpoint.size, start + 1000)}").json
        for entry in page["entries"]:
            tree.append(base64.b64decode(entry))
    assert tree.root() == checkpoint.root

    target = tmp_path / "demo.zip"
    exported = runner.invoke(args=["export-bundle", "--with-log", demo.DEMO_SLUG, str(target)])
    assert exported.exit_code == 0, exported.output
    pins = [arg for w in witnesses for arg in ("--witness", w["verifier_key"])]
    with app.app_context():
        from signing.services import platform_key

        platform = platform_key.fingerprint(platform_key.load())
    verified_bundle = run_verify_cli(target, "--platform-key", platform, *pins, "--min-witnesses", "3")
    assert verified_bundle.returncode == 0, verified_bundle.stdout
    assert "VERIFIED: 12 signature(s)" in verified_bundle.stdout
    assert verified_bundle.stdout.count("OK    witnessed by ") == 3
