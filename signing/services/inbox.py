"""The delegate's inbox: for each declaration, what is asked of their city now, and the one step that does it.

``ask(declaration, user)`` decides; the home page lists the asks, the declarations list marks those that need
action, and ``/declarations/<slug>/next-step`` (the link in every e-mail) goes to the step at click time, so a
link in an old e-mail still leads to what is asked now.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select

from ..extensions import db
from ..models import AuditEvent, Declaration, Role, Signature, SignatureStatus, SigningDecline, Status, User
from . import declarations, review, signatures


class Kind(enum.StrEnum):
    READ = "read"  # read revision N (the city has not seen the latest)
    APPROVE = "approve"  # approve revision N for signature
    APPROVED = "approved"  # approved; waiting for signing to open
    SIGN = "sign"  # sign revision N (by the deadline)
    SIGN_AGAIN = "sign_again"  # a new round voided the city's signature: sign again
    DECLINED = "declined"  # the city declined; may change its mind until freeze
    SIGNED = "signed"  # done
    NOT_ASKED = "not_asked"  # signing is open, the city is not asked
    FROZEN = "frozen"  # done for good
    FOLLOW = "follow"  # not a delegate: nothing is asked


ACTION_NEEDED = frozenset({Kind.READ, Kind.APPROVE, Kind.SIGN, Kind.SIGN_AGAIN})


@dataclass(frozen=True)
class Voided:
    """The city's last voided signature on this declaration, and why it was voided."""

    revision: int
    at: datetime | None
    reason: str


@dataclass(frozen=True)
class Ask:
    declaration: Declaration
    kind: Kind
    revision: int  # the revision the step is about
    deadline: datetime | None = None
    signed_at: datetime | None = None
    voided: Voided | None = None
    decline: SigningDecline | None = None

    @property
    def action_needed(self) -> bool:
        return self.kind in ACTION_NEEDED


def _voided(declaration: Declaration, city_id: int) -> Voided | None:
    record = db.session.scalar(
        select(Signature)
        .where(Signature.declaration_id == declaration.id, Signature.city_id == city_id,
               Signature.status == SignatureStatus.VOID.value)
        .order_by(Signature.id.desc())
        .limit(1)
    )
    if record is None:
        return None
    returned = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "declaration.returned_to_consultation",
               AuditEvent.object_type == "declarations", AuditEvent.object_id == str(declaration.id))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    reason = str(returned.details.get("reason", "")) if returned is not None else ""
    return Voided(revision=record.revision.number, at=record.status_changed_at, reason=reason)


def superseded(decline: SigningDecline) -> bool:
    """A city that declined and then signed after all no longer declines: a signature made since the decline
    supersedes it (read here, so that the signing path itself writes nothing more)."""
    return bool(db.session.scalar(select(exists().where(
        Signature.revision_id == decline.revision_id, Signature.city_id == decline.city_id,
        Signature.signed_at >= decline.declined_at))))


def decline_of(declaration: Declaration, city_id: int) -> SigningDecline | None:
    """The city's standing decline of the revision open for signature, if any."""
    if declaration.open_revision_id is None:
        return None
    record = db.session.scalar(
        select(SigningDecline).where(SigningDecline.revision_id == declaration.open_revision_id,
                                     SigningDecline.city_id == city_id)
    )
    return None if record is None or superseded(record) else record


def ask(declaration: Declaration, user: User) -> Ask:
    """What is asked of ``user``'s city on ``declaration`` now."""
    latest = declaration.latest.number
    if user.role != Role.DELEGATE.value or user.city_id is None:
        return Ask(declaration, Kind.FOLLOW, latest)
    city_id = user.city_id
    state = declaration.state
    if state is Status.CONSULTATION:
        voided = _voided(declaration, city_id)
        viewed = declarations.last_viewed(user, declaration)
        if viewed is None or viewed < latest:
            return Ask(declaration, Kind.READ, latest, voided=voided)
        approval = review.latest_approvals(declaration.id).get(city_id)
        if approval is None or approval.revision.number != latest:
            return Ask(declaration, Kind.APPROVE, latest, voided=voided)
        return Ask(declaration, Kind.APPROVED, latest, voided=voided)
    revision = declaration.open_revision
    number = revision.number if revision is not None else latest
    if state is Status.FROZEN:
        standing = signatures.standing_signature(declaration, city_id)
        return Ask(declaration, Kind.FROZEN, number, signed_at=standing.signed_at if standing else None)
    if state is not Status.OPEN_FOR_SIGNATURE:
        return Ask(declaration, Kind.FOLLOW, latest)
    if not signatures.may_sign(declaration, user):
        return Ask(declaration, Kind.NOT_ASKED, number)
    deadline = declaration.signing_deadline
    standing = signatures.standing_signature(declaration, city_id)
    if standing is not None:
        return Ask(declaration, Kind.SIGNED, number, deadline=deadline, signed_at=standing.signed_at)
    decline = decline_of(declaration, city_id)
    if decline is not None:
        return Ask(declaration, Kind.DECLINED, number, deadline=deadline, decline=decline)
    voided = _voided(declaration, city_id)
    if voided is not None:
        return Ask(declaration, Kind.SIGN_AGAIN, number, deadline=deadline, voided=voided)
    return Ask(declaration, Kind.SIGN, number, deadline=deadline)


def asks_for(user: User) -> list[Ask]:
    """The inbox: every declaration the user sees, those that need action first."""
    items = [ask(declaration, user) for declaration in declarations.visible_to(user)]
    return sorted(items, key=lambda item: not item.action_needed)  # stable: newest first within each group
