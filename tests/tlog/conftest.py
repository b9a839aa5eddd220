"""Helpers for the transparency log's tests: read the whole log back and check it as an outsider would; a frozen
declaration witnessed by three cities (``witnessed``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD
from tests.freeze.conftest import Network, bundle_of, network, open_for_signature  # noqa: F401 - network: shared


def log_rows() -> tuple[list[Any], list[Any], list[Any]]:
    """(entries by index, checkpoints by size, pending rows by id)."""
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import LogCheckpoint, LogEntry, LogPending

    db.session.expire_all()
    entries = list(db.session.scalars(select(LogEntry).order_by(LogEntry.index)))
    checkpoints = list(db.session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)))
    pending = list(db.session.scalars(select(LogPending).order_by(LogPending.id)))
    return entries, checkpoints, pending


def check_log() -> list[bytes]:
    """Every checkpoint verifies with the log key, has the root of its entries, and extends the one before."""
    from signing.core import merkle, note
    from signing.services import tlog

    entries, checkpoints, _ = log_rows()
    assert [e.index for e in entries] == list(range(len(entries)))
    assert len({e.pending_id for e in entries}) == len(entries)
    tree = merkle.MemoryTree()
    for entry in entries:
        tree.append(bytes(entry.entry))
    verifier = tlog.log_verifier()
    previous = None
    for checkpoint in checkpoints:
        text, verified, _ = note.open_note(checkpoint.text + "\n" + checkpoint.signature, [verifier])
        parsed = note.parse_checkpoint(text)
        assert verified and parsed.origin == tlog.origin() and parsed.size == checkpoint.size
        assert parsed.root == bytes(checkpoint.root) == tree.root(checkpoint.size)
        if previous is not None:
            merkle.verify_consistency(previous.size, checkpoint.size, bytes(previous.root), bytes(checkpoint.root),
                                      tree.consistency_proof(previous.size, checkpoint.size))
        previous = checkpoint
    return [bytes(e.entry) for e in entries]


@pytest.fixture
def witnessed(app: Flask, network: Network, client: FlaskClient,  # noqa: F811 - the fixture above
              tmp_path: Path) -> dict[str, Any]:
    """A frozen declaration whose checkpoint the three cities' witnesses cosigned; the bundle exported with log/."""
    from signing.offline import witness as cli_witness
    from signing.services import log_evidence, witness

    vkeys = []
    for signer in network.signers:
        state = tmp_path / signer.user.city.slug
        key = cli_witness.load_or_create_key(state)
        vkeys.append(witness.verifier(witness.enrol(signer.user, cli_witness.public_key_b64(key), PASSWORD,
                                                    "cli")).encode())
    declaration = open_for_signature(network)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    network.athens.withdraw(declaration)
    network.athens.sign(declaration)
    network.sofia.sign(declaration)  # the rule "all" is met: frozen
    bundle = bundle_of(declaration)
    from tests.tlog.test_witness import fetch_from

    for signer in network.signers:
        cli_witness.run(tmp_path / signer.user.city.slug, fetch_from(client))
    path = tmp_path / "bundle.zip"
    path.write_bytes(log_evidence.export_archive(bundle))
    return {"path": path, "vkeys": vkeys, "bundle": bundle}
