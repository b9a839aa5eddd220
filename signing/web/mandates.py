"""The mayor's page: the mandates of their city, a new one, and revocations (signed in the browser).

The page is HTML; ``static/js/mandates.js`` asks ``api/mandates_browser.py`` for the exact bytes, checks they name
what the mayor chose, signs them with the mayor's key held in this browser and posts the signature back.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from ..core import statements
from ..extensions import db
from ..models import Declaration, Role, Status, utcnow
from ..services import keys, mandate_rules, mandates
from .guards import role_required

bp = Blueprint("mandates", __name__)


@bp.route("/mandates")
@role_required(Role.MAYOR)
def index() -> ResponseReturnValue:
    delegates = mandates.delegates_of(current_user)
    current = db.session.scalars(
        select(Declaration).where(Declaration.status.in_([Status.CONSULTATION.value, Status.OPEN_FOR_SIGNATURE.value]))
        .order_by(Declaration.title)
    )
    return render_template(
        "mandates/index.html", city=current_user.city, now=utcnow(),
        mandates=mandate_rules.of_city(current_user.city_id or 0),
        delegates=[{"id": d.id, "name": d.display_name, "keys": [k.fingerprint for k in mandates.delegate_keys(d)]}
                   for d in delegates],
        declarations=list(current),
        mayor_keys=[{"fingerprint": k.fingerprint, "label": k.label} for k in keys.keys_of(current_user) if k.active],
        mandate_format=statements.MANDATE.as_json(), revocation_format=statements.MANDATE_REVOCATION.as_json(),
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
