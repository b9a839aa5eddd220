"""Security headers, CSRF and rate limiting."""

from __future__ import annotations

from flask import Flask, Response, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from config import ConfigError

from ..extensions import csrf, limiter

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _set_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    hsts_max_age = int(current_app.config["HSTS_MAX_AGE"])
    if hsts_max_age > 0 and str(current_app.config["PUBLIC_URL"]).lower().startswith("https://"):
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts_max_age}")
    return response


def _trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` reverse proxies, take the client's address and scheme from the
    X-Forwarded-For/-Proto entries they appended (never more entries than there are proxies, so a
    header forged by the client is not believed). X-Forwarded-Host is not used: absolute links are
    built from PUBLIC_URL."""
    trusted = app.config["TRUSTED_PROXIES"]
    if not isinstance(trusted, int) or trusted < 0:
        raise ConfigError(f"TRUSTED_PROXIES must be a whole number of proxies, 0 or more, not {trusted!r}")
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted)  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    _trust_proxies(app)
    csrf.init_app(app)
    limiter.init_app(app)
    app.after_request(_set_headers)
    if app.config["PRODUCTION"]:
        app.config.setdefault("PREFERRED_URL_SCHEME", "https")
