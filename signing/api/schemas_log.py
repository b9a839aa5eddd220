"""Request and response bodies of the transparency log's JSON endpoints (``/api/v1/log/...``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from .schemas import _In

Index = Annotated[int, Field(ge=0, le=2**62)]
Size = Annotated[int, Field(ge=1, le=2**62)]
Base64Hash = Annotated[str, Field(description="A SHA-256 hash, base64 (32 bytes).")]


class EntriesQuery(_In):
    start: Index = Field(description="The index of the first entry.")
    end: Size = Field(description="One past the index of the last entry (at most 1000 entries per request).")


class LogEntries(BaseModel):
    start: int
    entries: list[str] = Field(description="The exact bytes of each entry, base64; the leaf hash is "
                                           "SHA-256(0x00 ‖ bytes).")


class InclusionQuery(_In):
    index: Index = Field(description="The entry's index.")
    size: Size = Field(description="The tree size (at most that of the latest signed checkpoint).")


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[Base64Hash] = Field(description="RFC 9162 §2.1.3 inclusion proof, from the leaf up.")


class ConsistencyQuery(_In):
    old: Size = Field(description="The size of the older tree.")
    size: Size = Field(description="The size of the newer tree (at most that of the latest signed checkpoint).")


class ConsistencyProof(BaseModel):
    old_size: int
    tree_size: int
    hashes: list[Base64Hash] = Field(description="RFC 9162 §2.1.4 consistency proof.")


class WitnessOut(BaseModel):
    name: str = Field(description="The cosigner key name in signature lines.")
    city: str = Field(description="The city's short name.")
    fingerprint: str
    verifier_key: str = Field(description="`<name>+<key ID>+<base64(0x04 ‖ public key)>` (C2SP signed-note vkey).")
    origin: str = Field(description="`browser` or `cli`: where the private key lives.")


class WitnessList(BaseModel):
    witnesses: list[WitnessOut]


class WitnessCreate(_In):
    public_key: str = Field(max_length=100, description="The raw 32-byte Ed25519 public key, base64.")
    password: str = Field(max_length=1000, description="Your account password, checked again.")
    origin: str = Field(default="cli", max_length=20, description="`browser` or `cli`.")


class CosignatureIn(_In):
    size: Size = Field(description="The size of the checkpoint cosigned.")
    cosignature: str = Field(max_length=1000, description="One signature line, `— <name> <base64>`.")


class CosignatureOut(BaseModel):
    size: int
    witness: str
    timestamp: int


class ForkReportIn(_In):
    old_checkpoint: str = Field(max_length=20000, description="The signed checkpoint the witness had cosigned.")
    new_checkpoint: str = Field(max_length=20000, description="The signed checkpoint it could not reconcile.")
    reason: str = Field(max_length=2000)
    witness: str | None = Field(default=None, max_length=300, description="The reporting witness's key name.")


class ForkReportOut(BaseModel):
    id: int
