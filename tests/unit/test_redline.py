"""Tests for signing.text.redline: word-level diffs of canonical texts."""

from __future__ import annotations

import html as html_lib
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from signing.text.canonical import (
    EmptyTextError,
    NotCanonicalError,
    canonicalize,
    split_paragraphs,
)
from signing.text.redline import (
    RedlineSummary,
    redline,
    redline_html,
    redline_summary,
    tokenize,
)

_PARA = re.compile(r'<div class="para para-(\w+)">(.*?)</div>', re.DOTALL)


def _sides(html: str) -> tuple[list[str], list[str]]:
    """Rebuild the old and new paragraph lists from a redline."""
    old: list[str] = []
    new: list[str] = []
    for kind, body in _PARA.findall(html):
        old_body = re.sub(r"<ins>.*?</ins>|</?del>", "", body, flags=re.DOTALL)
        new_body = re.sub(r"<del>.*?</del>|</?ins>", "", body, flags=re.DOTALL)
        if kind != "added":
            old.append(html_lib.unescape(old_body))
        if kind != "removed":
            new.append(html_lib.unescape(new_body))
    return old, new


def _marked(tag: str, html: str) -> list[str]:
    """Stripped contents of every <tag> in the html."""
    return [m.strip() for m in re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)]


def test_tokenize_keeps_non_latin_words_whole() -> None:
    assert tokenize("İzmir'de Θεσσαλονίκη, Пловдив.") == [
        "İzmir",
        "'",
        "de",
        " ",
        "Θεσσαλονίκη",
        ",",
        " ",
        "Пловдив",
        ".",
    ]


def test_turkish_word_insert_and_delete() -> None:
    old = "İzmir Büyükşehir Belediyesi bu bildirgeyi imzalar.\n"
    new = "İzmir Büyükşehir Belediyesi bu önemli bildirgeyi onaylar.\n"
    html = redline_html(old, new)
    assert isinstance(html, Markup)
    assert _marked("ins", html) == ["önemli", "onaylar"]
    assert _marked("del", html) == ["imzalar"]
    assert html.startswith('<div class="para para-changed">İzmir Büyükşehir Belediyesi bu ')
    assert redline_summary(old, new) == RedlineSummary(paragraphs_changed=1, words_inserted=2, words_deleted=1)


def test_greek_and_cyrillic_words() -> None:
    html = redline_html("Θεσσαλονίκη και Πλοβντίβ.\n", "Θεσσαλονίκη и Пловдив.\n")
    assert _marked("del", html) == ["και Πλοβντίβ"]
    assert _marked("ins", html) == ["и Пловдив"]


def test_html_is_escaped_and_markdown_is_not_rendered() -> None:
    old = 'Keep <b>this</b> & "that".\n\n**bold**\n'
    new = "Keep <script>alert(1)</script> & 'that'.\n\n**bold** <img src=x onerror=alert(1)>\n"
    html = redline_html(old, new)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;" in html and "script" in _marked("ins", html)
    assert "&amp;" in html
    assert "**bold**" in html and "<strong>" not in html
    assert set(re.findall(r"</?(\w+)", html)) <= {"div", "ins", "del"}
    assert _sides(html) == (split_paragraphs(old), split_paragraphs(new))


def test_paragraph_counts() -> None:
    old = "Intro.\n\nSecond paragraph stays.\n\nThird will change.\n\nFourth goes away.\n"
    new = "Intro.\n\nBrand new paragraph here.\n\nSecond paragraph stays.\n\nThird has changed.\n"
    result = redline(old, new)
    kinds = [kind for kind, _ in _PARA.findall(result.html)]
    assert kinds == ["unchanged", "added", "unchanged", "changed", "removed"]
    assert result.summary == RedlineSummary(
        paragraphs_added=1,
        paragraphs_removed=1,
        paragraphs_changed=1,
        words_inserted=4 + 2,
        words_deleted=2 + 3,
    )
    assert not result.summary.unchanged
    assert '<div class="para para-added"><ins>Brand new paragraph here.</ins></div>' in result.html
    assert '<div class="para para-removed"><del>Fourth goes away.</del></div>' in result.html


def test_replaced_paragraphs_pair_by_position() -> None:
    old = "A one.\n\nB two.\n\nC three.\n"
    new = "A uno.\n\nB dos.\n"
    summary = redline_summary(old, new)
    assert (summary.paragraphs_changed, summary.paragraphs_removed) == (2, 1)


def test_identical_texts_are_unchanged() -> None:
    text = "One.\n\nTwo\nlines.\n"
    result = redline(text, text)
    assert result.summary.unchanged
    assert result.summary == RedlineSummary()
    assert "<ins>" not in result.html and "<del>" not in result.html
    assert result.html.count("para-unchanged") == 2


def test_blank_line_layout_only_counts_as_unchanged() -> None:
    assert redline_summary("a\n\nb\n", "\na\n\n\nb\n").unchanged


def test_adjacent_word_changes_are_merged() -> None:
    html = redline_html("keep a b c keep\n", "keep x y z keep\n")
    assert "keep <del>a b c</del><ins>x y z</ins> keep" in html


def test_whitespace_change_counts_no_words() -> None:
    result = redline("The delegate shall sign\nthe text.\n", "The delegate shall sign the text.\n")
    # No word changed, but the redline draws the change: the summary counts it (issue 11).
    assert result.summary == RedlineSummary(paragraphs_changed=1, other_changes=1)
    assert "<del>\n</del><ins> </ins>" in result.html


def test_inputs_must_be_canonical() -> None:
    with pytest.raises(NotCanonicalError):
        redline_html("a\r\n", "a\n")
    with pytest.raises(NotCanonicalError):
        redline_summary("a\n", "a  \n")
    with pytest.raises(EmptyTextError):
        redline("", "a\n")


def test_long_prose_paragraph_gets_exact_word_diff() -> None:
    common = ["the", "city", "shall", "and", "of", "delegate", "to", "in"]
    words = [common[i % 8] if i % 3 else f"word{i}" for i in range(1_500)]
    changed = ["CHANGED" if i % 40 == 7 else word for i, word in enumerate(words)]
    summary = redline_summary(" ".join(words) + "\n", " ".join(changed) + "\n")
    assert summary.words_inserted == summary.words_deleted == len(range(7, 1_500, 40))


def test_hostile_repetitive_input_is_bounded_and_still_correct() -> None:
    words = [f"w{i % 199}" for i in range(30_000)]
    old = " ".join(words) + "\n"
    new = " ".join("X" if i % 50 == 0 else word for i, word in enumerate(words)) + "\n"
    start = time.monotonic()
    result = redline(old, new)
    assert time.monotonic() - start < 15
    assert result.summary.paragraphs_changed == 1
    # Word-level or degraded to a whole-paragraph change, it stays faithful.
    assert _sides(result.html) == ([old[:-1]], [new[:-1]])


def test_many_hostile_paragraphs_are_bounded() -> None:
    old = "a\n\n" * 20_000 + "a\n"
    new = "a\n\n" * 10_000 + "b\n\n" * 10_000 + "b\n"
    start = time.monotonic()
    summary = redline_summary(old, new)
    assert time.monotonic() - start < 15
    assert summary.paragraphs_changed + summary.paragraphs_added <= 10_001
    assert summary.words_inserted == 10_001


_alphabet = st.sampled_from(["a", "b", "İzmir", "ş", "Пловдив", " ", "  ", "\n", "\n\n", ",", ".", "<", "&", '"'])
_texts = (
    st.lists(_alphabet, min_size=1, max_size=40).map("".join).filter(lambda raw: bool(raw.strip())).map(canonicalize)
)


@given(_texts, _texts)
def test_redline_reconstructs_both_sides(old: str, new: str) -> None:
    result = redline(old, new)
    assert _sides(result.html) == (split_paragraphs(old), split_paragraphs(new))
    assert result.summary.unchanged == (split_paragraphs(old) == split_paragraphs(new))
    inserted = " ".join(html_lib.unescape(m) for m in _marked("ins", result.html))
    deleted = " ".join(html_lib.unescape(m) for m in _marked("del", result.html))
    assert result.summary.words_inserted == len(re.findall(r"\w+", inserted))
    assert result.summary.words_deleted == len(re.findall(r"\w+", deleted))
