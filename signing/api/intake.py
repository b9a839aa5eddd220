"""What every JSON endpoint checks in a request before a service sees it, for the API and the signing pages alike.

The body is JSON (``check_body``); base64 values decode to the sizes this server works with (``decode``,
``signed``); a fingerprint is well-formed (``fingerprint``). The pydantic schemas (``schemas.py``) check the rest.
"""

from __future__ import annotations

import re

from flask import request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from ..core.payload import SIGNATURE_BYTES, PayloadError, b64decode
from ..services import ServiceError
from ..services.signatures import SignatureRejected
from .schemas import SignedPayload

# No payload this server issues is this large: a larger one is refused before any query.
MAX_PAYLOAD_BYTES = 16 * 1024
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def check_body() -> None:
    """A body, if any, is JSON that parses; form posts are refused outright."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    if request.mimetype in _FORM_TYPES:
        raise ServiceError(_("Send a JSON body (Content-Type: application/json)."), code="invalid_content_type")
    if not request.get_data(cache=True):
        return
    if not request.is_json:
        raise ServiceError(_("Send a JSON body (Content-Type: application/json)."), code="invalid_content_type")
    try:
        request.get_json()
    except (BadRequest, RecursionError) as exc:
        raise ServiceError(_("The body is not valid JSON."), code="invalid_json") from exc


def is_fingerprint(value: str) -> bool:
    return _FINGERPRINT.match(value) is not None


def fingerprint(value: str) -> str:
    """A fingerprint from a request body: well-formed, else 400 (unknown ones are 404 in the service)."""
    if not is_fingerprint(value):
        raise ServiceError(_("key_fingerprint must be 'sha256:' followed by 64 lower-case hex digits."))
    return value


def decode(value: str, what: str, size: int | None = None) -> bytes:
    """Base64 from a request body; 400 if it is not base64 or not ``size`` bytes long."""
    try:
        raw = b64decode(value, what)
    except PayloadError as exc:
        raise ServiceError(_("%(exc)s.", exc=exc), code="invalid_base64") from exc
    if size is not None and len(raw) != size:
        raise ServiceError(_("%(what)s must be %(size)s bytes, not %(raw)s.",
                             what=what, size=size, raw=len(raw)), code="invalid_size")
    if not raw:
        raise ServiceError(_("%(what)s is empty.", what=what))
    return raw


def signed(body: SignedPayload) -> tuple[bytes, bytes]:
    """The payload and signature bytes of a signature or withdrawal submission."""
    data = decode(body.payload, "payload")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise SignatureRejected(_("The payload is larger than any payload this server issues."))
    return data, decode(body.signature, "signature", SIGNATURE_BYTES)
