"""The few ``/api/v1`` calls the offline signer makes, with a bearer token and no redirect followed."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .errors import fail

API_PREFIX = "/api/v1"
TIMEOUT = 30.0
MAX_RESPONSE = 4 * 1024 * 1024
USER_AGENT = "accord-cli/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it could carry the token to another host or turn a POST into a GET."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl}; not following", headers, fp)


class Api:
    """The few calls the signer makes to ``/api/v1``, with a bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        parsed = urllib.parse.urlsplit(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            fail(f"the server URL must start with http:// or https://, not {base_url!r}")
        if parsed.query or parsed.fragment or parsed.username or parsed.password:
            fail("the server URL must not contain credentials, a query or a fragment")
        if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: {parsed.hostname} is reached over plain HTTP; the token and password are not "
                  "encrypted in transit", file=sys.stderr)
        if not token:
            fail("no API token: pass --token or set ACCORD_TOKEN")
        self.base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))
        self.token = token
        self.opener = urllib.request.build_opener(_NoRedirect())

    def url(self, path: str) -> str:
        return self.base + API_PREFIX + path

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url(path), data=data, method=method)  # noqa: S310 - scheme checked
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                raw = response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            fail(error_message(exc))
        except urllib.error.URLError as exc:
            fail(f"cannot reach {self.base}: {exc.reason}")
        except (TimeoutError, OSError) as exc:
            fail(f"cannot reach {self.base}: {exc}")
        if len(raw) > MAX_RESPONSE:
            fail(f"the answer to {method} {path} is too large")
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            fail(f"the answer to {method} {path} is not JSON")
        if not isinstance(parsed, dict):
            fail(f"the answer to {method} {path} is not a JSON object")
        return parsed


def error_message(exc: urllib.error.HTTPError) -> str:
    """The server's ``{"error": {"code", "message"}}``, or the HTTP status."""
    message = f"HTTP {exc.code} {exc.reason}"
    try:
        body = json.loads(exc.read(MAX_RESPONSE).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return message
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return f"{error['message']} ({code}, HTTP {exc.code})" if isinstance(code, str) else error["message"]
    return message


def string_member(body: dict[str, Any], name: str, where: str) -> str:
    """``body[name]``, which the server must have sent as a string."""
    value = body.get(name)
    if not isinstance(value, str):
        fail(f"the server's answer to {where} has no {name!r} string")
    return value
