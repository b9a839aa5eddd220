"""Word-level redlines between two canonical declaration texts.

The diff works on the source text, never on rendered Markdown.  Paragraphs
(see :func:`~signing.text.canonical.split_paragraphs`) are aligned first;
paragraphs that replace each other are paired by position and diffed word
by word.  Output HTML uses semantic ``<ins>``/``<del>`` and these classes on
one ``<div>`` per paragraph: ``para para-unchanged``, ``para para-changed``,
``para para-added`` and ``para para-removed``.  Paragraph text keeps its
newlines, so style ``.para`` with ``white-space: pre-wrap``.

Words are ``\\w+`` tokens; whitespace and punctuation are separate tokens
that are diffed but not counted as words.  Diffing work is bounded per call:
on hostile input (huge, repetitive paragraphs) changed paragraphs degrade to
one whole-paragraph deletion plus insertion instead of a word-level diff.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from difflib import Match, SequenceMatcher
from itertools import accumulate
from typing import Literal

from markupsafe import Markup, escape

from signing.text.bidi import found, visible_in_html
from signing.text.canonical import split_paragraphs

__all__ = ["Redline", "RedlineSummary", "redline", "redline_html", "redline_summary", "tokenize"]

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w", re.UNICODE)

_WORK_BUDGET = 10_000_000
"""Matcher steps one redline may spend (at most a couple of CPU seconds).

Once spent, remaining changed paragraphs are shown as a whole-paragraph
replacement instead of word by word, which bounds time on hostile input.
"""
# Replaced runs up to this many token pairs are re-diffed token by token;
# larger rewrites read better as one deletion and one insertion.
_REFINE_LIMIT = 4_096

_WRAP = {"ins": Markup("<ins>{}</ins>"), "del": Markup("<del>{}</del>")}

_BIDI_FLAG = Markup(
    '<p class="bidi-warning" role="note">This text contains invisible direction-control characters ({}), '
    "shown as ⟨U+…⟩: they can make it read differently from what is stored.</p>\n"
)

_Kind = Literal["unchanged", "changed", "added", "removed"]


@dataclass(frozen=True, slots=True)
class RedlineSummary:
    """Counts of what changed between two texts.

    Word counts include the words of whole added or removed paragraphs.
    """

    paragraphs_added: int = 0
    paragraphs_removed: int = 0
    paragraphs_changed: int = 0
    words_inserted: int = 0
    words_deleted: int = 0
    # Changes that touch no word (spaces, line breaks, punctuation): drawn in the redline, so counted too.
    other_changes: int = 0
    # Bidirectional-override characters (``U+XXXX``) in either text, flagged at the top of the redline.
    bidi_controls: tuple[str, ...] = ()

    @property
    def unchanged(self) -> bool:
        """True when every paragraph is identical in both texts.

        Texts that differ only in the number of blank lines between
        paragraphs (and so in their hash) still count as unchanged.
        """
        return not (self.paragraphs_added or self.paragraphs_removed or self.paragraphs_changed)


@dataclass(frozen=True, slots=True)
class Redline:
    """A rendered redline and its summary."""

    html: Markup
    summary: RedlineSummary


@dataclass(frozen=True, slots=True)
class _Segment:
    """A run of tokens: equal (old == new) or a change (old -> new)."""

    equal: bool
    old: tuple[str, ...]
    new: tuple[str, ...]


def tokenize(text: str) -> list[str]:
    """Split text into word, whitespace and single punctuation tokens."""
    return _TOKEN.findall(text)


def _count_words(tokens: Sequence[str]) -> int:
    """Number of word tokens in ``tokens``."""
    return sum(1 for token in tokens if _WORD.match(token))


class _OverBudget(Exception):
    """The redline's work budget is spent."""


class _Budget:
    """Matcher work left for one redline call."""

    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int) -> None:
        """Charge ``steps``; raise :class:`_OverBudget` once overdrawn."""
        self.left -= steps
        if self.left < 0:
            raise _OverBudget


class _BoundedMatcher(SequenceMatcher[Hashable]):
    """Exact SequenceMatcher that charges its worst-case work to a budget.

    ``find_longest_match`` loops over every occurrence in ``b`` of each
    element of ``a[alo:ahi]``; that count is charged before each call.
    """

    def __init__(self, a: Sequence[Hashable], b: Sequence[Hashable], budget: _Budget) -> None:
        super().__init__(None, a, b, autojunk=False)
        counts = Counter(b)
        self._cost = list(accumulate((counts[item] + 1 for item in a), initial=0))
        self._budget = budget

    def find_longest_match(self, alo: int = 0, ahi: int | None = None, blo: int = 0, bhi: int | None = None) -> Match:
        """Charge the budget, then defer to SequenceMatcher."""
        stop = len(self._cost) - 1 if ahi is None else ahi
        self._budget.spend(self._cost[stop] - self._cost[alo])
        return super().find_longest_match(alo, ahi, blo, bhi)


def _opcodes(a: Sequence[Hashable], b: Sequence[Hashable], budget: _Budget) -> list[tuple[str, int, int, int, int]]:
    """Opcodes of an exact diff; raises :class:`_OverBudget` if too costly."""
    return list(_BoundedMatcher(a, b, budget).get_opcodes())


def _units(tokens: Sequence[str]) -> list[tuple[str, ...]]:
    """Group tokens into units: a non-space token plus following whitespace.

    Matching on units rather than raw tokens keeps the ubiquitous space token
    from producing spurious alignments and quadratic run time.
    """
    units: list[list[str]] = []
    for token in tokens:
        if units and token.isspace():
            units[-1].append(token)
        else:
            units.append([token])
    return [tuple(unit) for unit in units]


def _flatten(units: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """Concatenate units back into a token tuple."""
    return tuple(token for unit in units for token in unit)


def _raw_segments(old: str, new: str, budget: _Budget) -> list[_Segment]:
    """Diff two paragraphs by units, refining small replacements by token."""
    old_units, new_units = _units(tokenize(old)), _units(tokenize(new))
    segments: list[_Segment] = []
    for tag, i1, i2, j1, j2 in _opcodes(old_units, new_units, budget):
        whole = _Segment(tag == "equal", _flatten(old_units[i1:i2]), _flatten(new_units[j1:j2]))
        if tag != "replace" or len(whole.old) * len(whole.new) > _REFINE_LIMIT:
            segments.append(whole)
            continue
        try:
            refined = _opcodes(whole.old, whole.new, budget)
        except _OverBudget:
            segments.append(whole)
            continue
        segments.extend(_Segment(op == "equal", whole.old[k1:k2], whole.new[l1:l2]) for op, k1, k2, l1, l2 in refined)
    return segments


def _join(*segments: _Segment) -> _Segment:
    """Concatenate segments; the result is a change unless all are equal."""
    return _Segment(
        all(segment.equal for segment in segments),
        tuple(token for segment in segments for token in segment.old),
        tuple(token for segment in segments for token in segment.new),
    )


def _word_segments(old: str, new: str, budget: _Budget) -> list[_Segment]:
    """Diff two paragraphs and merge segments for readability.

    Adjacent segments of the same kind are merged, and a whitespace-only
    equal run between two changes is folded into them, so "a b" -> "c d"
    reads as one change rather than two.  Over budget, the whole paragraph
    is one change.
    """
    try:
        raw = _raw_segments(old, new, budget)
    except _OverBudget:
        return [_Segment(False, tuple(tokenize(old)), tuple(tokenize(new)))]
    merged: list[_Segment] = []
    for segment in raw:
        if not (segment.old or segment.new):
            continue
        if merged and merged[-1].equal == segment.equal:
            merged.append(_join(merged.pop(), segment))
        elif not segment.equal and len(merged) >= 2 and all(token.isspace() for token in merged[-1].old):
            space, change = merged.pop(), merged.pop()
            merged.append(_join(change, space, segment))
        else:
            merged.append(segment)
    return merged


def _align(old: str, new: str, budget: _Budget) -> Iterator[tuple[_Kind, str, str]]:
    """Pair up the paragraphs of two canonical texts.

    Yields ``(kind, old_paragraph, new_paragraph)``; the missing side of an
    added or removed paragraph is ``""``.  Over budget, paragraphs are simply
    paired by position.
    """
    old_paras, new_paras = split_paragraphs(old), split_paragraphs(new)
    try:
        opcodes = _opcodes(old_paras, new_paras, budget)
    except _OverBudget:
        opcodes = [("replace", 0, len(old_paras), 0, len(new_paras))]
    for _, i1, i2, j1, j2 in opcodes:
        olds, news = old_paras[i1:i2], new_paras[j1:j2]
        for index in range(max(len(olds), len(news))):
            if index >= len(olds):
                yield "added", "", news[index]
            elif index >= len(news):
                yield "removed", olds[index], ""
            elif olds[index] == news[index]:
                yield "unchanged", olds[index], news[index]
            else:
                yield "changed", olds[index], news[index]


def _tag(name: Literal["ins", "del"], tokens: Sequence[str]) -> Markup:
    """Wrap escaped tokens in ``<ins>`` or ``<del>``; nothing if empty."""
    if not tokens:
        return Markup()
    return _WRAP[name].format("".join(tokens))


def redline(old: str, new: str) -> Redline:
    """Diff two canonical texts; return the HTML redline and its summary.

    Raises :class:`~signing.text.canonical.NotCanonicalError` (a
    ``ValueError``) if either text is not canonical.
    """
    parts: list[Markup] = []
    counts: Counter[str] = Counter()
    div = Markup('<div class="para para-{}">{}</div>')
    budget = _Budget(_WORK_BUDGET)
    for kind, old_para, new_para in _align(old, new, budget):
        counts[kind] += 1
        if kind == "unchanged":
            parts.append(div.format(kind, new_para))
        elif kind == "added":
            counts["inserted"] += _count_words(tokenize(new_para))
            parts.append(div.format(kind, _tag("ins", [new_para])))
        elif kind == "removed":
            counts["deleted"] += _count_words(tokenize(old_para))
            parts.append(div.format(kind, _tag("del", [old_para])))
        else:
            body = Markup()
            for segment in _word_segments(old_para, new_para, budget):
                if segment.equal:
                    body += escape("".join(segment.new))
                    continue
                inserted, deleted = _count_words(segment.new), _count_words(segment.old)
                counts["inserted"] += inserted
                counts["deleted"] += deleted
                if not (inserted or deleted):
                    counts["other"] += 1
                body += _tag("del", segment.old) + _tag("ins", segment.new)
            parts.append(div.format(kind, body))
    summary = RedlineSummary(
        paragraphs_added=counts["added"],
        paragraphs_removed=counts["removed"],
        paragraphs_changed=counts["changed"],
        words_inserted=counts["inserted"],
        words_deleted=counts["deleted"],
        other_changes=counts["other"],
        bidi_controls=tuple(found(old + new)),
    )
    html = visible_in_html(Markup("\n").join(parts))
    if summary.bidi_controls:
        html = _BIDI_FLAG.format(", ".join(summary.bidi_controls)) + html
    return Redline(html, summary)


def redline_html(old: str, new: str) -> Markup:
    """Return the HTML redline of two canonical texts (see :func:`redline`)."""
    return redline(old, new).html


def redline_summary(old: str, new: str) -> RedlineSummary:
    """Return change counts between two canonical texts."""
    return redline(old, new).summary
