"""Building, unpacking, changing and re-sealing endorsement exports in tests; running VERIFY.txt's recipe."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.core import endorsement_export
from signing.core.endorsement_verifier import verify_export, verify_export_file
from signing.core.verifier import Report, read_archive

COMMAND_TIMEOUT = 120


def members(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {info.filename: opened.read(info) for info in opened.infolist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def reseal(files: dict[str, bytes], folder: str, key: Ed25519PrivateKey, **manifest_changes: object) -> None:
    """Recompute the manifest's file list (and SHA256SUMS) after a change, apply ``manifest_changes`` and sign it
    with ``key``: what a forger holding the platform key, or only their own, could produce."""
    inner = {name.removeprefix(folder + "/"): content for name, content in files.items()}
    listed = {name: hashlib.sha256(content).hexdigest() for name, content in sorted(inner.items())
              if name not in ("manifest.json", "manifest.sig", "SHA256SUMS")}
    sums = "".join(f"{digest}  {name}\n" for name, digest in sorted(listed.items())).encode()
    files[f"{folder}/SHA256SUMS"] = sums
    listed["SHA256SUMS"] = hashlib.sha256(sums).hexdigest()
    manifest = json.loads(inner["manifest.json"])
    manifest.update(files=listed, **manifest_changes)
    data = endorsement_export.manifest_bytes(manifest)
    files[f"{folder}/manifest.json"], files[f"{folder}/manifest.sig"] = data, key.sign(data)


def verify(archive: bytes | Path, jobs: int = 1, pinned: str | None = None) -> Report:
    """The report of the files read whole (``verify_export``); read in parts as ``signing.verify`` reads an export
    (``verify_export_file``, on ``jobs`` processes), unless it leaves the archive to be read whole, it must be the
    same."""
    report, files = read_archive(archive)
    if files:
        verify_export(files, report, pinned, jobs=jobs)
    in_parts = verify_in_parts(archive, jobs, pinned)
    if in_parts is not None:
        assert (in_parts.lines, in_parts.failures, in_parts.signatures_ok) == \
            (report.lines, report.failures, report.signatures_ok)
    return report


def verify_in_parts(archive: bytes | Path, jobs: int = 1, pinned: str | None = None) -> Report | None:
    if isinstance(archive, Path):
        return verify_export_file(archive, pinned, jobs=jobs)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.zip"
        path.write_bytes(archive)
        return verify_export_file(path, pinned, jobs=jobs)


def recipe(verify_txt: str) -> list[tuple[str, str]]:
    """VERIFY.txt's commands, each with what it must print (the line after it: ``prints: …``)."""
    lines = verify_txt.splitlines()
    steps = []
    for index, line in enumerate(lines):
        if line.startswith("   ") and not line.startswith("    "):
            expected = re.fullmatch(r"      prints: (.*)", lines[index + 1])
            if expected is None:
                continue  # indented prose
            steps.append((line.strip(), expected.group(1)))
    return steps


def run(command: str, folder: Path) -> str:
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=folder, capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT, check=False,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"})
    return done.stdout.strip() if done.returncode == 0 else f"exit {done.returncode}: {done.stdout}{done.stderr}"


def run_recipe(folder: Path, platform_fingerprint: str) -> list[tuple[str, str, str]]:
    """Each command of VERIFY.txt run in the unpacked ``folder``: ``(command, expected, printed)`` when they differ."""
    problems = []
    for command, expected in recipe((folder / "VERIFY.txt").read_text("utf-8")):
        printed = run(command, folder)
        if expected == "nothing":
            want = ""
        elif expected.startswith("the published fingerprint"):
            want = f"{platform_fingerprint.removeprefix('sha256:')}  -"
        else:
            want = expected
        if printed != want:
            problems.append((command, want, printed))
    return problems
