"""``flask`` commands: demo, create-user, invite, outbox, tokens, reminders, export-bundle, platform-key, seal,
webhooks, second-factor-reset."""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ..models import Declaration, Role, Status, User
from ..services import (
    ServiceError,
    accounts,
    cities,
    declarations,
    freeze,
    log_evidence,
    outbox,
    reminders,
    second_factor,
    tokens,
)


def _fail(exc: ServiceError) -> None:
    raise click.ClickException(exc.message)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (but show the saved logins) if the database has users.")
@click.option("--complete", is_flag=True,
              help="Then open signing, sign for every city with keys made for the occasion, and freeze.")
def demo_command(if_empty: bool, complete: bool) -> None:
    """Load the B40 demo network and print its logins once (--complete: signed and frozen too)."""
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
    if complete:
        try:
            declaration, endorsed = demo.complete_demo(logins)
        except ServiceError as exc:
            _fail(exc)
            return
        click.echo("\nMayors (each signed a mandate for their city's delegate; also saved):\n")
        for login in logins:
            if login.role == Role.MAYOR.value:
                click.echo(f"  {login.role:<12} {login.email:<32} {login.password}  {login.city}".rstrip())
        _report_completed(declaration, endorsed)


def _report_completed(declaration: Declaration, endorsed: int) -> None:
    count = len(declaration.signatories)
    click.echo(f"\nSigning opened on revision {declaration.open_revision.number if declaration.open_revision else '?'}"
               f" and signed for all {count} cities with keys made for the occasion (private keys discarded).")
    bundle = freeze.bundle_of(declaration)
    if bundle is None:
        click.echo("Freezing is queued: the workers build the bundle (or run `flask --app wsgi outbox drain`).")
        return
    click.echo(f"“{declaration.title}” is frozen; bundle SHA-256 {bundle.archive_sha256}.")
    click.echo(f"{endorsed} endorsements added (verified organisations and people), shown on "
               f"/public/declarations/{declaration.slug}.")
    click.echo(f"Export it with: flask --app wsgi export-bundle {declaration.slug} {declaration.slug}-bundle.zip")
    from ..services import witness

    pins = " ".join(f"--witness {witness.verifier(key).encode()}" for key in witness.active())
    if pins:
        click.echo("With the transparency log's evidence (log/), cosigned by the demo's witness cities: add --with-log,"
                   f" and check it with\n  python -m signing.verify {declaration.slug}-bundle.zip {pins}"
                   f" --min-witnesses {len(witness.active())}")


@click.command("create-user")
@click.argument("email")
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.SECRETARIAT.value)
@click.option("--city", "city_slug", help="City short name (delegates and mayors).")
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
@click.option("--city", "city_slug", help="City short name (required for delegates and mayors).")
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


tokens_group = AppGroup("tokens", help="API tokens (bearer tokens for /api/v1).")


def _user_by_email(email: str) -> User:
    user = accounts.find_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with the e-mail address {email}.")
    return user


@tokens_group.command("create")
@click.argument("email")
@click.option("--name", default=None, help="What the token is for, e.g. the machine it lives on.")
def tokens_create(email: str, name: str | None) -> None:
    """Create an API token for EMAIL and print it (the only time it is shown)."""
    user = _user_by_email(email)
    try:
        token, secret = tokens.create(user, name)
    except ServiceError as exc:
        _fail(exc)
        return
    click.echo(f"Created API token {token.id} ({token.name}) for {user.email}. Keep it secret; it is not shown again:")
    click.echo(secret)


@tokens_group.command("list")
@click.argument("email")
def tokens_list(email: str) -> None:
    """List EMAIL's API tokens (number, prefix, name, created, last used, state)."""
    user = _user_by_email(email)
    found = tokens.list_for(user)
    if not found:
        click.echo(f"{user.email} has no API tokens.")
        return
    for token in found:
        state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"
        click.echo(f"{token.id:>5}  {token.prefix}…  {token.name}  created {_when(token.created_at)}  "
                   f"last used {_when(token.last_used_at)}  {state}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke the API token numbered TOKEN_ID (see `tokens list`)."""
    try:
        token = tokens.get(token_id)
        tokens.revoke(token, None)
    except ServiceError as exc:
        _fail(exc)
        return
    click.echo(f"Revoked API token {token.id} ({token.prefix}…).")


@click.command("second-factor-reset")
@click.argument("email")
def second_factor_reset_command(email: str) -> None:
    """Remove EMAIL's authenticator app, recovery codes and passkeys (all lost) and log them out everywhere."""
    user = _user_by_email(email)
    second_factor.reset(user, None)
    click.echo(f"Removed every second factor of {user.email}; they log in with their password alone now.")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


reminders_group = AppGroup("reminders", help="Signing reminders before a deadline.")


@reminders_group.command("send")
def reminders_send() -> None:
    """Queue (and send) the reminders that are due now; each goes once per city, delegate and slot."""
    count = reminders.send_due_reminders()
    click.echo(f"{count} reminder(s) queued.")


endorsements_group = AppGroup("endorsements", help="Endorsements of frozen declarations.")


@endorsements_group.command("digest")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The UTC day to report (default: yesterday).")
def endorsements_digest(day: datetime | None) -> None:
    """E-mail the secretariat the digest of a day's new endorsements (once per day and member)."""
    from ..services import endorsement_digest

    count = endorsement_digest.send_digest(day.date() if day else None)
    click.echo(f"Digest queued for {count} secretariat member(s)." if count else "No new endorsements that day.")


@click.command("export-bundle")
@click.argument("slug")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("--format", "form", type=click.Choice(["zip", "asice"]), default="zip", show_default=True,
              help="zip: the bundle; asice: the same files in an ASiC-E container signed with the seal.")
@click.option("--with-log", is_flag=True,
              help="add the transparency log's evidence (log/: checkpoint with cosignatures, entries, proofs)")
def export_bundle_command(slug: str, path: Path, form: str, with_log: bool) -> None:
    """Write the frozen declaration SLUG's bundle (.zip or .asice) to PATH ("-": standard output)."""
    try:
        declaration = declarations.get(slug)
    except ServiceError as exc:
        raise click.ClickException(f"No declaration with the short name {slug!r}.") from exc
    bundle = freeze.bundle_of(declaration)
    if bundle is None:
        being_frozen = declaration.state is Status.OPEN_FOR_SIGNATURE and freeze.rule_met(declaration)
        state = "being frozen" if being_frozen else declaration.state.label.lower()
        raise click.ClickException(f"“{declaration.title}” is not frozen (it is {state}); it has no bundle yet.")
    archive = log_evidence.export_archive(bundle) if with_log else bytes(bundle.archive)
    if form == "asice":
        from ..services import seal

        try:
            archive = seal.asice(archive)
        except seal.SealError as exc:
            raise click.ClickException(str(exc)) from exc
    if str(path) == "-":
        sys.stdout.buffer.write(archive)
        sys.stdout.buffer.flush()
        return
    try:
        path.write_bytes(archive)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {path}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote {path} ({len(archive)} bytes, SHA-256 {hashlib.sha256(archive).hexdigest()}).")
    click.echo(f"Check it with: python -m signing.verify {path}  (or follow VERIFY.txt inside it)")


platform_key_group = AppGroup("platform-key", help="The platform's Ed25519 key, which seals bundle manifests.")


@platform_key_group.command("generate")
def platform_key_generate() -> None:
    """Create the platform key at PLATFORM_KEY_PATH (refuses to overwrite) and print its fingerprint."""
    from ..services import platform_key

    path = Path(current_app.config["PLATFORM_KEY_PATH"])
    try:
        key = platform_key.generate(path)
    except (platform_key.PlatformKeyError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created the platform key {path} (mode 0600). Keep a backup; publish its fingerprint:")
    click.echo(platform_key.fingerprint(key))
    seal_cert = Path(current_app.config["SEAL_CERT_PATH"])
    if not current_app.config["PRODUCTION"] and not seal_cert.exists():  # production: `seal generate` or given
        from .seal_commands import generate_seal

        generate_seal()


@platform_key_group.command("show")
def platform_key_show() -> None:
    """Print the platform key's fingerprint (the one to publish) and its public key."""
    from cryptography.hazmat.primitives import serialization

    from ..services import platform_key

    path = Path(current_app.config["PLATFORM_KEY_PATH"])
    if not path.exists():
        raise click.ClickException(f"There is no platform key at {path}. Create it with "
                                   "`flask --app wsgi platform-key generate`.")
    try:
        key = platform_key.load()
    except (platform_key.PlatformKeyError, ValueError, OSError) as exc:
        raise click.ClickException(f"Cannot read the platform key {path}: {exc}") from exc
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    click.echo(f"{platform_key.fingerprint(key)}  {path}")
    click.echo(public.decode("ascii"), nl=False)


def init_app(app: Flask) -> None:
    from .endorsement_commands import export_endorsements_command
    from .seal_commands import seal_group
    from .webhook_commands import webhooks_group

    for command in (demo_command, create_user_command, invite_command, outbox_group, tokens_group, reminders_group,
                    endorsements_group, export_bundle_command, platform_key_group, seal_group, webhooks_group,
                    second_factor_reset_command):
        app.cli.add_command(command)
    app.cli.add_command(export_endorsements_command)
