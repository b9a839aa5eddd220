"""Tests for signing.text.canonical: the signed text format."""

from __future__ import annotations

import hashlib
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.text.canonical import (
    LINE_END_WHITESPACE,
    MAX_TEXT_BYTES,
    CanonicalTextError,
    EmptyTextError,
    InvalidTextError,
    NotCanonicalError,
    TextTooLargeError,
    canonical_bytes,
    canonicalize,
    is_canonical,
    join_paragraphs,
    split_paragraphs,
    text_sha256,
)

CITY_NAMES = ["İzmir", "şehir", "Dağ", "Θεσσαλονίκη", "Пловдив", "Ἀθῆναι"]


@pytest.mark.parametrize("word", CITY_NAMES)
def test_nfc_and_nfd_give_the_same_hash(word: str) -> None:
    nfc = unicodedata.normalize("NFC", word)
    nfd = unicodedata.normalize("NFD", word)
    assert canonicalize(nfd) == nfc + "\n"
    assert text_sha256(nfc) == text_sha256(nfd)


def test_nfd_input_really_differs_from_nfc() -> None:
    # Guard the test above against a no-op: these do decompose.
    for word in ["İzmir", "ş", "ğ", "Θεσσαλονίκη", "Й"]:
        assert unicodedata.normalize("NFD", word) != word


def test_known_answer_hash() -> None:
    expected = hashlib.sha256(b"Hello, \xc4\xb0zmir\n").hexdigest()
    # Same value as published in docs/canonical-text.md.
    assert expected == "20529ea4a6b37b047f5b1dab42a861b5f6d4ee9486b7f37695581fefffcdd62b"
    assert text_sha256("Hello, I\u0307zmir\r\n\r\n  \n") == expected
    assert canonical_bytes("Hello, \u0130zmir") == b"Hello, \xc4\xb0zmir\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb\r\n", "a\nb\n"),
        ("a\rb\r", "a\nb\n"),
        ("a\r\rb", "a\n\nb\n"),
        ("a\n\r\nb", "a\n\nb\n"),
        ("a \t\nb\u00a0\u3000\n", "a\nb\n"),
        ("a  \n\t\n \nb", "a\n\n\nb\n"),
        ("a\n\n\n\n", "a\n"),
        ("a", "a\n"),
        ("\n\n  a\n", "\n\n  a\n"),
        ("\ta\tb", "\ta\tb\n"),
        ("\ufeffa\n", "a\n"),
        ("a\u2000\n", "a\n"),
        ("\u2000a", "\u2002a\n"),
    ],
)
def test_canonical_rules(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


def _is_allowed(char: str) -> bool:
    try:
        canonicalize("a" + char + "b")
    except InvalidTextError:
        return False
    return True


def test_line_end_whitespace_matches_str_isspace() -> None:
    spaces = {chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    allowed = {char for char in spaces if char not in "\r\n" and _is_allowed(char)}
    assert allowed == set(LINE_END_WHITESPACE)
    for char in LINE_END_WHITESPACE:
        assert canonicalize("a" + char + "\n") == "a\n"


@pytest.mark.parametrize("raw", ["", "\n", "   ", " \t\r\n\r\n", "\u00a0\u3000\n", "\ufeff"])
def test_empty_text_is_rejected(raw: str) -> None:
    with pytest.raises(EmptyTextError):
        canonicalize(raw)


def test_size_limit() -> None:
    at_limit = "a" * (MAX_TEXT_BYTES - 1)
    assert len(canonical_bytes(at_limit)) == MAX_TEXT_BYTES
    with pytest.raises(TextTooLargeError) as info:
        canonicalize(at_limit + "a")
    assert info.value.size == MAX_TEXT_BYTES + 1
    # Multi-byte characters count by their UTF-8 size; trailing space does not.
    with pytest.raises(TextTooLargeError):
        canonicalize("ş" * (MAX_TEXT_BYTES // 2))
    assert canonicalize(at_limit + " " * 10 + "\n" * 10) == at_limit + "\n"


@pytest.mark.parametrize(
    ("raw", "line", "column"),
    [
        ("a\x00b", 1, 2),
        ("ok\r\nx\x07", 2, 2),
        ("a\x0bb", 1, 2),
        ("a\x0cb", 1, 2),
        ("\x1b[31m", 1, 1),
        ("a\x7f", 1, 2),
        ("a\x85b", 1, 2),
        ("Izmir \ufffd", 1, 7),
        ("a\ud800", 1, 2),
        ("\ufeff\ufeffa", 1, 1),
        ("a\ufeffb", 1, 2),
    ],
)
def test_invalid_characters_are_rejected(raw: str, line: int, column: int) -> None:
    with pytest.raises(InvalidTextError) as info:
        canonicalize(raw)
    assert (info.value.line, info.value.column) == (line, column)
    assert f"U+{ord(info.value.char):04X}" in str(info.value)


def test_error_messages_are_helpful() -> None:
    with pytest.raises(InvalidTextError, match="NUL"):
        canonicalize("\x00")
    with pytest.raises(InvalidTextError, match="wrong encoding"):
        canonicalize("\ufffd")


def test_errors_are_value_errors() -> None:
    for error in (EmptyTextError, InvalidTextError, TextTooLargeError, NotCanonicalError):
        assert issubclass(error, CanonicalTextError)
        assert issubclass(error, ValueError)


def test_bytes_are_rejected() -> None:
    with pytest.raises(TypeError):
        canonicalize(b"abc")  # type: ignore[arg-type]


def test_split_paragraphs() -> None:
    text = "\nTitle\n\nfirst line\nsecond line\n\n\n\n  indented\n"
    assert split_paragraphs(text) == ["Title", "first line\nsecond line", "  indented"]
    assert split_paragraphs("one\n") == ["one"]


def test_split_requires_canonical_text() -> None:
    with pytest.raises(NotCanonicalError):
        split_paragraphs("a\r\nb\n")
    with pytest.raises(NotCanonicalError):
        split_paragraphs("a")
    with pytest.raises(EmptyTextError):
        split_paragraphs("")


def test_join_paragraphs() -> None:
    assert join_paragraphs(["a", "b\nc"]) == "a\n\nb\nc\n"
    assert join_paragraphs(["a ", "", "b"]) == "a\n\n\n\nb\n"
    with pytest.raises(EmptyTextError):
        join_paragraphs([])
    with pytest.raises(TypeError):
        join_paragraphs("ab")


def test_replace_paragraph_n() -> None:
    text = "One.\n\nTwo.\n\nThree.\n"
    paragraphs = split_paragraphs(text)
    paragraphs[2 - 1] = "Deux."  # UI paragraph 2
    assert join_paragraphs(paragraphs) == "One.\n\nDeux.\n\nThree.\n"


# Text drawn from characters that exercise every rule.
_alphabet = st.sampled_from(
    list("ab şğİı ΘέПй\t\r\n\u00a0\u2000\u3000.") + ["I\u0307", "e\u0301", "\u0301", "\r\n", "\n\n"]
)
texts = st.builds(str.__add__, st.sampled_from(["", "\ufeff"]), st.lists(_alphabet, max_size=60).map("".join))


@given(texts)
def test_canonicalize_is_idempotent(raw: str) -> None:
    try:
        once = canonicalize(raw)
    except EmptyTextError:
        return
    assert canonicalize(once) == once
    assert is_canonical(once)
    assert once.endswith("\n") and not once.endswith("\n\n")
    assert unicodedata.is_normalized("NFC", once)


@given(st.text(max_size=80))
def test_canonicalize_only_raises_value_errors(raw: str) -> None:
    try:
        canonical = canonicalize(raw)
    except CanonicalTextError:
        return
    assert canonicalize(canonical) == canonical


@given(texts)
def test_split_join_round_trip(raw: str) -> None:
    try:
        canonical = canonicalize(raw)
    except EmptyTextError:
        return
    paragraphs = split_paragraphs(canonical)
    assert paragraphs and all(paragraphs)
    joined = join_paragraphs(paragraphs)
    assert split_paragraphs(joined) == paragraphs
    # Only blank-line layout (leading blank lines, runs of blank lines) may differ.
    assert [line for line in joined.split("\n") if line] == [line for line in canonical.split("\n") if line]
    if not canonical.startswith("\n") and "\n\n\n" not in canonical:
        assert joined == canonical
