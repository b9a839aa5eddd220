"""A city's witness of the transparency log, run from the city's own machine (e.g. by cron):

    python -m signing.cli witness --state DIR https://accord.example.org

Each run fetches the log's signed checkpoint, verifies it with the log key pinned on the first run, proves
with a consistency proof that it extends the last checkpoint this witness cosigned (kept in ``DIR``), and
only then uploads a C2SP ``cosignature/v1``. A checkpoint it cannot reconcile is a **fork**: nothing is
cosigned, both checkpoints are kept in ``DIR/evidence-<time>/`` and reported to the server, and the command
exits with status 3. ``DIR`` holds the witness key (``witness-key.pem``, made on the first run, mode 0600),
the pinned log key (``log.vkey``) and the last cosigned checkpoint (``checkpoint``).

Standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core import merkle, note

Fetch = Callable[[str, str, dict[str, Any] | None], tuple[int, bytes]]  # (method, path, JSON body) -> answer
KEY_FILE, LOG_KEY_FILE, CHECKPOINT_FILE = "witness-key.pem", "log.vkey", "checkpoint"


class WitnessError(Exception):
    """The run stopped without cosigning; the message says why."""


class ForkDetected(WitnessError):
    """Two checkpoints signed by the log that this witness cannot prove consistent."""

    def __init__(self, reason: str, evidence: Path) -> None:
        super().__init__(f"FORK: {reason}. Nothing was cosigned; the evidence is in {evidence}")
        self.reason, self.evidence = reason, evidence


def http_fetch(base_url: str, token: str = "") -> Fetch:
    parsed = urllib.parse.urlsplit(base_url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise WitnessError(f"not an http(s) URL: {base_url!r}")
    base = base_url.strip().rstrip("/")

    def fetch(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310 - scheme checked
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - scheme checked
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except urllib.error.URLError as exc:
            raise WitnessError(f"cannot reach {base}: {exc.reason}") from exc

    return fetch


def _get(fetch: Fetch, path: str) -> bytes:
    status, body = fetch("GET", path, None)
    if status != 200:
        raise WitnessError(f"GET {path} answered {status}: {body[:300]!r}")
    return body


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` atomically (a crash leaves the old file or the new one, never half of one)."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_or_create_key(state: Path) -> Ed25519PrivateKey:
    state.mkdir(parents=True, exist_ok=True)
    path = state / KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        _write(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise WitnessError(f"{path} is not an Ed25519 private key")
    return loaded


def public_key_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(note.raw_public_key(key)).decode()


def enrol(fetch: Fetch, key: Ed25519PrivateKey, password: str) -> str:
    """Enrol the witness key for the token's city; returns its cosigner name."""
    status, body = fetch("POST", "/api/v1/log/witnesses",
                         {"public_key": public_key_b64(key), "password": password, "origin": "cli"})
    if status != 201:
        raise WitnessError(f"enrolling the witness key failed ({status}): {body[:300]!r}")
    return str(json.loads(body)["name"])


def _me(fetch: Fetch, key: Ed25519PrivateKey) -> note.Verifier:
    raw = note.raw_public_key(key)
    for item in json.loads(_get(fetch, "/api/v1/log/witnesses"))["witnesses"]:
        candidate = note.parse_verifier(item["verifier_key"])
        if candidate.public_key == raw and candidate.key_type == note.COSIGNATURE_V1:
            return candidate
    raise WitnessError(f"this witness key is not enrolled (public key {public_key_b64(key)}); enrol it first "
                       "(--enrol with a delegate's token, or on the keys page)")


def _log_key(fetch: Fetch, state: Path) -> note.Verifier:
    served = _get(fetch, "/log/key").decode().strip()
    pinned_path = state / LOG_KEY_FILE
    pinned = pinned_path.read_text().strip() if pinned_path.exists() else served
    if pinned != served:
        raise WitnessError(f"the log's key changed: pinned {pinned}, served {served}")
    verifier = note.parse_verifier(pinned)
    if not pinned_path.exists():
        _write(pinned_path, (pinned + "\n").encode())
    return verifier


def _open(message: str, log_key: note.Verifier) -> tuple[note.Checkpoint, str]:
    """The checkpoint and the note with the log's signature alone (cosignatures dropped)."""
    text, verified, _ = note.open_note(message, [log_key])
    if not verified:
        raise WitnessError("the checkpoint does not carry the log's signature")
    checkpoint = note.parse_checkpoint(text)
    if checkpoint.origin != log_key.name:
        raise WitnessError(f"the checkpoint is for {checkpoint.origin}, not {log_key.name}")
    return checkpoint, note.format_note(text, [verified[0].signature])


def _inconsistency(fetch: Fetch, old: note.Checkpoint, new: note.Checkpoint) -> str | None:
    """Why ``new`` does not extend ``old``, or None if a consistency proof shows that it does."""
    if new.size < old.size:
        return f"the log went back from {old.size} to {new.size} entries"
    if new.size == old.size:
        return None if new.root == old.root else f"two different roots for {new.size} entries"
    status, body = fetch("GET", f"/api/v1/log/proof/consistency?old={old.size}&size={new.size}", None)
    if status != 200:
        return f"no consistency proof from {old.size} to {new.size} (HTTP {status})"
    try:
        hashes = [base64.b64decode(h, validate=True) for h in json.loads(body)["hashes"]]
        merkle.verify_consistency(old.size, new.size, old.root, new.root, hashes)
    except (ValueError, KeyError, TypeError) as exc:
        return f"the consistency proof from {old.size} to {new.size} fails: {exc}"
    return None


def _report(fetch: Fetch, state: Path, me: note.Verifier, old_note: str, new_note: str, reason: str) -> Path:
    evidence = state / f"evidence-{int(time.time())}"
    evidence.mkdir(exist_ok=True)
    _write(evidence / "old-checkpoint", old_note.encode())
    _write(evidence / "new-checkpoint", new_note.encode())
    _write(evidence / "reason.txt", (reason + "\n").encode())
    status, _ = fetch("POST", "/api/v1/log/fork-reports", {"old_checkpoint": old_note, "new_checkpoint": new_note,
                                                            "reason": reason, "witness": me.name})
    _write(evidence / "reported.txt", f"POST /api/v1/log/fork-reports answered {status}\n".encode())
    return evidence


def run(state: Path, fetch: Fetch, now: Callable[[], float] = time.time) -> note.Checkpoint:
    """Verify the latest checkpoint against the last cosigned one, then cosign and upload it."""
    key = load_or_create_key(state)
    me = _me(fetch, key)
    log_key = _log_key(fetch, state)
    new, new_note = _open(_get(fetch, "/log/checkpoint").decode("utf-8"), log_key)
    kept = state / CHECKPOINT_FILE
    if kept.exists():
        old, old_note = _open(kept.read_text(encoding="utf-8"), log_key)
        reason = _inconsistency(fetch, old, new)
        if reason is not None:
            raise ForkDetected(reason, _report(fetch, state, me, old_note, new_note, reason))
    cosignature = note.cosign(new.text(), me, key, int(now()))
    status, body = fetch("POST", "/api/v1/log/cosignatures", {"size": new.size, "cosignature": cosignature.line()})
    if status not in (200, 201):
        raise WitnessError(f"the server refused the cosignature ({status}): {body[:300]!r}")
    _write(kept, new_note.encode("utf-8"))
    return new


def add_subcommand(sub: Any) -> None:
    """``python -m signing.cli witness`` (``sub`` is the CLI's subparsers)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "witness", help="witness the transparency log: verify and cosign its latest checkpoint")
    parser.add_argument("--state", required=True, help="the witness's folder (its key, the last checkpoint)")
    parser.add_argument("url", help="the Accord site, e.g. https://accord.example.org")
    parser.add_argument("--enrol", action="store_true", help="first enrol the witness key (needs --token)")
    parser.add_argument("--token", default=os.environ.get("ACCORD_TOKEN", ""),
                        help="a delegate's API token, for --enrol (default: ACCORD_TOKEN)")
    parser.add_argument("--password-file", help="for --enrol: read the account password from this file")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> None:
    """Run the witness once; exits 1 on an error, 3 on a fork (after reporting it)."""
    try:
        fetch = http_fetch(args.url, args.token)
        state = Path(args.state)
        if args.enrol:
            password = (Path(args.password_file).read_text(encoding="utf-8").strip() if args.password_file
                        else getpass.getpass("Your Accord account password: "))
            print(f"Enrolled the witness key {enrol(fetch, load_or_create_key(state), password)}.")
        checkpoint = run(state, fetch)
    except ForkDetected as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(3) from None
    except (WitnessError, OSError, ValueError, KeyError) as exc:  # NoteError, bad JSON: a clear message
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"Cosigned {checkpoint.origin} at {checkpoint.size} entries.")
