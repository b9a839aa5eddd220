"""Public pages (no login): frozen declarations, their signatories and downloads."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Flask, Response, abort, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ..extensions import db
from ..models import Bundle, Declaration, Status
from ..services import endorsement_queries, endorsers, log_evidence, seal

bp = Blueprint("public", __name__, url_prefix="/public")


def _frozen(slug: str) -> tuple[Declaration, Bundle]:
    declaration = db.session.scalar(select(Declaration).where(Declaration.slug == slug))
    if declaration is None or declaration.state is not Status.FROZEN:
        abort(404)
    bundle = db.session.scalar(select(Bundle).where(Bundle.declaration_id == declaration.id))
    if bundle is None:
        abort(404)
    return declaration, bundle


@bp.route("/")
def index() -> ResponseReturnValue:
    items = list(db.session.scalars(
        select(Declaration).where(Declaration.status == Status.FROZEN.value).order_by(Declaration.frozen_at.desc())
    ))
    return render_template("public/index.html", items=items)


@bp.route("/declarations/<slug>")
def declaration(slug: str) -> ResponseReturnValue:
    decl, bundle = _frozen(slug)
    manifest = json.loads(bundle.manifest)
    return render_template("public/declaration.html", declaration=decl, bundle=bundle, manifest=manifest,
                           revision=bundle.revision, counts=endorsement_queries.counts(decl),
                           page=endorsement_queries.page(decl, size=10), countries=endorsers.countries())


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


@bp.route("/declarations/<slug>/bundle.zip")
def bundle_zip(slug: str) -> ResponseReturnValue:
    """The bundle with the transparency log's evidence (``log/``) when the log has it, as ``export-bundle
    --with-log`` writes it; ``X-Content-SHA256`` is the hash of the bytes served."""
    decl, bundle = _frozen(slug)
    archive = log_evidence.export_archive(bundle)
    response = _download(archive, "application/zip", f"{decl.slug}-bundle.zip")
    response.headers["X-Content-SHA256"] = hashlib.sha256(archive).hexdigest()
    return response


@bp.route("/declarations/<slug>/bundle.asice")
def bundle_asice(slug: str) -> ResponseReturnValue:
    """The bundle's files in an ASiC-E container (ETSI EN 319 162-1), its manifest sealed with CAdES."""
    decl, bundle = _frozen(slug)
    return _download(seal.asice(log_evidence.export_archive(bundle)), "application/vnd.etsi.asic-e+zip",
                     f"{decl.slug}-bundle.asice")


@bp.route("/declarations/<slug>/declaration.pdf")
def bundle_pdf(slug: str) -> ResponseReturnValue:
    decl, bundle = _frozen(slug)
    return _download(bundle.pdf, "application/pdf", f"{decl.slug}.pdf")


@bp.route("/declarations/<slug>/declaration.md")
def bundle_text(slug: str) -> ResponseReturnValue:
    decl, bundle = _frozen(slug)
    return _download(bundle.revision.text.encode("utf-8"), "text/markdown", f"{decl.slug}.md")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
