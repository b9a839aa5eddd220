"""Building e-mail messages from templates and handing them to a transport.

Two transports: ``file`` (the embedded default: one ``.eml`` file per message
under ``MAIL_FILE_DIR``) and ``smtp`` (STARTTLS, implicit TLS or plain).
"""

from __future__ import annotations

import functools
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from flask import current_app, render_template


class TemporaryMailError(Exception):
    """The message may be delivered later (4xx reply, connection refused, timeout)."""


class PermanentMailError(Exception):
    """The server refused the message for good (5xx reply)."""


def build_message(template: str, recipient: str, context: dict[str, Any], message_id_hint: str) -> EmailMessage:
    """Render ``templates/email/<template>.{subject,txt,html}`` into a multipart message."""
    ctx = dict(context, public_url=current_app.config["PUBLIC_URL"])
    subject = render_template(f"email/{template}.subject.txt", **ctx).strip()
    text = render_template(f"email/{template}.txt", **ctx)
    html = render_template(f"email/{template}.html", **ctx)
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=message_id_hint, domain="accord.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send_messages(messages: list[tuple[str, EmailMessage]]) -> dict[str, Exception | None]:
    """Send a batch; returns ``{key: None | error}`` per message. One SMTP connection per batch."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "file":
        for key, msg in messages:
            _write_file(key, msg)
        return dict.fromkeys((key for key, _ in messages), None)
    if backend == "smtp":
        return _send_smtp(messages)
    raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def _write_file(key: str, msg: EmailMessage) -> None:
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


def _send_smtp(messages: list[tuple[str, EmailMessage]]) -> dict[str, Exception | None]:
    results: dict[str, Exception | None] = {}
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        err = TemporaryMailError(f"cannot connect to SMTP server: {exc}")
        return {key: err for key, _ in messages}
    try:
        for key, msg in messages:
            try:
                smtp.send_message(msg)
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
