"""Accord: declaration review, approval and signing service.

Importing the package has no side effects and needs no Flask, so the offline
verifier (``python -m signing.verify``) runs with the standard library and
``cryptography`` alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: dict[str, Any] | None = None, instance_path: str | Path | None = None) -> Flask:
    """Application factory. ``overrides`` win over the environment (tests, CLI)."""
    from flask import Flask

    from config import BASE_DIR, DEFAULT_INSTANCE_DIR, load_config

    from . import api, database, i18n, task_queue
    from .manage import commands
    from .services import accounts, endorsement_export, freeze, outbox, tlog, transactions, webhook_delivery
    from .web import (
        account_security,
        admin,
        auth,
        declarations,
        endorse,
        endorse_admin,
        endorse_json,
        errors,
        home,
        language,
        log,
        mandates,
        nudges,
        passkeys,
        public,
        review,
        security,
        signing,
        webhooks,
    )

    instance = Path(instance_path or DEFAULT_INSTANCE_DIR).resolve()
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(instance, overrides))

    database.init_app(app)
    i18n.init_app(app)
    transactions.init_app(app)
    outbox.init_app(app)
    freeze.init_app(app)
    endorsement_export.init_app(app)
    webhook_delivery.init_app(app)
    accounts.init_app(app)
    tlog.init_app(app)
    task_queue.celery_init_app(app)
    security.init_app(app)
    errors.init_app(app)
    blueprints = (auth, account_security, passkeys, home, admin, declarations, review, public, log, api, signing,
                  webhooks, mandates, endorse, endorse_json, endorse_admin, nudges, language)
    for blueprint_module in blueprints:
        blueprint_module.init_app(app)
    commands.init_app(app)
    return app
