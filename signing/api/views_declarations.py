"""Declarations and revisions: reading (everyone who may see them) and the secretariat's workflow actions."""

from __future__ import annotations

from flask_babel import gettext as _

from ..services import ServiceError, cities, declarations
from ..services.workflow import Action
from . import lookup, present, schemas
from .bearer import current_user
from .core import bp, endpoint


@bp.get("/declarations")
@endpoint(schemas.DeclarationList, tag="declarations")
def list_declarations() -> schemas.DeclarationList:
    """The declarations you may see (drafts only for the secretariat), newest first."""
    return present.declaration_list(declarations.visible_to(current_user()))


@bp.post("/declarations")
@endpoint(schemas.DeclarationDetail, status=201, errors=(400, 403, 409), tag="declarations")
def create_declaration(json: schemas.DeclarationCreate) -> tuple[schemas.DeclarationDetail, int]:
    """Create a declaration in draft with its first revision (secretariat)."""
    created = declarations.create(json.title, json.text, current_user(), slug=json.slug)
    return present.declaration_detail(created), 201


@bp.get("/declarations/<slug>")
@endpoint(schemas.DeclarationDetail, errors=(403, 404), tag="declarations")
def get_declaration(slug: str) -> schemas.DeclarationDetail:
    """One declaration: its state, the revision open for signature, the rule and every city's status."""
    return present.declaration_detail(lookup.declaration(slug))


@bp.get("/declarations/<slug>/revisions")
@endpoint(schemas.RevisionList, errors=(403, 404), tag="declarations")
def list_revisions(slug: str) -> schemas.RevisionList:
    """Every revision, oldest first."""
    return present.revision_list(lookup.declaration(slug))


@bp.post("/declarations/<slug>/revisions")
@endpoint(schemas.RevisionDetail, status=201, errors=(400, 403, 404, 409), tag="declarations")
def create_revision(slug: str, json: schemas.RevisionCreate) -> tuple[schemas.RevisionDetail, int]:
    """Save a new revision (secretariat; in draft or consultation). The same text as the latest is 409."""
    declaration = lookup.declaration(slug, Action.EDIT_TEXT)
    revision = declarations.add_revision(declaration, json.text, json.note, current_user())
    return present.revision_detail(revision), 201


@bp.get("/declarations/<slug>/revisions/<int:number>")
@endpoint(schemas.RevisionDetail, errors=(403, 404), tag="declarations")
def get_revision(slug: str, number: int) -> schemas.RevisionDetail:
    """One revision with its canonical text."""
    return present.revision_detail(declarations.get_revision(lookup.declaration(slug), number))


@bp.post("/declarations/<slug>/consultation")
@endpoint(schemas.DeclarationDetail, errors=(403, 404, 409), tag="workflow")
def open_consultation(slug: str) -> schemas.DeclarationDetail:
    """Open a draft for consultation (secretariat)."""
    declaration = lookup.declaration(slug, Action.OPEN_CONSULTATION)
    declarations.open_consultation(declaration, current_user())
    return present.declaration_detail(declaration)


@bp.post("/declarations/<slug>/open-signing")
@endpoint(schemas.DeclarationDetail, errors=(400, 403, 404, 409), tag="workflow")
def open_signing(slug: str, json: schemas.OpenSigning) -> schemas.DeclarationDetail:
    """Open one revision for signature by every member city but the excluded ones (secretariat)."""
    declaration = lookup.declaration(slug, Action.OPEN_SIGNING)
    known = {city.slug: city.id for city in cities.list_cities()}
    unknown = sorted(set(json.excluded_cities) - known.keys())
    if unknown:
        raise ServiceError(_("Unknown member cities in excluded_cities: %(unknown)s.",
                             unknown=', '.join(unknown)))
    quorum = json.rule.required if isinstance(json.rule, schemas.RuleQuorum) else None
    declarations.open_signing(
        declaration, json.revision, current_user(), excluded_city_ids=[known[s] for s in json.excluded_cities],
        rule_kind=json.rule.kind, quorum=quorum, deadline=json.deadline, require_mandates=json.require_mandates,
    )
    return present.declaration_detail(declaration)
