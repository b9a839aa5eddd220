"""``static/js/tlog-verify.js`` in Chromium gives the same verdict as ``signing/core/merkle.py`` on every RFC 9162
consistency proof: the transparency-dev/merkle test vectors, every proof between trees of up to 24 leaves, and
their mutations (a hash dropped, one added, one flipped, the roots swapped)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.tlog.test_merkle import VECTORS

pytestmark = pytest.mark.browser

RUN = """async (cases) => {
  const { LogError, verifyConsistency, hashesFrom } = await import("/static/js/tlog-verify.js");
  const b = (text) => hashesFrom([text])[0];
  const verdicts = [];
  for (const c of cases) {
    try {
      await verifyConsistency(BigInt(c.size1), BigInt(c.size2), b(c.root1), b(c.root2), hashesFrom(c.proof));
      verdicts.push(true);
    } catch (error) {
      verdicts.push(error instanceof LogError ? false : String(error));  // anything else: a bug
    }
  }
  return verdicts;
}"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _cases() -> list[dict[str, Any]]:
    from signing.core import merkle

    cases = [{**case, "proof": case["proof"] or []} for case in VECTORS["consistency"]]
    tree = merkle.MemoryTree()
    for n in range(1, 25):
        tree.append(f"leaf {n}".encode())
        for old in range(1, n + 1):
            proof = tree.consistency_proof(old, n)
            good = {"size1": old, "size2": n, "root1": _b64(tree.root(old)), "root2": _b64(tree.root(n)),
                    "proof": [_b64(h) for h in proof]}
            cases.append(good)
            if proof:
                cases.append({**good, "proof": good["proof"][:-1]})
                cases.append({**good, "proof": [*good["proof"], good["proof"][-1]]})
                flipped = bytearray(proof[0])
                flipped[0] ^= 1
                cases.append({**good, "proof": [_b64(bytes(flipped)), *good["proof"][1:]]})
            if old != n:
                cases.append({**good, "root1": good["root2"], "root2": good["root1"]})
    return cases


def _python_verdict(case: dict[str, Any]) -> bool:
    from signing.core import merkle

    try:
        merkle.verify_consistency(case["size1"], case["size2"], base64.b64decode(case["root1"]),
                                  base64.b64decode(case["root2"]), [base64.b64decode(h) for h in case["proof"]])
    except merkle.ProofError:
        return False
    return True


def test_the_browser_checks_consistency_proofs_as_merkle_py_does(live_server: LiveServer, browser: Any) -> None:
    cases = _cases()
    expected = [_python_verdict(case) for case in cases]
    assert expected.count(True) > 250 and expected.count(False) > 500  # both kinds, many of each
    for case, want in zip(VECTORS["consistency"], expected, strict=False):
        assert want is not case["wantErr"], case["file"]
    page = browser.new_page()
    page.goto(f"{live_server.url}/log/")
    got = page.evaluate(RUN, cases)
    mismatches = [(case, want, have) for case, want, have in zip(cases, expected, got, strict=True) if want != have]
    assert mismatches == []
    page.close()


PARSE = """async (vkeys) => {
  const { parseVerifierKey } = await import("/static/js/tlog-verify.js");
  const out = [];
  for (const vkey of vkeys) {
    try {
      const key = await parseVerifierKey(vkey);
      out.push([key.name, Array.from(key.id, (b) => b.toString(16).padStart(2, "0")).join("")]);
    } catch (error) {
      out.push(String(error.message));
    }
  }
  return out;
}"""


def test_the_browser_reads_log_keys_as_note_py_does_even_with_a_plus_in_the_base64(
        live_server: LiveServer, browser: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from signing.core import note

    verifiers = [note.Verifier("accord.test/log", note.ED25519, note.raw_public_key(Ed25519PrivateKey.generate()))
                 for _ in range(40)]
    vkeys = [v.encode() for v in verifiers]
    assert any("+" in vkey.split("+", 2)[2] for vkey in vkeys)
    wrong_id = vkeys[0].replace(vkeys[0].split("+")[1], "00000000")
    page = browser.new_page()
    page.goto(f"{live_server.url}/log/")
    got = page.evaluate(PARSE, [*vkeys, wrong_id, "no plus signs at all"])
    assert got[:-2] == [[v.name, v.key_id.hex()] for v in verifiers]
    assert got[-2:] == ["the log key's ID does not match the key", "malformed log key"]
    page.close()
