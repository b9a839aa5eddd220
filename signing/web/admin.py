"""Secretariat pages: member cities, delegates, invitations, the audit log."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, OutboxEmail, Role, User
from ..services import ServiceError, accounts, cities
from .forms import CityForm, CityInviteForm, ConfirmForm, InviteUserForm
from .guards import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
secretariat_only = role_required(Role.SECRETARIAT)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _form_status() -> int:
    return 400 if request.method == "POST" else 200


@bp.route("/cities")
@secretariat_only
def city_list() -> ResponseReturnValue:
    return render_template("admin/cities.html", cities=cities.list_cities())


@bp.route("/cities/new", methods=["GET", "POST"])
@secretariat_only
def city_new() -> ResponseReturnValue:
    form = CityForm()
    if form.validate_on_submit():
        try:
            city = cities.create_city(form.name.data or "", form.country.data or "", current_user, form.slug.data)
        except ServiceError as exc:
            form.name.errors = [exc.message]
            return render_template("admin/city_form.html", form=form, city=None), exc.status
        flash(_("%(name)s added.", name=city.name), "success")
        return redirect(url_for("admin.city_detail", slug=city.slug))
    return render_template("admin/city_form.html", form=form, city=None), _form_status()


@bp.route("/cities/<slug>/edit", methods=["GET", "POST"])
@secretariat_only
def city_edit(slug: str) -> ResponseReturnValue:
    city = cities.get_by_slug(slug)
    form = CityForm(obj=city)
    if form.validate_on_submit():
        try:
            cities.update_city(city, form.name.data or "", form.country.data or "", current_user)
        except ServiceError as exc:
            form.name.errors = [exc.message]
            return render_template("admin/city_form.html", form=form, city=city), exc.status
        flash(_("%(name)s saved.", name=city.name), "success")
        return redirect(url_for("admin.city_detail", slug=city.slug))
    return render_template("admin/city_form.html", form=form, city=city), _form_status()


@bp.route("/cities/<slug>")
@secretariat_only
def city_detail(slug: str) -> ResponseReturnValue:
    city = cities.get_by_slug(slug)
    return render_template("admin/city.html", city=city, form=CityInviteForm(), confirm=ConfirmForm())


@bp.route("/cities/<slug>/invite", methods=["POST"])
@secretariat_only
def city_invite(slug: str) -> ResponseReturnValue:
    city = cities.get_by_slug(slug)
    form = CityInviteForm()
    if form.validate_on_submit():
        role = Role.MAYOR if form.role.data == Role.MAYOR.value else Role.DELEGATE
        try:
            user = accounts.invite(form.email.data or "", form.display_name.data or "", role, city=city,
                                   actor=current_user)
        except ServiceError as exc:
            form.email.errors = [exc.message]
            return render_template("admin/city.html", city=city, form=form, confirm=ConfirmForm()), exc.status
        flash(_("Invitation sent to %(email)s.", email=user.email), "success")
        return redirect(url_for("admin.city_detail", slug=city.slug))
    return render_template("admin/city.html", city=city, form=form, confirm=ConfirmForm()), 400


@bp.route("/users", methods=["GET", "POST"])
@secretariat_only
def user_list() -> ResponseReturnValue:
    form = InviteUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.invite(
                form.email.data or "", form.display_name.data or "", form.role.data or "", city=None,
                actor=current_user,
            )
        except ServiceError as exc:
            form.email.errors = [exc.message]
        else:
            flash(_("Invitation sent to %(email)s.", email=user.email), "success")
            return redirect(url_for("admin.user_list"))
    users = list(db.session.scalars(select(User).order_by(User.role, User.display_name)))
    status = 200 if request.method == "GET" else 400
    if form.email.errors and any("already exists" in e for e in form.email.errors):
        status = 409
    return render_template("admin/users.html", users=users, form=form, confirm=ConfirmForm()), status


def _user_action(user_id: int, action: str) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if action == "resend":
        accounts.resend_invitation(user, current_user)
        flash(_("Invitation sent again to %(email)s.", email=user.email), "success")
    else:
        accounts.set_active(user, action == "reactivate", current_user)
        if user.active:
            flash(_("%(display_name)s reactivated.", display_name=user.display_name), "success")
        else:
            flash(_("%(display_name)s deactivated.", display_name=user.display_name), "success")
    if user.city is not None:
        return redirect(url_for("admin.city_detail", slug=user.city.slug))
    return redirect(url_for("admin.user_list"))


@bp.route("/users/<int:user_id>/resend", methods=["POST"])
@secretariat_only
def user_resend(user_id: int) -> ResponseReturnValue:
    return _user_action(user_id, "resend")


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@secretariat_only
def user_deactivate(user_id: int) -> ResponseReturnValue:
    return _user_action(user_id, "deactivate")


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@secretariat_only
def user_reactivate(user_id: int) -> ResponseReturnValue:
    return _user_action(user_id, "reactivate")


@bp.route("/audit")
@secretariat_only
def audit_log() -> ResponseReturnValue:
    events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(200)))
    return render_template("admin/audit.html", events=events)


@bp.route("/mail")
@secretariat_only
def mail_log() -> ResponseReturnValue:
    rows = list(db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(200)))
    return render_template("admin/mail.html", rows=rows)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
