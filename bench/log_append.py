"""Benchmark: integrating 100,000 log entries into tiles and signing a checkpoint vs a raw ``hashlib`` loop.

    .venv/bin/python bench/log_append.py [--entries 100000] [--repeat 3] [--proofs 1000]

Makes ``--entries`` synthetic log entries (real ``accord.log-entry/1`` canonical JSON, ~415 bytes each),
then times, in the same run and alternately:

- **the log**: ``signing.core.tiles.integrate`` from an empty tree (every leaf hash, every full tile and
  its root, the partial tiles, the entry bundles), the root hash read back from those tiles
  (``merkle.root`` over ``TileHashes``) and the checkpoint signed as a C2SP signed note — what the
  sequencer computes in one batch, without the database;
- **the raw loop**: ``hashlib.sha256(b"\\x00" + entry)`` for every leaf and the RFC 9162 root with a stack
  of subtree hashes (``2n - 1`` SHA-256 in all, nothing stored).

Prints the best time of each, ``ratio = raw loop / log`` (target ≥ 0.5) and checks both roots agree.
Then ``--proofs`` inclusion proofs of random leaves (and as many consistency proofs) read from the
tiles: the most tiles any proof read, against ``log2(n)`` — proofs cost ``O(log n)`` reads.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.core import log_entry, merkle, note, tiles

ORIGIN = "accord.example/log"


def synthetic_entries(count: int) -> list[bytes]:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    return [
        log_entry.make(log_entry.SIGNATURE_ACCEPTED, at, declaration="b40-declaration", revision=3,
                       city=f"city-{n:06d}", key_fingerprint="sha256:" + hashlib.sha256(b"%d" % n).hexdigest(),
                       payload_sha256=hashlib.sha256(b"p%d" % n).hexdigest(),
                       signature_sha256=hashlib.sha256(b"s%d" % n).hexdigest())
        for n in range(count)
    ]


def with_log(entries: list[bytes], key: Ed25519PrivateKey) -> tuple[bytes, dict[tiles.TileKey, bytes]]:
    store = tiles.integrate(0, lambda k: b"", entries)
    size = len(entries)
    root = merkle.root(tiles.TileHashes(size, store.__getitem__).stored, size)
    text = note.Checkpoint(ORIGIN, size, root).text()
    verifier = note.Verifier(ORIGIN, note.ED25519, note.raw_public_key(key))
    note.format_note(text, [note.sign(text, verifier, key)])
    return root, store


def raw_loop(entries: list[bytes]) -> bytes:
    sha256 = hashlib.sha256
    stack: list[tuple[int, bytes]] = []  # (height, hash) of the perfect subtrees so far, left to right
    for entry in entries:
        height, digest = 0, sha256(b"\x00" + entry).digest()
        while stack and stack[-1][0] == height:
            digest = sha256(b"\x01" + stack.pop()[1] + digest).digest()
            height += 1
        stack.append((height, digest))
    digest = stack.pop()[1]
    while stack:
        digest = sha256(b"\x01" + stack.pop()[1] + digest).digest()
    return digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--proofs", type=int, default=1000)
    args = parser.parse_args()

    entries = synthetic_entries(args.entries)
    key = Ed25519PrivateKey.generate()
    print(f"{len(entries):,} entries, {sum(map(len, entries)) / len(entries):.0f} bytes each on average; "
          f"load average {os.getloadavg()[0]:.2f}")
    best_log = best_raw = math.inf
    root = raw_root = b""
    store: dict[tiles.TileKey, bytes] = {}
    for _ in range(args.repeat):
        started = time.perf_counter()
        root, store = with_log(entries, key)
        best_log = min(best_log, time.perf_counter() - started)
        started = time.perf_counter()
        raw_root = raw_loop(entries)
        best_raw = min(best_raw, time.perf_counter() - started)
    if root != raw_root:
        print("the two roots differ!", file=sys.stderr)
        return 1
    print(f"log (tiles + root from tiles + signed checkpoint): {best_log * 1000:8.1f} ms "
          f"({len(entries) / best_log:,.0f} entries/s, {len(store):,} tiles and bundles)")
    print(f"raw hashlib loop (leaf hashes + root):              {best_raw * 1000:8.1f} ms")
    print(f"ratio = raw / log = {best_raw / best_log:.2f} (target >= 0.5)")

    rng = random.Random(1)
    size, most, total = len(entries), 0, 0
    for _ in range(args.proofs):
        for kind in ("inclusion", "consistency"):
            reader = tiles.TileHashes(size, store.__getitem__)
            if kind == "inclusion":
                index = rng.randrange(size)
                merkle.verify_inclusion(index, size, merkle.leaf_hash(entries[index]),
                                        merkle.inclusion_proof(reader.stored, index, size), root)
            else:
                merkle.consistency_proof(reader.stored, rng.randrange(1, size + 1), size)
            most, total = max(most, reader.reads), total + reader.reads
    print(f"{2 * args.proofs} proofs (inclusion, verified, and consistency): at most {most} tile reads, "
          f"{total / (2 * args.proofs):.1f} on average; log2(n) = {math.log2(size):.1f}; "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
