"""Pages every logged-in user sees."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ..services import cities
from .guards import city_access_required

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def home() -> ResponseReturnValue:
    return render_template("home.html", user=current_user)


@bp.route("/cities/<slug>")
@city_access_required
def city(slug: str) -> ResponseReturnValue:
    return render_template("city.html", city=cities.get_by_slug(slug))


@bp.route("/favicon.ico")
def favicon() -> ResponseReturnValue:
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
