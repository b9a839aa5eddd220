"""The verifier's checks of mayors' mandates (bundle format 3): mayor key → mandate → delegate key → signature.

For every standing (and withdrawn) signature of a bundle whose declaration required mandates: the signature
names a mandate (``mandate_sha256``) listed in the manifest; the mandate file has that SHA-256, is a canonical
``accord.mandate/1`` signed by the mayor's key it names (the key file of its manifest entry); it is of the
signature's city, names the signer and the signing key, its scope covers the declaration and its validity window
holds the signature's ``issued_at``; and if the mandate was revoked, the revocation verifies with the mayor's key,
names the mandate, and was recorded no earlier than the signature was accepted. Standard library and
``cryptography`` only.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from . import fastparse, payload, statements


class _Report(Protocol):
    def ok(self, message: str) -> None: ...
    def fail(self, message: str) -> None: ...
    def check(self, condition: bool, message: str) -> bool: ...


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


class Mandates:
    """The manifest's mandates, each checked once (signature, key, format), by the SHA-256 of its bytes."""

    def __init__(self, files: dict[str, bytes], manifest: dict[str, Any], keys: fastparse.Keys,
                 report: _Report) -> None:
        self.files, self.keys, self.report = files, keys, report
        self.required = manifest.get("require_mandates") is True
        self.by_sha: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}  # sha -> (fields, revocation)
        self.listed: set[str] = set()
        entries = manifest.get("mandates", [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            report.fail("manifest mandates is not a list of objects")
            entries = []
        for entry in entries:
            self._check_entry(entry)

    def _key(self, key_file: str, fingerprint: str, label: str) -> fastparse.Key | None:
        key = self.keys.get(key_file)
        if key is None or key.fingerprint != fingerprint or key.file_name != key_file:
            self.report.fail(f"{label}: key file {key_file} missing or not the key {fingerprint}")
            return None
        return key

    def _check_entry(self, entry: dict[str, Any]) -> None:
        name, sig_name = _s(entry.get("mandate_file")), _s(entry.get("signature_file"))
        self.listed.update({name, _s((entry.get("revocation") or {}).get("revocation_file"))
                            if isinstance(entry.get("revocation"), dict) else ""})
        label = f"mandate {name or '?'}"
        data, signature = self.files.get(name), self.files.get(sig_name)
        if data is None or signature is None:
            self.report.fail(f"{label}: {name} or {sig_name} missing")
            return
        try:
            fields = payload.parse(data)
        except payload.PayloadError as exc:
            self.report.fail(f"{label}: {exc}")
            return
        sha = hashlib.sha256(data).hexdigest()
        problems = []
        if fields["format"] != statements.MANDATE.name:
            problems.append("not a mandate")
        if sha != entry.get("payload_sha256") or fields.get("city_slug") != entry.get("city_slug"):
            problems.append("does not match its manifest entry")
        key = self._key(_s(entry.get("key_file")), _s(fields.get("mayor_key_fingerprint")), label)
        if key is None:
            return
        if not key.verifies(signature, data):
            problems.append("the mayor's Ed25519 signature does not verify")
        revocation = self._check_revocation(entry, fields, sha, label) if entry.get("revocation") else None
        if problems:
            self.report.fail(f"{label}: " + "; ".join(problems))
            return
        self.report.ok(f"{label}: signed by {fields['mayor_name']}, mayor of {fields['city_name']} "
                       f"({fields['mayor_key_fingerprint']}), for {fields['delegate_name']}, scope {fields['scope']}, "
                       f"{fields['valid_from']} to {fields['valid_until']}")
        self.by_sha[sha] = (fields, revocation)

    def _check_revocation(self, entry: dict[str, Any], mandate: dict[str, Any], sha: str,
                          label: str) -> dict[str, Any] | None:
        revocation = entry["revocation"]
        if not isinstance(revocation, dict):
            self.report.fail(f"{label}: malformed revocation entry")
            return None
        name = _s(revocation.get("revocation_file"))
        data, signature = self.files.get(name), self.files.get(_s(revocation.get("signature_file")))
        try:
            fields = payload.parse(data or b"")
        except payload.PayloadError as exc:
            self.report.fail(f"revocation {name}: {exc}")
            return None
        key = self._key(_s(revocation.get("key_file")), _s(fields.get("mayor_key_fingerprint")), f"revocation {name}")
        good = (key is not None and signature is not None and key.verifies(signature, data or b"")
                and fields["format"] == statements.MANDATE_REVOCATION.name
                and fields["revokes_mandate_sha256"] == sha and fields["city_slug"] == mandate["city_slug"]
                and fields["mayor_id"] == mandate["mayor_id"])
        self.report.check(good, f"revocation {name}: signed by the mayor, revokes mandate {sha[:16]}…, "
                                f"recorded {revocation.get('revoked_at')}")
        return {**fields, "revoked_at": revocation.get("revoked_at")} if good else None

    def check_signature(self, data: bytes, signed_at: Any, declaration_slug: Any, label: str) -> None:
        """The mandate chain of one signature's payload bytes (already checked as a signature elsewhere).

        The mandate must cover the signature at its ``issued_at`` (signed by the delegate); when the mandate was
        revoked, the server must have accepted the signature (``signed_at`` of the manifest) no later than it
        recorded the revocation (``revoked_at``), both to the second, as the server refuses a signature under a
        revoked mandate.
        """
        try:
            fields = payload.parse(data)
        except payload.PayloadError:
            return  # reported by the signature's own check
        named = fields.get("mandate_sha256", "")
        if not named:
            self.report.check(not self.required, f"{label}: names no mandate" if self.required else
                              f"{label}: no mandate needed")
            return
        found = self.by_sha.get(named)
        if found is None:
            self.report.fail(f"{label}: the mandate it names ({named[:16]}…) is not a valid mandate of this bundle")
            return
        mandate, revocation = found
        issued = payload.parse_timestamp(fields["issued_at"])
        covered = payload.mandate_covers(mandate, city_slug=fields["city_slug"], delegate_id=fields["signer_id"],
                                         key_fingerprint=fields["key_fingerprint"],
                                         declaration_slug=_s(declaration_slug), moment=issued)
        try:
            before_revocation = revocation is None or payload.parse_timestamp(_s(signed_at)) <= \
                payload.parse_timestamp(_s(revocation["revoked_at"]))
        except payload.PayloadError:
            before_revocation = False
        self.report.check(
            covered and before_revocation,
            f"{label}: under the mandate {named[:16]}… of {mandate['mayor_name']}" if covered and before_revocation
            else f"{label}: the mandate {named[:16]}… does not cover this key, declaration or moment"
            + ("" if before_revocation else " (it was revoked before the signature was accepted)"),
        )
