"""The secretariat's per-city tracking table for one declaration (HTML and CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, func, select

from ..extensions import db
from ..models import (
    Amendment,
    AmendmentStatus,
    City,
    Comment,
    Declaration,
    Revision,
    RevisionView,
    Role,
    Signature,
    SignatureStatus,
    User,
)
from . import mandate_rules
from .review import latest_approvals


@dataclass(frozen=True)
class CityRow:
    city: City
    delegates: list[User]
    last_viewed: int | None
    approved: int | None  # the revision the city last approved for signature
    approved_sha256: str | None
    approved_current: bool
    open_comments: int
    open_amendments: int
    signature: str  # filled in by the signing feature; "—" until signing opens (English: the CSV's words)
    signatory: bool
    # When the declaration requires mandates: whether a standing mandate covering it names a delegate of the city.
    mandate: bool | None = None
    signature_record: Signature | None = None  # the city's latest signature, for the page's own words


@dataclass(frozen=True)
class Dashboard:
    declaration: Declaration
    current: Revision
    rows: list[CityRow]

    @property
    def approved_count(self) -> int:
        return sum(1 for r in self.rows if r.approved_current)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def signed_count(self) -> int:
        return sum(1 for r in self.rows if r.signature.startswith("signed"))

    @property
    def signatory_count(self) -> int:
        return sum(1 for r in self.rows if r.signatory)


def _by_city(rows: Sequence[Row[tuple[int | None, int]]]) -> dict[int | None, int]:
    return {row[0]: int(row[1] or 0) for row in rows}


def _signature_status(declaration: Declaration, city_id: int, signatory_ids: set[int],
                      signatures: dict[int, Signature]) -> str:
    if not signatory_ids:
        return "—"
    if city_id not in signatory_ids:
        return "not asked"
    record = signatures.get(city_id)
    if record is None:
        return "not signed"
    when = record.signed_at.strftime("%Y-%m-%d %H:%M UTC")
    if record.status == SignatureStatus.VALID:
        return f"signed {when}"
    return f"{record.status} (signed {when})"


def build(declaration: Declaration) -> Dashboard:
    current = declaration.open_revision or declaration.latest
    cities = list(db.session.scalars(select(City).order_by(City.slug)))
    signatory_ids = {s.city_id for s in declaration.signatories}
    approvals = latest_approvals(declaration.id)
    signatures: dict[int, Signature] = {}
    if declaration.open_revision_id is not None:
        for record in db.session.scalars(
            select(Signature).where(Signature.revision_id == declaration.open_revision_id).order_by(Signature.id)
        ):
            signatures[record.city_id] = record  # the latest attempt per city wins

    revision_ids = select(Revision.id).where(Revision.declaration_id == declaration.id)
    comments = _by_city(
        db.session.execute(
            select(User.city_id, func.count(Comment.id))
            .join(User, Comment.author_id == User.id)
            .where(Comment.revision_id.in_(revision_ids), Comment.resolved_at.is_(None),
                   Comment.parent_id.is_(None))
            .group_by(User.city_id)
        ).all()
    )
    amendments = _by_city(
        db.session.execute(
            select(User.city_id, func.count(Amendment.id))
            .join(User, Amendment.proposer_id == User.id)
            .where(Amendment.revision_id.in_(revision_ids), Amendment.status == AmendmentStatus.OPEN.value)
            .group_by(User.city_id)
        ).all()
    )
    views = _by_city(
        db.session.execute(
            select(User.city_id, func.max(RevisionView.revision_number))
            .join(User, RevisionView.user_id == User.id)
            .where(RevisionView.declaration_id == declaration.id)
            .group_by(User.city_id)
        ).all()
    )
    in_place = mandate_rules.cities_in_place(declaration) if declaration.require_mandates else {}
    rows = []
    for city in cities:
        approval = approvals.get(city.id)
        rows.append(
            CityRow(
                city=city,
                delegates=[d for d in city.delegates if d.active and d.role == Role.DELEGATE],
                last_viewed=views.get(city.id),
                approved=approval.revision.number if approval else None,
                approved_sha256=approval.sha256 if approval else None,
                approved_current=bool(approval and approval.revision_id == current.id),
                open_comments=int(comments.get(city.id, 0)),
                open_amendments=int(amendments.get(city.id, 0)),
                signature=_signature_status(declaration, city.id, signatory_ids, signatures),
                signatory=city.id in signatory_ids,
                mandate=in_place.get(city.id, False) if declaration.require_mandates else None,
                signature_record=signatures.get(city.id) if city.id in signatory_ids else None,
            )
        )
    return Dashboard(declaration=declaration, current=current, rows=rows)


CSV_HEADER = [
    "city", "country", "delegates", "last_revision_viewed", "approved_revision", "approved_sha256",
    "approved_current", "open_comments", "open_amendments", "signature_status",
]


def _cell(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(board: Dashboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in board.rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    row.city.name, row.city.country, "; ".join(d.display_name for d in row.delegates),
                    row.last_viewed, row.approved, row.approved_sha256, "yes" if row.approved_current else "no",
                    row.open_comments, row.open_amendments, row.signature,
                )
            ]
        )
    return out.getvalue()
