"""The daily digest of new endorsements to the secretariat (never one e-mail per endorsement).

Celery beat runs ``send_digest`` once a day (and ``flask --app wsgi endorsements digest`` by hand): it counts
the endorsements accepted during the previous UTC day, per declaration and kind, and queues one e-mail per
secretariat member. The outbox key names the day and the member, so a day's digest goes once however often
the task runs; a day without new endorsements sends nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import Declaration, Endorsement, Role, User, utcnow
from . import outbox, transactions

TEMPLATE = "endorsement_digest"


def dedupe_key(day: date, user_id: int) -> str:
    return f"endorsement_digest:{day.isoformat()}:user{user_id}"


def summary(day: date) -> list[dict[str, object]]:
    """Per declaration: its title and slug, and how many endorsements of each kind were accepted on ``day``."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rows = db.session.execute(
        select(Declaration.slug, Declaration.title, Endorsement.endorser_kind, func.count())
        .join(Declaration, Declaration.id == Endorsement.declaration_id)
        .where(Endorsement.accepted_at >= start, Endorsement.accepted_at < start + timedelta(days=1))
        .group_by(Declaration.slug, Declaration.title, Endorsement.endorser_kind)
        .order_by(Declaration.slug)
    ).all()
    found: dict[str, dict[str, object]] = {}
    for slug, title, kind, number in rows:
        entry = found.setdefault(slug, {"slug": slug, "title": title, "total": 0, "person": 0, "organisation": 0,
                                        "city": 0})
        entry[kind] = number
        entry["total"] = int(str(entry["total"])) + number
    return list(found.values())


def send_digest(day: date | None = None) -> int:
    """Queue the digest of ``day`` (default: yesterday, UTC) to every active secretariat member; how many."""
    day = day or (utcnow() - timedelta(days=1)).date()
    declarations = summary(day)
    if not declarations:
        return 0
    members = db.session.execute(select(User.id, User.email, User.display_name).where(
        User.role == Role.SECRETARIAT.value, User.active.is_(True)).order_by(User.id)).all()
    for member_id, email, display_name in members:
        outbox.queue_email(dedupe_key(day, member_id), email, TEMPLATE, display_name=display_name,
                           day=day.isoformat(), declarations=declarations,
                           total=sum(int(str(d["total"])) for d in declarations))
    transactions.commit()
    return len(members)
