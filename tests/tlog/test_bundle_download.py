"""The bundle downloads (public page and API) carry the log's evidence: ``signing.verify`` passes with the
cities' witness keys pinned and ``--min-witnesses``, on the file exactly as downloaded."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.freeze.conftest import Network, run_verify_cli
from tests.tlog.test_bundle_log import _pins


def test_the_downloaded_bundles_verify_with_three_pinned_witnesses(
        app: Flask, network: Network, client: FlaskClient, witnessed: dict[str, Any], tmp_path: Path) -> None:
    from signing.extensions import db
    from signing.services import tokens

    slug = witnessed["bundle"].declaration.slug
    public = client.get(f"/public/declarations/{slug}/bundle.zip")
    assert public.status_code == 200
    assert public.headers["X-Content-SHA256"] == hashlib.sha256(public.data).hexdigest()
    assert public.data == witnessed["path"].read_bytes(), "not the bundle export-bundle --with-log writes"
    _, token = tokens.create(network.signers[0].user, "bundle download")
    db.session.commit()
    api = client.get(f"/api/v1/declarations/{slug}/bundle", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.data == public.data
    assert api.headers["X-Content-SHA256"] == hashlib.sha256(api.data).hexdigest()

    for name, body in (("public.zip", public.data), ("api.zip", api.data)):
        path = tmp_path / name
        path.write_bytes(body)
        result = run_verify_cli(path, *_pins(witnessed["vkeys"]), "--min-witnesses", "3")
        assert result.returncode == 0, result.stdout
        assert "3 pinned witness(es) cosigned the checkpoint" in result.stdout
    stored = bytes(witnessed["bundle"].archive)
    assert public.data != stored and len(public.data) > len(stored)
