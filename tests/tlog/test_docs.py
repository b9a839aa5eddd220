"""The standard-library proof checker of docs/transparency-log.md, run from the document on a real log."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.freeze.conftest import Network, open_for_signature

DOC = Path(__file__).resolve().parents[2] / "docs" / "transparency-log.md"


def checker_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def _save(client: FlaskClient, folder: Path, old: bytes) -> int:
    checkpoint = client.get("/log/checkpoint").get_data()
    size = int(checkpoint.split(b"\n")[1])
    (folder / "checkpoint").write_bytes(checkpoint)
    (folder / "old-checkpoint").write_bytes(old)
    (folder / "entries.json").write_text(json.dumps(client.get(f"/api/v1/log/entries?start=0&end={size}").json))
    proofs = [client.get(f"/api/v1/log/proof/inclusion?index={i}&size={size}").json for i in range(size)]
    (folder / "inclusion.json").write_text(json.dumps(proofs))
    return size


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    # -I: isolated, no site-packages: the standard library alone.
    return subprocess.run([sys.executable, "-I", "-c", checker_script(), str(folder)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_documented_checker_passes_a_real_log_and_catches_tampering(app: Flask, network: Network,
                                                                        client: FlaskClient, tmp_path: Path) -> None:
    assert len(checker_script().strip().splitlines()) <= 40
    old = client.get("/log/checkpoint").get_data()
    declaration = open_for_signature(network)
    network.izmir.sign(declaration)
    size = _save(client, tmp_path, old)
    result = _run(tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(f"OK accord.test/log: {size} entries"), result.stderr

    entries = json.loads((tmp_path / "entries.json").read_text())
    tampered = dict(entries, entries=[entries["entries"][1], entries["entries"][0], *entries["entries"][2:]])
    (tmp_path / "entries.json").write_text(json.dumps(tampered))
    result = _run(tmp_path)
    assert result.returncode == 1 and "do not give the checkpoint's root" in result.stderr

    (tmp_path / "entries.json").write_text(json.dumps(entries))
    proofs = json.loads((tmp_path / "inclusion.json").read_text())
    proofs[2]["hashes"] = proofs[2]["hashes"][:-1]
    (tmp_path / "inclusion.json").write_text(json.dumps(proofs))
    assert "proof of 2" in _run(tmp_path).stderr

    (tmp_path / "inclusion.json").write_text("[]")
    forged = old.replace(old.split(b"\n")[2], b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    (tmp_path / "old-checkpoint").write_bytes(forged)
    assert "rewrote its history" in _run(tmp_path).stderr
