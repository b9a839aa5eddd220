"""Request and response bodies of the mayors' mandate endpoints (``api/mandates_browser.py``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from .schemas import Id, Printable, Timestamp, _In


class MandateRequest(_In):
    key_fingerprint: Annotated[Printable, Field(max_length=100, description="The mayor's key that will sign.")]
    delegate_id: Id
    key_fingerprints: Annotated[list[Annotated[Printable, Field(max_length=100)]] | None, Field(
        max_length=50, description="The delegate's keys to cover; omitted or empty: all their active keys.")] = None
    scope: Annotated[Printable, Field(max_length=100, description='"network" or "declaration:<slug>".')]
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime


class RevocationRequest(_In):
    key_fingerprint: Annotated[Printable, Field(max_length=100)]


class IssuedStatementOut(BaseModel):
    payload: str = Field(description="Base64 of the exact bytes to sign (RFC 8785 canonical JSON).")
    payload_sha256: str
    expires_at: Timestamp


class MandateOut(BaseModel):
    mandate_id: int
    payload_sha256: str
    delegate_id: int
    scope: str
    valid_until: Timestamp


class RevocationOut(BaseModel):
    mandate_id: int
    revoked_at: Timestamp
