"""Where ``next`` may send the browser after logging in: a path on this site, read as a browser reads it."""

from __future__ import annotations

import unicodedata
from urllib.parse import urljoin, urlsplit

MAX_NEXT_LENGTH = 2000
_ORIGIN = "https://accord.invalid"


def _as_a_browser_reads_it(target: str) -> str:
    """The WHATWG URL parser's view: tab, CR and LF removed anywhere; C0 controls and spaces stripped at
    both ends; a backslash is a slash in special (http, https) URLs."""
    cleaned = "".join(ch for ch in target if ch not in "\t\r\n")
    cleaned = cleaned.strip("".join(chr(c) for c in range(0x21)))
    return cleaned.replace("\\", "/")


def same_site_path(target: str | None) -> str | None:
    """``target`` as the browser will read it if that is a path on this site, else None. Never raises."""
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    candidate = _as_a_browser_reads_it(target)
    if not candidate.startswith("/") or candidate.startswith("//"):
        return None
    # Nothing invisible or control-like left (C1 controls, bidi overrides, zero-width characters...).
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in candidate):
        return None
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return None
    # Resolved against any origin, it must stay on that origin.
    resolved = urlsplit(urljoin(_ORIGIN + "/login", candidate))
    if f"{resolved.scheme}://{resolved.netloc}" != _ORIGIN:
        return None
    return candidate
