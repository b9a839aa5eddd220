"""Request and response bodies of the JSON API (pydantic models; the OpenAPI document is built from them)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    RootModel,
    WithJsonSchema,
)
from pydantic.json_schema import SkipJsonSchema

from ..core.payload import timestamp
from ..services.declarations import MAX_NOTE, MAX_TITLE
from ..services.keys import MAX_LABEL
from ..text.canonical import MAX_TEXT_BYTES

MAX_ID = 2**31 - 1
# Control characters (but TAB, LF, CR), lone surrogates and U+FFFD never reach the database.
_DISALLOWED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd]")


def _printable(value: str) -> str:
    if _DISALLOWED.search(value):
        raise ValueError("contains characters that are not allowed (control characters or U+FFFD)")
    return value


Printable = Annotated[str, AfterValidator(_printable)]
# Times in responses: RFC 3339 in UTC with seconds precision, as in signed payloads ("2026-11-27T10:00:00Z").
Timestamp = Annotated[
    datetime,
    PlainSerializer(timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-27T10:00:00Z"]}),
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
StatusName = Literal["draft", "consultation", "open_for_signature", "frozen"]
SignatureStatusName = Literal["valid", "withdrawn", "void"]


class _In(BaseModel):
    """A request body: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


# ---- errors -------------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable reason, e.g. `not_found` or `already_signed`.")
    message: str = Field(description="A sentence fit to show a person.")


class ErrorBody(BaseModel):
    """Every refusal (4xx) has this body."""

    error: ErrorDetail


# ---- account ------------------------------------------------------------------------------------------------


class CityRef(BaseModel):
    slug: str
    name: str


class Me(BaseModel):
    id: int
    email: str
    display_name: str
    role: Literal["secretariat", "delegate", "observer"]
    city: CityRef | None


# ---- declarations -------------------------------------------------------------------------------------------


class RuleAll(BaseModel):
    kind: Literal["all"]


class RuleQuorum(BaseModel):
    kind: Literal["quorum"]
    required: Id = Field(description="How many of the signatory cities must sign (1 to their number).")


Rule = Annotated[RuleAll | RuleQuorum, Field(discriminator="kind")]


class RevisionRef(BaseModel):
    number: int
    sha256: str


class CityStatus(BaseModel):
    slug: str
    name: str
    signatory: bool = Field(description="Whether the city is asked to sign the open revision.")
    approved_revision: int | None = Field(
        description="The revision the city last approved for signature during consultation (null: none)."
    )
    signature_status: Literal["not_asked", "not_signed", "valid", "withdrawn", "void"] | None = Field(
        description="null while no revision is open for signature."
    )


class DeclarationSummary(BaseModel):
    slug: str
    title: str
    status: StatusName
    latest_revision: int
    open_revision: RevisionRef | None
    signing_deadline: Timestamp | None


class DeclarationDetail(DeclarationSummary):
    signing_rule: Rule | None
    cities: list[CityStatus]


class DeclarationList(RootModel[list[DeclarationSummary]]):
    pass


class DeclarationCreate(_In):
    title: Annotated[Printable, Field(min_length=1, max_length=MAX_TITLE)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_BYTES, description="Markdown; canonicalised.")]
    slug: Annotated[Printable, Field(max_length=60)] | SkipJsonSchema[None] = Field(
        default=None, description="Short name (a-z, 0-9, hyphens); made from the title if absent."
    )


class RevisionSummary(BaseModel):
    number: int
    sha256: str
    created_at: Timestamp
    note: str
    author: str | None = Field(description="The display name of who saved it.")


class RevisionList(RootModel[list[RevisionSummary]]):
    pass


class RevisionVersionOut(BaseModel):
    tag: str = Field(description="The BCP 47 language tag, e.g. `en`, `tr`, `sr-Latn`.")
    text: str = Field(description="The canonical text of this language version; its SHA-256 is `sha256`.")
    sha256: str
    authoritative: bool


class RevisionDetail(BaseModel):
    number: int
    text: str = Field(description="The canonical text of the authoritative version; its SHA-256 is `sha256`.")
    sha256: str
    created_at: Timestamp
    note: str
    authoritative_language: str = Field(description="The tag of the authoritative version.")
    versions: list[RevisionVersionOut] = Field(description="Every language version, sorted by tag; an "
                                               "`accord.signature/2` payload names each by its SHA-256.")


class RevisionCreate(_In):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_BYTES)]
    note: Annotated[Printable, Field(max_length=MAX_NOTE)] = ""


class OpenSigning(_In):
    revision: Id
    rule: Rule
    deadline: AwareDatetime | SkipJsonSchema[None] = Field(
        default=None, description="RFC 3339 with a time zone, in the future."
    )
    excluded_cities: Annotated[list[Annotated[Printable, Field(max_length=80)]], Field(max_length=1000)] = Field(
        default_factory=list, description="Short names of member cities not asked to sign."
    )
    require_mandates: bool = Field(default=False, description="A signature needs a mayor's standing mandate.")


# ---- keys ---------------------------------------------------------------------------------------------------


class KeyCreate(_In):
    public_key: Annotated[str, Field(max_length=200, description="Base64 of the raw 32-byte Ed25519 public key.")]
    label: Annotated[Printable, Field(min_length=1, max_length=MAX_LABEL)]
    password: Annotated[Printable, Field(max_length=256, description="The account password, checked again.")]
    origin: Literal["cli", "browser"] = "cli"


class KeyOut(BaseModel):
    fingerprint: str = Field(description="`sha256:` and the hex SHA-256 of the raw public key.")
    label: str
    origin: str
    public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key.")
    created_at: Timestamp
    revoked_at: Timestamp | None
    active: bool
    user_id: int
    owner: str


class KeyList(RootModel[list[KeyOut]]):
    pass


class KeyQuery(_In):
    user: Id | SkipJsonSchema[None] = Field(default=None, description="Secretariat only: one user's keys.")


# ---- signing ------------------------------------------------------------------------------------------------


class PayloadRequest(_In):
    key_fingerprint: Annotated[Printable, Field(max_length=100)]


class IssuedPayloadOut(BaseModel):
    payload: str = Field(description="Base64 of the exact bytes to sign (RFC 8785 canonical JSON).")
    payload_sha256: str
    expires_at: Timestamp


class SignedPayload(_In):
    payload: Annotated[str, Field(max_length=100_000, description="Base64 of the payload bytes, unchanged.")]
    signature: Annotated[str, Field(max_length=1000, description="Base64 of the 64-byte Ed25519 signature.")]


class SignatureReceipt(BaseModel):
    signature_id: int = Field(description="The signature's number, which names its receipt.")
    city: str
    city_name: str
    revision: int
    signed_at: Timestamp
    payload_sha256: str
    key_fingerprint: str


class WithdrawalReceipt(BaseModel):
    signature_id: int = Field(description="The number of the signature withdrawn (its receipt now says so).")
    city: str
    city_name: str
    revision: int
    withdrawn_at: Timestamp
    payload_sha256: str = Field(description="SHA-256 of the withdrawal statement.")
    withdraws_payload_sha256: str = Field(description="SHA-256 of the signature payload withdrawn.")
    key_fingerprint: str


class SignatureOut(BaseModel):
    city: str
    city_name: str
    signer: str
    revision: int
    payload: str = Field(description="Base64 of the signed bytes.")
    payload_sha256: str
    signature: str = Field(description="Base64 of the Ed25519 signature.")
    public_key: str = Field(description="Base64 of the raw public key that verifies it.")
    key_fingerprint: str
    status: SignatureStatusName
    signed_at: Timestamp


class SignatureList(RootModel[list[SignatureOut]]):
    pass


class OpenApiDocument(RootModel[dict[str, Any]]):
    """This document."""


class FreezeOut(BaseModel):
    status: StatusName = Field(description="`frozen` if the bundle is built already, else still `open_for_signature`.")
    queued: bool = Field(description="True while the freeze waits for a worker.")
