"""Safe Markdown rendering of declaration text.

Markdown is parsed by markdown-it-py (CommonMark, raw HTML disabled, plus
tables and strikethrough) and the resulting HTML is sanitised by nh3 against
a strict allowlist.  Either layer alone should make the output inert; both
are kept on purpose.

Choices worth knowing:

* Images are not rendered: ``![alt](url)`` shows as ``!`` followed by a link,
  so nothing in the signed text is hidden from the reader.
* Links keep only ``http``, ``https`` and ``mailto`` URLs and in-page
  ``#fragment`` links; every other URL (relative, protocol-relative,
  ``javascript:``, ``data:`` ...) is dropped, leaving the link text.
* Every link gets ``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from signing.text.bidi import visible_in_html
from signing.text.canonical import split_paragraphs

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "ALLOWED_URL_SCHEMES",
    "LINK_REL",
    "render_markdown",
    "render_paragraphs",
]

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p",
        "br",
        "strong",
        "em",
        "del",
        "s",
        "ins",
        "blockquote",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "code",
        "pre",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
"""Elements that survive sanitising; others are removed, keeping their text."""

ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    # A list split across paragraphs renders as <ol start="N"> per paragraph.
    "ol": frozenset({"start"}),
}
"""Attributes kept per element; ``rel`` on links is set by nh3 itself."""

ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
"""URL schemes kept in ``href``."""

LINK_REL = "noopener noreferrer nofollow"
"""The ``rel`` value forced onto every link."""


def _relative_url(url: str) -> str | None:
    """Keep in-page fragment links; drop every other scheme-less URL."""
    return url if url.startswith("#") else None


def _make_parser() -> MarkdownIt:
    """Build the shared Markdown parser (no raw HTML, no images)."""
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False})
    parser.enable(["table", "strikethrough"])
    parser.disable("image")
    return parser


_PARSER = _make_parser()
_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=ALLOWED_URL_SCHEMES,
    url_relative=_relative_url,
    link_rel=LINK_REL,
    strip_comments=True,
)


def render_markdown(text: str) -> Markup:
    """Render Markdown ``text`` to sanitised HTML that is safe to embed."""
    html = _PARSER.render(text)
    # The HTML has just been sanitised by nh3 against a fixed allowlist; bidi controls are then made visible.
    return visible_in_html(_CLEANER.clean(html))


def render_paragraphs(canonical: str) -> list[Markup]:
    """Render each paragraph of canonical text separately.

    Index ``i`` of the result is paragraph ``i`` of
    :func:`~signing.text.canonical.split_paragraphs` (UI number ``i + 1``),
    so comments and amendments can anchor to it.  Because paragraphs are
    rendered independently, reference-style link definitions only apply
    within their own paragraph.
    """
    return [render_markdown(paragraph) for paragraph in split_paragraphs(canonical)]
