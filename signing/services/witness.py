"""Cities as witnesses of the transparency log: witness keys, cosignatures, fork reports.

A delegate enrols a witness key for their city (re-checking their password, as for a signing key). A
witness verifies each new checkpoint against the last one it cosigned (a consistency proof) and only then
uploads a C2SP ``cosignature/v1``; the upload is self-authenticating (it must verify with an enrolled,
unrevoked witness key over the stored checkpoint), so it needs no account. A witness that could not prove
two checkpoints consistent reports both; a report is kept only if both carry the log's valid signature
(evidence against the log, not noise), and the secretariat is told.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core import log_entry, merkle, note, tiles
from ..core.payload import fingerprint
from ..extensions import db
from ..models import LogCheckpoint, LogCosignature, LogForkReport, Role, User, WitnessKey, utcnow
from . import Conflict, Forbidden, NotFound, ServiceError, audit, outbox, throttle, tlog, transactions
from .keys import ORIGINS, parse_public_key
from .passwords import verify_password


def witness_name(city_slug: str, key_fingerprint: str) -> str:
    return f"{tlog.origin()}/witness/{city_slug}-{key_fingerprint.removeprefix('sha256:')[:8]}"


def verifier(key: WitnessKey) -> note.Verifier:
    return note.Verifier(key.name, note.COSIGNATURE_V1, bytes(key.public_key))


def active() -> list[WitnessKey]:
    return list(db.session.scalars(
        select(WitnessKey).where(WitnessKey.revoked_at.is_(None)).order_by(WitnessKey.id)
    ))


def enrol(user: User, public_key_b64: str, password: str, origin: str = "browser") -> WitnessKey:
    """Register a city's witness key (a delegate of that city, after re-checking their password)."""
    if user.role != Role.DELEGATE or user.city is None:
        raise Forbidden(_("Only delegates of a member city enrol witness keys."))
    throttle.check(user.email)
    if not verify_password(user.password_hash, password or ""):
        throttle.failed(user.email, user)
        audit.record("witness_key.enrol_wrong_password", user, user)
        transactions.commit()
        raise Forbidden(_("The password is not correct; the key was not enrolled."), code="wrong_password")
    throttle.succeeded(user.email)
    if origin not in ORIGINS:
        raise ServiceError(_("origin must be 'browser' or 'cli'."))
    raw = parse_public_key(public_key_b64)
    print_ = fingerprint(raw)
    if db.session.scalar(select(WitnessKey.id).where(WitnessKey.fingerprint == print_)) is not None:
        raise Conflict(_("This witness key is already enrolled."))
    key = WitnessKey(city_id=user.city.id, user_id=user.id, public_key=raw, fingerprint=print_,
                     name=witness_name(user.city.slug, print_), origin=origin)
    db.session.add(key)
    db.session.flush()
    audit.record("witness_key.enrolled", key, user, fingerprint=print_, name=key.name, origin=origin)
    tlog.append(log_entry.KEY_ENROLLED, city=user.city.slug, key_fingerprint=print_, key_use="witness")
    transactions.commit()
    return key


def revoke(key: WitnessKey, actor: User) -> None:
    """The delegate who enrolled it or the secretariat revokes a witness key; its cosignatures stay."""
    if actor.id != key.user_id and actor.role != Role.SECRETARIAT:
        raise Forbidden(_("Only the key's owner or the secretariat can revoke it."))
    if key.revoked_at is not None:
        raise Conflict(_("This witness key is already revoked."))
    key.revoked_at = utcnow()
    audit.record("witness_key.revoked", key, actor, fingerprint=key.fingerprint, name=key.name)
    tlog.append(log_entry.KEY_REVOKED, city=key.city.slug, key_fingerprint=key.fingerprint, key_use="witness")
    transactions.commit()


def keys_of(user: User) -> list[WitnessKey]:
    """The witness keys a delegate enrolled, newest first."""
    return list(db.session.scalars(
        select(WitnessKey).where(WitnessKey.user_id == user.id).order_by(WitnessKey.id.desc())
    ))


def all_keys() -> list[WitnessKey]:
    """Every witness key, revoked ones included (the secretariat's keys page)."""
    return list(db.session.scalars(select(WitnessKey).order_by(WitnessKey.city_id, WitnessKey.id)))


def get(key_id: int) -> WitnessKey:
    key = db.session.get(WitnessKey, key_id)
    if key is None:
        raise NotFound(_("No such witness key."))
    return key


def get_by_fingerprint(key_fingerprint: str) -> WitnessKey:
    key = db.session.scalar(select(WitnessKey).where(WitnessKey.fingerprint == key_fingerprint))
    if key is None:
        raise NotFound(_("No witness key with that fingerprint."))
    return key


def add_cosignature(size: int, line: str) -> LogCosignature:
    """Store a witness's cosignature of the checkpoint of ``size`` entries, after verifying it."""
    checkpoint = db.session.get(LogCheckpoint, size)
    if checkpoint is None:
        raise NotFound(_("No checkpoint of size %(size)s.", size=size))
    try:
        _body, signatures = note.parse_note(checkpoint.text + "\n" + line.rstrip("\n") + "\n")
    except note.NoteError as exc:
        raise ServiceError(_("Not a signature line: %(exc)s.", exc=exc), code="bad_cosignature") from exc
    if len(signatures) != 1:
        raise ServiceError(_("Send exactly one signature line."), code="bad_cosignature")
    (signature,) = signatures
    key = db.session.scalar(select(WitnessKey).where(WitnessKey.name == signature.name,
                                                     WitnessKey.revoked_at.is_(None)))
    if key is None or verifier(key).key_id != signature.key_id:
        raise ServiceError(_("No enrolled witness key has this name and key ID."), code="unknown_witness")
    try:
        timestamp = verifier(key).verify(checkpoint.text, signature.signature)
    except note.NoteError as exc:
        raise ServiceError(_("The cosignature does not verify for this checkpoint."), code="bad_cosignature") from exc
    assert timestamp is not None  # noqa: S101 - a cosignature/v1 always has one
    existing = db.session.scalar(select(LogCosignature).where(
        LogCosignature.checkpoint_size == size, LogCosignature.witness_key_id == key.id))
    if existing is not None:
        transactions.rollback()
        return existing
    row = LogCosignature(checkpoint_size=size, witness_key_id=key.id, timestamp=timestamp, line=signature.line())
    db.session.add(row)
    try:
        transactions.commit(keep=[row])
    except IntegrityError:  # the same witness, at the same moment
        found = db.session.scalar(select(LogCosignature).where(
            LogCosignature.checkpoint_size == size, LogCosignature.witness_key_id == key.id))
        if found is None:
            raise
        return found
    return row


def cosignatures(size: int) -> list[LogCosignature]:
    return list(db.session.scalars(
        select(LogCosignature).where(LogCosignature.checkpoint_size == size).order_by(LogCosignature.id)
    ))


def cosigned_note(checkpoint: LogCheckpoint) -> str:
    """The checkpoint as a signed note with the log's signature and every cosignature gathered for it."""
    return checkpoint.text + "\n" + checkpoint.signature + "".join(c.line for c in cosignatures(checkpoint.size))


def _is_ours(checkpoint: note.Checkpoint) -> bool:
    """True if this log's tree, as stored, had ``checkpoint``'s root at its size."""
    latest = tlog.latest_checkpoint()
    if latest is None or not 1 <= checkpoint.size <= latest.size:
        return False
    hashes = tiles.TileHashes(checkpoint.size, tlog.TileStore().read)
    return merkle.root(hashes.stored, checkpoint.size) == checkpoint.root


def report_fork(old_note: str, new_note: str, reason: str, witness_name_: str | None = None) -> LogForkReport:
    """Keep two checkpoints signed by this log that a witness could not prove consistent; tell the secretariat.

    Both must carry the log's signature, and at least one must not be a state of the stored tree (two of its
    own checkpoints are consistent by construction: reporting them is noise, refused with a 400).
    """
    log_key = tlog.log_verifier()
    parsed = []
    for which, text in ((_("old"), old_note), (_("new"), new_note)):
        try:
            body, verified, _keys = note.open_note(text, [log_key])
            parsed.append(note.parse_checkpoint(body))
        except note.NoteError as exc:
            raise ServiceError(_("The %(which)s checkpoint is not a signed note: %(exc)s.",
                                 which=which, exc=exc)) from exc
        if not verified:
            raise ServiceError(_("The %(which)s checkpoint does not carry this log's signature.", which=which))
    if all(_is_ours(checkpoint) for checkpoint in parsed):
        raise ServiceError(_("Both checkpoints are states of this log's tree, so they are consistent: ask "
                             "/api/v1/log/proof/consistency again."), code="not_a_fork")
    key = (db.session.scalar(select(WitnessKey).where(WitnessKey.name == witness_name_))
           if witness_name_ else None)
    report = LogForkReport(witness_key_id=key.id if key else None, old_checkpoint=old_note,
                           new_checkpoint=new_note, reason=" ".join(reason.split())[:2000])
    db.session.add(report)
    db.session.flush()
    audit.record("log.fork_reported", report, None, witness=witness_name_, reason=report.reason)
    for user in db.session.scalars(select(User).where(User.role == Role.SECRETARIAT.value,
                                                      User.active.is_(True))):
        outbox.queue_email(f"log_fork:{report.id}:user{user.id}", user.email, "log_fork",
                           display_name=user.display_name, witness=witness_name_ or "an unnamed witness",
                           reason=report.reason, old_checkpoint=old_note, new_checkpoint=new_note)
    transactions.commit()
    return report
