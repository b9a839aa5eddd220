"""Sending one webhook request: an HTTP(S) POST to an address checked after DNS resolution.

``post`` resolves the host once, refuses the request if any resolved address is loopback, link-local,
private, multicast, reserved or unspecified (unless ``allow_private``), and then connects only to the
addresses it checked, so a second DNS answer cannot point the connection elsewhere (DNS rebinding).
TLS still verifies the certificate against the host name. Redirects are never followed. Standard
library only: no Flask, no database.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_RESPONSE_BYTES = 4096  # of the answer kept for the delivery log


class RefusedAddress(Exception):
    """The URL is not allowed (scheme, host, or an address of the server's own network)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    seconds: float


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified or not address.is_global)


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of an acceptable URL, or ``RefusedAddress``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise RefusedAddress("the URL must start with https:// or http://")
    if not parts.hostname or parts.username or parts.password:
        raise RefusedAddress("the URL must name a host, without a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedAddress("the URL's port is not a number between 1 and 65535") from exc
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, target


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to, in order: every address the host resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"the host {host!r} does not resolve") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise RefusedAddress(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if _forbidden(ipaddress.ip_address(address.split("%", 1)[0])):
                raise RefusedAddress(f"{host} resolves to {address}, an address of a private network")
    return list(dict.fromkeys(addresses))


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to the first of the checked addresses that answers."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to the checked addresses only, with the ``Host`` header of the URL."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to the checked addresses only; the certificate is checked against the URL's host."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> Answer:
    """POST ``body``; returns the answer (any status). Raises ``RefusedAddress`` or ``OSError``."""
    scheme, host, port, target = check_url(url)
    addresses = resolve(host, port, allow_private=allow_private)
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, addresses, timeout)
    started = time.monotonic()
    try:
        connection.request("POST", target, body=body, headers={**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        return Answer(response.status, text, time.monotonic() - started)
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from exc
    finally:
        connection.close()
