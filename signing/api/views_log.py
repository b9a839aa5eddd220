"""The transparency log as JSON: entries and proofs. Public (no token) and cacheable: the answer for given
parameters never changes once the tree has that size."""

from __future__ import annotations

from ..core.note import b64
from ..services import tlog_read
from . import schemas_log
from .core import bp, endpoint


@bp.get("/log/entries")
@endpoint(schemas_log.LogEntries, tag="log", public=True)
def log_entries(query: schemas_log.EntriesQuery) -> schemas_log.LogEntries:
    """The exact bytes of the entries ``start`` ≤ i < ``end`` of the signed tree."""
    return schemas_log.LogEntries(start=query.start, entries=[b64(e) for e in tlog_read.entries(query.start,
                                                                                                  query.end)])


@bp.get("/log/proof/inclusion")
@endpoint(schemas_log.InclusionProof, tag="log", public=True)
def log_inclusion_proof(query: schemas_log.InclusionQuery) -> schemas_log.InclusionProof:
    """The inclusion proof of entry ``index`` in the tree of ``size`` entries."""
    hashes = tlog_read.inclusion_proof(query.index, query.size)
    return schemas_log.InclusionProof(leaf_index=query.index, tree_size=query.size, hashes=[b64(h) for h in hashes])


@bp.get("/log/proof/consistency")
@endpoint(schemas_log.ConsistencyProof, tag="log", public=True)
def log_consistency_proof(query: schemas_log.ConsistencyQuery) -> schemas_log.ConsistencyProof:
    """The proof that the tree of ``size`` entries extends the tree of ``old`` entries."""
    hashes = tlog_read.consistency_proof(query.old, query.size)
    return schemas_log.ConsistencyProof(old_size=query.old, tree_size=query.size, hashes=[b64(h) for h in hashes])
