"""``flask`` commands: demo, create-user, invite, outbox."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .models import Role
from .services import ServiceError, accounts, cities, outbox


def _fail(exc: ServiceError) -> None:
    raise click.ClickException(exc.message)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (but show the saved logins) if the database has users.")
def demo_command(if_empty: bool) -> None:
    """Load the B40 demo network and print its logins once."""
    from . import demo

    if not demo.is_empty():
        if if_empty:
            saved = demo.saved_logins()
            where = f" Logins (from instance/{demo.LOGINS_FILE}):\n\n{saved}" if saved else ""
            click.echo("Demo already loaded." + where)
            return
        raise click.ClickException("The database already has users; the demo loads only into an empty database.")
    logins = demo.load_demo()
    click.echo("Demo network loaded. Logins (also saved to instance/demo-logins.txt):\n")
    for login in logins:
        click.echo(f"  {login.role:<12} {login.email:<32} {login.password}  {login.city}".rstrip())


@click.command("create-user")
@click.argument("email")
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.SECRETARIAT.value)
@click.option("--city", "city_slug", help="City short name (delegates only).")
@click.password_option(help="Password (asked for if not given).")
def create_user_command(email: str, display_name: str, role: str, city_slug: str | None, password: str) -> None:
    """Create an account with a password (e.g. the first secretariat user)."""
    try:
        city = cities.get_by_slug(city_slug) if city_slug else None
        user = accounts.create_user(email, display_name, role, city=city, password=password)
    except ServiceError as exc:
        _fail(exc)
        return
    click.echo(f"Created {user.role} {user.email}.")


@click.command("invite")
@click.argument("email")
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.DELEGATE.value)
@click.option("--city", "city_slug", help="City short name (required for delegates).")
def invite_command(email: str, display_name: str, role: str, city_slug: str | None) -> None:
    """Invite someone by e-mail (a 7-day single-use link)."""
    try:
        city = cities.get_by_slug(city_slug) if city_slug else None
        user = accounts.invite(email, display_name, role, city=city, actor=None)
    except ServiceError as exc:
        _fail(exc)
        return
    click.echo(f"Invitation e-mailed to {user.email}.")


outbox_group = AppGroup("outbox", help="The e-mail outbox.")


@outbox_group.command("drain")
def outbox_drain() -> None:
    """Send (or republish to the workers) every pending e-mail and task."""
    result = outbox.drain()
    click.echo(f"{result['emails']} e-mail(s) and {result['tasks']} task(s) handled.")


def init_app(app: Flask) -> None:
    for command in (demo_command, create_user_command, invite_command, outbox_group):
        app.cli.add_command(command)
