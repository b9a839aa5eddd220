"""RFC 9162 §2.1 Merkle trees: hashes, proofs and their verification.

Only the standard library. Hashes of *perfect* subtrees (``2**height`` leaves starting at a multiple of
that size) are read through a ``StoredHash`` function, ``stored(height, index)``, so a proof costs one
read per hash it holds (``O(log n)``) whatever backs the tree: a list in memory or the log's tiles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_BYTES = 32
StoredHash = Callable[[int, int], bytes]  # (height, index) -> hash of leaves [index << height, (index + 1) << height)


class ProofError(ValueError):
    """A proof does not verify, or asks for something the tree cannot prove."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    return hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(stored: StoredHash, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range of the RFC's recursion (perfect pieces read, the rest composed)."""
    n = end - start
    if n <= 0:
        raise ProofError("empty range")
    if n & (n - 1) == 0 and start % n == 0:
        return stored(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(subtree_hash(stored, start, start + k), subtree_hash(stored, start + k, end))


def root(stored: StoredHash, size: int) -> bytes:
    return empty_root() if size == 0 else subtree_hash(stored, 0, size)


def inclusion_proof(stored: StoredHash, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf to root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(subtree_hash(stored, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(stored, start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(stored: StoredHash, old_size: int, size: int) -> list[bytes]:
    """PROOF(old_size, D[0:size]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal or old_size is 0)."""
    if not 0 <= old_size <= size:
        raise ProofError(f"no consistency proof from size {old_size} to size {size}")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    start, end, complete = 0, size, True
    m = old_size
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_hash(stored, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(stored, start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        proof.append(subtree_hash(stored, start, end))
    proof.reverse()
    return proof


def _check_hashes(hashes: Sequence[bytes]) -> None:
    if any(len(h) != HASH_BYTES for h in hashes):
        raise ProofError("a proof hash is not 32 bytes")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf`` (a leaf hash) at ``index`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    _check_hashes([leaf, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> None:
    if root_from_inclusion_proof(index, size, leaf, proof) != expected_root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(old_size: int, size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: the tree of ``size`` leaves extends the tree of ``old_size`` leaves."""
    _check_hashes([old_root, new_root, *proof])
    if old_size > size or old_size < 0:
        raise ProofError(f"a tree of size {size} cannot extend one of size {old_size}")
    if old_size == size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("two different roots for the same tree size")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root or sr != new_root:
        raise ProofError("the consistency proof does not lead to both roots")


class MemoryTree:
    """All the perfect-subtree hashes of a tree in memory (tests, the verifier, small mirrors)."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append_hash(leaf)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, entry: bytes) -> None:
        self.append_hash(leaf_hash(entry))

    def append_hash(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        height, index = 0, self.size - 1
        while index & 1:
            left, right = self.levels[height][index - 1], self.levels[height][index]
            height, index = height + 1, index >> 1
            if height == len(self.levels):
                self.levels.append([])
            self.levels[height].append(node_hash(left, right))

    def stored(self, height: int, index: int) -> bytes:
        try:
            return self.levels[height][index]
        except IndexError:
            raise ProofError(f"no hash at height {height}, index {index}") from None

    def root(self, size: int | None = None) -> bytes:
        return root(self.stored, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self.stored, index, self.size if size is None else size)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        return consistency_proof(self.stored, old_size, self.size if size is None else size)
