"""What the documentation says to run, read from the documents themselves, and a new user's surroundings.

- ``readme_commands(section)``: the command lines of the fenced ``sh`` blocks of a README section;
- ``compose_interpolate``: docker compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` and ``$$``;
- ``copy_tracked_files``: a fresh copy of the project, as a ``git clone`` would give (with uncommitted edits);
- ``user_env``: the environment of a new user's shell on this machine (nothing of the project's or the tests');
- ``tls_authority``: a certificate authority and a certificate for 127.0.0.1, for an SMTP server with STARTTLS.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shlex
import shutil
import ssl
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import missing
from tests.topology.conftest import ENV_NAMES, REPO_ROOT

README = REPO_ROOT / "README.md"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"

# Variables a new user's shell does not have: the test runner's, the virtualenv's, an outer make's.
_NOT_A_USERS = ("PYTHON", "VIRTUAL_ENV", "FLASK_", "CELERY_", "PYTEST_", "TEST_", "TOPOLOGY_", "MAKE", "MFLAGS")


# --- The README ---------------------------------------------------------------------------------------------------


def readme_section(title: str, markdown: str | None = None) -> str:
    """The text of the ``## `` section whose heading starts with ``title`` (up to the next ``## ``)."""
    lines = (markdown if markdown is not None else README.read_text("utf-8")).splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ") and line[3:].startswith(title)]
    assert starts, f"the README has no section {title!r}"
    end = next((i for i in range(starts[0] + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[starts[0] + 1:end])


def sh_commands(text: str) -> list[str]:
    """The command lines of the fenced ``sh`` blocks of ``text``: continuation lines joined, blank and
    comment-only lines left out (a trailing comment stays: the shell ignores it)."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line, pending = pending + line, ""
            if words(line):
                commands.append(line.strip())
    return commands


def readme_commands(title: str) -> list[str]:
    return sh_commands(readme_section(title))


def words(line: str) -> list[str]:
    """A command line split as the shell splits it, without its comment."""
    return shlex.split(line, comments=True)


@dataclass
class ProductionBlock:
    """The Production section's commands: what installs (before the first ``export``), the exports, the rest."""

    setup: list[str]
    exports: list[str]
    commands: list[str]

    @classmethod
    def read(cls) -> ProductionBlock:
        lines = readme_commands("Production")
        first = next((i for i, line in enumerate(lines) if words(line)[0] == "export"), None)
        assert first is not None, f"the Production section exports no configuration: {lines}"
        rest = lines[first:]
        exports = [line for line in rest if words(line)[0] == "export"]
        return cls(lines[:first], exports, [line for line in rest if words(line)[0] != "export"])

    def exported_names(self) -> list[str]:
        return [word.split("=", 1)[0] for line in self.exports for word in words(line)[1:]]


def evaluate_exports(exports: list[str], cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """The values the ``export`` lines give, evaluated by bash as written (``"$(python3 -c …)"`` included)."""
    script = "set -euo pipefail\n" + "\n".join(exports) + "\nenv -0\n"
    result = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, f"the export lines failed: {result.stderr.decode(errors='replace')}"
    values = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    names = [word.split("=", 1)[0] for line in exports for word in words(line)[1:]]
    return {name: values[name] for name in names}


# --- docker compose -------------------------------------------------------------------------------------------------

_COMPOSE_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def compose_interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of a value of the compose file from the environment ``env``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1) or match.group(4), match.group(2), match.group(3) or ""
        current = env.get(name)
        unset = current is None or (current == "" and operator in {":-", ":?"})
        if operator in {"-", ":-"}:
            return argument if unset else str(current)
        if operator in {"?", ":?"} and unset:
            raise ValueError(f"{name}: {argument}")
        return current or ""

    return _COMPOSE_VARIABLE.sub(replace, value)


def dockerfile_env() -> dict[str, str]:
    """The ``ENV`` lines of the Dockerfile (``ENV A=1 B=2``)."""
    values: dict[str, str] = {}
    for line in DOCKERFILE.read_text("utf-8").splitlines():
        if line.startswith("ENV "):
            for word in shlex.split(line[4:]):
                name, _, value = word.partition("=")
                values[name] = value
    return values


# --- A new user's copy of the project and shell ---------------------------------------------------------------------


def copy_tracked_files(target: Path) -> None:
    """The files git tracks, as they are in the working tree (uncommitted edits included), copied to ``target``."""
    git = shutil.which("git")
    if git is None:
        missing("git", "no git on PATH (the tests copy the files it tracks)")
        return
    listing = subprocess.run([git, "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, timeout=60, check=False)
    if listing.returncode != 0:
        missing("git", f"`git ls-files` failed in {REPO_ROOT}: {listing.stderr.decode(errors='replace')}")
    for name in filter(None, listing.stdout.decode().split("\0")):
        source = REPO_ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)


def user_env(**values: str) -> dict[str, str]:
    """A new user's environment on this machine: the outer one without the project's configuration, the
    test runner's variables or an activated virtualenv, plus ``values``."""
    env = {name: value for name, value in os.environ.items()
           if name not in ENV_NAMES and name not in {"HOST", "PORT"} and not name.startswith(_NOT_A_USERS)}
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(venv))
    env.update(values)
    return env


# --- TLS for the SMTP server ------------------------------------------------------------------------------------------


def tls_authority(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate authority (its certificate written to ``ca.pem``) and a server context for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
                    ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Accord test CA", ca_key, "Accord test CA", ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, "Accord test CA", ca_key, ca=False)
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "smtp-cert.pem", folder / "smtp-key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return ca_path, context
