"""The offline signer takes the statement formats from the table: what it refuses, what it shows.

``python -m signing.cli sign`` and ``withdraw`` run in-process against the fake API of
``test_cli_signer.py``; payloads that depart from their format's table entry are refused before
anything is signed, and the format a command signs is the table's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing import cli
from signing.core import payload, statements
from tests.crypto.test_cli_signer import PASSPHRASE, TEXT, FakeApi, make_payload, submitted
from tests.statement_formats import MADE_UP, made_up_format_installed


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``run(command, fake)`` runs ``sign`` or ``withdraw`` against ``fake``; ``run.key`` is the signer's key."""
    key = Ed25519PrivateKey.generate()
    key_path, passphrase = tmp_path / "key.pem", tmp_path / "passphrase"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")

    def runner(command: str, fake: FakeApi) -> int:
        monkeypatch.setattr(cli.Api, "call", lambda self, *a, **k: fake.call(*a, **k))
        return cli.main([command, "--url", "http://127.0.0.1:9", "--token", "acc_x", "--key", str(key_path),
                         "--passphrase-file", str(passphrase), "--declaration", "decl", "--yes"])

    runner.key = key  # type: ignore[attr-defined]
    return runner


def respelled(data: bytes, **changes: Any) -> bytes:
    """The payload with fields changed or removed (``None``), canonical and with the statement of its fields."""
    fields = {name: value for name, value in {**json.loads(data), **changes}.items() if value is not None}
    fields["statement"] = statements.SIGNATURE.sentence.format_map(fields)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(("changes", "refusal"), [
    ({"extra": "x"}, "the payload has missing or extra fields"),
    ({"withdraws_payload_sha256": "0" * 64}, "the payload has missing or extra fields"),
    ({"nonce": None}, "the payload has missing or extra fields"),
    ({"revision": "2"}, "payload field 'revision' has the wrong type"),
    ({"signer_id": True}, "payload field 'signer_id' has the wrong type"),
    ({"city_name": 7}, "payload field 'city_name' has the wrong type"),
])
def test_the_signer_refuses_fields_its_format_does_not_have(run: Any, changes: dict[str, Any], refusal: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeApi(respelled(make_payload(run.key, TEXT), **changes), TEXT)
    assert run("sign", fake) == 1
    assert not submitted(fake)
    assert f"error: refusing to sign: {refusal}" in capsys.readouterr().err


def test_the_signer_signs_only_the_format_of_its_command(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with made_up_format_installed():
        other = make_payload(run.key, TEXT, format=MADE_UP.name, countersigns_payload_sha256="0" * 64,
                             witness_count=2)
        fake = FakeApi(other, TEXT)
        assert run("sign", fake) == 1
    assert not submitted(fake)
    assert ("refusing to sign: the server issued a accord.countersignature/1 payload, not accord.signature/2 or "
            "accord.signature/1"
            in capsys.readouterr().err)

    withdrawal = make_payload(run.key, TEXT, format=statements.WITHDRAWAL.name, withdraws_payload_sha256="0" * 64)
    fake = FakeApi(withdrawal, TEXT)
    assert run("withdraw", fake) == 0
    assert [path for _, path, _ in fake.calls] == [
        "/declarations/decl/withdrawal-payload", "/declarations/decl/revisions/2", "/declarations/decl/withdrawals"]
    out = capsys.readouterr().out
    assert payload.parse(withdrawal)["statement"] in out
    assert re.search(rf"^  signed by +{re.escape(statements.WITHDRAWAL.signed_by)}$", out, re.MULTILINE)
    assert "Withdrawal recorded for İzmir on revision 2 of decl." in out
