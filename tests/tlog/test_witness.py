"""Cities as witnesses: witness keys, cosignatures on the served checkpoint, a split view caught, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, People, free_port, read_mail

REPO = Path(__file__).resolve().parents[2]


def entries(count: int, prefix: str) -> None:
    """``count`` new log entries, sequenced (in process) when committed."""
    from signing.core import log_entry
    from signing.services import tlog, transactions

    for n in range(count):
        tlog.append(log_entry.KEY_REVOKED, city=f"{prefix}{n}", key_fingerprint="sha256:" + "0" * 64,
                    key_use="signing")
    transactions.commit()


def fetch_from(client: FlaskClient) -> Callable[[str, str, dict[str, Any] | None], tuple[int, bytes]]:
    def fetch(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        response = client.open(path, method=method, json=body)
        return response.status_code, response.get_data()

    return fetch


def enrol_witness(user: Any, state: Path) -> Any:
    from signing.offline import witness as cli_witness
    from signing.services import witness

    key = cli_witness.load_or_create_key(state)
    return witness.enrol(user, cli_witness.public_key_b64(key), PASSWORD, origin="cli")


def test_a_witness_cosigns_each_consistent_checkpoint_and_the_checkpoint_carries_it(
        app: Flask, people: People, client: FlaskClient, tmp_path: Path) -> None:
    from signing.core import note
    from signing.offline import witness as cli_witness

    entries(3, "a")
    row = enrol_witness(people.delegate, tmp_path / "izmir")
    assert row.name.startswith("accord.test/log/witness/izmir-")
    fetch = fetch_from(client)
    first = cli_witness.run(tmp_path / "izmir", fetch, now=lambda: 1_800_000_000)
    entries(5, "b")
    second = cli_witness.run(tmp_path / "izmir", fetch, now=lambda: 1_800_000_060)
    assert second.size == first.size + 5

    listed = client.get("/api/v1/log/witnesses").json["witnesses"]
    assert [w["city"] for w in listed] == ["izmir"]
    vkey = note.parse_verifier(listed[0]["verifier_key"])
    log_key = note.parse_verifier(client.get("/log/key").get_data(as_text=True).strip())
    _, verified, others = note.open_note(client.get("/log/checkpoint").get_data(), [log_key, vkey])
    assert [(v.verifier.name, v.timestamp) for v in verified] == [(log_key.name, None), (vkey.name, 1_800_000_060)]
    assert others == []
    page = client.get("/log/").get_data(as_text=True)
    assert "İzmir" in page and '<time datetime="2027-01-15T08:01:00Z"' in page


def test_cosignatures_that_do_not_verify_are_refused(app: Flask, people: People, client: FlaskClient,
                                                     tmp_path: Path) -> None:
    from signing.core import note

    entries(2, "a")
    row = enrol_witness(people.delegate, tmp_path)
    size = client.get("/log/checkpoint").get_data(as_text=True).split("\n")[1]
    stranger = Ed25519PrivateKey.generate()  # right name, wrong key
    forged = note.cosign(f"accord.test/log\n{size}\n" + "A" * 43 + "=\n",
                         note.Verifier(row.name, note.COSIGNATURE_V1, note.raw_public_key(stranger)), stranger, 1)
    for body, code in (({"size": int(size), "cosignature": forged.line()}, 400),
                       ({"size": int(size), "cosignature": "not a line"}, 400),
                       ({"size": 999, "cosignature": forged.line()}, 404),
                       ({"size": "x", "cosignature": forged.line()}, 400)):
        response = client.post("/api/v1/log/cosignatures", json=body)
        assert response.status_code == code, response.get_data(as_text=True)
    assert "witness" not in client.get("/log/checkpoint").get_data(as_text=True)


@pytest.fixture
def forked_app(app_factory: Callable[..., Flask], sqlite_template: Path, tmp_path: Path) -> Flask:
    """A second Accord on another database, with the same platform key and origin: a fork of the log."""
    target = tmp_path / "fork.sqlite3"
    shutil.copyfile(sqlite_template, target)
    return app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{target}")


def test_a_split_view_is_caught_reported_and_never_cosigned(app: Flask, people: People, client: FlaskClient,
                                                            forked_app: Flask, tmp_path: Path) -> None:
    from signing.models import LogForkReport
    from signing.offline import witness as cli_witness
    from signing.services import witness

    entries(4, "honest")
    state = tmp_path / "athens"
    row = enrol_witness(people.other_delegate, state)
    cli_witness.run(state, fetch_from(client))
    kept = (state / "checkpoint").read_text()

    with forked_app.app_context():  # the same server key shows another history to this witness
        from signing.extensions import db
        from tests.conftest import seed_people

        fork_people = seed_people()
        entries(9, "forged")
        witness.enrol(fork_people.other_delegate, cli_witness.public_key_b64(cli_witness.load_or_create_key(state)),
                      PASSWORD, origin="cli")
        with pytest.raises(cli_witness.ForkDetected, match="consistency proof .* fails") as caught:
            cli_witness.run(state, fetch_from(forked_app.test_client()))
        reports = list(db.session.scalars(db.select(LogForkReport)))
        assert len(reports) == 1 and reports[0].old_checkpoint == kept
        assert "witness" not in forked_app.test_client().get("/log/checkpoint").get_data(as_text=True)
        db.session.remove()
    evidence = caught.value.evidence
    assert (evidence / "old-checkpoint").read_text() == kept
    assert "forged" not in kept and (evidence / "new-checkpoint").exists()
    assert (state / "checkpoint").read_text() == kept, "the fork was not taken as the new state"

    # The same evidence, reported to the honest server: both checkpoints carry the log's signature.
    response = client.post("/api/v1/log/fork-reports", json={
        "old_checkpoint": kept, "new_checkpoint": (evidence / "new-checkpoint").read_text(),
        "reason": caught.value.reason, "witness": row.name})
    assert response.status_code == 201
    assert any("caught two checkpoints" in m["Subject"] for m in read_mail(app.config["MAIL_FILE_DIR"]))
    bogus = client.post("/api/v1/log/fork-reports", json={"old_checkpoint": kept, "new_checkpoint": "x\n\nnope",
                                                         "reason": "noise"})
    assert bogus.status_code == 400


def test_a_log_that_goes_back_or_changes_its_key_is_refused(app: Flask, people: People, client: FlaskClient,
                                                            tmp_path: Path) -> None:
    from signing.offline import witness as cli_witness

    entries(2, "a")
    state = tmp_path / "w"
    enrol_witness(people.delegate, state)
    cli_witness.run(state, fetch_from(client))
    (state / "log.vkey").write_text("accord.test/log+00000000+" + "A" * 44 + "\n")
    with pytest.raises(cli_witness.WitnessError, match="key changed"):
        cli_witness.run(state, fetch_from(client))


def test_the_cli_witness_enrols_and_cosigns_over_http(app: Flask, people: People, tmp_path: Path) -> None:
    from signing.extensions import db
    from signing.services import tokens

    entries(3, "a")
    _, token = tokens.create(people.delegate, "witness cron")
    db.session.commit()
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    base = [sys.executable, "-m", "signing.cli", "witness", "--state", str(tmp_path / "state"),
            f"http://127.0.0.1:{port}"]
    try:
        db.session.rollback()
        first = subprocess.run([*base, "--enrol", "--token", token, "--password-file", str(password_file)],
                               cwd=REPO, capture_output=True, text=True, timeout=60, check=False, env=env)
        assert first.returncode == 0 and "Cosigned accord.test/log at 4 entries" in first.stdout, first.stderr
        again = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=60, check=False, env=env)
        assert again.returncode == 0, again.stderr
        (tmp_path / "state" / "checkpoint").write_text("garbage")
        broken = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=60, check=False, env=env)
        assert broken.returncode == 1 and broken.stderr.startswith("error:"), broken.stderr
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    assert oct((tmp_path / "state" / "witness-key.pem").stat().st_mode & 0o777) == "0o600"


def test_two_checkpoints_of_the_stored_tree_are_not_a_fork(app: Flask, people: People, client: FlaskClient) -> None:
    from signing.models import LogForkReport
    from tests.freeze.conftest import count

    entries(2, "a")
    old = client.get("/log/checkpoint").get_data(as_text=True)
    entries(3, "b")
    new = client.get("/log/checkpoint").get_data(as_text=True)
    response = client.post("/api/v1/log/fork-reports", json={"old_checkpoint": old, "new_checkpoint": new,
                                                             "reason": "I could not be bothered to check"})
    assert response.status_code == 400 and response.json["error"]["code"] == "not_a_fork"
    assert count(LogForkReport) == 0
