"""RFC 9162 hashes and proofs against the transparency-dev/merkle test vectors (tests/data/tlog)."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from signing.core import merkle

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "tlog" / "transparency-dev-merkle.json").read_text())


def _b(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b(h) for h in case["proof"] or []]


@pytest.fixture(scope="module")
def reference() -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for leaf in VECTORS["leaves"]:
        tree.append(bytes.fromhex(leaf))
    return tree


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: c["file"])
def test_inclusion_vectors(case: dict[str, Any], reference: merkle.MemoryTree) -> None:
    verify = lambda: merkle.verify_inclusion(  # noqa: E731
        case["leafIdx"], case["treeSize"], _b(case["leafHash"]), _proof(case), _b(case["root"]))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            verify()
        return
    verify()
    assert reference.root(case["treeSize"]) == _b(case["root"])
    assert reference.inclusion_proof(case["leafIdx"], case["treeSize"]) == _proof(case)


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: c["file"])
def test_consistency_vectors(case: dict[str, Any], reference: merkle.MemoryTree) -> None:
    verify = lambda: merkle.verify_consistency(  # noqa: E731
        case["size1"], case["size2"], _b(case["root1"]), _b(case["root2"]), _proof(case))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            verify()
        return
    verify()
    assert reference.consistency_proof(case["size1"], case["size2"]) == _proof(case)


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert merkle.MemoryTree().root().hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_every_proof_of_small_trees_verifies_and_every_mutation_fails() -> None:
    tree = merkle.MemoryTree()
    for n in range(1, 40):
        tree.append(n.to_bytes(4, "big"))
        for index in range(n):
            proof = tree.inclusion_proof(index, n)
            leaf = tree.stored(0, index)
            merkle.verify_inclusion(index, n, leaf, proof, tree.root(n))
            for at in range(len(proof)):
                bad = list(proof)
                bad[at] = bytes([bad[at][0] ^ 1]) + bad[at][1:]
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(index, n, leaf, bad, tree.root(n))
            with pytest.raises(merkle.ProofError):
                merkle.verify_inclusion(index, n, leaf, [*proof, leaf], tree.root(n))
        for old in range(1, n + 1):
            proof = tree.consistency_proof(old, n)
            merkle.verify_consistency(old, n, tree.root(old), tree.root(n), proof)
            if proof:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(old, n, tree.root(old), tree.root(n), proof[:-1])
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(old, n, tree.root(n), tree.root(old), proof)


def test_a_fork_is_not_consistent() -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    honest, fork = merkle.MemoryTree(), merkle.MemoryTree()
    for i in range(20):
        entry = rng.randbytes(10)
        honest.append(entry)
        fork.append(entry if i != 11 else b"forged")
    proof = fork.consistency_proof(15, 20)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(15, 20, honest.root(15), fork.root(20), proof)
    merkle.verify_consistency(10, 20, honest.root(10), fork.root(20), fork.consistency_proof(10, 20))


def test_out_of_range_requests_are_refused() -> None:
    tree = merkle.MemoryTree([merkle.leaf_hash(b"a")])
    for call in (lambda: tree.inclusion_proof(1), lambda: tree.consistency_proof(2), lambda: tree.stored(0, 5)):
        with pytest.raises(merkle.ProofError):
            call()
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(0, 1, b"short", [], tree.root())
