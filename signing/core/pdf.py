"""``declaration.pdf``: the signed text, the signatory table, the text hash and a QR code.

Uses fpdf2 with the bundled DejaVu fonts, which cover Turkish, Greek and
Cyrillic. Deterministic for the same input (fixed creation date), so a
re-built bundle is byte-identical.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import segno
from fpdf import FPDF

from ..text.canonical import split_paragraphs

_EMPHASIS = re.compile(r"(\*{1,3}|_{2})(\S(?:.*?\S)?)\1")


@dataclass(frozen=True)
class SignatoryRow:
    city: str
    delegate: str
    signed_at: datetime
    fingerprint: str


@dataclass(frozen=True)
class VersionPage:
    """One language version to print: its tag, the language's name, its text and SHA-256, authoritative or not."""

    tag: str
    language: str
    text: str
    sha256: str
    authoritative: bool


def _font(name: str) -> str:
    return str(resources.files("signing.fonts").joinpath(name))


def _plain(paragraph: str) -> tuple[str, bool]:
    """Markdown paragraph → (plain text, is_heading)."""
    heading = paragraph.startswith("#")
    text = paragraph.lstrip("#").strip() if heading else paragraph
    return _EMPHASIS.sub(r"\2", text), heading


def render(
    *, title: str, text: str, revision: int, text_sha256: str, frozen_at: datetime,
    signatories: list[SignatoryRow], verify_url: str, platform_fingerprint: str,
    signing_rule: str = "", not_signed: Sequence[str] = (), versions: Sequence[VersionPage] = (),
) -> bytes:
    """The PDF; ``signing_rule`` (in words) and ``not_signed`` (the cities asked that did not sign) are
    printed on the signatory page when given. With ``versions``, every language version is printed (the
    authoritative one first, each from a new page) and its SHA-256 listed; else ``text`` alone."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(frozen_at)
    pdf.set_title(title)
    pdf.set_author("Accord")
    pdf.set_creator("Accord")
    pdf.add_font("DejaVu", "", _font("DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", _font("DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVuMono", "", _font("DejaVuSansMono.ttf"))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    width = pdf.epw

    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(width, 8, title, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width, 5, f"Revision {revision} · frozen {frozen_at.strftime('%Y-%m-%d %H:%M')} UTC",
                   new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(4)
    ordered = sorted(versions, key=lambda version: (not version.authoritative, version.tag))
    if not ordered:
        _paragraphs(pdf, width, text)
    for number, version in enumerate(ordered):
        if number:
            pdf.add_page()
        role = "authoritative version" if version.authoritative else "translation"
        pdf.set_font("DejaVu", "B", 10)
        pdf.multi_cell(width, 6, f"{version.language} ({version.tag}) · {role}", new_x="LMARGIN", new_y="NEXT",
                       align="L")
        pdf.ln(2)
        _paragraphs(pdf, width, version.text)

    pdf.add_page()
    pdf.set_font("DejaVu", "B", 13)
    pdf.cell(width, 8, "Signatories", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(22, 30, 22, 46), text_align="LEFT", line_height=5.5) as table:
        pdf.set_font("DejaVu", "B", 9)
        header = table.row()
        for label in ("City", "Delegate", "Signed (UTC)", "Key fingerprint"):
            header.cell(label)
        pdf.set_font("DejaVu", "", 8.5)
        for row in signatories:
            cells = table.row()
            cells.cell(row.city)
            cells.cell(row.delegate)
            cells.cell(row.signed_at.strftime("%Y-%m-%d %H:%M"))
            cells.cell(row.fingerprint)
    pdf.ln(3)
    _outcome(pdf, width, signing_rule, not_signed)
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(width, 6, "SHA-256 of the signed text (declaration.md)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVuMono", "", 9)
    pdf.multi_cell(width, 5, text_sha256, new_x="LMARGIN", new_y="NEXT", align="L")
    if ordered:
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(width, 6, "SHA-256 of every language version (declaration.<tag>.md)", new_x="LMARGIN",
                 new_y="NEXT")
        pdf.set_font("DejaVuMono", "", 8.5)
        for version in sorted(ordered, key=lambda version: version.tag):
            pdf.multi_cell(width, 5, f"{version.tag}: {version.sha256}", new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width, 5, f"Manifest sealed by the platform key {platform_fingerprint}.",
                   new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(3)
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=6, border=2)
    qr.seek(0)
    pdf.image(qr, w=36, h=36)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width, 5, f"Verify: {verify_url}", new_x="LMARGIN", new_y="NEXT", align="L")
    return bytes(pdf.output())


def _paragraphs(pdf: FPDF, width: float, text: str) -> None:
    for paragraph in split_paragraphs(text):
        plain, heading = _plain(paragraph)
        pdf.set_font("DejaVu", "B" if heading else "", 12 if heading else 10.5)
        pdf.multi_cell(width, 5.6, plain, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(2.5)


def _outcome(pdf: FPDF, width: float, signing_rule: str, not_signed: Sequence[str]) -> None:
    """The signing rule, and who was asked and did not sign."""
    pdf.set_font("DejaVu", "", 9.5)
    if signing_rule:
        pdf.multi_cell(width, 5, f"Signing rule: {signing_rule}.", new_x="LMARGIN", new_y="NEXT", align="L")
    if signing_rule or not_signed:
        missing = ", ".join(not_signed) if not_signed else "none: every city asked has signed"
        pdf.multi_cell(width, 5, f"Did not sign: {missing}.", new_x="LMARGIN", new_y="NEXT", align="L")
