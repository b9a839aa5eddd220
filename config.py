"""All configuration in one place.

The embedded default needs no server: SQLite under ``instance/``, follow-up work
run in-process and e-mail written as ``.eml`` files under ``instance/mail/``.
Production is selected by environment variables (see README, "Configuration").
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE_DIR = BASE_DIR / "instance"


class ConfigError(RuntimeError):
    """Raised when the environment describes an unusable configuration."""


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def _env_days(name: str, default: str) -> tuple[int, ...]:
    """A comma-separated list of whole days, e.g. ``7,3,1``: distinct, positive, largest first; ``none``: no days."""
    raw = os.environ.get(name) or default
    if raw.strip().lower() == "none":
        return ()
    try:
        days = {int(part) for part in raw.split(",") if part.strip()}
    except ValueError as exc:
        raise ConfigError(f"{name} must be whole days separated by commas, such as 7,3,1, not {raw!r}") from exc
    if any(day < 1 for day in days):
        raise ConfigError(f"{name} must list days of at least 1, not {raw!r}")
    return tuple(sorted(days, reverse=True))


def _normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration mapping from the environment and ``overrides``.

    ``overrides`` (used by tests and the CLI) win over the environment.
    """
    overrides = dict(overrides or {})
    database_url = overrides.pop("DATABASE_URL", None) or os.environ.get("DATABASE_URL", "")
    production = bool(database_url)
    if "PRODUCTION" in overrides:
        production = bool(overrides.pop("PRODUCTION"))

    secret_key = overrides.pop("SECRET_KEY", None) or os.environ.get("SECRET_KEY", "")
    if production and not secret_key:
        raise ConfigError(
            "SECRET_KEY is not set. Production mode (DATABASE_URL is set) needs a long random "
            "SECRET_KEY, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    if not secret_key:
        secret_key = _embedded_secret_key(instance_path)

    if database_url:
        sqlalchemy_url = _normalise_database_url(database_url)
    else:
        sqlalchemy_url = "sqlite:///" + str(instance_path / "accord.sqlite3")

    redis_url = os.environ.get("REDIS_URL", "")
    smtp_host = os.environ.get("SMTP_HOST", "")
    public_url = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")

    config: dict[str, Any] = {
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        # Follow-up work: "inline" runs it in this process after commit; "celery" hands it to workers.
        "TASK_MODE": os.environ.get("TASK_MODE", "celery" if (production and redis_url) else "inline"),
        # Mail: "smtp" when SMTP_HOST is set, else .eml files under instance/mail/.
        # The sweep republishes outbox rows published this long ago and still not done.
        "OUTBOX_STALE_SECONDS": _env_int("OUTBOX_STALE_SECONDS", 300),
        "MAIL_BACKEND": "smtp" if smtp_host else "file",
        "MAIL_FILE_DIR": str(instance_path / "mail"),
        "SMTP_HOST": smtp_host,
        "SMTP_PORT": _env_int("SMTP_PORT", 587),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        # "starttls", "ssl" or "none"
        "SMTP_TLS": os.environ.get("SMTP_TLS", "starttls").strip().lower(),
        "SMTP_TIMEOUT": _env_int("SMTP_TIMEOUT", 30),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Accord <accord@localhost>"),
        "PUBLIC_URL": public_url,
        # Ed25519 key sealing bundle manifests (generated here in the embedded default).
        "PLATFORM_KEY_PATH": os.environ.get("PLATFORM_KEY_PATH", str(instance_path / "platform_key.pem")),
        # Webhooks: requests to loopback, link-local and private addresses are refused unless this is true.
        "WEBHOOKS_ALLOW_PRIVATE": _env_bool("WEBHOOKS_ALLOW_PRIVATE", not production),
        "WEBHOOKS_TIMEOUT_SECONDS": _env_int("WEBHOOKS_TIMEOUT_SECONDS", 10),
        "WEBHOOKS_DISABLE_AFTER_FAILURES": _env_int("WEBHOOKS_DISABLE_AFTER_FAILURES", 10),
        # The seal (ECDSA P-256 key and certificate) of the PDF and the ASiC-E container; self-signed and
        # generated here in the embedded default, given in production. A TSA URL makes the PDF seal PAdES B-T.
        "SEAL_KEY_PATH": os.environ.get("SEAL_KEY_PATH", str(instance_path / "seal_key.pem")),
        "SEAL_CERT_PATH": os.environ.get("SEAL_CERT_PATH", str(instance_path / "seal.crt")),
        "SEAL_TSA_URL": os.environ.get("SEAL_TSA_URL", ""),
        # Rate limits (Flask-Limiter syntax).
        "RATELIMIT_STORAGE_URI": redis_url if (production and redis_url) else "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        "RESET_RATE_LIMIT": os.environ.get("RESET_RATE_LIMIT", "5 per minute;20 per hour"),
        # Key enrolment (browser and API), per address: an office full of delegates shares one address.
        "KEY_ENROL_RATE_LIMIT": os.environ.get("KEY_ENROL_RATE_LIMIT", "30 per minute;300 per hour"),
        # The secretariat's "remind now" / "resend invitation" per city and declaration (services/nudges.py).
        "NUDGE_INTERVAL_MINUTES": _env_int("NUDGE_INTERVAL_MINUTES", 60),
        # The transparency log's public uploads, per address: witnesses' cosignatures and fork reports.
        "LOG_COSIGNATURE_RATE_LIMIT": os.environ.get("LOG_COSIGNATURE_RATE_LIMIT", "60 per minute;600 per hour"),
        "LOG_FORK_REPORT_RATE_LIMIT": os.environ.get("LOG_FORK_REPORT_RATE_LIMIT", "5 per minute;20 per hour"),
        # Per account, whatever the address (services/throttle.py): after this many wrong passwords,
        # each further one makes the account wait 1, 2, 4... seconds, at most ACCOUNT_THROTTLE_MAX_DELAY.
        "ACCOUNT_THROTTLE_FREE_FAILURES": _env_int("ACCOUNT_THROTTLE_FREE_FAILURES", 5),
        "ACCOUNT_THROTTLE_MAX_DELAY": _env_int("ACCOUNT_THROTTLE_MAX_DELAY", 120),
        "ACCOUNT_THROTTLE_WINDOW": _env_int("ACCOUNT_THROTTLE_WINDOW", 24 * 3600),
        # How many reverse proxies in front of the app to trust for X-Forwarded-For/-Proto/-Host (ProxyFix).
        "TRUSTED_PROXIES": _env_int("TRUSTED_PROXIES", 0),
        # Strict-Transport-Security max-age, sent when PUBLIC_URL is https (0: no header).
        "HSTS_MAX_AGE": _env_int("HSTS_MAX_AGE", 365 * 24 * 3600),
        # Links sent by e-mail.
        "INVITATION_MAX_AGE": timedelta(days=7),
        "PASSWORD_RESET_MAX_AGE": timedelta(hours=2),
        # Argon2id parameters (argon2-cffi's RFC 9106 low-memory profile by default).
        "ARGON2_TIME_COST": _env_int("ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST": _env_int("ARGON2_MEMORY_COST", 65536),
        "ARGON2_PARALLELISM": _env_int("ARGON2_PARALLELISM", 4),
        "PASSWORD_MIN_LENGTH": 12,
        # Second factor: secretariat accounts must enrol one (TOTP or a passkey) before doing anything else.
        "REQUIRE_2FA_FOR_SECRETARIAT": _env_bool("REQUIRE_2FA_FOR_SECRETARIAT", production),
        # How long the half-logged-in state (password right, second factor not yet given) lasts.
        "SECOND_FACTOR_LOGIN_TTL": timedelta(minutes=5),
        # Per account, whatever the address they come from: this many wrong second factors within the
        # window and further attempts are refused until older ones leave the window.
        "SECOND_FACTOR_MAX_FAILURES": _env_int("SECOND_FACTOR_MAX_FAILURES", 10),
        "SECOND_FACTOR_FAILURE_WINDOW": timedelta(minutes=15),
        # A WebAuthn ceremony must finish within this (its challenge expires).
        "WEBAUTHN_CHALLENGE_TTL": timedelta(minutes=5),
        # Reminders to cities that have not signed, this many days before the signing deadline.
        "REMINDER_DAYS": _env_days("REMINDER_DAYS", "7,3,1"),
        # Signing payloads are single-use and expire after this long.
        "SIGNING_PAYLOAD_TTL": timedelta(seconds=_env_int("SIGNING_PAYLOAD_TTL_SECONDS", 300)),
        # Cookies.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "WTF_CSRF_TIME_LIMIT": 3600 * 12,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
    }
    config["CELERY"] = celery_config(redis_url)
    config.update(overrides)
    return config


def celery_config(redis_url: str) -> dict[str, Any]:
    """The Celery app's settings (``signing.task_queue``), the beat schedule included.

    Task names are the registered names of ``workers.tasks`` (``signing.task_queue`` has them as
    constants; they are spelt out here so that this module imports nothing of the application).
    """
    from celery.schedules import crontab

    return {
        "broker_url": redis_url or "memory://",
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        # Publishing happens after commit; if the broker is down, fail fast and let the sweep republish.
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        "broker_connection_timeout": 3,
        "broker_transport_options": {"visibility_timeout": 3600},
        "timezone": "UTC",
        # The worker process registers the thin tasks; the web process publishes them by name only.
        "imports": ("workers.tasks",),
        "beat_schedule": {
            "drain-outbox": {"task": "workers.tasks.drain_outbox", "schedule": 60.0},
            # Hourly, on the hour: e-mail the cities that have not signed as a deadline nears.
            "send-reminders": {"task": "workers.tasks.send_reminders", "schedule": crontab(minute=0)},
        },
    }


def _embedded_secret_key(instance_path: Path) -> str:
    """A per-installation key kept in ``instance/secret_key`` (never committed)."""
    import secrets

    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="ascii").strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return key_file.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
