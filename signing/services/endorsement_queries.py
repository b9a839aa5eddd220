"""Reading endorsements for the public page: counts by kind and country, a keyset-paginated list, search.

Only standing endorsements that moderation has not hidden are public. The list is ordered by id, newest
first, and paged with ``after`` (the last id shown): each page is one index range scan on
(declaration_id, id), never an OFFSET. Search looks at verified organisations and cities by name. The counts are
kept a few seconds per process (``ENDORSEMENT_COUNT_CACHE_SECONDS``); the changes made in the process update them
at once, another process's show after at most that long (the public count is served with ``max-age=60`` anyway).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import ColumnElement, func, select

from ..extensions import db
from ..models import Declaration, Endorsement, Endorser

PAGE_SIZE = 50
MAX_SEARCH = 100


@dataclass(frozen=True)
class Counts:
    total: int
    by_kind: dict[str, int]
    by_country: list[tuple[str, int]]  # most first; "" is "no country given"


@dataclass(frozen=True)
class Row:
    id: int
    endorser_id: str
    kind: str
    country: str
    name: str | None  # only with consent, never after erasure
    verified: bool
    endorsed_at: datetime
    payload_sha256: str


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_after: int | None  # pass as ``after`` for the next page; None on the last page


def _visible(declaration_id: int) -> tuple[ColumnElement[bool], ...]:
    return (Endorsement.declaration_id == declaration_id, Endorsement.withdrawn_at.is_(None),
            Endorsement.hidden_at.is_(None))


# (database, declaration id) -> (monotonic time, counts): the counts are read far more often than they change.
_CACHE: dict[tuple[str, int], tuple[float, Counts]] = {}
_REFRESHING: set[tuple[str, int]] = set()  # the keys one thread of this process is counting again
_LOCK = threading.Lock()


def forget(declaration_id: int) -> None:
    """Drop this process's cached counts of a declaration (after moderation, a bulk load)."""
    _CACHE.pop((str(db.engine.url), declaration_id), None)


def changed(declaration_id: int, kind: str, country: str, delta: int) -> None:
    """One endorsement made visible (+1) or withdrawn (-1) in this process: the cached counts follow, no count.

    The entry keeps its time, so it is still counted again from the database once it is older than the TTL
    (the other processes' changes then show).
    """
    key = (str(db.engine.url), declaration_id)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            return
        old = cached[1]
        by_kind = dict(old.by_kind)
        by_kind[kind] = max(0, by_kind.get(kind, 0) + delta)
        by_country = dict(old.by_country)
        by_country[country] = max(0, by_country.get(country, 0) + delta)
        _CACHE[key] = (cached[0], _counts(by_kind, {c: n for c, n in by_country.items() if n}))


def counts(declaration: Declaration) -> Counts:
    """The counts, kept ``ENDORSEMENT_COUNT_CACHE_SECONDS`` in this process (changes made here update them).

    Once they are older than that, one thread counts again while the others keep answering with the old
    counts (no pile of identical grouped queries over every row when the entry expires under load).
    """
    key = (str(db.engine.url), declaration.id)
    ttl = float(current_app.config["ENDORSEMENT_COUNT_CACHE_SECONDS"])
    now = time.monotonic()
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and (now - cached[0] < ttl or key in _REFRESHING):
            return cached[1]
        _REFRESHING.add(key)
    try:
        fresh = _count(declaration)
        with _LOCK:
            _CACHE[key] = (now, fresh)
    finally:
        with _LOCK:
            _REFRESHING.discard(key)
    return fresh


def _count(declaration: Declaration) -> Counts:
    """One grouped query over the partial index ``ix_endorsements_counts`` (an index-only scan)."""
    rows = db.session.execute(
        select(Endorsement.endorser_kind, Endorsement.country, func.count())
        .where(*_visible(declaration.id)).group_by(Endorsement.endorser_kind, Endorsement.country)
    ).all()
    by_kind: dict[str, int] = {"person": 0, "organisation": 0, "city": 0}
    by_country: dict[str, int] = {}
    for kind, country, number in rows:
        by_kind[kind] = by_kind.get(kind, 0) + number
        by_country[country] = by_country.get(country, 0) + number
    return _counts(by_kind, by_country)


def _counts(by_kind: dict[str, int], by_country: dict[str, int]) -> Counts:
    ordered = sorted(by_country.items(), key=lambda item: (-item[1], item[0] == "", item[0]))
    return Counts(sum(by_kind.values()), by_kind, ordered)


def total(declaration: Declaration) -> int:
    return counts(declaration).total


def page(declaration: Declaration, *, after: int | None = None, search: str = "", size: int = PAGE_SIZE) -> Page:
    """The public list, newest first; ``after``: the last id of the previous page; ``search``: verified names."""
    query = (
        select(Endorsement.id, Endorser.public_id, Endorsement.endorser_kind, Endorsement.country,
               Endorser.display_name, Endorser.show_name, Endorser.erased_at, Endorser.verified_at,
               Endorsement.endorsed_at, Endorsement.payload_sha256)
        .join(Endorser, Endorser.id == Endorsement.endorser_id)
        .where(*_visible(declaration.id))
        .order_by(Endorsement.id.desc())
        .limit(size + 1)
    )
    if after is not None:
        query = query.where(Endorsement.id < after)
    term = " ".join((search or "").split())[:MAX_SEARCH]
    if term:
        escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # The few verified organisations and cities first (a partial index), then their endorsements.
        named = select(Endorser.id).where(
            Endorser.verified_at.is_not(None), Endorser.kind != "person", Endorser.show_name.is_(True),
            Endorser.erased_at.is_(None), func.lower(Endorser.display_name).like(f"%{escaped}%", escape="\\"))
        query = query.where(Endorsement.endorser_id.in_(named))
    found = db.session.execute(query).all()
    rows = [Row(id=r[0], endorser_id=r[1], kind=r[2], country=r[3],
                name=r[4] if r[5] and r[6] is None else None, verified=r[7] is not None,
                endorsed_at=r[8], payload_sha256=r[9]) for r in found[:size]]
    return Page(rows, rows[-1].id if len(found) > size and rows else None)


def oldest_after(declaration: Declaration, size: int = PAGE_SIZE) -> int | None:
    """The ``after`` that opens the page of the ``size`` oldest endorsements (None if they are all on the first).

    Read from the other end of the same index: the (size+1)-th oldest id, never an OFFSET over the list.
    """
    oldest = list(db.session.scalars(
        select(Endorsement.id).where(*_visible(declaration.id)).order_by(Endorsement.id).limit(size + 1)))
    return oldest[-1] if len(oldest) == size + 1 else None
