"""What ``create_app()`` leaves out: libraries that only some paths need are imported there, not by every process
(web workers, Celery, every ``flask`` command). Checked in a fresh interpreter, as a process starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Imported by the freeze (the PDF) and the passkey ceremonies only: together some 35 MB per process.
LAZY = ("fpdf", "PIL", "fontTools", "webauthn", "OpenSSL")

PROGRAM = """
import sys, tempfile
from signing import create_app
app = create_app({"SECRET_KEY": "x" * 64, "DATABASE_URL": "sqlite://"}, instance_path=tempfile.mkdtemp())
print(" ".join(name for name in sys.argv[1:] if name in sys.modules))
"""


def test_create_app_imports_neither_the_pdf_nor_the_webauthn_libraries() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM, *LAZY], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"imported by create_app(): {done.stdout.strip()}"


def test_the_lazy_libraries_are_there_for_the_paths_that_use_them() -> None:
    program = "from signing.core import pdf; import webauthn.helpers.structs; print('ok')"
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
