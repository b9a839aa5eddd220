"""The log as an outsider sees it over HTTP: checkpoint, key, tiles, entries and proofs; bad requests."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import BACKENDS
from tests.freeze.conftest import Network, open_for_signature

API = "/api/v1/log"


def _b(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def _fill(network: Network, extra: int = 0) -> None:
    from signing.core import log_entry
    from signing.services import tlog, transactions

    declaration = open_for_signature(network)
    network.izmir.sign(declaration)
    for n in range(extra):  # enough entries for full tiles
        tlog.append(log_entry.KEY_REVOKED, city=f"c{n}", key_fingerprint="ed25519:x", key_use="signing")
    transactions.commit()


def _checkpoint(client: FlaskClient) -> Any:
    from signing.core import note

    key = client.get("/log/key")
    assert key.status_code == 200 and key.mimetype == "text/plain"
    verifier = note.parse_verifier(key.get_data(as_text=True).strip())
    assert verifier.name == "accord.test/log"
    response = client.get("/log/checkpoint")
    assert response.status_code == 200 and response.content_type == "text/plain; charset=utf-8"
    text, verified, _ = note.open_note(response.get_data(), [verifier])
    assert [v.verifier for v in verified] == [verifier]
    return note.parse_checkpoint(text)


@BACKENDS
def test_an_outsider_recomputes_the_signed_root_from_entries_and_from_tiles(app: Flask, network: Network,
                                                                            client: FlaskClient) -> None:
    from signing.core import merkle, tiles

    _fill(network, extra=300)
    checkpoint = _checkpoint(client)
    size = checkpoint.size
    assert size > 256
    entries: list[bytes] = []
    while len(entries) < size:
        page = client.get(f"{API}/entries?start={len(entries)}&end={min(size, len(entries) + 1000)}")
        assert page.status_code == 200 and page.json["start"] == len(entries)
        assert "immutable" in page.headers["Cache-Control"]
        entries += _b(page.json["entries"])
    tree = merkle.MemoryTree()
    for entry in entries:
        tree.append(entry)
    assert tree.root() == checkpoint.root

    def fetch(key: tiles.TileKey) -> bytes:
        response = client.get("/log/" + key.path())
        assert response.status_code == 200 and response.mimetype == "application/octet-stream", key.path()
        assert "immutable" in response.headers["Cache-Control"]
        return response.get_data()

    from_tiles = tiles.TileHashes(size, fetch)
    assert merkle.root(from_tiles.stored, size) == checkpoint.root
    bundle = fetch(tiles.TileKey(tiles.ENTRIES, 0, 256))
    assert tiles.decode_bundle(bundle) == entries[:256]

    for index in (0, 255, 256, size - 1):
        proof = client.get(f"{API}/proof/inclusion?index={index}&size={size}").json
        assert (proof["leaf_index"], proof["tree_size"]) == (index, size)
        merkle.verify_inclusion(index, size, merkle.leaf_hash(entries[index]), _b(proof["hashes"]), checkpoint.root)
    for old in (1, 7, 256, size - 1):
        proof = client.get(f"{API}/proof/consistency?old={old}&size={size}").json
        assert (proof["old_size"], proof["tree_size"]) == (old, size)
        merkle.verify_consistency(old, size, tree.root(old), checkpoint.root, _b(proof["hashes"]))

    page = client.get("/log/")
    assert page.status_code == 200
    assert checkpoint.origin in page.get_data(as_text=True) and str(size) in page.get_data(as_text=True)


@pytest.mark.parametrize("query", [
    "/entries?start=3&end=2", "/entries?start=0&end=999999", "/entries?start=-1&end=2", "/entries?start=a&end=2",
    "/entries?start=0&end=4", "/entries", "/proof/inclusion?index=0&size=0", "/proof/inclusion?index=50&size=5",
    "/proof/inclusion?index=0&size=999999", "/proof/consistency?old=0&size=3", "/proof/consistency?old=4&size=3",
    "/proof/consistency?old=1&size=99999999999999999999999",
])
def test_bad_requests_are_a_clear_400(app: Flask, network: Network, client: FlaskClient, query: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from signing.services import tlog_read

    monkeypatch.setattr(tlog_read, "MAX_ENTRIES", 3)  # the cap, without a thousand entries
    _fill(network)
    response = client.get(API + query)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["message"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["tile/0/1", "tile/0/000", "tile/0/000.p/255", "tile/9/000", "tile/entries/x001/000",
                                  "tile/../../etc/passwd", "tile/0/000.p/0"])
def test_unknown_or_malformed_tiles_are_404(app: Flask, network: Network, client: FlaskClient, path: str) -> None:
    _fill(network)
    assert client.get("/log/" + path).status_code == 404


def test_an_empty_log_has_no_checkpoint_yet(app: Flask, client: FlaskClient) -> None:
    assert client.get("/log/checkpoint").status_code == 404
    assert client.get("/log/").status_code == 200
    assert client.get(f"{API}/entries?start=0&end=1").status_code == 400
