"""The one per-account throttle of password checks (log-in, key enrolment in the browser and the API).

Failed checks are counted per account, whatever the address they come from: after
``ACCOUNT_THROTTLE_FREE_FAILURES`` failures each further one makes the account wait before the next
check, twice as long each time, never longer than ``ACCOUNT_THROTTLE_MAX_DELAY`` seconds, so an
attacker is slowed while the owner is never locked out for long. The count lives in the rate
limiter's storage (memory in the embedded default, Redis in production) for
``ACCOUNT_THROTTLE_WINDOW`` seconds and is cleared by a correct password. An address that belongs to
no account is counted the same way, so the answers never tell whether an account exists.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import current_app
from flask_babel import ngettext

from ..extensions import limiter
from ..models import User
from . import ServiceError, outbox


class TooManyAttempts(ServiceError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(ngettext(
            "Too many failed password attempts for this account. Wait %(num)d second and try again.",
            "Too many failed password attempts for this account. Wait %(num)d seconds and try again.", retry_after,
        ))
        self.retry_after = retry_after


def _keys(subject: str) -> tuple[str, str]:
    digest = hashlib.sha256(subject.strip().lower().encode("utf-8")).hexdigest()
    return f"accord/password-failures/{digest}", f"accord/password-wait/{digest}"


def check(subject: str) -> None:
    """Refuse (429) while ``subject`` (an account's e-mail address) must wait; check nothing else."""
    storage = limiter.storage
    _count_key, wait_key = _keys(subject)
    if storage.get(wait_key) > 0:
        remaining = storage.get_expiry(wait_key) - time.time()
        raise TooManyAttempts(max(1, math.ceil(remaining)))


def failed(subject: str, user: User | None) -> int:
    """Count a wrong password for ``subject``; e-mail ``user`` once an hour when the count grows.

    Returns the number of failures in the window. The e-mail is queued in the caller's transaction.
    """
    config = current_app.config
    storage = limiter.storage
    count_key, wait_key = _keys(subject)
    failures = storage.incr(count_key, int(config["ACCOUNT_THROTTLE_WINDOW"]))
    free = int(config["ACCOUNT_THROTTLE_FREE_FAILURES"])
    if failures >= free:
        delay = min(int(config["ACCOUNT_THROTTLE_MAX_DELAY"]), 2 ** min(failures - free, 30))
        storage.incr(wait_key, max(1, delay))
        if user is not None:
            hour = int(time.time() // 3600)
            outbox.queue_email(
                f"password_failures:{user.id}:{hour}", user.email, "password_failures",
                display_name=user.display_name, failures=failures,
            )
    return failures


def succeeded(subject: str) -> None:
    """A correct password: the count starts again."""
    count_key, wait_key = _keys(subject)
    limiter.storage.clear(count_key)
    limiter.storage.clear(wait_key)
