"""Signed notes, checkpoints and cosignatures; the vectors of golang.org/x/mod/sumdb/note (note_test.go)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.core import note

# From golang.org/x/mod/sumdb/note (note_test.go, BSD-style licence): the example key pair and signatures.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6"
             "RyyBwJnAM=\n")
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1"
             "RvMc+QQ=\n")


def test_go_example_signature_is_reproduced() -> None:
    verifier, private = note.signer_from_private_key(PETER_SKEY)
    assert verifier.encode() == PETER_VKEY
    assert note.format_note(TEXT, [note.sign(TEXT, verifier, private)]) == TEXT + "\n" + PETER_SIG


def test_go_example_note_opens_with_one_or_both_keys() -> None:
    peter, enoch = note.parse_verifier(PETER_VKEY), note.parse_verifier(ENOCH_VKEY)
    text, verified, others = note.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
    assert text == TEXT and [v.verifier for v in verified] == [peter] and [s.name for s in others] == ["EnochRoot"]
    _, verified, others = note.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])
    assert [v.verifier.name for v in verified] == ["PeterNeumann", "EnochRoot"] and others == []


def test_mangled_verifier_keys_are_refused() -> None:
    note.parse_verifier(PETER_VKEY)
    for bad in (PETER_VKEY[:-1], PETER_VKEY + "A", PETER_VKEY.replace("c74f20a3", "c74f20a4"),
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "+" + PETER_VKEY):
        with pytest.raises(note.NoteError):
            note.parse_verifier(bad)
    chars = list(PETER_VKEY)
    for i in range(len(chars)):
        mangled = chars.copy()
        mangled[i] = chr(ord(mangled[i]) + 1)
        with pytest.raises(note.NoteError):
            note.parse_verifier("".join(mangled))


def test_a_bad_signature_of_a_known_key_is_an_error() -> None:
    peter = note.parse_verifier(PETER_VKEY)
    with pytest.raises(note.NoteError, match="signature"):
        note.open_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [peter])
    with pytest.raises(note.NoteError, match="invalid signature"):
        note.open_note(TEXT.replace("cryptography", "cryptograph") + "\n" + PETER_SIG, [peter])


@pytest.mark.parametrize("message", [
    TEXT, TEXT + "\n", TEXT + "\n" + PETER_SIG[:-1], "\x01" + TEXT + "\n" + PETER_SIG,
    TEXT + "\n" + PETER_SIG + "Unexpected line.\n", TEXT + "\n" + PETER_SIG * 101,
    TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
])
def test_malformed_notes_are_refused(message: str) -> None:
    with pytest.raises(note.NoteError):
        note.open_note(message, [note.parse_verifier(PETER_VKEY)])


def test_checkpoint_round_trip_and_cosignature() -> None:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    log = note.Verifier("accord.example/log", note.ED25519, note.raw_public_key(log_key))
    witness = note.Verifier("witness.example/lyon", note.COSIGNATURE_V1, note.raw_public_key(witness_key))
    checkpoint = note.Checkpoint("accord.example/log", 20852163, bytes(range(32)))
    text = checkpoint.text()
    assert text == "accord.example/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    assert note.parse_checkpoint(text) == checkpoint
    cosignature = note.cosign(text, witness, witness_key, 1679315147)
    signed = note.format_note(text, [note.sign(text, log, log_key), cosignature])
    _, verified, _ = note.open_note(signed, [log, witness])
    assert [(v.verifier.name, v.timestamp) for v in verified] == [("accord.example/log", None),
                                                                  ("witness.example/lyon", 1679315147)]
    assert witness.key_id != note.key_id(witness.name, note.ED25519, witness.public_key)
    tampered = signed.replace("20852163", "20852164")
    with pytest.raises(note.NoteError):
        note.open_note(tampered, [witness])


@pytest.mark.parametrize("text", ["o\n01\nAAAA\n", "o\n1\n", "o\n-1\n" + "A" * 43 + "=\n", "\n1\nAA==\n",
                                  "o\n1\n" + "A" * 44 + "\n"])
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(text)
