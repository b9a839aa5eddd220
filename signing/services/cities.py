"""Member cities of the network."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import City, User
from . import Conflict, NotFound, ServiceError, audit, refuse_bidi, transactions

_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Letters that NFKD does not decompose into an ASCII base letter.
_TRANSLIT = str.maketrans({"ı": "i", "ß": "ss", "đ": "d", "Đ": "d", "ø": "o", "æ": "ae", "ł": "l"})


def slugify(name: str) -> str:
    """``"Chișinău"`` → ``"chisinau"``; ``"İzmir"`` → ``"izmir"``."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_TRANSLIT))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.decode("ascii").lower()).strip("-")
    return slug[:80]


def get_by_slug(slug: str) -> City:
    city = db.session.scalar(select(City).where(City.slug == slug))
    if city is None:
        raise NotFound(_("No such city."))
    return city


def list_cities() -> list[City]:
    return list(db.session.scalars(select(City).order_by(City.slug)))


def _clean(name: str, country: str, slug: str | None) -> tuple[str, str, str]:
    name, country = name.strip(), country.strip()
    if not name or not country:
        raise ServiceError(_("A city needs a name and a country."))
    refuse_bidi(name, _("city's name"))
    refuse_bidi(country, _("country"))
    slug = (slug or "").strip() or slugify(name)
    if not _SLUG_RE.match(slug):
        raise ServiceError(_("The short name may contain only a-z, 0-9 and single hyphens."))
    return name, country, slug


def create_city(name: str, country: str, actor: User | None, slug: str | None = None) -> City:
    name, country, slug = _clean(name, country, slug)
    if db.session.scalar(select(City.id).where(City.slug == slug)) is not None:
        raise Conflict(_("A city with the short name %(slug)s already exists.", slug=repr(slug)))
    city = City(name=name, country=country, slug=slug)
    db.session.add(city)
    db.session.flush()
    audit.record("city.created", city, actor, name=name, country=country, slug=slug)
    transactions.commit()
    return city


def update_city(city: City, name: str, country: str, actor: User) -> None:
    """Rename a city. The slug stays: it names the city in signed payloads and bundles."""
    name, country, _slug = _clean(name, country, city.slug)
    changes = {}
    if name != city.name:
        changes["name"] = [city.name, name]
    if country != city.country:
        changes["country"] = [city.country, country]
    if changes:
        city.name, city.country = name, country
        audit.record("city.updated", city, actor, **changes)
    transactions.commit()
