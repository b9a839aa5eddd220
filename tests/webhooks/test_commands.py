"""``flask webhooks add|list|listen``: the demo's events reach a receiver run by hand."""

from __future__ import annotations

import re
import threading
from typing import Any

from flask import Flask

from tests.conftest import free_port


def test_a_receiver_run_by_hand_shows_the_demos_events(app: Flask) -> None:
    from signing.manage.webhook_commands import receiver

    runner = app.test_cli_runner()
    port = free_port()
    added = runner.invoke(args=["webhooks", "add", f"http://127.0.0.1:{port}/"])
    assert added.exit_code == 0, added.output
    match = re.search(r"secret \(shown this once\): (whsec_\S+)", added.output)
    assert match
    lines: list[str] = []
    server = receiver(match.group(1), port, lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = runner.invoke(args=["demo", "--complete"])
        assert result.exit_code == 0, result.output
    finally:
        server.shutdown()
        server.server_close()
    events = [line.split()[2] for line in lines if not line.startswith("  ")]
    assert not any(line.startswith("REFUSED") for line in lines)
    assert events[0] == "declaration.signing_opened"
    assert events[-1] == "declaration.frozen"
    assert events.count("signature.accepted") == 12
    listed = runner.invoke(args=["webhooks", "list"])
    assert f"http://127.0.0.1:{port}/  active" in listed.output
    assert match.group(1) not in listed.output


def test_the_receiver_refuses_a_forged_request(app: Flask) -> None:
    import http.client

    from signing.manage.webhook_commands import receiver
    from signing.services.webhooks import new_secret

    lines: list[str] = []
    port = free_port()
    server = receiver(new_secret(), port, lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers: dict[str, Any] = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}
        connection.request("POST", "/", body=b"{}", headers=headers)
        assert connection.getresponse().status == 400
    finally:
        server.shutdown()
        server.server_close()
    assert lines and lines[0].startswith("REFUSED msg_1")


def test_adding_a_bad_url_fails_clearly(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["webhooks", "add", "ftp://example.org/"])
    assert result.exit_code != 0
    assert "cannot receive webhooks" in result.output
