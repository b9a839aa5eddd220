"""``flask --app wsgi export-endorsements SLUG PATH``: the endorsement export of a frozen declaration.

Operator-facing output, in English like the other commands. ``--in-background`` queues the same export as an
outbox task (a Celery worker writes it in production; the embedded default writes it right after the commit).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from ..services import ServiceError, endorsement_export


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@click.command("export-endorsements")
@click.argument("slug")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--in-background", is_flag=True, help="queue the export for a worker instead of writing it now")
@click.option("--with-log", is_flag=True,
              help="add the transparency log's evidence (log/: the checkpoint, each statement's entry and proof)")
def export_endorsements_command(slug: str, path: Path, in_background: bool, with_log: bool) -> None:
    """Write the endorsements of the frozen declaration SLUG, as a snapshot, to PATH (a .zip)."""
    try:
        if in_background:
            endorsement_export.queue(slug, path.resolve(), with_log=with_log)
            click.echo(f"Queued: a worker will write {path.resolve()}.")
            return
        summary = endorsement_export.export(slug, path, with_log=with_log)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Wrote {path}: {summary.endorsements} endorsement(s), {summary.withdrawn} withdrawn, "
               f"{summary.standing} standing, {summary.keys} key(s); SHA-256 {_sha256(path)}.")
    click.echo(f"Check it with: python -m signing.verify {path} --platform-key sha256:<published fingerprint>"
               "  (or follow VERIFY.txt inside it)")
