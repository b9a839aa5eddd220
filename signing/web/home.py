"""Pages every logged-in user sees."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from ..services import cities, inbox
from .guards import city_access_required

bp = Blueprint("home", __name__)


@bp.app_template_global("when")
def when(value: datetime | str | None) -> Markup:
    """One time format on every page: ``<time>`` in UTC, shown in the reader's time zone by ``static/js/app.js``
    (the UTC time stays in the ``title``, on hover). Documents (PDF, e-mails, receipts) keep UTC.
    ``value`` may be an ISO 8601 string, as bundle manifests hold them."""
    if value is None or value == "":
        return Markup("")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return Markup("{}").format(value)
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = utc.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(escape(iso), escape(text), escape(text))


@bp.route("/")
@login_required
def home() -> ResponseReturnValue:
    return render_template("home.html", user=current_user, asks=inbox.asks_for(current_user))


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
