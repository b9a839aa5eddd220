"""Tests for signing.text.render: Markdown to safe HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from signing.text.canonical import NotCanonicalError
from signing.text.render import _CLEANER, render_markdown, render_paragraphs

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    "<details open ontoggle=alert(1)>",
    "<style>*{background:url(javascript:alert(1))}</style>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;&#x61;vascript&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    '[x](https://ok.example "title" onmouseover="alert(1)")',
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    "[x][r]\n\n[r]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,alert(1)>",
    "![x](javascript:alert(1))",
    '![x" onerror="alert(1)](https://ok.example/i.png)',
    "![x](https://ok.example/i.png)",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "    <script>alert(1)</script>",
    "<!--<script>alert(1)</script>-->",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
    "~~<img src=x onerror=alert(1)>~~",
    "> <svg onload=alert(1)>",
]

_SAFE_HREF = re.compile(r"(https?://|mailto:|#)", re.IGNORECASE)
_ALLOWED_TAGS = {
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


class _TagCollector(HTMLParser):
    """Collect (tag, attributes) for every start tag; values are unescaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    collector = _TagCollector()
    collector.feed(html)
    collector.close()
    return collector.tags


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_are_inert(payload: str) -> None:
    html = str(render_markdown(payload))
    assert "<script" not in html.lower()
    # Attribute values (always double-quoted by nh3) may mention "onx=" as text.
    unquoted = re.sub(r'"[^"]*"', '""', html)
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", unquoted, re.IGNORECASE)
    for tag, attrs in _tags(html):
        assert tag in _ALLOWED_TAGS, html
        for name, value in attrs:
            assert not name.startswith("on"), html
            assert name in {"href", "title", "rel", "start"}, html
            if name == "href":
                assert value is not None and _SAFE_HREF.match(value), html
                assert not re.search(r"(javascript|vbscript|data):", value, re.I), html


RAW_HTML = [
    '<a href="javascript:alert(1)" onclick="alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="data:text/html,x">x</a>',
    "<script>alert(1)</script><img src=x onerror=alert(1)><svg onload=alert(1)>",
    '<p style="x" class="y" id="z">ok</p><iframe src="https://x.example"></iframe>',
]


@pytest.mark.parametrize("raw", RAW_HTML)
def test_sanitiser_layer_alone_strips_dangerous_html(raw: str) -> None:
    # Markdown-it already escapes raw HTML; check the second layer on its own.
    html = _CLEANER.clean(raw)
    assert "<script" not in html.lower()
    for tag, attrs in _tags(html):
        assert tag in _ALLOWED_TAGS
        for name, value in attrs:
            assert name in {"href", "title", "rel", "start"}
            if name == "href":
                assert value is not None and _SAFE_HREF.match(value)


@pytest.mark.parametrize("link", ["ftp://example.org/f", "tel:+3031234", "%6Aavascript:alert(1)", "/relative"])
def test_only_allowed_schemes_survive(link: str) -> None:
    html = render_markdown(f"[x]({link})")
    assert "href" not in html
    assert ">x</a>" in html


def test_output_is_markup() -> None:
    assert isinstance(render_markdown("x"), Markup)


def test_basic_markdown() -> None:
    html = render_markdown("# Title\n\n**bold** *em* ~~gone~~ `code`\n\n> quote\n\n- a\n- b\n")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html
    assert "<s>gone</s>" in html
    assert "<code>code</code>" in html
    assert "<blockquote>" in html
    assert "<ul>" in html and "<li>a</li>" in html


def test_table() -> None:
    html = render_markdown("| a | b |\n|--:|---|\n| 1 | 2 |\n")
    assert "<table>" in html and "<th>a</th>" in html and "<td>1</td>" in html
    assert "style" not in html


def test_safe_links_get_rel() -> None:
    html = render_markdown('[site](https://example.org/a?b=1&c=2 "T") <mailto:x@example.org>')
    assert ('<a href="https://example.org/a?b=1&amp;c=2" title="T" rel="noopener noreferrer nofollow">site</a>') in html
    assert 'href="mailto:x@example.org"' in html


def test_relative_links_are_dropped_but_fragments_kept() -> None:
    html = render_markdown("[a](/admin) [b](//evil.example) [c](#p-2)")
    assert "/admin" not in html
    assert "evil.example" not in html
    assert 'href="#p-2"' in html
    assert ">a</a>" in html and ">b</a>" in html


def test_raw_html_is_shown_as_text() -> None:
    html = render_markdown("Use <b>bold</b> & <i>more</i>")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;" in html


def test_images_are_not_hidden() -> None:
    html = render_markdown("![city map](https://example.org/map.png)")
    assert "<img" not in html
    assert "city map" in html


def test_unicode_text_survives() -> None:
    html = render_markdown("İzmir, Θεσσαλονίκη, Пловдив, Şanlıurfa, Ağrı")
    assert "İzmir, Θεσσαλονίκη, Пловдив, Şanlıurfa, Ağrı" in html


def test_render_paragraphs() -> None:
    parts = render_paragraphs("# Heading\n\nFirst *one*.\n\n2. second item\n")
    assert parts == [
        Markup("<h1>Heading</h1>\n"),
        Markup("<p>First <em>one</em>.</p>\n"),
        Markup('<ol start="2">\n<li>second item</li>\n</ol>\n'),
    ]


def test_render_paragraphs_requires_canonical_text() -> None:
    with pytest.raises(NotCanonicalError):
        render_paragraphs("a  \n")
