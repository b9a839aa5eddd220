"""``flask seal …``: the seal certificate of the PDF (PAdES) and of the ASiC-E container (CAdES)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

seal_group = AppGroup("seal", help="The platform's seal: an ECDSA P-256 key and certificate (PDF and ASiC-E).")


def generate_seal(common_name: str | None = None) -> None:
    """Make a self-signed seal at SEAL_KEY_PATH and SEAL_CERT_PATH, or say that one exists."""
    from ..services import seal

    key_path, cert_path = Path(current_app.config["SEAL_KEY_PATH"]), Path(current_app.config["SEAL_CERT_PATH"])
    if key_path.exists() or cert_path.exists():
        raise click.ClickException(f"The seal key {key_path} or certificate {cert_path} exists already; kept.")
    name = common_name or f"Accord seal ({current_app.config['PUBLIC_URL']})"
    try:
        credentials = seal.generate(key_path, cert_path, name)
    except (seal.SealError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created a self-signed seal certificate {cert_path} (key {key_path}, mode 0600): "
               f"{credentials.fingerprint()}")


@seal_group.command("generate")
@click.option("--common-name", help="The certificate's subject CN (default: Accord seal (PUBLIC_URL)).")
def seal_generate(common_name: str | None) -> None:
    """Make a self-signed seal certificate (refuses to overwrite). Or point SEAL_KEY_PATH and SEAL_CERT_PATH at
    the key and certificate your institution obtained."""
    generate_seal(common_name)


@seal_group.command("show")
def seal_show() -> None:
    """Print the seal certificate's SHA-256 fingerprint and subject (what recipients trust)."""
    from ..services import seal

    try:
        credentials = seal.load_existing()
    except seal.SealError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{credentials.fingerprint()}  {credentials.certificate.subject.rfc4514_string()}")
