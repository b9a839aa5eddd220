"""The language versions of a revision: cleaning what the secretariat saves, choosing one to show.

One save of the versions is one new revision (``declarations.save_versions``); this module only turns
the submitted texts into checked, canonical :class:`LanguageVersion` values, sorted by tag, with
exactly one authoritative. Declaration text is never translated by Accord.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _

from ..core import languages
from ..models import LanguageVersion, Revision
from ..models.declarations import MAX_LABEL
from ..text.canonical import CanonicalTextError, canonicalize, text_sha256
from . import NotFound, ServiceError

MAX_VERSIONS = 30


def clean_tag(tag: str) -> str:
    """The tag in its conventional case; ``ServiceError`` for one that is not a BCP 47 language tag."""
    cleaned = languages.normalise(tag)
    if cleaned is None:
        raise ServiceError(_("%(tag)s is not a language tag (BCP 47, e.g. en, tr, sr-Latn).", tag=repr(tag)))
    return cleaned


def prepare(texts: Mapping[str, str], authoritative: str,
            labels: Mapping[str, str] | None = None) -> list[LanguageVersion]:
    """Canonical versions from ``{tag: text}``, sorted by tag; ``ServiceError`` for anything malformed.

    ``labels``: a short note shown beside a language's name (e.g. "demonstration translation"), by tag.
    """
    labels = {clean_tag(tag): " ".join(label.split()) for tag, label in (labels or {}).items()}
    if any(len(label) > MAX_LABEL or not label.isprintable() for label in labels.values()):
        raise ServiceError(_("A version's label is at most %(n)s printable characters.", n=MAX_LABEL))
    if not texts:
        raise ServiceError(_("A revision needs at least one language version."))
    if len(texts) > MAX_VERSIONS:
        raise ServiceError(_("A revision holds at most %(n)s language versions.", n=MAX_VERSIONS))
    main = clean_tag(authoritative)
    cleaned: dict[str, str] = {}
    for tag, text in texts.items():
        tag = clean_tag(tag)
        if tag.lower() in {other.lower() for other in cleaned}:
            raise ServiceError(_("The language %(tag)s is given twice.", tag=tag))
        try:
            cleaned[tag] = canonicalize(text)
        except CanonicalTextError as exc:
            raise ServiceError(f"{languages.name(tag)} ({tag}): {exc}") from exc
    if main not in cleaned:
        raise ServiceError(_("The authoritative language %(tag)s has no text.", tag=main))
    return [LanguageVersion(tag, cleaned[tag], text_sha256(cleaned[tag]), tag == main, labels.get(tag, ""))
            for tag in sorted(cleaned)]


def shown(revision: Revision, tag: str | None) -> LanguageVersion:
    """The version a page shows: ``tag`` when given (``NotFound`` if the revision lacks it), else the authoritative."""
    if not tag:
        return next(version for version in revision.versions if version.authoritative)
    version = revision.version(languages.normalise(tag) or tag)
    if version is None:
        raise NotFound(_("Revision %(number)s has no version in %(tag)s.", number=revision.number, tag=repr(tag[:40])))
    return version
