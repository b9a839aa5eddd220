"""Benchmark: ``signing.core.verifier.verify_bundle`` on a 10,000-signature bundle vs a raw Ed25519 loop.

    .venv/bin/python bench/verify_bundle.py [--signatures 10000] [--repeat 3] [--profile]

Builds a synthetic bundle with ``signing.core.bundle.build`` (one random Ed25519 key per city, real
RFC 8785 payloads, a tiny placeholder instead of the PDF), then times, in the same run, the
whole offline verification (unzip, every file's SHA-256, manifest signature, payload parsing,
key files, every signature) against a bare loop that only checks the same 10,000
``(payload, signature, public key)`` triples with ``cryptography``'s Ed25519. Prints both
and ``ratio = raw loop time / verify_bundle time`` (1.0 would mean the rest of the checks are
free; the target is at least 0.8), with the load average before and after, since the figures
move with whatever else the machine runs. ``--profile`` prints the top of a cProfile of one run.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signing.core import payload
from signing.core.bundle import BundleInput, SignedItem, build_bundle
from signing.core.verifier import verify_bundle

PLACEHOLDER_PDF = b"%PDF-1.4\n% placeholder: the benchmark skips rendering\n%%EOF\n"
TEXT = "# Benchmark declaration\n\nThe cities of the network agree on this text.\n"


def synthetic_bundle(count: int) -> tuple[bytes, list[tuple[bytes, bytes, bytes]]]:
    """The bundle, and the ``(payload, signature, raw public key)`` triples inside it."""
    text_sha256 = hashlib.sha256(TEXT.encode()).hexdigest()
    frozen_at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    items, triples = [], []
    for index in range(count):
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        slug, name = f"city-{index:05d}", f"City {index:05d}"
        data = payload.build({
            "format": payload.SIGNATURE_FORMAT, "issuer": "https://accord.example.org",
            "declaration_slug": "bench", "declaration_title": "Benchmark declaration", "revision": 1,
            "text_sha256": text_sha256, "city_slug": slug, "city_name": name, "signer_id": index + 1,
            "signer_name": f"Delegate {index:05d}", "key_fingerprint": payload.fingerprint(public),
            "issued_at": payload.timestamp(frozen_at - timedelta(hours=1)),
            "expires_at": payload.timestamp(frozen_at - timedelta(minutes=55)), "nonce": f"n{index:031d}",
        })
        signature = key.sign(data)
        triples.append((data, signature, public))
        items.append(SignedItem(city_slug=slug, city_name=name, signer_name=f"Delegate {index:05d}",
                                       signed_at=frozen_at - timedelta(minutes=30), public_key=public,
                                       payload=data, signature=signature))
    archive, _ = build_bundle(
        BundleInput(
            declaration_slug="bench", declaration_title="Benchmark declaration", revision=1, text=TEXT,
            text_sha256=text_sha256, signing_rule={"kind": "all"}, signing_opened_at=frozen_at - timedelta(days=1),
            signing_deadline=None, frozen_at=frozen_at, issuer="https://accord.example.org",
            signatories=[item.city_slug for item in items], signatures=items,
        ),
        PLACEHOLDER_PDF, Ed25519PrivateKey.generate(),
    )
    return archive, triples


def raw_loop(triples: list[tuple[bytes, bytes, bytes]]) -> int:
    """Only the Ed25519 checks: load each raw key and verify its signature."""
    for data, signature, public in triples:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)  # raises if invalid
    return len(triples)


def best(seconds: list[float]) -> float:
    return min(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one verify_bundle run")
    args = parser.parse_args()

    started = time.perf_counter()
    archive, triples = synthetic_bundle(args.signatures)
    print(f"built a bundle of {args.signatures:,} signatures: {len(archive) / 1e6:.1f} MB zip, "
          f"{3 * args.signatures + 7:,} files, in {time.perf_counter() - started:.1f} s")

    load_before = os.getloadavg()
    threads = os.cpu_count() or 1
    verify_times, raw_times, threaded_times = [], [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        start = time.perf_counter()
        report = verify_bundle(archive)
        verify_times.append(time.perf_counter() - start)
        assert report.failures == 0 and report.signatures_ok == args.signatures, report.lines[-5:]
        start = time.perf_counter()
        assert raw_loop(triples) == args.signatures
        raw_times.append(time.perf_counter() - start)
        if threads > 1:  # the same verifier with its Ed25519 checks on one thread per CPU (--jobs 0)
            start = time.perf_counter()
            threaded = verify_bundle(archive, jobs=threads)
            threaded_times.append(time.perf_counter() - start)
            assert threaded.lines == report.lines, "the report must not depend on the number of threads"

    verify_s, raw_s = best(verify_times), best(raw_times)
    per = 1e6 / args.signatures
    print(f"verify_bundle:    {verify_s:7.3f} s  ({verify_s * per:6.1f} µs/signature, "
          f"{args.signatures / verify_s:8,.0f} signatures/s)  best of {args.repeat}")
    print(f"raw Ed25519 loop: {raw_s:7.3f} s  ({raw_s * per:6.1f} µs/signature, "
          f"{args.signatures / raw_s:8,.0f} signatures/s)  best of {args.repeat}")
    ratio = raw_s / verify_s
    print(f"ratio (raw loop time / verify_bundle time): {ratio:.2f}  (target >= 0.8: "
          f"{'met' if ratio >= 0.8 else 'NOT met'})")
    if threaded_times:
        threaded_s = best(threaded_times)
        print(f"verify_bundle, Ed25519 on {threads} threads: {threaded_s:7.3f} s  "
              f"({threaded_s * per:6.1f} µs/signature), "
              f"raw loop time / its time {raw_s / threaded_s:.2f} — not the target's measure: {threads} cores "
              "against the raw loop's one")
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}".format(
        *load_before, *os.getloadavg()))

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        verify_bundle(archive)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
