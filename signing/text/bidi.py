"""Bidirectional-override characters: invisible, and able to make text read differently from its bytes.

U+202A–U+202E (embeddings and overrides) and U+2066–U+2069 (isolates) are refused in short names
(people, cities, titles, key labels, token names). In declaration text and comments the bytes stay
exactly as written; wherever such text is displayed each character is shown as a visible, marked
placeholder instead (``visible``), and redlines flag them.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

__all__ = ["BIDI_CONTROLS", "code_point", "found", "visible", "visible_in_html"]

BIDI_CONTROLS: frozenset[str] = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
# A tag of sanitised HTML (attribute values are double-quoted and may hold ">").
_TAG = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")
_SPAN = Markup('<span class="bidi-char" title="{0}">⟨{0}⟩</span>')


def code_point(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def found(text: str) -> list[str]:
    """The distinct bidi control characters in ``text``, as ``U+XXXX``, in order of code point."""
    return [code_point(ch) for ch in sorted(set(_BIDI.findall(text)))]


def _placeholder(match: re.Match[str]) -> str:
    return str(_SPAN.format(code_point(match.group(0))))


def visible(text: str) -> Markup:
    """Escape plain ``text`` for HTML, each bidi control shown as a marked placeholder."""
    return Markup(_BIDI.sub(_placeholder, str(escape(text))))  # noqa: S704 - escaped above, then fixed markup


def visible_in_html(html: str) -> Markup:
    """The same for sanitised HTML: placeholders in text; inside a tag (an attribute) plain ``⟨U+XXXX⟩``."""
    if not _BIDI.search(html):
        return Markup(html)  # noqa: S704 - the caller's HTML is already safe
    out: list[str] = []
    position = 0
    for tag in _TAG.finditer(html):
        out.append(_BIDI.sub(_placeholder, html[position:tag.start()]))
        out.append(_BIDI.sub(lambda m: f"⟨{code_point(m.group(0))}⟩", tag.group(0)))
        position = tag.end()
    out.append(_BIDI.sub(_placeholder, html[position:]))
    return Markup("".join(out))  # noqa: S704 - safe HTML with fixed markup added
