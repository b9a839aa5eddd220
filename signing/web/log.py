"""The transparency log, public: the checkpoint, the key and the tiles as ``tlog-tiles`` names them, and a page.

The checkpoint changes with every batch (cached for a few seconds); tiles never change once written
(cached for a year): any static mirror can serve the log by copying these paths.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, render_template
from flask.typing import ResponseReturnValue

from ..core import note
from ..services import tlog_read

bp = Blueprint("log", __name__, url_prefix="/log")
IMMUTABLE = "public, max-age=31536000, immutable"
TEXT = "text/plain; charset=utf-8"


@bp.get("/")
def index() -> ResponseReturnValue:
    checkpoint = tlog_read.latest()
    parsed = note.parse_checkpoint(checkpoint.text) if checkpoint else None
    return render_template("log/index.html", checkpoint=checkpoint, parsed=parsed,
                           root=note.b64(parsed.root) if parsed else "", verifier_key=tlog_read.verifier_key(),
                           cosigners=tlog_read.cosigners(checkpoint.size) if checkpoint else [],
                           signed_note=tlog_read.signed_checkpoint() if checkpoint else "")


@bp.get("/checkpoint")
def checkpoint() -> ResponseReturnValue:
    response = Response(tlog_read.signed_checkpoint(), content_type=TEXT)
    response.headers["Cache-Control"] = "public, max-age=5"
    return response


@bp.get("/key")
def key() -> ResponseReturnValue:
    response = Response(tlog_read.verifier_key() + "\n", content_type=TEXT)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/tile/<path:tile>")
def tile(tile: str) -> ResponseReturnValue:
    response = Response(tlog_read.tile(tile), content_type="application/octet-stream")
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
