"""Entries written with their events, sequenced into tiles and signed checkpoints; crashes and races."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import BACKENDS
from tests.freeze.conftest import Network, bundle_of, open_for_signature
from tests.tlog.conftest import check_log, log_rows

REPO_ROOT = Path(__file__).resolve().parents[2]


@BACKENDS
def test_every_event_of_a_signing_round_is_logged_once_without_personal_data(app: Flask, network: Network) -> None:
    from signing.core import log_entry
    from signing.services import keys

    declaration = open_for_signature(network)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    network.athens.withdraw(declaration)
    network.athens.sign(declaration)
    network.sofia.sign(declaration)
    bundle = bundle_of(declaration)
    keys.revoke(network.sofia.key, network.secretariat)

    entries = [log_entry.parse(raw) for raw in check_log()]
    assert [e["kind"] for e in entries] == [
        "key.enrolled", "key.enrolled", "key.enrolled", "consultation.opened", "revision.published",
        "signing.opened", "signature.accepted", "signature.accepted", "signature.withdrawn", "signature.accepted",
        "signature.accepted", "declaration.frozen", "key.revoked",
    ]
    frozen = entries[11]
    assert frozen["manifest_sha256"] == log_entry.sha256_hex(bytes(bundle.manifest))
    accepted = entries[6]
    assert accepted["city"] == "izmir" and accepted["revision"] == 2
    assert entries[5]["signatories"] == ["athens", "izmir", "sofia"] and entries[5]["rule"] == {"kind": "all"}
    assert "@" not in json.dumps(entries)
    _, checkpoints, pending = log_rows()
    assert pending == [] and checkpoints[-1].size == len(entries)


def test_entries_are_sequenced_in_batches_each_checkpoint_consistent(app: Flask,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from signing.core import log_entry
    from signing.services import outbox, tlog, transactions

    monkeypatch.setattr(tlog, "BATCH", 7)
    monkeypatch.setattr(outbox, "relay", lambda items, **options: None)  # leave the sequencing to this test
    for n in range(30):
        tlog.append(log_entry.KEY_REVOKED, city=f"c{n}", key_fingerprint="ed25519:x", key_use="signing")
    transactions.commit()
    assert tlog.sequence() == 30
    _, checkpoints, pending = log_rows()
    assert [c.size for c in checkpoints] == [7, 14, 21, 28, 30] and pending == []
    check_log()
    assert tlog.sequence() == 30, "nothing pending: nothing signed"
    assert len(log_rows()[1]) == 5


def test_a_stored_tree_that_does_not_extend_the_last_checkpoint_is_never_signed(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    from signing.core import log_entry
    from signing.extensions import db
    from signing.services import outbox, tlog, transactions

    monkeypatch.setattr(outbox, "relay", lambda items, **options: None)
    for n in range(5):
        tlog.append(log_entry.KEY_REVOKED, city=f"c{n}", key_fingerprint="ed25519:x", key_use="signing")
    transactions.commit()
    tlog.sequence()
    # Someone with database access rewrites history (the trigger has to go first).
    db.session.execute(text("DROP TRIGGER log_tiles_no_update"))
    db.session.execute(text("UPDATE log_tiles SET data = :forged WHERE level = 0 AND width = 5"),
                       {"forged": bytes(32 * 5)})
    db.session.commit()
    tlog.append(log_entry.KEY_REVOKED, city="late", key_fingerprint="ed25519:x", key_use="signing")
    transactions.commit()
    with pytest.raises(tlog.SequencerError, match="does not extend checkpoint 5"):
        tlog.sequence()
    db.session.rollback()
    entries, checkpoints, pending = log_rows()
    assert [c.size for c in checkpoints] == [5] and len(entries) == 5 and len(pending) == 1


CRASHING_SEQUENCER = """
import os, signal, sys
from signing import create_app
from signing.core import note
from signing.extensions import db
from signing.services import tlog

real_sign = note.sign

def sign_then_die(*args, **kwargs):
    signature = real_sign(*args, **kwargs)
    db.session.flush()  # the tiles, entries and deletions are in the database, uncommitted
    print("flushed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    return signature

tlog.note.sign = sign_then_die
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "PUBLIC_URL": "http://accord.test",
                  "SECRET_KEY": "x" * 40, "TESTING": True}, instance_path=sys.argv[2])
with app.app_context():
    tlog.sequence()
"""


@BACKENDS
def test_a_sequencer_killed_between_steps_loses_and_duplicates_nothing(
        app: Flask, monkeypatch: pytest.MonkeyPatch, database_url: str, instance_dir: Path) -> None:
    from signing.core import log_entry
    from signing.services import outbox, tlog, transactions

    monkeypatch.setattr(outbox, "relay", lambda items, **options: None)
    for n in range(3):
        tlog.append(log_entry.KEY_REVOKED, city=f"c{n}", key_fingerprint="ed25519:x", key_use="signing")
    transactions.commit()
    assert tlog.sequence() == 3
    for n in range(4):
        tlog.append(log_entry.KEY_REVOKED, city=f"d{n}", key_fingerprint="ed25519:x", key_use="signing")
    transactions.commit()

    killed = subprocess.run([sys.executable, "-c", CRASHING_SEQUENCER, database_url, str(instance_dir)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert killed.returncode == -9 and "flushed" in killed.stdout, killed.stderr
    entries, checkpoints, pending = log_rows()
    assert (len(entries), [c.size for c in checkpoints], len(pending)) == (3, [3], 4)

    assert tlog.sequence() == 7
    raw = check_log()
    assert [json.loads(e)["city"] for e in raw] == ["c0", "c1", "c2", "d0", "d1", "d2", "d3"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_sequencers_sign_one_consistent_history(app_factory: Any, app: Flask,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from signing.core import log_entry
    from signing.extensions import db
    from signing.services import outbox, tlog, transactions

    monkeypatch.setattr(outbox, "relay", lambda items, **options: None)
    monkeypatch.setattr(tlog, "BATCH", 5)
    for n in range(60):
        tlog.append(log_entry.KEY_REVOKED, city=f"c{n}", key_fingerprint="ed25519:x", key_use="signing")
    transactions.commit()
    errors: list[BaseException] = []
    start = threading.Barrier(4, timeout=60)
    # The apps are made here, one after the other: building Flask apps (their URL rules are compiled with
    # ``ast``) in several threads at once can fail inside CPython 3.11 itself.
    apps = [app_factory() for _ in range(4)]

    def run(other: Flask) -> None:
        with other.app_context():
            try:
                start.wait()
                tlog.sequence()
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(other,)) for other in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a sequencer did not finish"
    assert errors == []
    entries, checkpoints, pending = log_rows()
    assert len(entries) == 60 and pending == [] and checkpoints[-1].size == 60
    assert sorted(json.loads(bytes(e.entry))["city"] for e in entries) == sorted(f"c{n}" for n in range(60))
    check_log()
