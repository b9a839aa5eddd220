"""The messages the outbox sends (``signing.mail.build_message``), read back with the standard parser."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from flask import Flask, render_template

CONTEXT = {"display_name": "Ayşe Yılmaz", "title": "Déclaration des villes de la mer Noire — “final”",
           "slug": "black-sea", "number": 3, "sha256": "a" * 64, "deadline": "2026-12-01 12:00 UTC"}


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def wire_bytes(message: email.message.Message) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Iterator[Flask]:
    app = app_factory(MAIL_FROM="Accord Sekreterliği <accord@b40.example>")
    with app.app_context():
        yield app


def test_a_message_reads_back_with_its_headers_and_both_bodies_exactly(app: Flask) -> None:
    from signing.mail import build_message

    message = parse(wire_bytes(build_message("signing_opened", "ayse@izmir.example", CONTEXT, "42")))
    ctx = dict(CONTEXT, public_url=app.config["PUBLIC_URL"])
    subject = " ".join(render_template("email/signing_opened.subject.txt", **ctx).split())
    assert message["Subject"] == subject and "Déclaration" in subject
    assert message["From"] == "Accord Sekreterliği <accord@b40.example>"
    assert message["To"] == "ayse@izmir.example"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] and message["Message-ID"].endswith("@accord.local>") and ".42@" in message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    # Read from the wire, line ends are CRLF (as they were with ``EmailMessage``).
    assert plain.get_content().replace("\r\n", "\n") == render_template("email/signing_opened.txt", **ctx)
    assert html.get_content().replace("\r\n", "\n") == render_template("email/signing_opened.html", **ctx)
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert not message.defects and not plain.defects and not html.defects


def test_the_fast_header_path_writes_what_compat32_writes(app: Flask) -> None:
    from signing.mail import build_message

    message = build_message("signing_opened", "ayse@izmir.example", CONTEXT, "7")
    assert wire_bytes(message) == message.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
    assert all(len(line) <= 78 for line in wire_bytes(message).split(b"\r\n"))


def test_text_like_a_boundary_stays_in_its_part(app: Flask) -> None:
    from signing.mail import build_message

    tricky = dict(CONTEXT, title="==a== --==b== " + "=" * 100)
    message = build_message("signing_opened", "x@b40.example", tricky, "1")
    boundary = message.get_boundary()
    assert boundary and boundary.startswith("==")
    parsed = parse(wire_bytes(message))
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    plain = parsed.get_body(("plain",))
    assert plain is not None and "==a== --==b== " + "=" * 100 in plain.get_content()


def test_a_line_break_in_the_recipient_is_refused(app: Flask) -> None:
    from signing.mail import build_message

    with pytest.raises(ValueError, match="line break"):
        build_message("signing_opened", "x@b40.example\r\nBcc: all@evil.example", CONTEXT, "1")


def test_a_non_ascii_address_gets_an_email_message_for_smtputf8(app: Flask) -> None:
    from signing.mail import build_message

    message = build_message("signing_opened", "ayşe@örnek.example", CONTEXT, "1")
    assert isinstance(message, EmailMessage)
    assert message["To"] == "ayşe@örnek.example"
    plain = message.get_body(("plain",))
    assert plain is not None and "Ayşe" in plain.get_content()


def test_the_file_transport_writes_a_readable_message(app: Flask) -> None:
    from pathlib import Path

    from signing.mail import build_message, send_messages

    message = build_message("signing_opened", "ayse@izmir.example", CONTEXT, "1")
    assert send_messages([("file:1", message)]) == {"file:1": None}
    [written] = Path(app.config["MAIL_FILE_DIR"]).glob("*.eml")
    parsed = parse(written.read_bytes())
    assert parsed["To"] == "ayse@izmir.example" and "Déclaration" in parsed["Subject"]
