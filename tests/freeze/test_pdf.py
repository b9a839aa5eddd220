"""declaration.pdf: DejaVu embedded, every signing city listed, rendered (when poppler is present), deterministic
before its seal is appended."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import IN_CI, missing
from tests.freeze.conftest import TEXT_2, Network, bundle_of, open_for_signature, pdf_text, unpack


@pytest.fixture
def frozen(app: Flask, network: Network) -> Any:
    declaration = open_for_signature(network, rule="quorum", quorum=2)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    return declaration


def test_the_pdf_embeds_dejavu_and_lists_the_cities_that_signed(frozen: Any, network: Network,
                                                                 tmp_path: Path) -> None:
    bundle = bundle_of(frozen)
    data = (unpack(bytes(bundle.archive), tmp_path / "bundle") / "declaration.pdf").read_bytes()
    assert data == bytes(bundle.pdf)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    fonts = set(re.findall(rb"/FontName /[A-Z]{6}\+(\w+)", data))
    assert fonts == {b"DejaVuSansBook", b"DejaVuSansBold", b"DejaVuSansMonoBook"}, fonts
    assert data.count(b"/FontFile2") == 3, "every font is embedded (TrueType subsets)"

    text = pdf_text(data)
    for city, delegate in (("İzmir", "İzmir delegate"), ("Athens", "Athens delegate")):
        assert re.search(rf"^{city}$", text, re.M), (city, text)
        assert re.search(rf"^{delegate}$", text, re.M), (delegate, text)
    assert not re.search(r"^Sofia", text, re.M), "Sofia did not sign: not in the signatory table"
    assert "Signing rule: a quorum of 2 of the 3 cities asked." in text
    assert "Did not sign: Sofia." in text, "the outcome names who was asked and did not sign"
    assert "Declaration of the Black Sea Cities" in text
    assert "Second paragraph, with İzmir and Chișinău." in text  # Turkish and Romanian letters
    assert bundle.revision.sha256 in text
    assert bundle.platform_key_fingerprint in text
    assert "Verify: http://accord.test/public/declarations/decl" in text
    for signer in (network.izmir, network.athens):
        hex_ = signer.key.fingerprint.removeprefix("sha256:")
        assert hex_ in text.replace("\n", ""), "each key fingerprint is in the table"

    if shutil.which("pdftotext") is None and IN_CI:
        pytest.fail("pdftotext (poppler-utils) is not installed (CI=true: a missing part is a failure)")
    if shutil.which("pdftotext"):  # cross-check the small extractor with poppler's
        path = tmp_path / "check.pdf"
        path.write_bytes(data)
        poppler = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, timeout=30,
                                 check=True).stdout
        for word in ("İzmir delegate", "Athens delegate", "Chișinău", bundle.revision.sha256):
            assert word in poppler, word


def _pgm_pixels(data: bytes) -> bytes:
    """The pixels of a binary PGM (P5) image."""
    match = re.match(rb"P5\s+(?:#.*\s+)*(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert match, data[:40]
    width, height = int(match.group(1)), int(match.group(2))
    return data[match.end() : match.end() + width * height]


def test_the_pdf_renders_pages_that_are_not_blank(frozen: Any, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        missing("pdftoppm", "poppler-utils is not installed; the structure checks above still ran")
    path = tmp_path / "declaration.pdf"
    path.write_bytes(bytes(bundle_of(frozen).pdf))
    subprocess.run(["pdftoppm", "-r", "40", "-gray", str(path), str(tmp_path / "page")], check=True, timeout=60,
                   capture_output=True)
    pages = sorted(tmp_path.glob("page*.pgm"))
    assert len(pages) == 2, "the text, then the signatory page"
    for page in pages:
        pixels = _pgm_pixels(page.read_bytes())
        dark = sum(1 for p in pixels if p < 128)
        assert 0.002 < dark / len(pixels) < 0.5, (page.name, dark, len(pixels))


def test_the_pdf_is_rebuilt_byte_for_byte_from_the_same_data(frozen: Any, app: Flask) -> None:
    from sqlalchemy import select

    from signing.core import pdf
    from signing.extensions import db
    from signing.models import Signature, SignatureStatus

    bundle = bundle_of(frozen)
    standing = list(db.session.scalars(
        select(Signature).where(Signature.declaration_id == frozen.id, Signature.status == SignatureStatus.VALID.value)
        .order_by(Signature.id)
    ))

    def render() -> bytes:
        return pdf.render(
            title=frozen.title, text=TEXT_2, revision=2, text_sha256=bundle.revision.sha256,
            frozen_at=bundle.frozen_at, verify_url=f"http://accord.test/public/declarations/{frozen.slug}",
            platform_fingerprint=bundle.platform_key_fingerprint,
            signatories=[pdf.SignatoryRow(s.city.name, s.user.display_name, s.signed_at, s.key.fingerprint)
                         for s in standing],
            signing_rule="a quorum of 2 of the 3 cities asked", not_signed=["Sofia"],
        )

    # The sealed PDF is the rendered one and, appended to it, the seal (an incremental update).
    assert bytes(bundle.pdf).startswith(render())
    assert b"/ETSI.CAdES.detached" in bytes(bundle.pdf)[len(render()):]
    assert render() == render()


def test_the_pdf_shows_every_language_version(tmp_path: Path) -> None:
    """Each version from its own page, the authoritative one first, and every version's SHA-256."""
    import hashlib
    from datetime import UTC, datetime

    from signing.core import pdf

    texts = {"en": "# Declaration\n\nThe cities of İzmir and Chișinău agree.\n",
             "el": "# Διακήρυξη\n\nΟι πόλεις συμφωνούν.\n",
             "tr": "# Bildirge\n\nİzmir ve Kişinev şehirleri anlaşır.\n"}
    digests = {tag: hashlib.sha256(text.encode()).hexdigest() for tag, text in texts.items()}
    data = pdf.render(
        title="Declaration", text=texts["en"], revision=2, text_sha256=digests["en"],
        frozen_at=datetime(2026, 11, 30, tzinfo=UTC), signatories=[], verify_url="http://accord.test/v",
        platform_fingerprint="sha256:" + "0" * 64,
        versions=[pdf.VersionPage(tag, name, texts[tag], digests[tag], tag == "en")
                  for tag, name in (("el", "Ελληνικά"), ("en", "English"), ("tr", "Türkçe"))],
    )
    text = pdf_text(data)
    assert text.index("English (en) · authoritative version") < text.index("Ελληνικά (el) · translation") \
        < text.index("Türkçe (tr) · translation")
    for line in ("The cities of İzmir and Chișinău agree.", "Οι πόλεις συμφωνούν.",
                 "İzmir ve Kişinev şehirleri anlaşır."):
        assert line in text, line
    for tag, digest in digests.items():
        assert f"{tag}: {digest}" in text.replace("\n", ""), tag
