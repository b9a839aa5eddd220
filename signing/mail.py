"""Building e-mail messages from templates and handing them to a transport.

Two transports: ``file`` (the embedded default: one ``.eml`` file per message
under ``MAIL_FILE_DIR``) and ``smtp`` (STARTTLS, implicit TLS or plain).

Messages are built with the ``email.mime`` classes (``compat32`` policy): for
these short, fixed-shape notifications they produce the same MIME structure
(``multipart/alternative``, quoted-printable UTF-8 parts, RFC 2047 subject) for
≈ 0.25 ms of CPU, built and written out, where ``EmailMessage`` with
``policy.default`` (which parses and re-folds every header) took ≈ 2.3 ms and
dominated a worker's time. A message to or from a non-ASCII address (SMTPUTF8)
still goes through ``EmailMessage``, which ``smtplib`` knows how to send.
"""

from __future__ import annotations

import functools
import os
import smtplib
import ssl
from email import charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from flask import current_app, render_template


class TemporaryMailError(Exception):
    """The message may be delivered later (4xx reply, connection refused, timeout)."""


class PermanentMailError(Exception):
    """The server refused the message for good (5xx reply)."""


class _Policy(Compat32):
    """``compat32``, writing a short one-line ASCII header as it is.

    That is what ``Header`` folding produces for such a header, without its per-character work (most of
    the cost of writing a message out). Anything else (long, non-ASCII, with a line break) goes through
    ``Header`` as usual, which also refuses a value that would smuggle in another header.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (isinstance(value, str) and len(name) + len(value) < 76 and value.isascii()
                and "\n" not in value and "\r" not in value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _Policy()
_BODY = charset.Charset("utf-8")  # quoted-printable bodies, as EmailMessage.set_content chose for these texts
_BODY.body_encoding = charset.QP
_HEADER = charset.Charset("utf-8")  # base64 encoded words: the QP header encoder measures every character
_HEADER.header_encoding = charset.BASE64


def build_message(template: str, recipient: str, context: dict[str, Any], message_id_hint: str) -> Message:
    """Render ``templates/email/<template>.{subject,txt,html}`` into a multipart message."""
    ctx = dict(context, public_url=current_app.config["PUBLIC_URL"])
    subject = " ".join(render_template(f"email/{template}.subject.txt", **ctx).split())
    text = render_template(f"email/{template}.txt", **ctx)
    html = render_template(f"email/{template}.html", **ctx)
    if "\r" in recipient or "\n" in recipient:
        raise ValueError(f"a line break in the recipient {recipient!r}")
    sender = current_app.config["MAIL_FROM"]
    if not (recipient.isascii() and _sender_address(sender).isascii()):
        return _international(subject, text, html, sender, recipient, message_id_hint)
    # A boundary of our own spares the generator its search for a safe one (a regular expression compiled
    # for each message): "==" never occurs in quoted-printable text, so it cannot collide with the parts.
    msg = MIMEMultipart("alternative", boundary=f"=={os.urandom(8).hex()}==", policy=_POLICY)
    msg["Subject"] = _subject_header(subject)
    msg["From"] = _from_header(sender)
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=message_id_hint, domain="accord.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg.attach(_text_part(text, "plain"))
    msg.attach(_text_part(html, "html"))
    return msg


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=_POLICY, charset="utf-8")
    part.set_payload(body, _BODY)  # sets Content-Transfer-Encoding: quoted-printable
    return part


@functools.lru_cache(maxsize=256)
def _subject_header(subject: str) -> str:
    """The subject, RFC 2047-encoded if need be; a fan-out sends one subject to many people."""
    return subject if subject.isascii() else Header(subject, _HEADER, header_name="Subject").encode()


@functools.lru_cache(maxsize=8)
def _from_header(sender: str) -> str:
    """``MAIL_FROM`` with its display name RFC 2047-encoded if need be (the setting rarely changes)."""
    return formataddr(parseaddr(sender), _HEADER)


@functools.lru_cache(maxsize=8)
def _sender_address(sender: str) -> str:
    """The address of ``MAIL_FROM``: the envelope sender."""
    return parseaddr(sender)[1]


def _international(subject: str, text: str, html: str, sender: str, recipient: str, hint: str) -> EmailMessage:
    """The same message as an ``EmailMessage``: ``smtplib`` sends it with SMTPUTF8."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=hint, domain="accord.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send_messages(messages: list[tuple[str, Message]]) -> dict[str, Exception | None]:
    """Send a batch; returns ``{key: None | error}`` per message. One SMTP connection per batch."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "file":
        for key, msg in messages:
            _write_file(key, msg)
        return dict.fromkeys((key for key, _ in messages), None)
    if backend == "smtp":
        return _send_smtp(messages)
    raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def _write_file(key: str, msg: Message) -> None:
    directory = Path(current_app.config["MAIL_FILE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    safe_key = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)[:120]
    final = directory / f"{safe_key}.eml"
    partial = directory / f".{safe_key}.eml.partial"
    partial.write_bytes(bytes(msg))
    os.replace(partial, final)  # atomic: readers never see half a message


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the system CA store costs ~40 ms, per connection otherwise."""
    return ssl.create_default_context()


def _connect() -> smtplib.SMTP:
    cfg = current_app.config
    host, port, timeout = cfg["SMTP_HOST"], cfg["SMTP_PORT"], cfg["SMTP_TIMEOUT"]
    mode = cfg["SMTP_TLS"]
    smtp: smtplib.SMTP
    if mode == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if mode == "starttls":
            smtp.starttls(context=_tls_context())
        elif mode != "none":
            raise RuntimeError(f"SMTP_TLS must be starttls, ssl or none, not {mode!r}")
    if cfg["SMTP_USER"]:
        smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
    return smtp


def _send_smtp(messages: list[tuple[str, Message]]) -> dict[str, Exception | None]:
    results: dict[str, Exception | None] = {}
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        err = TemporaryMailError(f"cannot connect to SMTP server: {exc}")
        return {key: err for key, _ in messages}
    sender = _sender_address(current_app.config["MAIL_FROM"])
    try:
        for key, msg in messages:
            try:
                smtp.send_message(msg, sender, [str(msg["To"])])  # the envelope: no parsing the headers back
                results[key] = None
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                results[key] = _classify(min(codes) if codes else 550, str(exc.recipients))
            except smtplib.SMTPResponseException as exc:
                results[key] = _classify(exc.smtp_code, str(exc.smtp_error))
            except (OSError, smtplib.SMTPException) as exc:
                results[key] = TemporaryMailError(str(exc))
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return results


def _classify(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TemporaryMailError(f"{code} {text}")
    return PermanentMailError(f"{code} {text}")
