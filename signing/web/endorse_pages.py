"""The public endorsement list and count, kept rendered per process while nothing they show has changed.

The list page of a frozen declaration is the same for every visitor in a language: the counts, one page of
rows, the pager. That part (``endorse/_list_content.html``) is rendered without the request's context and kept
per (database, declaration, ``after``, search, locale); it is served again while the counts it was rendered with
are still this process's cached counts (``endorsement_queries.counts``: a few seconds, and replaced at once by a
change made in this process) and ``endorsement_queries.epoch()`` has not moved (any endorser or endorsement
change committed in this process: a name, its erasure, a verification, a withdrawal, moderation). Another
process's changes therefore show within the counts' few seconds, this process's at once.

A signed-in visitor gets the shared part inside their own layout (their menu, their CSRF token). An anonymous
visitor with nothing personal waiting (no flashed message) gets the whole page, kept with the shared part: the
layout then holds nothing of any session. The count's JSON is kept with the counts it was made from.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app, render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from ..extensions import db
from ..services import endorsement_queries, endorsers
from ..services.endorsement_queries import Counts, FrozenDeclaration

KEPT_PAGES = 128  # per process: about 40 kB each (the shared part and the anonymous page)


@dataclass
class _Kept:
    counts: Counts  # the cached counts it was rendered with (compared by identity)
    epoch: int  # endorsement_queries.epoch() read before its rows were
    content: Markup
    anonymous: str | None = None  # the whole page as an anonymous visitor gets it


_PAGES: OrderedDict[tuple[str, int, int | None, str, str, str], _Kept] = OrderedDict()
_COUNTS: dict[tuple[str, int], tuple[Counts, str, str]] = {}  # (database, id) -> (counts, JSON, its ETag)
_LOCK = threading.Lock()


def _anonymous_without_news() -> bool:
    """Nothing of this visitor's own would be on the page: not signed in, no flashed message waiting."""
    return not current_user.is_authenticated and "_flashes" not in session


def list_page(declaration: FrozenDeclaration, after: int | None, search: str) -> str:
    """The public list page (HTML), its shared part rendered at most once per change (see the module)."""
    key = (str(db.engine.url), declaration.id, after, search, str(get_locale()), request.script_root)
    counts = endorsement_queries.counts(declaration)  # read before the rows: a change in between is not kept
    seen = endorsement_queries.epoch()
    with _LOCK:
        kept = _PAGES.get(key)
        if kept is not None and (kept.counts is not counts or kept.epoch != seen):
            kept = None
        elif kept is not None:
            _PAGES.move_to_end(key)
    anonymous = _anonymous_without_news()
    if kept is not None and anonymous and kept.anonymous is not None:
        return kept.anonymous
    if kept is None:
        kept = _Kept(counts, seen, _content(declaration, after, search, counts))
        if len(search) <= endorsement_queries.MAX_SEARCH:
            with _LOCK:
                _PAGES[key] = kept
                _PAGES.move_to_end(key)
                while len(_PAGES) > KEPT_PAGES:
                    _PAGES.popitem(last=False)
    body = render_template("endorse/list.html", declaration=declaration, content=kept.content)
    if anonymous:
        kept.anonymous = body
    return body


def _content(declaration: FrozenDeclaration, after: int | None, search: str, counts: Counts) -> Markup:
    """The shared part, rendered without the request's context processors (nothing of the session in it)."""
    template = current_app.jinja_env.get_template("endorse/_list_content.html")
    return Markup(template.render(  # noqa: S704 - a Jinja template with autoescape, as render_template's output
        declaration=declaration, after=after, search=search, counts=counts, countries=endorsers.countries(),
        page=endorsement_queries.page(declaration, after=after, search=search),
        oldest_after=endorsement_queries.oldest_after(declaration)))


def count_json(declaration: FrozenDeclaration) -> tuple[str, str]:
    """The public count as JSON and its ETag, made again only when the cached counts change."""
    key = (str(db.engine.url), declaration.id)
    counts = endorsement_queries.counts(declaration)
    kept = _COUNTS.get(key)
    if kept is not None and kept[0] is counts:
        return kept[1], kept[2]
    body = json.dumps({"declaration": declaration.slug, "total": counts.total, "by_kind": counts.by_kind,
                       "by_country": dict(counts.by_country)}, sort_keys=True, separators=(",", ":"))
    etag = hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()
    _COUNTS[key] = (counts, body, etag)
    return body, etag
