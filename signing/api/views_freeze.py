"""Freezing and the frozen bundle."""

from __future__ import annotations

import hashlib

from flask import Response
from flask_babel import gettext as _

from ..extensions import db
from ..models import Status
from ..services import NotFound, freeze, log_evidence
from ..services.workflow import Action
from . import lookup, schemas
from .bearer import current_user
from .core import bp, endpoint


@bp.post("/declarations/<slug>/freeze")
@endpoint(schemas.FreezeOut, status=202, errors=(403, 404, 409), tag="freezing")
def freeze_now(slug: str) -> tuple[schemas.FreezeOut, int]:
    """Secretariat: freeze now — allowed once the signing rule is met or the deadline has passed.

    The freeze runs as follow-up work (at once in the embedded default, on a worker in production):
    ``status`` is ``frozen`` when it has already happened, otherwise poll the declaration.
    """
    declaration = lookup.declaration(slug, Action.FREEZE)
    freeze.request(declaration, current_user())
    db.session.refresh(declaration)
    frozen = declaration.state is Status.FROZEN
    return schemas.FreezeOut(status="frozen" if frozen else "open_for_signature", queued=not frozen), 202


@bp.get("/declarations/<slug>/bundle")
@endpoint(None, errors=(403, 404), tag="freezing")
def bundle(slug: str) -> Response:
    """The frozen declaration's bundle (application/zip), with the transparency log's evidence (`log/`: the
    cosigned checkpoint, the bundle's entries and their inclusion proofs) when the log has it; verify it with its
    VERIFY.txt or ``signing.verify``. `X-Content-SHA256` is the SHA-256 of the bytes served."""
    declaration = lookup.declaration(slug)
    found = freeze.bundle_of(declaration)
    if found is None:
        raise NotFound(_("This declaration is not frozen: there is no bundle yet."))
    archive = log_evidence.export_archive(found)
    return Response(
        archive, mimetype="application/zip",
        headers={"Content-Disposition": f"attachment; filename={declaration.slug}-bundle.zip",
                 "X-Content-SHA256": hashlib.sha256(archive).hexdigest()},
    )
