"""The half-logged-in state of a login: the password was right, the second factor is awaited.

Kept in the Flask session for ``SECOND_FACTOR_LOGIN_TTL`` and tied to the account's session epoch (a password
change or deactivation ends it); a few wrong second factors and the password must be given again.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, redirect, session, url_for
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..models import User

PENDING_LOGIN = "second_factor_pending"
MAX_SECOND_FACTOR_FAILURES = 5


def state() -> Any:
    """What ``begin`` kept (a dict), or None."""
    return session.get(PENDING_LOGIN)


def begin(user: User, next_url: str) -> ResponseReturnValue:
    """The password was right: a fresh session that only awaits the second factor; on to that step."""
    session.clear()
    session[PENDING_LOGIN] = {
        "user": user.id, "epoch": user.session_epoch, "next": next_url, "failures": 0,
        "expires": time.time() + current_app.config["SECOND_FACTOR_LOGIN_TTL"].total_seconds(),
    }
    return redirect(url_for("auth.second_factor_step"))


def pending_user() -> User | None:
    """The account whose password was given in this session and whose second factor is awaited, if any."""
    state = session.get(PENDING_LOGIN)
    if not isinstance(state, dict):
        return None
    user = db.session.get(User, state.get("user")) if isinstance(state.get("user"), int) else None
    if (user is None or not user.active or user.session_epoch != state.get("epoch")
            or not time.time() < state.get("expires", 0)):
        session.pop(PENDING_LOGIN, None)
        return None
    return user


def failed() -> bool:
    """Count a wrong second factor; True when there were too many (the password must be given again)."""
    state = dict(session.get(PENDING_LOGIN) or {})
    state["failures"] = int(state.get("failures", 0)) + 1
    if state["failures"] >= MAX_SECOND_FACTOR_FAILURES:
        session.pop(PENDING_LOGIN, None)
        return True
    session[PENDING_LOGIN] = state
    return False
