"""Verify an endorsement export (``accord.endorsements/1``, built by ``core.endorsement_export``).

``python -m signing.verify EXPORT.zip`` recognises the export by its manifest's format and checks: the
manifest's seal by the platform key (pinned or not), every file's SHA-256 and that no file was added or
removed, ``SHA256SUMS``, and for every statement that it is named by its own SHA-256, parses as its format,
names this declaration, this issuer and the frozen bundle's manifest hash, and is signed by the key its
fingerprint names; that every withdrawal withdraws an endorsement of the export (by the same endorser,
once) and that the counts are the manifest's. The Ed25519 checks run on ``jobs`` processes
(``core.ed25519_pool``). A damaged or hostile export gives FAIL lines, never an exception.

Standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from . import ed25519_pool, endorsement_log, fastparse, payload
from .bundle_log import LogOptions
from .endorsement_export import (
    ENDORSEMENTS,
    EXPORT_FORMAT,
    KEYS,
    MANIFEST,
    MANIFEST_SIG,
    PLATFORM_KEY,
    SUMS,
    VERIFY,
    WITHDRAWALS,
)
from .verifier import Report

ENDORSEMENT_FORMAT = "accord.endorsement/1"
WITHDRAWAL_FORMAT = "accord.endorsement-withdrawal/1"
_STATEMENT = re.compile(r"(endorsements|withdrawals)/([0-9a-f]{64})\.(json|sig)")
_KEY_FILE = re.compile(r"keys/[0-9a-f]{64}\.pem")
_FIXED = frozenset((MANIFEST, MANIFEST_SIG, PLATFORM_KEY, VERIFY, SUMS))
_COUNTS = ("endorsements", "withdrawn", "standing")
MAX_FAILURE_LINES = 200  # per kind of problem; the count of all is always reported


def is_export(files: dict[str, bytes]) -> bool:
    """True if the archive's manifest claims the export format (the bundle verifier handles the others)."""
    # In canonical JSON an unescaped '"format":"…"' can only be a member; the whole manifest is searched, as the
    # file list comes before "format" (some 45 MB for 100,000 endorsements: milliseconds).
    return b'"format":"' + EXPORT_FORMAT.encode() + b'"' in files.get(MANIFEST, b"")


class _Problems:
    """Failures of one kind, the first ``MAX_FAILURE_LINES`` reported one by one and the rest counted."""

    def __init__(self, report: Report) -> None:
        self.report, self.count = report, 0

    def add(self, message: str) -> None:
        self.count += 1
        if self.count <= MAX_FAILURE_LINES:
            self.report.fail(message)
        else:
            self.report.failures += 1

    def close(self) -> None:
        if self.count > MAX_FAILURE_LINES:
            self.report.lines.append(f"FAIL  … and {self.count - MAX_FAILURE_LINES} more such problem(s)")


def verify_export(files: dict[str, bytes], report: Report, trusted_platform_key: str | None = None, *,
                  jobs: int = 1, log_options: LogOptions | None = None) -> None:
    """Check the export's files (as ``verifier.read_archive`` reads them) into ``report``."""
    report.counted = "standing endorsement(s)"
    try:
        _verify(files, report, trusted_platform_key, max(1, jobs), log_options or LogOptions())
    except Exception as exc:  # a bug in the verifier must still never read as a verified export
        report.fail(f"the verifier stopped on an unexpected error: {exc!r}")


def _manifest(files: dict[str, bytes], report: Report) -> dict[str, Any] | None:
    data = files.get(MANIFEST)
    if data is None or MANIFEST_SIG not in files:
        report.fail("manifest.json or manifest.sig missing")
        return None
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        report.fail("manifest.json is not UTF-8 JSON")
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        report.fail("manifest has no file list")
        return None
    report.check(manifest.get("format") == EXPORT_FORMAT, f"manifest format is {EXPORT_FORMAT}")
    try:
        canonical = payload.is_canonical(data, manifest)
    except ValueError:
        canonical = False
    report.check(canonical, "manifest is RFC 8785 canonical JSON")
    for name in ("issuer", "declaration_slug", "bundle_manifest_sha256", "snapshot_at"):
        if not isinstance(manifest.get(name), str):
            report.fail(f"manifest {name} is missing or not a string")
            return None
    return manifest


def _seal(files: dict[str, bytes], manifest: dict[str, Any], report: Report, trusted: str | None) -> bytes | None:
    """Check the manifest's seal; returns the platform's raw key (None if platform.pem is not a key)."""
    platform = fastparse.Keys(files).get(PLATFORM_KEY)
    if platform is None:
        report.fail(f"{PLATFORM_KEY} is not an Ed25519 public key")
        return None
    report.check(platform.fingerprint == manifest.get("platform_key_fingerprint"),
                 f"platform key fingerprint {platform.fingerprint} matches the manifest")
    if trusted is not None:
        report.check(platform.fingerprint == trusted, "platform key is the trusted one")
    report.check(platform.verifies(files[MANIFEST_SIG], files[MANIFEST]), "manifest signature by the platform key")
    return fastparse.public_key_from_pem(files[PLATFORM_KEY])


def _check_files(files: dict[str, bytes], listed: dict[str, Any], report: Report) -> None:
    expected = set(listed) | {MANIFEST, MANIFEST_SIG}
    extra, missing = _Problems(report), _Problems(report)
    for name in sorted(set(files) - expected):
        extra.add(f"{name}: not listed in the manifest (extra file)")
    for name in sorted(expected - set(files)):
        missing.add(f"{name}: listed in the manifest but missing")
    extra.close()
    missing.close()
    sha256, changed = hashlib.sha256, _Problems(report)
    for name, digest in listed.items():
        content = files.get(name)
        if content is not None and sha256(content).hexdigest() != digest:
            changed.add(f"{name}: SHA-256 differs from the manifest")
    changed.close()
    if not changed.count:
        report.ok(f"SHA-256 of every listed file present ({len(files.keys() & listed.keys())}) matches the manifest")
    sums = files.get(SUMS, b"").decode("ascii", "replace")
    expected_sums = "".join([f"{digest}  {name}\n" for name, digest in sorted(listed.items()) if name != SUMS])
    report.check(sums == expected_sums, "SHA256SUMS agrees with the manifest")
    strays = _Problems(report)
    for name in sorted(listed):
        if name not in _FIXED and not _STATEMENT.fullmatch(name) and not _KEY_FILE.fullmatch(name):
            strays.add(f"{name}: a file the export format does not have")
    strays.close()


class _Context:
    """What every statement is checked against, and the raw keys read so far."""

    def __init__(self, files: dict[str, bytes], manifest: dict[str, Any], report: Report) -> None:
        self.files, self.report = files, report
        self.slug, self.bundle = manifest["declaration_slug"], manifest["bundle_manifest_sha256"]
        issuer = json.dumps(manifest["issuer"], ensure_ascii=False).encode("utf-8")
        self.issuer_name = manifest["issuer"]
        self.issuer = (b'"issuer":' + issuer + b",", b'"issuer":' + issuer + b"}")
        self.raw_keys: dict[str, bytes | None] = {}
        self.problems = _Problems(report)

    def raw_key(self, fingerprint: object) -> bytes | None:
        """The raw key of ``keys/<fingerprint>.pem``, if that file holds exactly that key."""
        if not isinstance(fingerprint, str) or not fingerprint.startswith("sha256:"):
            return None
        name = f"{KEYS}{fingerprint.removeprefix('sha256:')}.pem"
        if name not in self.raw_keys:
            raw = fastparse.public_key_from_pem(self.files.get(name, b""))
            good = raw is not None and hashlib.sha256(raw).hexdigest() == fingerprint.removeprefix("sha256:")
            self.raw_keys[name] = raw if good else None
        return self.raw_keys[name]


def _statement(context: _Context, name: str, wanted: str) -> tuple[dict[str, Any], bytes, bytes] | None:
    """A statement's fields, key and signature after the checks that need no Ed25519; None if it failed one."""
    data, signature = context.files[name], context.files.get(name[:-5] + ".sig")
    if signature is None:
        context.problems.add(f"{name}: its signature file is missing")
        return None
    if hashlib.sha256(data).hexdigest() != name[-69:-5]:
        context.problems.add(f"{name}: not named by its SHA-256")
        return None
    try:
        fields = fastparse.parse_payload(data)
    except payload.PayloadError as exc:
        context.problems.add(f"{name}: {exc}")
        return None
    wrong = []
    if fields["format"] != wanted:
        wrong.append(f"not an {wanted} statement")
    if fields.get("declaration_slug") != context.slug:
        wrong.append("names another declaration")
    if fields.get("bundle_manifest_sha256") != context.bundle:
        wrong.append("names another frozen bundle")
    # The fast reader returns only the fields that tell formats apart; in canonical JSON the member
    # "issuer" can only be the issuer field, followed by the next member or the end.
    if (fields["issuer"] != context.issuer_name) if "issuer" in fields else \
            (context.issuer[0] not in data and context.issuer[1] not in data):
        wrong.append("issued by another platform")
    key = context.raw_key(fields.get("key_fingerprint"))
    if key is None:
        wrong.append(f"no key file holds its key {fields.get('key_fingerprint')}")
    if len(signature) != payload.SIGNATURE_BYTES:
        wrong.append("the signature is not 64 bytes")
    if wrong or key is None:
        context.problems.add(f"{name}: " + "; ".join(wrong))
        return None
    return fields, key, signature


def _verify(files: dict[str, bytes], report: Report, trusted: str | None, jobs: int, options: LogOptions) -> None:
    log = endorsement_log.split(files)
    manifest = _manifest(files, report)
    if manifest is None:
        return
    platform = _seal(files, manifest, report, trusted)
    _check_files(files, manifest["files"], report)
    context = _Context(files, manifest, report)
    endorsers: dict[str, str] = {}  # endorsement file -> its endorser id
    withdrawn: dict[str, str] = {}  # endorsement file -> the withdrawal withdrawing it
    checked: list[str] = []  # the statements sent to the Ed25519 checks, in order
    batch: list[tuple[bytes, bytes, bytes]] = []
    with ed25519_pool.Pool(jobs) as pool:
        for folder, wanted in ((ENDORSEMENTS, ENDORSEMENT_FORMAT), (WITHDRAWALS, WITHDRAWAL_FORMAT)):
            for name in sorted(n for n in files if n.startswith(folder) and n.endswith(".json")):
                parsed = _statement(context, name, wanted)
                if parsed is None:
                    continue
                fields, key, signature = parsed
                if folder == ENDORSEMENTS:
                    endorsers[name] = str(fields.get("endorser_id"))
                elif not _withdrawal(context, name, fields, endorsers, withdrawn):
                    continue
                checked.append(name)
                batch.append((key, signature, files[name]))
                if len(batch) == ed25519_pool.CHUNK:
                    pool.submit(batch)
                    batch = []
        pool.submit(batch)
        outcomes = pool.results()
    bad = [name for name, good in zip(checked, outcomes, strict=True) if not good]
    for name in bad:
        context.problems.add(f"{name}: Ed25519 signature does not verify with the key it names")
    context.problems.close()
    report.check(not bad, f"{len(checked) - len(bad)} statement(s) signed by the keys they name")
    report.ok(f"{len(endorsers)} endorsement(s) of {context.slug} and {len(withdrawn)} withdrawal(s) read; "
              f"the frozen bundle's manifest SHA-256 is {context.bundle}")
    _counts(files, manifest, report)
    standing_ids = [endorser for name, endorser in endorsers.items() if name not in withdrawn]
    report.check(len(standing_ids) == len(set(standing_ids)), "at most one standing endorsement per endorser")
    standing = len(standing_ids)
    statements = {name: (files[name], files.get(name[:-5] + ".sig", b"")) for name in [*endorsers, *withdrawn.values()]}
    endorsement_log.verify(log, statements, manifest, platform, report, options)
    if not report.failures:
        report.signatures_ok = standing


def _withdrawal(context: _Context, name: str, fields: dict[str, Any], endorsers: dict[str, str],
                withdrawn: dict[str, str]) -> bool:
    target = f"{ENDORSEMENTS}{fields.get('withdraws_payload_sha256')}.json"
    if target not in endorsers:
        context.problems.add(f"{name}: withdraws no endorsement of this export")
        return False
    if target in withdrawn:
        context.problems.add(f"{name}: withdraws {target}, already withdrawn by {withdrawn[target]}")
        return False
    if str(fields.get("endorser_id")) != endorsers[target]:
        context.problems.add(f"{name}: withdraws the endorsement of another endorser")
        return False
    withdrawn[target] = name
    return True


def _counts(files: dict[str, bytes], manifest: dict[str, Any], report: Report) -> None:
    """The manifest's counts are the statements' (files present, whatever their checks said)."""
    listed = {folder: sum(1 for n in files if n.startswith(folder) and n.endswith(".json"))
              for folder in (ENDORSEMENTS, WITHDRAWALS)}
    actual = {"endorsements": listed[ENDORSEMENTS], "withdrawn": listed[WITHDRAWALS],
              "standing": listed[ENDORSEMENTS] - listed[WITHDRAWALS]}
    for count in _COUNTS:
        value = manifest.get(count)
        report.check(type(value) is int and value == actual[count],
                     f"the manifest's {count} count {value} is the export's ({actual[count]})")
