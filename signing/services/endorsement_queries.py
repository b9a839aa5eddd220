"""Reading endorsements for the public page: counts by kind and country, a keyset-paginated list, search.

Only standing endorsements that moderation has not hidden are public. The list is ordered by id, newest
first, and paged with ``after`` (the last id shown): each page is one index range scan on
(declaration_id, id), never an OFFSET. Search looks at verified organisations and cities by name. The counts are
kept a few seconds per process (``ENDORSEMENT_COUNT_CACHE_SECONDS``); the changes made in the process update them
at once, another process's show after at most that long (the public count is served with ``max-age=60`` anyway);
once expired they are counted again on a thread of their own, the old counts answering meanwhile.

What the public pages keep besides (``signing/web/endorse_pages.py``) follows the same rule: a frozen declaration's
id, slug and title (the database refuses any change to a frozen declaration), and ``oldest_after``. Every
committed change to an endorser (a name, its consent, its erasure, a verification) or an endorsement made in this
process moves ``epoch()``, which the pages compare before serving what they kept.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import ColumnElement, event, func, select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Declaration, Endorsement, Endorser, Status

PAGE_SIZE = 50
MAX_SEARCH = 100


class Identified(Protocol):
    """A declaration as these queries need it: its id (a ``Declaration`` or a ``FrozenDeclaration``)."""

    @property
    def id(self) -> int: ...


@dataclass(frozen=True)
class FrozenDeclaration:
    """What the public endorsement pages show of a frozen declaration; it never changes once frozen."""

    id: int
    slug: str
    title: str


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
FIRST_COUNT_WAIT = 10.0  # seconds a request waits for another thread's first count before counting itself
_FIRST: dict[tuple[str, int], threading.Event] = {}  # a first count under way (no old counts to answer with)
_VERSION: dict[tuple[str, int], int] = {}  # moved by ``changed`` and ``forget``: a count begun before is stale
_REFRESHERS: dict[tuple[str, int], threading.Thread] = {}  # the last thread started per key (tests join it)

_FROZEN: dict[tuple[str, str], FrozenDeclaration] = {}  # (database, slug): only frozen ones, read once
_OLDEST: dict[tuple[str, int], tuple[float, int, int | None]] = {}  # (database, id) -> (time, epoch, oldest_after)
_EPOCH = [0]  # changes to endorsers and endorsements committed in this process (any database)
_CHANGED = "accord_endorsements_changed"  # Session.info: this transaction flushed such a change


def _database() -> str:
    return str(db.engine.url)


def epoch() -> int:
    """Moves with every endorser or endorsement change committed in this process (and every ``forget``)."""
    return _EPOCH[0]


def _moved() -> None:
    with _LOCK:
        _EPOCH[0] += 1


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: Any) -> None:
    """A new endorsement, or a changed endorser or endorsement (a new endorser is on no list yet)."""
    if any(isinstance(item, Endorsement) for item in session.new) or any(
            isinstance(item, (Endorser, Endorsement)) for item in (*session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


def note_change() -> None:
    """An endorser or endorsement changed by a Core statement (no flush sees it): move the epoch at the commit."""
    db.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    """After the commit, never before: a page read in between would be kept with the old rows. (A flag left by a
    rolled-back flush only moves the epoch once more at the next commit: one page rendered again, nothing stale.)"""
    if session.info.pop(_CHANGED, False):
        _moved()


def frozen_declaration(slug: str) -> FrozenDeclaration | None:
    """The frozen declaration with this slug (None if there is none, or it is not frozen yet), kept per process:
    the database refuses any UPDATE or DELETE of a frozen declaration, so what was read stays true."""
    key = (_database(), slug)
    found = _FROZEN.get(key)
    if found is None:
        row = db.session.execute(select(Declaration.id, Declaration.slug, Declaration.title).where(
            Declaration.slug == slug, Declaration.status == Status.FROZEN.value)).first()
        if row is None:
            return None
        found = _FROZEN[key] = FrozenDeclaration(row[0], row[1], row[2])
    return found


def forget(declaration_id: int) -> None:
    """Drop this process's cached counts of a declaration (after moderation, a bulk load)."""
    key = (_database(), declaration_id)
    with _LOCK:
        _CACHE.pop(key, None)
        _VERSION[key] = _VERSION.get(key, 0) + 1
    _moved()


def changed(declaration_id: int, kind: str, country: str, delta: int) -> None:
    """One endorsement made visible (+1) or withdrawn (-1) in this process: the cached counts follow, no count.

    The entry keeps its time, so it is still counted again from the database once it is older than the TTL
    (the other processes' changes then show).
    """
    key = (_database(), declaration_id)
    with _LOCK:
        _EPOCH[0] += 1
        _VERSION[key] = _VERSION.get(key, 0) + 1
        cached = _CACHE.get(key)
        if cached is None:
            return
        old = cached[1]
        by_kind = dict(old.by_kind)
        by_kind[kind] = max(0, by_kind.get(kind, 0) + delta)
        by_country = dict(old.by_country)
        by_country[country] = max(0, by_country.get(country, 0) + delta)
        _CACHE[key] = (cached[0], _counts(by_kind, {c: n for c, n in by_country.items() if n}))


def counts(declaration: Identified) -> Counts:
    """The counts, kept ``ENDORSEMENT_COUNT_CACHE_SECONDS`` in this process (changes made here update them).

    Once they are older than that, they are counted again on a thread of their own while every request keeps
    answering with the old counts: no request waits for the grouped query over every row but the first ones of
    a process (nothing to answer with yet: one thread counts, the others wait for its answer), and there is
    never more than one such query per process and declaration at a time.
    """
    key = (_database(), declaration.id)
    ttl = float(current_app.config["ENDORSEMENT_COUNT_CACHE_SECONDS"])
    now = time.monotonic()
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and (now - cached[0] < ttl or key in _REFRESHING):
            return cached[1]
        first = _FIRST.get(key) if cached is None else None
        if first is None:
            _REFRESHING.add(key)
            if cached is None:
                _FIRST[key] = threading.Event()
        version = _VERSION.get(key, 0)
    if first is not None:  # another thread is counting them: its answer (or, if it fails, our own count)
        first.wait(timeout=FIRST_COUNT_WAIT)
        with _LOCK:
            cached = _CACHE.get(key)
        return cached[1] if cached is not None else _store(key, now, version, _count(declaration.id))
    if cached is not None:  # expired: the old counts meanwhile
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        _REFRESHERS[key] = thread = threading.Thread(target=_recount, args=(app, key, version, declaration.id),
                                                     daemon=True, name=f"accord-endorsement-counts-{declaration.id}")
        try:
            thread.start()
        except RuntimeError:  # no thread to be had (shutting down): counted next time
            with _LOCK:
                _REFRESHING.discard(key)
        return cached[1]
    try:
        return _store(key, now, version, _count(declaration.id))
    finally:
        with _LOCK:
            _REFRESHING.discard(key)
            done = _FIRST.pop(key, None)
        if done is not None:
            done.set()


def _recount(app: Flask, key: tuple[str, int], version: int, declaration_id: int) -> None:
    started = time.monotonic()
    try:
        with app.app_context():  # its own session, removed when the context ends
            _store(key, started, version, _count(declaration_id))
    except Exception:  # the old counts stay; the next request past the TTL tries again
        app.logger.exception("counting the endorsements of declaration %s again failed", declaration_id)
    finally:
        with _LOCK:
            _REFRESHING.discard(key)


def _store(key: tuple[str, int], started: float, version: int, fresh: Counts) -> Counts:
    """Keep what was counted, unless this process changed the counts meanwhile (``changed``, ``forget``): the
    count may or may not hold that change, so it is not kept (the entry that followed the change stays, or the
    next request counts)."""
    with _LOCK:
        if _VERSION.get(key, 0) == version:
            _CACHE[key] = (started, fresh)
    return fresh


def _count(declaration_id: int) -> Counts:
    """One grouped query over the partial index ``ix_endorsements_counts`` (an index-only scan)."""
    rows = db.session.execute(
        select(Endorsement.endorser_kind, Endorsement.country, func.count())
        .where(*_visible(declaration_id)).group_by(Endorsement.endorser_kind, Endorsement.country)
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


def total(declaration: Identified) -> int:
    return counts(declaration).total


def page(declaration: Identified, *, after: int | None = None, search: str = "", size: int = PAGE_SIZE) -> Page:
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


def oldest_after(declaration: Identified, size: int = PAGE_SIZE) -> int | None:
    """The ``after`` that opens the page of the ``size`` oldest endorsements (None if they are all on the first).

    Read from the other end of the same index: the (size+1)-th oldest id, never an OFFSET over the list. The
    default page's is kept like the counts (``ENDORSEMENT_COUNT_CACHE_SECONDS``, until a change in this process).
    """
    if size != PAGE_SIZE:
        return _oldest_after(declaration.id, size)
    key, now, seen = (_database(), declaration.id), time.monotonic(), epoch()
    cached = _OLDEST.get(key)
    if cached is not None and cached[1] == seen \
            and now - cached[0] < float(current_app.config["ENDORSEMENT_COUNT_CACHE_SECONDS"]):
        return cached[2]
    found = _OLDEST[key] = (now, seen, _oldest_after(declaration.id, size))  # the epoch read before the query
    return found[2]


def _oldest_after(declaration_id: int, size: int) -> int | None:
    oldest = list(db.session.scalars(
        select(Endorsement.id).where(*_visible(declaration_id)).order_by(Endorsement.id).limit(size + 1)))
    return oldest[-1] if len(oldest) == size + 1 else None
