"""The single definition of canonical declaration text.

Ed25519 signatures cover ``text_sha256(text)``, so every rule here is part of
the signed data format.  Changing any rule invalidates existing signatures;
do not edit without a migration plan.  The normative description lives in
``docs/canonical-text.md`` and must be kept in step with this module.

Rules, applied in this order:

1. A single leading byte-order mark (U+FEFF) is removed.
2. CRLF, then any remaining lone CR, become LF.
3. Disallowed code points are rejected with :class:`InvalidTextError`:
   C0 controls other than TAB and LF, DEL, C1 controls, lone surrogates,
   U+FEFF anywhere else (byte-order mark / zero-width no-break space) and
   U+FFFD REPLACEMENT CHARACTER.
4. The text is normalised to Unicode NFC.
5. Trailing whitespace (:data:`LINE_END_WHITESPACE`) is stripped from every
   line.
6. Trailing blank lines are removed and exactly one final LF is appended.
   Leading blank lines and leading indentation are kept.
7. A result without any non-whitespace character raises
   :class:`EmptyTextError`.
8. A result longer than :data:`MAX_TEXT_BYTES` UTF-8 bytes raises
   :class:`TextTooLargeError`.

Paragraphs are maximal runs of non-blank lines.  Code indexes them from 0;
the UI numbers them from 1 (``paragraph N`` in the UI is ``paragraphs[N - 1]``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

__all__ = [
    "LINE_END_WHITESPACE",
    "MAX_TEXT_BYTES",
    "CanonicalTextError",
    "EmptyTextError",
    "InvalidTextError",
    "NotCanonicalError",
    "TextTooLargeError",
    "canonical_bytes",
    "canonicalize",
    "is_canonical",
    "join_paragraphs",
    "split_paragraphs",
    "text_sha256",
]

MAX_TEXT_BYTES = 200_000
"""Upper bound on the UTF-8 size of canonical text, final newline included."""

LINE_END_WHITESPACE = (
    "\t \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Characters stripped from line ends: every ``str.isspace()`` character
that can survive rule 3, spelled out so the format does not depend on the
Unicode database of the running Python."""

_BOM = "\ufeff"
_DISALLOWED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffd]")
_PARAGRAPH_SEPARATOR = re.compile(r"\n{2,}")


class CanonicalTextError(ValueError):
    """Base class for text that has no canonical form."""


class EmptyTextError(CanonicalTextError):
    """The text has no non-whitespace content."""


class InvalidTextError(CanonicalTextError):
    """The text contains a disallowed code point."""

    def __init__(self, char: str, line: int, column: int) -> None:
        self.char = char
        self.line = line
        self.column = column
        kind, hint = _describe(char)
        super().__init__(f"text contains {kind} U+{ord(char):04X} at line {line}, column {column}{hint}")


class TextTooLargeError(CanonicalTextError):
    """The canonical text exceeds :data:`MAX_TEXT_BYTES`."""

    def __init__(self, size: int, limit: int = MAX_TEXT_BYTES) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"text is {size} bytes in canonical UTF-8; the limit is {limit} bytes")


class NotCanonicalError(CanonicalTextError):
    """A function that needs canonical text was given something else."""


def _describe(char: str) -> tuple[str, str]:
    """Kind of a disallowed character and a hint, for error messages."""
    code = ord(char)
    if char == "\ufffd":
        return "a replacement character", " (the text was decoded with the wrong encoding somewhere)"
    if 0xD800 <= code <= 0xDFFF:
        return "an unpaired surrogate", " (the text was decoded with the wrong encoding somewhere)"
    if char == _BOM:
        return "a byte-order mark", " (only allowed as the very first character)"
    if code == 0:
        return "a NUL character", ""
    return "a control character", ""


def canonicalize(text: str) -> str:
    """Return the canonical form of ``text`` (see the module docstring).

    Raises :class:`InvalidTextError`, :class:`EmptyTextError` or
    :class:`TextTooLargeError`, all subclasses of :class:`ValueError`.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if text.startswith(_BOM):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _DISALLOWED.search(text)
    if bad is not None:
        start = bad.start()
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        raise InvalidTextError(bad.group(), line, column)
    text = unicodedata.normalize("NFC", text)
    lines = [line.rstrip(LINE_END_WHITESPACE) for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise EmptyTextError("text is empty or contains only whitespace")
    canonical = "\n".join(lines) + "\n"
    size = len(canonical.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise TextTooLargeError(size)
    return canonical


def canonical_bytes(text: str) -> bytes:
    """Return the UTF-8 encoding of ``canonicalize(text)``: the signed bytes."""
    return canonicalize(text).encode("utf-8")


def text_sha256(text: str) -> str:
    """Return the lowercase hex SHA-256 of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(text)).hexdigest()


def is_canonical(text: str) -> bool:
    """Return True if ``text`` is already in canonical form."""
    try:
        return canonicalize(text) == text
    except CanonicalTextError:
        return False


def _require_canonical(text: str) -> None:
    """Raise :class:`NotCanonicalError` unless ``text`` is canonical."""
    if canonicalize(text) != text:
        raise NotCanonicalError("text is not in canonical form; canonicalize it first")


def split_paragraphs(canonical: str) -> list[str]:
    """Split canonical text into paragraphs.

    A paragraph is a maximal run of non-blank lines; one or more blank lines
    separate paragraphs and are not part of any.  Leading blank lines are
    ignored.  Paragraphs keep their inner newlines and have no trailing one.
    The list is 0-based; the UI's "paragraph N" is ``result[N - 1]``.

    The split is textual, not Markdown-aware: a fenced code block containing
    a blank line spans two paragraphs.

    Raises :class:`NotCanonicalError` (or another :class:`CanonicalTextError`)
    if ``canonical`` is not canonical.
    """
    _require_canonical(canonical)
    return _PARAGRAPH_SEPARATOR.split(canonical.strip("\n"))


def join_paragraphs(paragraphs: Sequence[str]) -> str:
    """Join paragraphs with one blank line and return the canonical text.

    Inverse of :func:`split_paragraphs` for the paragraphs it returns:
    ``split_paragraphs(join_paragraphs(ps)) == ps``.  Blank entries vanish
    and an entry containing a blank line becomes several paragraphs.
    Raises :class:`EmptyTextError` if nothing but whitespace remains.
    """
    if isinstance(paragraphs, str):
        raise TypeError("paragraphs must be a sequence of str, not a str")
    return canonicalize("\n\n".join(paragraphs) + "\n")
