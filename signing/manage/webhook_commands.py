"""``flask webhooks …``: register an endpoint from the command line, list them, and a receiver to watch events.

``webhooks listen`` is a small receiver run by hand: it checks every request with the ``standardwebhooks``
verifier and prints the event, e.g. to watch what ``demo --complete`` sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import click
from flask.cli import AppGroup
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ..services import ServiceError, webhooks

webhooks_group = AppGroup("webhooks", help="Webhook endpoints, and a receiver that prints what it gets.")


@webhooks_group.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, type=click.Choice(list(webhooks.EVENTS)),
              help="An event to send (repeat it); every event if none is given.")
@click.option("--description", default="", help="What the endpoint is for.")
def webhooks_add(url: str, events: tuple[str, ...], description: str) -> None:
    """Register URL as a webhook endpoint and print its secret (shown this once)."""
    try:
        endpoint, secret = webhooks.create_endpoint(url, list(events or webhooks.EVENTS), description, None)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Endpoint {endpoint.id} added: {endpoint.url} ({', '.join(endpoint.events)}).")
    click.echo(f"Its secret (shown this once): {secret}")


@webhooks_group.command("list")
def webhooks_list() -> None:
    """List the endpoints, their state and events (never their secrets)."""
    for endpoint in webhooks.list_endpoints():
        state = "active" if endpoint.active else f"disabled ({endpoint.disabled_reason or ''})"
        click.echo(f"{endpoint.id:>5}  {endpoint.url}  {state}  {', '.join(endpoint.events)}")


def receiver(secret: str, port: int, show: Callable[[str], None], host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server that verifies each webhook request with ``secret`` and passes a line to ``show``."""
    hook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 1024 * 1024))
            try:
                event = hook.verify(body, dict(self.headers.items()))
            except (WebhookVerificationError, ValueError) as exc:
                show(f"REFUSED {self.headers.get('webhook-id', '?')}: {exc}")
                self.send_response(400)
            else:
                data = event.get("data", {})
                subject = data.get("declaration", {}).get("slug", "") if isinstance(data, dict) else ""
                city = (data.get("city") or {}).get("slug", "") if isinstance(data, dict) else ""
                show(f"{event['timestamp']}  {self.headers['webhook-id']}  {event['type']}  {subject} {city}".rstrip())
                show("  " + json.dumps(data, ensure_ascii=False))
                self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


@webhooks_group.command("listen")
@click.option("--port", default=8765, show_default=True, help="Port on 127.0.0.1.")
@click.option("--secret", required=True, envvar="WEBHOOK_SECRET", help="The endpoint's secret (whsec_…).")
def webhooks_listen(port: int, secret: str) -> None:
    """Receive webhooks on 127.0.0.1:PORT, verify each one and print it (Ctrl-C to stop)."""
    try:
        server = receiver(secret, port, click.echo)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
