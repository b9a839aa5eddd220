"""A real SMTP server (aiosmtpd) for the tests, recording what it receives; the ``smtp_factory`` fixture starts it."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from tests.conftest import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return " ".join(str(self.message["Subject"]).split())

    @property
    def pair(self) -> tuple[str, str]:
        """(recipient, subject): one e-mail per recipient per event."""
        return ",".join(self.rcpt_tos), self.subject


@dataclass
class RecordingHandler:
    """aiosmtpd handler: keeps every accepted envelope and the time of every DATA attempt."""

    received: list[Received] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)

    def answer(self) -> str | None:
        """A refusal for this attempt, or None to accept."""
        return None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        self.attempts.append(time.monotonic())
        refusal = self.answer()
        if refusal is not None:
            return refusal
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    handler: RecordingHandler
    controller: Any

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def smtp_servers() -> Iterator[Callable[..., SmtpServer]]:
    """Body of the ``smtp_factory`` fixture: ``start(handler=None, port=None, **smtp_parameters)``.

    ``smtp_parameters`` go to aiosmtpd's ``SMTP`` (e.g. ``tls_context``, ``require_starttls``,
    ``authenticator``). Every server is stopped after.
    """
    from aiosmtpd.controller import Controller

    started: list[SmtpServer] = []

    def start(handler: RecordingHandler | None = None, port: int | None = None, **smtp_parameters: Any) -> SmtpServer:
        port = port or free_port()
        handler = handler or RecordingHandler()
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **smtp_parameters)
        controller.start()
        server = SmtpServer(port=port, handler=handler, controller=controller)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.controller.stop()
