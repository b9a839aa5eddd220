"""``python -m signing.verify BUNDLE.zip``: the command that issued bundles name (and endorsement exports).

The checks are ``core.verifier.verify_bundle``; this module is the command line around them: the platform-key
pin (a fingerprint or a PEM file), the transparency log's options, and the summary that says what was proven.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .core import bundle_log, endorsement_verifier, note, payload
from .core.verifier import Report, read_archive, verify_files

_FINGERPRINT = re.compile(r"(?:sha256:)?([0-9a-f]{64})")


def platform_pin(value: str) -> str:
    """``--platform-key``: a ``sha256:<hex>`` fingerprint (the prefix may be left out) or a PEM public key file;
    returns the fingerprint. Raises ValueError with a message fit for the command line."""
    candidate = value.strip().lower()
    if match := _FINGERPRINT.fullmatch(candidate):
        return f"sha256:{match.group(1)}"
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"--platform-key {value!r} is neither a sha256:<64 hex digits> fingerprint nor a file")
    try:
        key = serialization.load_pem_public_key(path.read_bytes()[:100_000])
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"--platform-key {value}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"--platform-key {value}: not an Ed25519 public key")
    return payload.fingerprint(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def summary(report: Report, pinned: str | None) -> str:
    """The last line(s): what was proven. Without a pinned platform key, only the bundle's internal consistency."""
    if report.failures:
        return f"FAILED: {report.failures} problem(s). Do not trust this bundle."
    if pinned is not None:
        return (f"VERIFIED: {report.signatures_ok} {report.counted}, every file intact, sealed by the pinned "
                f"platform key {pinned}.")
    return (f"CONSISTENT: {report.signatures_ok} {report.counted}, every file intact, sealed by the platform key in "
            "the bundle.\nOnly internal consistency is proven: the platform key was not pinned, so this does not "
            "show that the network's platform made the bundle (anyone can seal a bundle with a key of their own).\n"
            "Run again with --platform-key sha256:<fingerprint> (the one the network publishes) or --platform-key "
            "FILE.pem.")


def bundle_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--witness", action="append", default=[], metavar="VKEY",
                        help="pin a city's witness key (repeatable): <name>+<key ID>+<base64>")
    parser.add_argument("--min-witnesses", type=int, default=0, metavar="N",
                        help="require cosignatures of at least N pinned witnesses on the bundle's checkpoint")
    parser.add_argument("--checkpoint", type=Path, metavar="FILE",
                        help="a newer signed checkpoint of the log, to check the bundle's against")
    parser.add_argument("--consistency-proof", type=Path, metavar="FILE",
                        help="with --checkpoint: the JSON of /api/v1/log/proof/consistency from the bundle's size")


def log_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> bundle_log.LogOptions:
    try:
        pinned = [note.parse_verifier(v) for v in args.witness]
        newer = args.checkpoint.read_text(encoding="utf-8") if args.checkpoint else None
        hashes = json.loads(args.consistency_proof.read_text())["hashes"] if args.consistency_proof else None
        proof = [base64.b64decode(h, validate=True) for h in hashes] if hashes is not None else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        parser.error(f"bad --witness, --checkpoint or --consistency-proof: {exc}")
    if args.min_witnesses < 0:
        parser.error("--min-witnesses must be 0 or more")
    return bundle_log.LogOptions(pinned, args.min_witnesses, newer, proof)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signing.verify",
                                     description="Verify a frozen declaration bundle or an endorsement export.")
    parser.add_argument("bundle", type=Path, help="the bundle .zip, or an endorsement export .zip")
    parser.add_argument("--platform-key", metavar="FINGERPRINT_OR_PEM",
                        help="the platform key the network publishes: its sha256:<hex> fingerprint or a PEM file; "
                             "without it only the bundle's internal consistency is proven")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="threads (a bundle) or processes (an endorsement export) for the Ed25519 checks "
                             "(default 1; 0: one per CPU); the report is the same")
    bundle_log_arguments(parser)
    args = parser.parse_args(argv)
    if args.jobs < 0:
        parser.error("--jobs must be 0 or more")
    pinned = None
    if args.platform_key is not None:
        try:
            pinned = platform_pin(args.platform_key)
        except ValueError as exc:
            parser.error(str(exc))
    options, jobs = log_options(parser, args), args.jobs or os.cpu_count() or 1
    # An endorsement export is read in parts by the processes that check them; anything else (a bundle, or an
    # export to read whole: damaged, unusual) is read whole, then checked.
    report = endorsement_verifier.verify_export_file(args.bundle, pinned, jobs=jobs, log_options=options)
    if report is None:
        report, files = read_archive(args.bundle)
        if files and endorsement_verifier.is_export(files):  # an endorsement export (core.endorsement_export)
            endorsement_verifier.verify_export(files, report, pinned, jobs=jobs, log_options=options)
        elif files:
            verify_files(files, report, pinned, jobs=jobs, log_options=options)
    for line in report.lines:
        print(line)
    print("\n" + summary(report, pinned))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
