"""The secretariat's per-city nudges on the dashboard (POST only): remind now, resend the invitation."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from ..models import Declaration
from ..services import ServiceError, cities, nudges
from ..services.workflow import Action
from .declarations import dashboard_page
from .forms import ConfirmForm
from .guards import declaration_action

bp = Blueprint("nudges", __name__, url_prefix="/declarations")


def _done(declaration: Declaration, city_slug: str, action: str) -> ResponseReturnValue:
    city = cities.get_by_slug(city_slug)
    if not ConfirmForm().validate_on_submit():
        return dashboard_page(declaration, _("The form has expired. Reload the page and try again."), 400)
    try:
        if action == "remind":
            count = nudges.remind(declaration, city, current_user)
            flash(_("Reminder sent to %(n)s delegate(s) of %(city)s.", n=count, city=city.name), "success")
        else:
            count = nudges.resend_invitations(declaration, city, current_user)
            flash(_("Invitation sent again to %(n)s delegate(s) of %(city)s.", n=count, city=city.name), "success")
    except ServiceError as exc:  # refused (too soon, nothing to do): said on the dashboard, where it happened
        response = dashboard_page(declaration, exc.message, exc.status)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int):
            return response[0], response[1], {"Retry-After": str(retry_after)}
        return response
    return redirect(url_for("declarations.board", slug=declaration.slug) + f"#city-{city.slug}")


@bp.route("/<slug>/cities/<city_slug>/remind", methods=["POST"])
@declaration_action(Action.DASHBOARD)
def remind(declaration: Declaration, city_slug: str) -> ResponseReturnValue:
    return _done(declaration, city_slug, "remind")


@bp.route("/<slug>/cities/<city_slug>/resend-invitation", methods=["POST"])
@declaration_action(Action.DASHBOARD)
def resend_invitation(declaration: Declaration, city_slug: str) -> ResponseReturnValue:
    return _done(declaration, city_slug, "resend")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
