"""Secretariat pages: webhook endpoints, their delivery log, the test event."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from ..models import Role
from ..services import ServiceError, webhooks
from .forms import ConfirmForm, WebhookForm
from .guards import role_required

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")
secretariat_only = role_required(Role.SECRETARIAT)


def _form() -> WebhookForm:
    form = WebhookForm()
    form.events.choices = list(webhooks.EVENTS.items())
    return form


@bp.route("/", methods=["GET", "POST"])
@secretariat_only
def index() -> ResponseReturnValue:
    form = _form()
    status = 200
    if form.validate_on_submit():
        try:
            endpoint, secret = webhooks.create_endpoint(form.url.data or "", list(form.events.data or []),
                                                        form.description.data or "", current_user)
        except ServiceError as exc:
            form.url.errors = [exc.message]
            status = exc.status
        else:  # the secret is on this response and nowhere else, ever
            response = render_template("webhooks/created.html", endpoint=endpoint, secret=secret)
            return response, 201, {"Cache-Control": "no-store"}
    elif request.method == "POST":
        status = 400
    return render_template("webhooks/index.html", endpoints=webhooks.list_endpoints(), form=form,
                           events=webhooks.EVENTS), status


@bp.route("/<int:endpoint_id>")
@secretariat_only
def show(endpoint_id: int) -> ResponseReturnValue:
    endpoint = webhooks.get_endpoint(endpoint_id)
    return render_template("webhooks/show.html", endpoint=endpoint, messages=webhooks.messages_of(endpoint),
                           confirm=ConfirmForm(), events=webhooks.EVENTS)


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


@bp.route("/<int:endpoint_id>/test", methods=["POST"])
@secretariat_only
def send_test(endpoint_id: int) -> ResponseReturnValue:
    endpoint = webhooks.get_endpoint(endpoint_id)
    _confirmed()
    message = webhooks.send_test(endpoint, current_user)
    flash(_("Test event %(message_id)s queued; its attempts appear below.", message_id=message.message_id), "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id))


@bp.route("/<int:endpoint_id>/enable", methods=["POST"])
@secretariat_only
def enable(endpoint_id: int) -> ResponseReturnValue:
    endpoint = webhooks.get_endpoint(endpoint_id)
    _confirmed()
    webhooks.set_active(endpoint, True, current_user)
    flash(_("Endpoint enabled."), "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id))


@bp.route("/<int:endpoint_id>/disable", methods=["POST"])
@secretariat_only
def disable(endpoint_id: int) -> ResponseReturnValue:
    endpoint = webhooks.get_endpoint(endpoint_id)
    _confirmed()
    webhooks.set_active(endpoint, False, current_user)
    flash(_("Endpoint disabled: nothing more is sent to it."), "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
