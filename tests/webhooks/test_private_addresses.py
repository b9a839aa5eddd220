"""Outgoing webhook requests never reach the server's own network in production (after DNS resolution)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.webhooks.conftest import Receiver


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.1", "172.16.5.5",
                                  "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]", "[fe80::1]", "0.0.0.0",  # noqa: S104 - refused, never bound
                                  "100.64.0.1"])
def test_private_addresses_are_refused_after_resolution(host: str) -> None:
    from signing import webhook_http

    with pytest.raises(webhook_http.RefusedAddress):
        webhook_http.post(f"http://{host}:8080/hook", b"{}", {}, timeout=2, allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.org/", "http:///nohost", "http://user:pw@example.org/",
                                 "http://example.org:99999/", "file:///etc/passwd"])
def test_urls_that_are_not_plain_http_are_refused(url: str) -> None:
    from signing import webhook_http

    with pytest.raises(webhook_http.RefusedAddress):
        webhook_http.check_url(url)


def test_the_connection_goes_to_the_address_that_was_checked(receiver: Receiver) -> None:
    """``localhost`` is resolved once and the request sent to that address, with the URL's Host header."""
    from signing import webhook_http

    url = receiver.url.replace("127.0.0.1", "localhost")
    answer = webhook_http.post(url, b'{"a":1}', {"webhook-id": "msg_x"}, timeout=5, allow_private=True)
    assert answer.status == 200
    (delivery,) = receiver.deliveries
    assert delivery.headers["host"].startswith("localhost:")
    assert delivery.body == b'{"a":1}'


def test_production_refuses_a_private_endpoint_and_never_sends_to_one(app_factory: Any,
                                                                      receiver: Receiver) -> None:
    from tests.conftest import seed_people

    app = app_factory(WEBHOOKS_ALLOW_PRIVATE=False)
    with app.app_context():
        from signing.extensions import db
        from signing.models import WebhookAttempt, WebhookEndpoint
        from signing.services import ServiceError, webhooks

        people = seed_people()
        with pytest.raises(ServiceError, match="private network"):
            webhooks.create_endpoint(receiver.url, ["signature.accepted"], "", people.secretariat)
        # One registered earlier (or whose name now resolves to a private address) is refused at sending.
        endpoint = WebhookEndpoint(url=receiver.url, events=["signature.accepted"], secret=webhooks.new_secret())
        db.session.add(endpoint)
        db.session.commit()
        webhooks.send_test(endpoint, people.secretariat)
        assert receiver.deliveries == []
        attempt = db.session.scalar(select(WebhookAttempt))
        assert attempt is not None and not attempt.succeeded
        assert "RefusedAddress" in (attempt.error or "") and "private network" in (attempt.error or "")


def test_the_setting_allows_private_addresses(app_factory: Any, receiver: Receiver) -> None:
    from tests.conftest import seed_people

    app = app_factory(WEBHOOKS_ALLOW_PRIVATE=True)
    with app.app_context():
        from signing.services import webhooks

        people = seed_people()
        endpoint, secret = webhooks.create_endpoint(receiver.url, ["signature.accepted"], "", people.secretariat)
        webhooks.send_test(endpoint, people.secretariat)
        assert [b["type"] for b in receiver.verified(secret)] == ["webhook.test"]


def test_the_embedded_default_allows_private_addresses_and_production_does_not(tmp_path: Any) -> None:
    from config import load_config

    assert load_config(tmp_path)["WEBHOOKS_ALLOW_PRIVATE"] is True
    production = load_config(tmp_path, {"DATABASE_URL": "postgresql://x/y", "SECRET_KEY": "k" * 40})
    assert production["WEBHOOKS_ALLOW_PRIVATE"] is False


def _dns(monkeypatch: pytest.MonkeyPatch, name: str, addresses: list[str]) -> None:
    """Make ``name`` resolve to ``addresses`` (the DNS answer is the one thing not real here)."""
    import socket

    real = socket.getaddrinfo

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_public_name_that_resolves_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from signing import webhook_http

    _dns(monkeypatch, "hooks.example.org", ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(webhook_http.RefusedAddress, match=r"10\.0\.0\.7"):
        webhook_http.post("https://hooks.example.org/in", b"{}", {}, timeout=2, allow_private=False)


def test_the_checked_addresses_are_tried_in_turn(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    from signing import webhook_http

    port = receiver.url.split(":")[2].split("/")[0]
    _dns(monkeypatch, "hooks.example.org", ["127.0.0.2", "127.0.0.1"])  # nothing listens on the first
    answer = webhook_http.post(f"http://hooks.example.org:{port}/in", b"{}", {}, timeout=5, allow_private=True)
    assert answer.status == 200
    (delivery,) = receiver.deliveries
    assert delivery.headers["host"] == f"hooks.example.org:{port}" and delivery.path == "/in"
