"""Done when: the export of the demo's endorsements verifies with the VERIFY.txt commands alone (stock openssl,
sha256sum, bash) and with ``python -m signing.verify`` (pinned platform key, --jobs 2, and with the log)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from flask import Flask

from tests.freeze.conftest import need_tools, run_verify_cli

from .helpers import run_recipe


def test_the_demo_endorsements_export_verifies_with_verify_txt_and_signing_verify(app: Flask, tmp_path: Path) -> None:
    from signing.manage import demo
    from signing.manage.demo_endorsements import DEMO_ORGANISATIONS, DEMO_PEOPLE

    need_tools()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "--complete"]).exit_code == 0
    expected = len(DEMO_ORGANISATIONS) + DEMO_PEOPLE
    fingerprint = runner.invoke(args=["platform-key", "show"]).output.split()[0]
    for name, extra in (("plain.zip", []), ("with-log.zip", ["--with-log"])):
        target = tmp_path / name
        result = runner.invoke(args=["export-endorsements", demo.DEMO_SLUG, str(target), *extra])
        assert result.exit_code == 0, result.output
        assert f"{expected} endorsement(s), 0 withdrawn, {expected} standing" in result.output
        verified = run_verify_cli(target, "--platform-key", fingerprint, "--jobs", "2")
        assert verified.returncode == 0, verified.stdout
        assert f"VERIFIED: {expected} standing endorsement(s)" in verified.stdout
        if extra:
            assert f"OK    {expected} of {expected} statement(s) are in the log's checkpoint" in verified.stdout
        with zipfile.ZipFile(target) as archive:
            archive.extractall(tmp_path / name[:-4])
        folder = tmp_path / name[:-4] / f"{demo.DEMO_SLUG}-endorsements"
        assert run_recipe(folder, fingerprint) == []
