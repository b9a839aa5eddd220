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
