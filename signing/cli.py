"""Accord's offline signer: make an Ed25519 key, enrol it, sign or withdraw over the JSON API.

Run it as ``python -m signing.cli``. It needs the standard library, ``cryptography``,
:mod:`signing.core.payload` with its table of statement formats, and its own parts in
:mod:`signing.offline` only (never Flask), so it works on a delegate's laptop with a
copy of the ``signing`` package. The private key never leaves the PEM file,
which is encrypted with a passphrase; the server only ever sees the public key,
the payload it issued and the 64-byte signature.

Before signing, the signer checks what it is asked to sign: the payload must be
canonical Accord JSON naming the requested declaration, this key and an unexpired
window, and the SHA-256 of the revision text it downloads (and, with
``--text-file``, of a copy obtained elsewhere) must equal the payload's
``text_sha256``; for an ``accord.signature/2`` statement, every language version it
downloads (and, with ``--version-file TAG=FILE``, a copy of one) must hash to the SHA-256
the statement names for it. See ``docs/signature-format.md``.

Exit status: 0 success, 1 refused (by the server or by a check here), 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .core import payload, statements
from .offline.checks import check_payload, check_text, sha256_hex
from .offline.errors import CliError, fail
from .offline.http_client import Api, string_member
from .offline.keyfile import (
    encrypted_pem,
    load_private_key,
    passphrase_for_new_key,
    prompt_secret,
    raw_public,
    read_secret_file,
    write_new_file,
)

# ``Api`` and ``CliError`` live in ``signing.offline``; they stay importable from here, as before the split.
__all__ = ["Api", "CliError", "build_parser", "cmd_enrol", "cmd_keygen", "cmd_sign", "cmd_withdraw", "main"]


@dataclass(frozen=True)
class SigningCommand:
    """``sign`` or ``withdraw``: the statement format it signs and the API routes it uses."""

    statement: statements.StatementFormat
    formats: tuple[statements.StatementFormat, ...]  # what it accepts to sign: its format and older ones
    issue_path: str  # asks the server for a payload
    submit_path: str  # sends the payload and its signature
    confirm: str  # "Type 'yes' to …"


SIGN = SigningCommand(statements.SIGNATURE_V2, (statements.SIGNATURE_V2, statements.SIGNATURE), "/signing-payload",
                      "/signatures", "sign")
WITHDRAW = SigningCommand(statements.WITHDRAWAL, (statements.WITHDRAWAL,), "/withdrawal-payload", "/withdrawals",
                          "withdraw your city's signature")


# --- subcommands -----------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists():
        fail(f"{out} already exists; not overwriting it")
    passphrase = passphrase_for_new_key(args.passphrase_file)
    key = Ed25519PrivateKey.generate()
    write_new_file(out, encrypted_pem(key, passphrase), 0o600)
    raw = raw_public(key)
    print(f"Wrote the encrypted private key to {out} (mode 0600). Keep it, and its passphrase, to yourself.")
    print(f"fingerprint: {payload.fingerprint(raw)}")
    print(f"public key (base64): {payload.b64encode(raw)}")


def cmd_enrol(args: argparse.Namespace) -> None:
    api = Api(args.url, args.token)
    key = load_private_key(args.key, args.passphrase_file)
    raw = raw_public(key)
    expected = payload.fingerprint(raw)
    password = (read_secret_file(args.password_file, "password") if args.password_file
                else prompt_secret("Your Accord account password: "))
    body = api.call("POST", "/keys", {
        "public_key": payload.b64encode(raw), "label": args.label, "password": password, "origin": "cli",
    })
    returned = body.get("fingerprint", expected)
    if returned != expected:
        fail(f"the server recorded fingerprint {returned!r}, but this key's fingerprint is {expected}")
    print(f"Enrolled key {expected!s} ({args.label}).")
    print(f"fingerprint: {expected}")


def _show(entry: statements.StatementFormat, fields: dict[str, Any], data: bytes, text_checked: str) -> None:
    print("The server asks you to sign these exact bytes (RFC 8785 canonical JSON):")
    width = max(len(name) for name in fields)
    for name in sorted(fields):
        if name != "statement":
            print(f"  {name.ljust(width)}  {fields[name]}")
    print(f"  {'payload sha256'.ljust(width)}  {sha256_hex(data)}")
    print(f"  {'text checked'.ljust(width)}  {text_checked}")
    print(f"  {'signed by'.ljust(width)}  {entry.signed_by}")
    print()
    print("Statement:")
    print(f"  {fields['statement']}")
    print()


def _confirm(command: SigningCommand) -> None:
    try:
        answer = input(f"Type 'yes' to {command.confirm}: ")
    except (EOFError, KeyboardInterrupt):
        fail("not confirmed; nothing was signed")
    if answer.strip().lower() != "yes":
        fail("not confirmed; nothing was signed")


def _save(directory: str, data: bytes, signature: bytes, public_key: bytes, text: bytes,
          versions: dict[str, bytes]) -> None:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    write_new_file(folder / "payload.json", data, 0o644)
    write_new_file(folder / "sig.bin", signature, 0o644)
    write_new_file(folder / "key.pem", payload.public_key_pem(public_key), 0o644)
    write_new_file(folder / "text.txt", text, 0o644)
    for tag, content in sorted(versions.items()):
        write_new_file(folder / f"text.{tag}.txt", content, 0o644)
    also = "".join(f", text.{tag}.txt" for tag in sorted(versions))
    print(f"Saved payload.json, sig.bin, key.pem (public) and text.txt{also} in {folder} "
          "(see docs/signature-format.md to verify with openssl).")


def _version_files(pairs: list[str] | None) -> dict[str, str]:
    """``--version-file TAG=FILE`` options as ``{tag: file}``."""
    found: dict[str, str] = {}
    for pair in pairs or []:
        tag, sep, path = pair.partition("=")
        if not sep or not tag or not path:
            fail(f"--version-file takes TAG=FILE, e.g. tr=bildirge.md, not {pair!r}")
        found[tag] = path
    return found


def _sign_flow(args: argparse.Namespace, command: SigningCommand) -> None:
    api = Api(args.url, args.token)
    key = load_private_key(args.key, args.passphrase_file)
    raw = raw_public(key)
    fingerprint = payload.fingerprint(raw)
    slug = args.declaration
    quoted = urllib.parse.quote(slug, safe="")
    body = api.call("POST", f"/declarations/{quoted}{command.issue_path}", {"key_fingerprint": fingerprint})
    try:
        data = payload.b64decode(string_member(body, "payload", "the payload request"), "payload")
    except payload.PayloadError as exc:
        fail(f"refusing to sign: {exc}")
    fields = check_payload(data, body, command.formats, slug, fingerprint)
    own = _version_files(args.version_file)
    text, versions = check_text(api, fields, slug, args.text_file, own)
    checked = "downloaded text" + (f" and {args.text_file}" if args.text_file else "") + " match text_sha256"
    if versions:
        checked += f"; every language version ({', '.join(sorted(versions))}) matches versions"
        checked += "".join(f", and {path} ({tag})" for tag, path in sorted(own.items()))
    _show(command.statement, fields, data, checked)
    if not args.yes:
        _confirm(command)
    signature = key.sign(data)
    if not payload.verify(raw, signature, data):  # paranoia: never send what we could not verify
        fail("the signature made here does not verify; nothing was sent")
    result = api.call("POST", f"/declarations/{quoted}{command.submit_path}", {
        "payload": payload.b64encode(data), "signature": payload.b64encode(signature),
    })
    done = command.statement.noun.capitalize() + " recorded"
    print(f"{done} for {fields['city_name']} on revision {fields['revision']} of {fields['declaration_slug']}.")
    for name in sorted(result):
        if isinstance(result[name], str | int) and not isinstance(result[name], bool):
            print(f"  {name}: {result[name]}")
    if result.get("payload_sha256", sha256_hex(data)) != sha256_hex(data):
        print("warning: the server's receipt names other payload bytes than the ones signed here", file=sys.stderr)
    if args.save_dir:
        _save(args.save_dir, data, signature, raw, text, versions)


def cmd_sign(args: argparse.Namespace) -> None:
    _sign_flow(args, SIGN)


def cmd_withdraw(args: argparse.Namespace) -> None:
    _sign_flow(args, WITHDRAW)


# --- argument parsing ------------------------------------------------------------------------


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="the Accord site, e.g. https://accord.example.org")
    parser.add_argument("--token", default=os.environ.get("ACCORD_TOKEN", ""),
                        help="an API token (default: the ACCORD_TOKEN environment variable)")
    parser.add_argument("--key", required=True, help="your encrypted private key (made by keygen)")
    parser.add_argument("--passphrase-file", help="read the key's passphrase from this file (else asked)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m signing.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    keygen = sub.add_parser("keygen", help="make a new Ed25519 key in a passphrase-encrypted PEM file")
    keygen.add_argument("--out", required=True, help="where to write the private key (never overwritten)")
    keygen.add_argument("--passphrase-file", help="read the passphrase from this file (else asked twice)")
    keygen.set_defaults(func=cmd_keygen)

    enrol = sub.add_parser("enrol", help="register your public key with the server")
    _server_args(enrol)
    enrol.add_argument("--label", required=True, help="a name for the key, such as the device it lives on")
    enrol.add_argument("--password-file", help="read your account password from this file (else asked)")
    enrol.set_defaults(func=cmd_enrol)

    for name, func, what in (("sign", cmd_sign, "sign the revision open for signature"),
                             ("withdraw", cmd_withdraw, "withdraw your city's signature")):
        command = sub.add_parser(name, help=what)
        _server_args(command)
        command.add_argument("--declaration", required=True, help="the declaration's short name (slug)")
        command.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        command.add_argument("--text-file", help="also check this copy of the text against the payload's hash")
        command.add_argument("--version-file", action="append", metavar="TAG=FILE",
                             help="also check this copy of one language version against the payload (repeatable)")
        command.add_argument("--save-dir", help="write payload.json, sig.bin, key.pem and text.txt "
                             "(and text.TAG.txt for each language version) here")
        command.set_defaults(func=func)
    from .offline import witness  # the transparency log's witness, in its own module

    witness.add_subcommand(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: cancelled", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
