"""Building the frozen bundle: a zip anyone can verify with openssl and sha256sum.

Pure functions (no Flask, no database): the freeze service gathers the data, this
module lays out the files, the manifest (RFC 8785) and its platform signature.
The layout is specified in ``docs/bundle-format.md``; ``signing.verify`` checks it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import bundle_mandates, payload, statements

BUNDLE_FORMAT = "accord.bundle/1"
# Version 2: the PDF is PAdES-sealed and the bundle carries the seal's certificate (``seal.crt``), and a ``log/``
# folder with the transparency log's evidence may stand next to the listed files (added when the bundle is
# exported, ``core.bundle_log``). Version 1 bundles stay valid as they are.
BUNDLE_FORMAT_V2 = "accord.bundle/2"
# Version 3: version 2 plus, when the revision has them, every language version of the revision as
# ``declaration.<tag>.md`` listed in the manifest's ``versions`` (tag, file, SHA-256, authoritative) and
# ``authoritative_language`` (``declaration.md`` stays the authoritative text); and mayors' mandates
# (``core.bundle_mandates``): whether the declaration required them (``require_mandates``) and the mandates its
# signatures name (``mandates``), with their files.
BUNDLE_FORMAT_V3 = "accord.bundle/3"
BUNDLE_FORMATS = (BUNDLE_FORMAT, BUNDLE_FORMAT_V2, BUNDLE_FORMAT_V3)
# The versions whose bundles may carry the transparency log's ``log/`` folder and a seal certificate.
LOG_FORMATS = (BUNDLE_FORMAT_V2, BUNDLE_FORMAT_V3)
SEAL_CERTIFICATE = "seal.crt"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
PLATFORM_KEY = "platform.pem"
TEXT = "declaration.md"
PDF = "declaration.pdf"
VERIFY = "VERIFY.txt"
SUMS = "SHA256SUMS"


def version_file(tag: str) -> str:
    """The file of one language version in a version-3 bundle: ``declaration.<tag>.md``."""
    return f"declaration.{tag}.md"


@dataclass(frozen=True)
class BundleVersion:
    """One language version of the signed revision: its tag, canonical text and whether it is authoritative."""

    tag: str
    text: str
    authoritative: bool


@dataclass(frozen=True)
class SignedItem:
    """One signature (standing, or earlier and later withdrawn) as stored by the server."""

    city_slug: str
    city_name: str
    signer_name: str
    signed_at: datetime
    public_key: bytes
    payload: bytes
    signature: bytes


@dataclass(frozen=True)
class WithdrawnItem:
    signed: SignedItem
    withdrawn_at: datetime
    public_key: bytes  # the key that signed the withdrawal statement
    payload: bytes
    signature: bytes


@dataclass
class BundleInput:
    declaration_slug: str
    declaration_title: str
    revision: int
    text: str
    text_sha256: str
    signing_rule: dict[str, Any]
    signing_opened_at: datetime | None
    signing_deadline: datetime | None
    frozen_at: datetime
    issuer: str
    signatories: list[str]  # city slugs asked to sign
    signatures: list[SignedItem]
    withdrawals: list[WithdrawnItem] = field(default_factory=list)
    # Every language version (version 3, with ``seal_certificate``); empty for a bundle of versions 1 and 2.
    versions: list[BundleVersion] = field(default_factory=list)
    # Format 3: the declaration required mayors' mandates; the mandates its signatures name.
    require_mandates: bool = False
    mandates: list[bundle_mandates.MandateItem] = field(default_factory=list)


def folder_name(slug: str) -> str:
    return f"{slug}-bundle"


def key_file(public_key: bytes) -> str:
    return f"keys/{payload.fingerprint(public_key).removeprefix('sha256:')}.pem"


def _ts(moment: datetime | None) -> str | None:
    return payload.timestamp(moment) if moment else None


def build_bundle(data: BundleInput, pdf: bytes, platform_key: Ed25519PrivateKey,
                 seal_certificate: bytes | None = None) -> tuple[bytes, bytes]:
    """Return ``(zip bytes, manifest bytes)``. Deterministic for the same input.

    With ``seal_certificate`` (PEM: the certificate that sealed ``pdf``) the bundle is format version 2: it
    carries the certificate, and its ``VERIFY.txt`` leaves a ``log/`` folder (the transparency log's evidence,
    added at export by ``core.bundle_log``) out of the file-list check. Without it, version 1.
    """
    files: dict[str, bytes] = {TEXT: data.text.encode("utf-8"), PDF: pdf}
    if seal_certificate is not None:
        files[SEAL_CERTIFICATE] = seal_certificate
    elif data.versions:
        raise ValueError("a bundle with language versions (format 3) carries the seal certificate")
    version_entries = []
    for version in sorted(data.versions, key=lambda v: v.tag):
        content = version.text.encode("utf-8")
        files[version_file(version.tag)] = content
        version_entries.append({"tag": version.tag, "file": version_file(version.tag),
                                "sha256": hashlib.sha256(content).hexdigest(), "authoritative": version.authoritative})
    keys: dict[str, bytes] = {}
    signature_entries = []
    for item in sorted(data.signatures, key=lambda s: s.city_slug):
        name = f"signatures/{item.city_slug}"
        files[f"{name}.json"], files[f"{name}.sig"] = item.payload, item.signature
        keys[key_file(item.public_key)] = item.public_key
        signature_entries.append(_signature_entry(item, name))
    withdrawal_entries = []
    for index, withdrawn in enumerate(sorted(data.withdrawals, key=lambda w: (w.signed.city_slug, w.withdrawn_at)), 1):
        base = f"{withdrawn.signed.city_slug}-{index}"
        original = f"withdrawn/{base}"
        statement = f"withdrawals/{base}"
        files[f"{original}.json"], files[f"{original}.sig"] = withdrawn.signed.payload, withdrawn.signed.signature
        files[f"{statement}.json"], files[f"{statement}.sig"] = withdrawn.payload, withdrawn.signature
        keys[key_file(withdrawn.signed.public_key)] = withdrawn.signed.public_key
        keys[key_file(withdrawn.public_key)] = withdrawn.public_key
        withdrawal_entries.append(
            {
                "city_slug": withdrawn.signed.city_slug,
                "withdrawn_at": payload.timestamp(withdrawn.withdrawn_at),
                "signature": _signature_entry(withdrawn.signed, original),
                "withdrawal_file": f"{statement}.json",
                "withdrawal_signature_file": f"{statement}.sig",
                "withdrawal_key_file": key_file(withdrawn.public_key),
                "withdrawal_key_fingerprint": payload.fingerprint(withdrawn.public_key),
            }
        )
    mandate_entries = bundle_mandates.lay_out(data.mandates, files, keys)
    for name, raw in keys.items():
        files[name] = payload.public_key_pem(raw)
    platform_public = platform_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    files[PLATFORM_KEY] = payload.public_key_pem(platform_public)
    instructions = verify_instructions(data, signature_entries, withdrawal_entries,
                                       with_log=seal_certificate is not None, versions=version_entries,
                                       mandates=mandate_entries)
    if seal_certificate is not None:
        instructions += seal_instructions()
    files[VERIFY] = instructions.encode("utf-8")
    files[SUMS] = "".join(
        f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in sorted(files.items())
    ).encode("ascii")
    manifest = {
        "format": BUNDLE_FORMAT,
        "issuer": data.issuer,
        "declaration_slug": data.declaration_slug,
        "declaration_title": data.declaration_title,
        "revision": data.revision,
        "text_file": TEXT,
        "text_sha256": data.text_sha256,
        "signing_rule": data.signing_rule,
        "signing_opened_at": _ts(data.signing_opened_at),
        "signing_deadline": _ts(data.signing_deadline),
        "frozen_at": payload.timestamp(data.frozen_at),
        "signatories": sorted(data.signatories),
        "signatures": signature_entries,
        "withdrawals": withdrawal_entries,
        "platform_key_file": PLATFORM_KEY,
        "platform_key_fingerprint": payload.fingerprint(platform_public),
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())},
    }
    if seal_certificate is not None:
        manifest.update(format=BUNDLE_FORMAT_V2, seal_certificate_file=SEAL_CERTIFICATE)
    if version_entries or data.require_mandates or data.mandates:
        manifest.update(format=BUNDLE_FORMAT_V3, require_mandates=data.require_mandates, mandates=mandate_entries)
    if version_entries:
        main = next(entry["tag"] for entry in version_entries if entry["authoritative"])
        manifest.update(versions=version_entries, authoritative_language=main)
    manifest_bytes = payload.canonical_json(manifest)
    files[MANIFEST] = manifest_bytes
    files[MANIFEST_SIG] = platform_key.sign(manifest_bytes)
    return _zip(folder_name(data.declaration_slug), files, data.frozen_at), manifest_bytes


def _signature_entry(item: SignedItem, name: str) -> dict[str, Any]:
    return {
        "city_slug": item.city_slug,
        "city_name": item.city_name,
        "signer_name": item.signer_name,
        "signed_at": payload.timestamp(item.signed_at),
        "payload_file": f"{name}.json",
        "signature_file": f"{name}.sig",
        "payload_sha256": hashlib.sha256(item.payload).hexdigest(),
        "key_file": key_file(item.public_key),
        "key_fingerprint": payload.fingerprint(item.public_key),
    }


# The small per-signature files are stored, not deflated: a signature (64 random bytes) and a key
# file do not compress, a ~700-byte payload would save ~330 bytes, and inflating them was a sizeable
# share of the time ``signing.verify`` spends on a large bundle (bench/README.md, verify_bundle.py).
STORED_FOLDERS = ("signatures/", "withdrawn/", "withdrawals/", "keys/", bundle_mandates.FOLDER)


def _zip(folder: str, files: dict[str, bytes], moment: datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED if name.startswith(STORED_FOLDERS) else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def verify_instructions(data: BundleInput, signatures: list[dict[str, Any]],
                        withdrawals: list[dict[str, Any]], *, with_log: bool = False,
                        versions: list[dict[str, Any]] | None = None,
                        mandates: list[dict[str, Any]] | None = None) -> str:
    """VERIFY.txt: the stock openssl and sha256sum commands that check this bundle.

    ``with_log`` (versions 2 and 3): the ``log/`` folder, outside the manifest, is left out of the file-list check.
    ``versions`` (version 3): the manifest's language versions, each checked with ``sha256sum``, and every
    ``accord.signature/2`` payload checked to name exactly them.
    """
    versions = versions or []
    v2_files = {item_file for item_file, item in _payloads(data).items() if item.startswith(b'{')
                and f'"format":"{statements.SIGNATURE_V2.name}"'.encode() in item}
    outside = " ! -path './log/*'" if with_log else ""
    lines = [
        f"How to verify “{data.declaration_title}”, revision {data.revision}",
        "=" * 72,
        "",
        "You need only OpenSSL 3 and sha256sum (coreutils). Run every command inside the",
        f"unpacked folder {folder_name(data.declaration_slug)}/. Each must succeed as described.",
        "",
        "1. The platform key is the network's: its fingerprint must be the one the network",
        "   publishes (not one read from this bundle). Without this step the others prove only",
        "   that the bundle is consistent: anyone can seal a bundle with a key of their own.",
        "",
        f"   openssl pkey -pubin -in {PLATFORM_KEY} -outform DER | tail -c 32 | sha256sum",
        "",
        "2. The platform signed the manifest (expect 'Signature Verified Successfully'):",
        "",
        f"   openssl pkeyutl -verify -pubin -inkey {PLATFORM_KEY} -rawin -in {MANIFEST} -sigfile {MANIFEST_SIG}",
        "",
        "3. Every file is the one the manifest names (expect every line 'OK'):",
        "",
        f"   sha256sum -c {SUMS}",
        f"   sha256sum {SUMS}    # must equal the \"{SUMS}\" entry in {MANIFEST}:",
        f"   grep -o '\"{SUMS}\":\"[0-9a-f]*\"' {MANIFEST}",
        "",
        "   and no file was added or removed (expect no output):",
        "",
        f"   find . -type f ! -name {MANIFEST} ! -name {MANIFEST_SIG} ! -name {SUMS}{outside} | sed 's|^./||' | sort"
        f" | diff - <(cut -c67- {SUMS} | sort)",
        "",
        f"4. The text is the one that was signed: its SHA-256 must be {data.text_sha256}",
        "",
        f"   sha256sum {TEXT}",
        "",
    ]
    if versions:
        lines += [
            f"   It is the authoritative one of {len(versions)} language version(s); each version's SHA-256 must be",
            "   the one given (one signature covers every version):",
            "",
            *[f"   sha256sum {entry['file']}    # expect {entry['sha256']}" for entry in versions],
            "",
        ]
    lines += [
        "5. Each city's signature (expect 'Signature Verified Successfully' for each), and the",
        "   signed payload names this text's hash and the key's fingerprint"
        + (", and every language version" if versions else "") + ":",
        "",
    ]
    for entry in signatures:
        lines += _signature_commands(entry, data.text_sha256, _versions_member(versions), v2_files)
    if withdrawals:
        lines += ["6. Withdrawn signatures and the signed statements withdrawing them:", ""]
        for entry in withdrawals:
            lines += _signature_commands(entry["signature"], data.text_sha256, _versions_member(versions), v2_files)
            lines += [
                f"   openssl pkeyutl -verify -pubin -inkey {entry['withdrawal_key_file']} -rawin"
                f" -in {entry['withdrawal_file']} -sigfile {entry['withdrawal_signature_file']}",
                "",
            ]
    if mandates:
        payloads = {item.city_slug: item.payload for item in data.signatures}
        lines += bundle_mandates.instructions(mandates, [(entry, payloads[entry["city_slug"]]) for entry in signatures],
                                              data.mandates)
    lines += [
        "The same checks, with a per-signature report, in one command (Python 3 and the",
        "'cryptography' package), the published fingerprint included:",
        "python -m signing.verify BUNDLE.zip --platform-key sha256:<the published fingerprint>",
        "",
    ]
    return "\n".join(lines)


def seal_instructions() -> str:
    """VERIFY.txt's last section in format version 2: the PDF's PAdES seal."""
    return "\n".join([
        f"6. The PDF ({PDF}) is sealed (PAdES) with the certificate {SEAL_CERTIFICATE}. A PDF reader shows",
        "   the seal; with poppler-utils and the NSS tools, trust the certificate in a new NSS database and",
        "   check the seal (expect 'Signature is Valid.' and 'Certificate is Trusted.'):",
        "",
        '   nss=$(mktemp -d) && certutil -N -d "sql:$nss" --empty-password && certutil -A -d "sql:$nss" -n seal'
        f' -t CT,C,C -i {SEAL_CERTIFICATE} && pdfsig -nssdir "sql:$nss" {PDF}',
        "",
        "   The seal certificate's fingerprint, to compare with the one the network publishes:",
        "",
        f"   openssl x509 -in {SEAL_CERTIFICATE} -noout -fingerprint -sha256",
        "",
    ])


def _versions_member(versions: list[dict[str, Any]]) -> str:
    """The exact bytes of the ``versions`` member of an ``accord.signature/2`` payload naming these versions."""
    if not versions:
        return ""
    items = [{"authoritative": v["authoritative"], "sha256": v["sha256"], "tag": v["tag"]} for v in versions]
    return '"versions":' + json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _payloads(data: BundleInput) -> dict[str, bytes]:
    """Every signature payload of the bundle by the hash of its bytes (how the commands below recognise one)."""
    items = [*data.signatures, *(withdrawn.signed for withdrawn in data.withdrawals)]
    return {hashlib.sha256(item.payload).hexdigest(): item.payload for item in items}


def _signature_commands(entry: dict[str, Any], text_sha256: str, versions_member: str = "",
                        v2_payloads: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """The commands for one signature; an ``accord.signature/2`` payload (by hash) must name every version."""
    fingerprint_hex = entry["key_fingerprint"].removeprefix("sha256:")
    names_versions = ([f"   grep -cF '{versions_member}' {entry['payload_file']}    # expect 1"]
                      if versions_member and entry["payload_sha256"] in v2_payloads else [])
    return [
        f"   # {entry['city_name']} — {entry['signer_name']}, signed {entry['signed_at']}",
        f"   openssl pkeyutl -verify -pubin -inkey {entry['key_file']} -rawin -in {entry['payload_file']}"
        f" -sigfile {entry['signature_file']}",
        f"   grep -c '\"text_sha256\":\"{text_sha256}\"' {entry['payload_file']}    # expect 1",
        *names_versions,
        f"   grep -c '\"key_fingerprint\":\"sha256:{fingerprint_hex}\"' {entry['payload_file']}    # expect 1",
        f"   openssl pkey -pubin -in {entry['key_file']} -outform DER | tail -c 32 | sha256sum"
        f"    # expect {fingerprint_hex}",
        "",
    ]
