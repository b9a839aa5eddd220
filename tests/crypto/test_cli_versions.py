"""The offline signer signs an ``accord.signature/2`` statement only after hashing every language version.

Against the fake API of ``test_cli_signer.py``: the revision it downloads holds an English (authoritative)
and a Turkish version; it signs when both hash to what the statement names, saves both texts, checks a
local copy given with ``--version-file``, and refuses (nothing sent) when one version differs, is missing,
is extra, or a local copy differs.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from signing.core import payload
from tests.crypto.test_cli_signer import (  # noqa: F401 - the fixtures are used by name
    TEXT,
    FakeApi,
    make_payload,
    passphrase_file,
    signer,
    submitted,
)

TURKISH = "Metin.\n"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def versions_payload(key: Any, turkish: str = TURKISH) -> bytes:
    return make_payload(key, TEXT, format="accord.signature/2", authoritative_language="en", mandate_sha256="",
                        versions=[{"tag": "en", "sha256": sha(TEXT), "authoritative": True},
                                  {"tag": "tr", "sha256": sha(turkish), "authoritative": False}])


def revision(*versions: tuple[str, str, bool]) -> dict[str, Any]:
    return {"versions": [{"tag": tag, "text": text, "sha256": sha(text), "authoritative": main}
                         for tag, text, main in versions]}


BOTH = (("en", TEXT, True), ("tr", TURKISH, False))


def test_every_version_is_hashed_then_signed_and_saved(signer: Any, tmp_path: Path,  # noqa: F811
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run, key = signer
    data = versions_payload(key)
    fake = FakeApi(data, TEXT, revision=revision(*BOTH))
    local = tmp_path / "bildirge.md"
    local.write_bytes(TURKISH.encode())
    assert run(fake, "--version-file", f"tr={local}", "--save-dir", str(tmp_path / "saved")) == 0
    method, path, body = fake.calls[-1]
    assert (method, path) == ("POST", "/declarations/decl/signatures") and base64.b64decode(body["payload"]) == data
    out = capsys.readouterr().out
    assert "every language version (en, tr) matches versions" in out and payload.parse(data)["statement"] in out
    assert (tmp_path / "saved" / "text.tr.txt").read_bytes() == TURKISH.encode()
    assert (tmp_path / "saved" / "text.en.txt").read_bytes() == (tmp_path / "saved" / "text.txt").read_bytes()


@pytest.mark.parametrize(("sent", "option", "refusal"), [
    ((("en", TEXT, True), ("tr", "Başka bir metin.\n", False)), None, "the tr version downloaded hashes to"),
    ((("en", TEXT, True),), None, "the server sent the versions ['en'], but the payload names ['en', 'tr']"),
    ((*BOTH, ("el", "Κείμενο.\n", False)), None, "but the payload names ['en', 'tr']"),
    (BOTH, "tr", "hashes to"),
    (BOTH, "el", "the payload names no el version"),
])
def test_a_version_that_differs_is_refused(signer: Any, tmp_path: Path, sent: tuple[tuple[str, str, bool], ...],  # noqa: F811
                                           option: str | None, refusal: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run, key = signer
    fake = FakeApi(versions_payload(key), TEXT, revision=revision(*sent))
    extra = []
    if option:
        local = tmp_path / "copy.md"
        local.write_bytes(b"Another copy.\n")
        extra = ["--version-file", f"{option}={local}"]
    assert run(fake, *extra) == 1
    assert not submitted(fake)
    assert refusal in capsys.readouterr().err


def test_a_statement_without_versions_from_the_server_is_refused(signer: Any,  # noqa: F811
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run, key = signer
    fake = FakeApi(versions_payload(key), TEXT)  # the revision answer names no versions
    assert run(fake) == 1 and not submitted(fake)
    assert "the server sent no language versions" in capsys.readouterr().err
