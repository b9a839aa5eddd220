"""The endorsement benchmarks run end to end with tiny numbers (real PostgreSQL, Redis and gunicorn), so that CI
proves the scripts work; the figures themselves are measured by hand (``bench/README.md``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_POSTGRES_URL, TEST_REDIS_URL, missing

REPO = Path(__file__).resolve().parents[2]


def _run(script: str, *arguments: str) -> str:
    done = subprocess.run([sys.executable, f"bench/{script}", "--postgres", TEST_POSTGRES_URL, "--redis",
                           TEST_REDIS_URL, *arguments], cwd=REPO, capture_output=True, text=True, timeout=600,
                          check=False)
    if "could not connect" in done.stderr.lower() or "connection refused" in done.stderr.lower():
        missing("PostgreSQL or Redis", done.stderr[-300:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_endorsements_100k_runs_with_a_few_endorsements() -> None:
    out = _run("endorsements_100k.py", "--endorsements", "60", "--requests", "10", "--clients", "2", "--repeat", "1")
    assert "bulk path (accept_many): 60 accepted, 0 refused" in out
    for label in ("public page", "list, last page", "count endpoint"):
        assert f"  {label}: p99 " in out
    assert "60 endorsement(s), 0 withdrawn, 60 standing" in out
    assert "signing.verify --jobs 2:" in out


@pytest.mark.slow
def test_endorsement_intake_runs_with_a_few_clients() -> None:
    out = _run("endorsement_intake.py", "--clients", "2", "--endorsements", "6")
    assert "stored 8 endorsements (expected 8)" in out
    assert "rate ratio" in out and "p99 ratio" in out
