"""The secretariat's per-city tracking table for one declaration (HTML and CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import Amendment, AmendmentStatus, City, Comment, Declaration, Revision, RevisionView, Role, User
from .review import latest_endorsements


@dataclass(frozen=True)
class CityRow:
    city: City
    delegates: list[User]
    last_viewed: int | None
    endorsed: int | None
    endorsed_sha256: str | None
    endorsed_current: bool
    open_comments: int
    open_amendments: int
    signature: str  # filled in by the signing feature; "—" until signing opens
    signatory: bool


@dataclass(frozen=True)
class Dashboard:
    declaration: Declaration
    current: Revision
    rows: list[CityRow]

    @property
    def endorsed_count(self) -> int:
        return sum(1 for r in self.rows if r.endorsed_current)

    @property
    def total(self) -> int:
        return len(self.rows)


def build(declaration: Declaration) -> Dashboard:
    current = declaration.open_revision or declaration.latest
    cities = list(db.session.scalars(select(City).order_by(City.slug)))
    signatory_ids = {s.city_id for s in declaration.signatories}
    endorsements = latest_endorsements(declaration.id)

    revision_ids = select(Revision.id).where(Revision.declaration_id == declaration.id)
    comments = dict(
        db.session.execute(
            select(User.city_id, func.count(Comment.id))
            .join(User, Comment.author_id == User.id)
            .where(Comment.revision_id.in_(revision_ids), Comment.resolved_at.is_(None),
                   Comment.parent_id.is_(None))
            .group_by(User.city_id)
        ).all()
    )
    amendments = dict(
        db.session.execute(
            select(User.city_id, func.count(Amendment.id))
            .join(User, Amendment.proposer_id == User.id)
            .where(Amendment.revision_id.in_(revision_ids), Amendment.status == AmendmentStatus.OPEN.value)
            .group_by(User.city_id)
        ).all()
    )
    views = dict(
        db.session.execute(
            select(User.city_id, func.max(RevisionView.revision_number))
            .join(User, RevisionView.user_id == User.id)
            .where(RevisionView.declaration_id == declaration.id)
            .group_by(User.city_id)
        ).all()
    )
    rows = []
    for city in cities:
        endorsement = endorsements.get(city.id)
        rows.append(
            CityRow(
                city=city,
                delegates=[d for d in city.delegates if d.active and d.role == Role.DELEGATE],
                last_viewed=views.get(city.id),
                endorsed=endorsement.revision.number if endorsement else None,
                endorsed_sha256=endorsement.sha256 if endorsement else None,
                endorsed_current=bool(endorsement and endorsement.revision_id == current.id),
                open_comments=int(comments.get(city.id, 0)),
                open_amendments=int(amendments.get(city.id, 0)),
                signature="—" if not signatory_ids else ("not signed" if city.id in signatory_ids else "not asked"),
                signatory=city.id in signatory_ids,
            )
        )
    return Dashboard(declaration=declaration, current=current, rows=rows)


CSV_HEADER = [
    "city", "country", "delegates", "last_revision_viewed", "endorsed_revision", "endorsed_sha256",
    "endorsed_current", "open_comments", "open_amendments", "signature_status",
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
                    row.last_viewed, row.endorsed, row.endorsed_sha256, "yes" if row.endorsed_current else "no",
                    row.open_comments, row.open_amendments, row.signature,
                )
            ]
        )
    return out.getvalue()
