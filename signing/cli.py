"""Accord's offline signer: make an Ed25519 key, enrol it, sign or withdraw over the JSON API.

Run it as ``python -m signing.cli``. It needs the standard library, ``cryptography``
and :mod:`signing.core.payload` only (never Flask), so it works on a delegate's laptop
with a copy of the ``signing`` package. The private key never leaves the PEM file,
which is encrypted with a passphrase; the server only ever sees the public key,
the payload it issued and the 64-byte signature.

Before signing, the signer checks what it is asked to sign: the payload must be
canonical Accord JSON naming the requested declaration, this key and an unexpired
window, and the SHA-256 of the revision text it downloads (and, with
``--text-file``, of a copy obtained elsewhere) must equal the payload's
``text_sha256``. See ``docs/signature-format.md``.

Exit status: 0 success, 1 refused (by the server or by a check here), 2 usage.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .core import payload

API_PREFIX = "/api/v1"
TIMEOUT = 30.0
MIN_PASSPHRASE = 8
MAX_RESPONSE = 4 * 1024 * 1024
USER_AGENT = "accord-cli/1"


class CliError(Exception):
    """A refusal with a message for the user; exit status 1."""


# --- small helpers ----------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _read_secret_file(path: str, what: str) -> str:
    """A secret from a file: the first line, without its line ending."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        _fail(f"cannot read the {what} file {path}: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(f"the {what} file {path} is not UTF-8")
    secret = text.splitlines()[0] if text else ""
    if not secret:
        _fail(f"the {what} file {path} is empty")
    return secret


def _prompt_secret(prompt: str) -> str:
    try:
        return getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        _fail("cancelled")


def _passphrase_for_new_key(path: str | None) -> bytes:
    if path:
        value = _read_secret_file(path, "passphrase")
    else:
        value = _prompt_secret("Passphrase for the new key: ")
        if value != _prompt_secret("The same passphrase again: "):
            _fail("the two passphrases differ; no key was written")
    if len(value) < MIN_PASSPHRASE:
        _fail(f"the passphrase must be at least {MIN_PASSPHRASE} characters long")
    return value.encode("utf-8")


def _load_private_key(key_path: str, passphrase_file: str | None) -> Ed25519PrivateKey:
    try:
        data = Path(key_path).read_bytes()
    except OSError as exc:
        _fail(f"cannot read the key file {key_path}: {exc.strerror or exc}")
    if passphrase_file:
        passphrase = _read_secret_file(passphrase_file, "passphrase")
    else:
        passphrase = _prompt_secret(f"Passphrase for {key_path}: ")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        _fail(f"cannot open {key_path}: wrong passphrase or not an encrypted PEM private key ({exc})")
    if not isinstance(key, Ed25519PrivateKey):
        _fail(f"{key_path} does not hold an Ed25519 private key")
    return key


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode``; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        _fail(f"{path} already exists; not overwriting it")
    except OSError as exc:
        _fail(f"cannot create {path}: {exc.strerror or exc}")
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # whatever the umask
        handle.write(data)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- HTTP ------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it could carry the token to another host or turn a POST into a GET."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl}; not following", headers, fp)


class Api:
    """The few calls the signer makes to ``/api/v1``, with a bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        parsed = urllib.parse.urlsplit(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            _fail(f"the server URL must start with http:// or https://, not {base_url!r}")
        if parsed.query or parsed.fragment or parsed.username or parsed.password:
            _fail("the server URL must not contain credentials, a query or a fragment")
        if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: {parsed.hostname} is reached over plain HTTP; the token and password are not "
                  "encrypted in transit", file=sys.stderr)
        if not token:
            _fail("no API token: pass --token or set ACCORD_TOKEN")
        self.base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))
        self.token = token
        self.opener = urllib.request.build_opener(_NoRedirect())

    def url(self, path: str) -> str:
        return self.base + API_PREFIX + path

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url(path), data=data, method=method)  # noqa: S310 - scheme checked
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                raw = response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            _fail(_error_message(exc))
        except urllib.error.URLError as exc:
            _fail(f"cannot reach {self.base}: {exc.reason}")
        except (TimeoutError, OSError) as exc:
            _fail(f"cannot reach {self.base}: {exc}")
        if len(raw) > MAX_RESPONSE:
            _fail(f"the answer to {method} {path} is too large")
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            _fail(f"the answer to {method} {path} is not JSON")
        if not isinstance(parsed, dict):
            _fail(f"the answer to {method} {path} is not a JSON object")
        return parsed


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The server's ``{"error": {"code", "message"}}``, or the HTTP status."""
    message = f"HTTP {exc.code} {exc.reason}"
    try:
        body = json.loads(exc.read(MAX_RESPONSE).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return message
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return f"{error['message']} ({code}, HTTP {exc.code})" if isinstance(code, str) else error["message"]
    return message


def _string(body: dict[str, Any], name: str, where: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        _fail(f"the server's answer to {where} has no {name!r} string")
    return value


# --- subcommands -----------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists():
        _fail(f"{out} already exists; not overwriting it")
    passphrase = _passphrase_for_new_key(args.passphrase_file)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    _write_new_file(out, pem, 0o600)
    raw = _raw_public(key)
    print(f"Wrote the encrypted private key to {out} (mode 0600). Keep it, and its passphrase, to yourself.")
    print(f"fingerprint: {payload.fingerprint(raw)}")
    print(f"public key (base64): {payload.b64encode(raw)}")


def cmd_enrol(args: argparse.Namespace) -> None:
    api = Api(args.url, args.token)
    key = _load_private_key(args.key, args.passphrase_file)
    raw = _raw_public(key)
    expected = payload.fingerprint(raw)
    password = (_read_secret_file(args.password_file, "password") if args.password_file
                else _prompt_secret("Your Accord account password: "))
    body = api.call("POST", "/keys", {
        "public_key": payload.b64encode(raw), "label": args.label, "password": password, "origin": "cli",
    })
    returned = body.get("fingerprint", expected)
    if returned != expected:
        _fail(f"the server recorded fingerprint {returned!r}, but this key's fingerprint is {expected}")
    print(f"Enrolled key {expected!s} ({args.label}).")
    print(f"fingerprint: {expected}")


def _check_payload(data: bytes, body: dict[str, Any], kind: str, slug: str, fingerprint: str) -> dict[str, Any]:
    """Everything the signer can check about the issued bytes before signing them."""
    try:
        fields = payload.parse(data)
    except payload.PayloadError as exc:
        _fail(f"refusing to sign: {exc}")
    wanted = payload.WITHDRAWAL_FORMAT if kind == "withdrawal" else payload.SIGNATURE_FORMAT
    if fields["format"] != wanted:
        _fail(f"refusing to sign: the server issued a {fields['format']} payload, not {wanted}")
    if fields["declaration_slug"] != slug:
        _fail(f"refusing to sign: the payload names declaration {fields['declaration_slug']!r}, not {slug!r}")
    if fields["key_fingerprint"] != fingerprint:
        _fail(f"refusing to sign: the payload names key {fields['key_fingerprint']}, not this key ({fingerprint})")
    announced = body.get("payload_sha256")
    if announced is not None and announced != _sha256_hex(data):
        _fail("refusing to sign: payload_sha256 does not match the payload bytes")
    if fields["revision"] < 1:
        _fail("refusing to sign: the payload names no revision")
    expires = payload.parse_timestamp(fields["expires_at"])
    if expires <= datetime.now(UTC):
        _fail(f"refusing to sign: the payload expired at {fields['expires_at']}; ask for a new one")
    return fields


def _check_text(api: Api, fields: dict[str, Any], slug: str, text_file: str | None) -> bytes:
    """Download the revision, hash it here, and compare with the payload (and with the user's own copy)."""
    quoted = urllib.parse.quote(slug, safe="")
    body = api.call("GET", f"/declarations/{quoted}/revisions/{fields['revision']}")
    text = _string(body, "text", "the revision request")
    data = text.encode("utf-8")
    computed = _sha256_hex(data)
    if computed != fields["text_sha256"]:
        _fail(f"refusing to sign: the revision text downloaded hashes to {computed}, but the payload names "
              f"{fields['text_sha256']}")
    if body.get("sha256") not in (None, computed):
        _fail("refusing to sign: the server's sha256 for the revision does not match its text")
    if text_file:
        try:
            local = Path(text_file).read_bytes()
        except OSError as exc:
            _fail(f"cannot read {text_file}: {exc.strerror or exc}")
        if _sha256_hex(local) != fields["text_sha256"]:
            _fail(f"refusing to sign: {text_file} hashes to {_sha256_hex(local)}, but the payload names "
                  f"{fields['text_sha256']}")
    return data


def _show(fields: dict[str, Any], data: bytes, text_checked: str) -> None:
    print("The server asks you to sign these exact bytes (RFC 8785 canonical JSON):")
    width = max(len(name) for name in fields)
    for name in sorted(fields):
        if name != "statement":
            print(f"  {name.ljust(width)}  {fields[name]}")
    print(f"  {'payload sha256'.ljust(width)}  {_sha256_hex(data)}")
    print(f"  {'text checked'.ljust(width)}  {text_checked}")
    print()
    print("Statement:")
    print(f"  {fields['statement']}")
    print()


def _confirm(kind: str) -> None:
    verb = "withdraw your city's signature" if kind == "withdrawal" else "sign"
    try:
        answer = input(f"Type 'yes' to {verb}: ")
    except (EOFError, KeyboardInterrupt):
        _fail("not confirmed; nothing was signed")
    if answer.strip().lower() != "yes":
        _fail("not confirmed; nothing was signed")


def _save(directory: str, data: bytes, signature: bytes, raw_public: bytes, text: bytes) -> None:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    _write_new_file(folder / "payload.json", data, 0o644)
    _write_new_file(folder / "sig.bin", signature, 0o644)
    _write_new_file(folder / "key.pem", payload.public_key_pem(raw_public), 0o644)
    _write_new_file(folder / "text.txt", text, 0o644)
    print(f"Saved payload.json, sig.bin, key.pem (public) and text.txt in {folder} "
          "(see docs/signature-format.md to verify with openssl).")


def _sign_flow(args: argparse.Namespace, kind: str) -> None:
    api = Api(args.url, args.token)
    key = _load_private_key(args.key, args.passphrase_file)
    raw = _raw_public(key)
    fingerprint = payload.fingerprint(raw)
    slug = args.declaration
    quoted = urllib.parse.quote(slug, safe="")
    issue_path, submit_path = (("/withdrawal-payload", "/withdrawals") if kind == "withdrawal"
                               else ("/signing-payload", "/signatures"))
    body = api.call("POST", f"/declarations/{quoted}{issue_path}", {"key_fingerprint": fingerprint})
    try:
        data = payload.b64decode(_string(body, "payload", "the payload request"), "payload")
    except payload.PayloadError as exc:
        _fail(f"refusing to sign: {exc}")
    fields = _check_payload(data, body, kind, slug, fingerprint)
    text = _check_text(api, fields, slug, args.text_file)
    checked = "downloaded text" + (f" and {args.text_file}" if args.text_file else "") + " match text_sha256"
    _show(fields, data, checked)
    if not args.yes:
        _confirm(kind)
    signature = key.sign(data)
    if not payload.verify(raw, signature, data):  # paranoia: never send what we could not verify
        _fail("the signature made here does not verify; nothing was sent")
    result = api.call("POST", f"/declarations/{quoted}{submit_path}", {
        "payload": payload.b64encode(data), "signature": payload.b64encode(signature),
    })
    done = "Withdrawal recorded" if kind == "withdrawal" else "Signature recorded"
    print(f"{done} for {fields['city_name']} on revision {fields['revision']} of {fields['declaration_slug']}.")
    for name in sorted(result):
        if isinstance(result[name], str | int) and not isinstance(result[name], bool):
            print(f"  {name}: {result[name]}")
    if result.get("payload_sha256", _sha256_hex(data)) != _sha256_hex(data):
        print("warning: the server's receipt names other payload bytes than the ones signed here", file=sys.stderr)
    if args.save_dir:
        _save(args.save_dir, data, signature, raw, text)


def cmd_sign(args: argparse.Namespace) -> None:
    _sign_flow(args, "signature")


def cmd_withdraw(args: argparse.Namespace) -> None:
    _sign_flow(args, "withdrawal")


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
        command.add_argument("--save-dir", help="write payload.json, sig.bin, key.pem and text.txt here")
        command.set_defaults(func=func)
    from . import witness  # the transparency log's witness, in its own module

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
