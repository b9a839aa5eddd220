"""The transparency log as JSON: entries and proofs (public, cacheable: the answer for given parameters never
changes once the tree has that size); witness keys, cosignatures and fork reports (public and
self-authenticating, but enrolling a witness key, which needs a delegate's token)."""

from __future__ import annotations

from flask import current_app

from ..core.note import b64
from ..extensions import limiter
from ..services import tlog_read, witness
from . import actions, present, schemas_log
from .bearer import current_user
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


@bp.get("/log/witnesses")
@endpoint(schemas_log.WitnessList, tag="log", public=True)
def log_witnesses() -> schemas_log.WitnessList:
    """The cities' enrolled (unrevoked) witness keys."""
    return schemas_log.WitnessList(witnesses=[present.witness_key(key) for key in witness.active()])


def cosignature_rate_limit() -> str:
    """Cosignature uploads per client address (each is verified, an Ed25519 check, before anything is kept)."""
    return str(current_app.config["LOG_COSIGNATURE_RATE_LIMIT"])


def fork_report_rate_limit() -> str:
    """Fork reports per client address: each one kept e-mails the secretariat."""
    return str(current_app.config["LOG_FORK_REPORT_RATE_LIMIT"])


@bp.post("/log/witnesses")
@limiter.limit(actions.enrol_rate_limit)
@endpoint(schemas_log.WitnessOut, status=201, errors=(400, 403, 409, 429), tag="log")
def enrol_witness(json: schemas_log.WitnessCreate) -> tuple[schemas_log.WitnessOut, int]:
    """Enrol a witness key for your city (delegates; your password is checked again)."""
    key = witness.enrol(current_user(), json.public_key, json.password, json.origin)
    return present.witness_key(key), 201


@bp.post("/log/witnesses/<fingerprint>/revoke")
@endpoint(schemas_log.WitnessOut, errors=(403, 404, 409), tag="log")
def revoke_witness(fingerprint: str) -> schemas_log.WitnessOut:
    """Revoke a witness key (the delegate who enrolled it, or the secretariat); its later cosignatures are refused,
    those it gave stay."""
    key = witness.get_by_fingerprint(fingerprint)
    witness.revoke(key, current_user())
    return present.witness_key(key)


@bp.post("/log/cosignatures")
@limiter.limit(cosignature_rate_limit)
@endpoint(schemas_log.CosignatureOut, status=201, errors=(400, 404, 429), tag="log", public=True)
def log_cosign(json: schemas_log.CosignatureIn) -> tuple[schemas_log.CosignatureOut, int]:
    """Upload a witness's `cosignature/v1` of a checkpoint; it must verify with an enrolled witness key."""
    row = witness.add_cosignature(json.size, json.cosignature)
    return schemas_log.CosignatureOut(size=row.checkpoint_size, witness=row.witness_key.name,
                                      timestamp=row.timestamp), 201


@bp.post("/log/fork-reports")
@limiter.limit(fork_report_rate_limit)
@endpoint(schemas_log.ForkReportOut, status=201, errors=(400, 429), tag="log", public=True)
def log_fork_report(json: schemas_log.ForkReportIn) -> tuple[schemas_log.ForkReportOut, int]:
    """Report two checkpoints signed by this log that could not be proven consistent (both must verify)."""
    report = witness.report_fork(json.old_checkpoint, json.new_checkpoint, json.reason, json.witness)
    return schemas_log.ForkReportOut(id=report.id), 201
