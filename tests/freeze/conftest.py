"""Fixtures and helpers for freezing: signers with their own keys, bundles, the openssl recipe, PDF text.

The private keys live only in the test, as they live only on a delegate's device; the
server learns the public keys through ``services.keys.enrol``. ``run_recipe`` runs the
stock ``openssl``/``sha256sum`` commands printed in a bundle's ``VERIFY.txt`` (as bash
subprocesses, in the unpacked folder), ``run_doc_script`` the script in
``docs/bundle-format.md``, and ``run_verify_cli`` the offline verifier as a subprocess.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from tests.conftest import PASSWORD, People, missing

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
TEXT = "# Declaration\n\nFirst paragraph.\n\nSecond paragraph, with İzmir and Chișinău.\n\nThird paragraph.\n"
TEXT_2 = TEXT.replace("Third", "The third")
COMMAND_TIMEOUT = 30


def need_tools() -> None:
    for tool in ("openssl", "sha256sum", "bash", "diff", "find"):
        if shutil.which(tool) is None:
            missing(tool, "not on PATH")


# --- Signers ---------------------------------------------------------------------------------------


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class Signer:
    """A delegate and the private key only they hold."""

    user: Any
    private_key: Ed25519PrivateKey
    key: Any  # the enrolled SigningKey row

    def sign(self, declaration: Any) -> Any:
        """Ask for a payload, sign it and submit it (the whole signing round trip); returns the Signature."""
        from signing.services import signatures

        issued = signatures.issue_signature_payload(declaration, self.user, self.key.fingerprint)
        data = bytes(issued.payload)
        return signatures.submit_signature(declaration, self.user, data, self.private_key.sign(data))

    def withdraw(self, declaration: Any) -> Any:
        from signing.services import signatures

        issued = signatures.issue_withdrawal_payload(declaration, self.user, self.key.fingerprint)
        data = bytes(issued.payload)
        return signatures.submit_withdrawal(declaration, self.user, data, self.private_key.sign(data))


def enrol(user: Any) -> Signer:
    from signing.core.payload import b64encode
    from signing.services import keys

    private_key = Ed25519PrivateKey.generate()
    row = keys.enrol(user, b64encode(raw_public(private_key)), "laptop", PASSWORD, origin="cli")
    return Signer(user, private_key, row)


@dataclass
class Network:
    """Three cities (İzmir, Athens, Sofia), a delegate holding a key in each, and the other accounts."""

    people: People
    izmir: Signer
    athens: Signer
    sofia: Signer

    @property
    def secretariat(self) -> Any:
        return self.people.secretariat

    @property
    def signers(self) -> list[Signer]:
        return [self.izmir, self.athens, self.sofia]


def make_network(people: People) -> Network:
    from signing.models import Role
    from signing.services import accounts, cities

    sofia = cities.create_city("Sofia", "Bulgaria", None)
    sofia_delegate = accounts.create_user("sofia@b40.example", "Sofia delegate", Role.DELEGATE, city=sofia,
                                          password=PASSWORD)
    return Network(people, enrol(people.delegate), enrol(people.other_delegate), enrol(sofia_delegate))


@pytest.fixture
def network(app: Flask, people: People) -> Network:
    return make_network(people)


def open_for_signature(network: Network, *, slug: str = "decl", rule: str = "all", quorum: int | None = None,
                       deadline: datetime | None = None, cities: list[Signer] | None = None) -> Any:
    """A declaration with two revisions, open for signature on revision 2."""
    from signing.services import declarations

    secretariat = network.secretariat
    declaration = declarations.create("Declaration of the Black Sea Cities", TEXT, secretariat, slug=slug)
    declarations.open_consultation(declaration, secretariat)
    declarations.add_revision(declaration, TEXT_2, "r2", secretariat)
    asked = {s.user.city_id for s in (cities or network.signers)}
    excluded = [s.user.city_id for s in network.signers if s.user.city_id not in asked]
    declarations.open_signing(declaration, 2, secretariat, excluded_city_ids=excluded, rule_kind=rule,
                              quorum=quorum, deadline=deadline)
    return declaration


def count(model: Any, **where: Any) -> int:
    from sqlalchemy import func, select

    from signing.extensions import db

    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return int(db.session.scalar(query) or 0)


def bundle_of(declaration: Any) -> Any:
    from signing.extensions import db
    from signing.services import freeze

    db.session.expire_all()
    return freeze.bundle_of(declaration)


# --- Bundles on disk ---------------------------------------------------------------------------------


def unpack(archive: bytes, destination: Path) -> Path:
    """Unzip into ``destination``; returns the bundle's one top-level folder."""
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        bundle.extractall(destination)
    (folder,) = [p for p in destination.iterdir() if p.is_dir()]
    return folder


def zip_folder(folder: Path, target: Path) -> Path:
    """Zip ``folder`` (as its own top-level folder) into ``target``."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return target


def files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def run_verify_cli(bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m signing.verify BUNDLE`` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "signing.verify", str(bundle), *extra], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)


def bash(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=folder, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT, check=False)


# --- The recipe of VERIFY.txt --------------------------------------------------------------------------


@dataclass
class Step:
    """One check of VERIFY.txt: its commands and what their output must be."""

    name: str
    commands: list[str]
    check: Callable[[list[subprocess.CompletedProcess[str]]], bool]


def _verified(results: list[subprocess.CompletedProcess[str]]) -> bool:
    return results[0].returncode == 0 and "Signature Verified Successfully" in results[0].stdout


def _first_word(result: subprocess.CompletedProcess[str]) -> str:
    words = result.stdout.split()
    return words[0] if words else ""


def _prints(expected: str) -> Callable[[list[subprocess.CompletedProcess[str]]], bool]:
    """The command's first word of output is ``expected`` (a hash, a count)."""
    return lambda results: _first_word(results[0]) == expected


def recipe(verify_txt: str, platform_fingerprint: str) -> list[Step]:
    """The checks VERIFY.txt prints, with the outcome each must have.

    ``platform_fingerprint`` is the one the network publishes (VERIFY.txt says to compare it).
    """
    steps: list[Step] = []
    text_hash = ""
    lines = verify_txt.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if match := re.search(r"its SHA-256 must be ([0-9a-f]{64})", line):
            text_hash = match.group(1)
        if not line.startswith("   ") or line.strip().startswith("#"):
            continue
        command, _, comment = line.strip().partition("    # ")
        expect = comment.removeprefix("expect ").strip()
        words = command.split()
        if words[0] not in ("openssl", "sha256sum", "grep", "find") and not command.startswith("nss=$(mktemp"):
            continue  # indented prose
        if command.startswith("openssl pkeyutl -verify"):
            steps.append(Step(f"signature {words[words.index('-in') + 1]}", [command], _verified))
        elif command.startswith("openssl pkey ") and command.endswith("sha256sum"):
            wanted = expect or platform_fingerprint.removeprefix("sha256:")
            steps.append(Step(f"fingerprint of {words[4]}", [command], _prints(wanted)))
        elif command == "sha256sum -c SHA256SUMS":
            steps.append(Step("sha256sum -c SHA256SUMS", [command], lambda r: r[0].returncode == 0))
        elif command == "sha256sum SHA256SUMS":
            grep = lines[index].strip()
            index += 1
            assert grep.startswith("grep -o"), grep
            steps.append(Step("SHA256SUMS is the one the manifest names", [command, grep],
                              lambda r: r[1].stdout.strip() == f'"SHA256SUMS":"{_first_word(r[0])}"'))
        elif command.startswith("find "):
            steps.append(Step("no file added or removed", [command],
                              lambda r: r[0].returncode == 0 and r[0].stdout == ""))
        elif command == "sha256sum declaration.md":
            assert text_hash
            steps.append(Step("text hash", [command], _prints(text_hash)))
        elif command.startswith("sha256sum declaration.") and re.fullmatch(r"[0-9a-f]{64}", expect):
            steps.append(Step(f"hash of {words[1]}", [command], _prints(expect)))  # format 3: each language version
        elif command.startswith("nss=$(mktemp"):  # format 2: the PDF's PAdES seal, trusted through seal.crt
            steps.append(Step("PDF seal (pdfsig)", [command], lambda r: r[0].returncode == 0
                              and "Signature is Valid." in r[0].stdout and "Certificate is Trusted." in r[0].stdout))
        elif command.startswith("openssl x509 -in seal.crt"):
            steps.append(Step("seal certificate fingerprint", [command],
                              lambda r: r[0].returncode == 0 and r[0].stdout.startswith("sha256 Fingerprint=")))
        elif words[0] == "sha256sum" and len(words) == 2 and expect:  # format 3: a mandate's SHA-256
            steps.append(Step(f"SHA-256 of {words[1]}", [command], _prints(expect)))
        elif command.startswith("grep -c"):
            steps.append(Step(f"{words[2][:30]}… in {words[-1]}", [command], _prints(expect)))
        else:
            raise AssertionError(f"VERIFY.txt has a command the test does not know: {command}")
    return steps


def run_recipe(folder: Path, steps: list[Step], *, stop_at_first_failure: bool = False) -> list[tuple[str, bool]]:
    outcomes = []
    for step in steps:
        ok = step.check([bash(command, folder) for command in step.commands])
        outcomes.append((step.name, ok))
        if stop_at_first_failure and not ok:
            break
    return outcomes


def doc_script() -> str:
    """The bash verification script of docs/bundle-format.md."""
    document = (REPO_ROOT / "docs" / "bundle-format.md").read_text("utf-8")
    match = re.search(r"```bash\n(.*?)```", document, re.S)
    assert match, "docs/bundle-format.md has no bash block"
    return match.group(1)


def run_doc_script(folder: Path, platform_fingerprint: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", doc_script()], cwd=folder, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT, check=False,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PLATFORM_FINGERPRINT": platform_fingerprint})


def platform_fingerprint(app: Flask) -> str:
    from signing.services import platform_key

    with app.app_context():
        return platform_key.fingerprint(platform_key.load())


# --- Text in fpdf2's PDF (no extraction library needed) -------------------------------------------------

_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(literal):
        char = literal[index : index + 1]
        if char != b"\\":
            out += char
            index += 1
            continue
        following = literal[index + 1 : index + 2]
        if following in _ESCAPES:
            out += _ESCAPES[following]
            index += 2
        elif following.isdigit():
            digits = re.match(rb"[0-7]{1,3}", literal[index + 1 :])
            assert digits
            out.append(int(digits.group(), 8) & 0xFF)
            index += 1 + len(digits.group())
        else:  # a backslash before a line break continues the line
            index += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """The text shown by an fpdf2 PDF with embedded (Identity-H) fonts, one line per text object.

    Reads each font's ToUnicode map and decodes the two-byte glyph codes of every ``Tj``.
    """
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", data, re.S)}

    def stream(number: int) -> bytes:
        head, _, rest = objects[number].partition(b"stream")
        length_match = re.search(rb"/Length (\d+)", head)
        assert length_match
        raw = rest.lstrip(b"\r\n")[: int(length_match.group(1))]
        return zlib.decompress(raw) if b"/FlateDecode" in head else raw

    def cmap(number: int) -> dict[int, str]:
        mapping: dict[int, str] = {}
        body = stream(number).decode("latin-1")
        for block in re.findall(r"beginbfchar(.*?)endbfchar", body, re.S):
            for code, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                mapping[int(code, 16)] = bytes.fromhex(text).decode("utf-16-be")
        for block in re.findall(r"beginbfrange(.*?)endbfrange", body, re.S):
            for first, last, start in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                for offset, code in enumerate(range(int(first, 16), int(last, 16) + 1)):
                    mapping[code] = chr(int(start, 16) + offset)
        return mapping

    lines = []
    for body in objects.values():
        if not re.search(rb"/Type /Page\b", body):
            continue
        contents = re.search(rb"/Contents (\d+) 0 R", body)
        resources = re.search(rb"/Resources (\d+) 0 R", body)
        assert contents and resources
        fonts = {}
        font_dict = re.search(rb"/Font <<(.*?)>>", objects[int(resources.group(1))], re.S)
        assert font_dict
        for name, number in re.findall(rb"/(\w+) (\d+) 0 R", font_dict.group(1)):
            unicode_map = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(number)])
            assert unicode_map, "every font must carry a ToUnicode map"
            fonts[name] = cmap(int(unicode_map.group(1)))
        current: dict[int, str] = {}
        for font, literal in re.findall(rb"/(\w+) [\d.]+ Tf|\(((?:\\.|[^\\()])*)\) Tj", stream(int(contents.group(1))),
                                        re.S):
            if font:
                current = fonts[font]
                continue
            codes = _unescape(literal)
            lines.append("".join(current.get(int.from_bytes(codes[i : i + 2], "big"), "\ufffd")
                                 for i in range(0, len(codes) - 1, 2)))
    return "\n".join(lines)
