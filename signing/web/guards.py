"""View guards: every access decision is made on the server, here."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_login import current_user, login_required

from ..models import Role
from ..services import Conflict, declarations, workflow
from ..services.workflow import Action
from .conflicts import conflict_page
from .errors import wants_json

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: Role) -> Callable[[F], F]:
    """Require a logged-in, active user with one of ``roles`` (403 otherwise)."""
    allowed = {r.value for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def city_access_required(view: F) -> F:
    """For views taking ``slug`` of a city: the secretariat, or a delegate of that city."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.role == Role.SECRETARIAT:
            return view(*args, **kwargs)
        if current_user.role == Role.DELEGATE and current_user.city and current_user.city.slug == kwargs.get("slug"):
            return view(*args, **kwargs)
        abort(403)

    return cast(F, wrapped)


def declaration_action(action: Action) -> Callable[[F], F]:
    """Load the declaration named by ``slug`` and check ``action`` against the workflow policy.

    The view receives ``declaration`` instead of ``slug``. Refusals: 302 to log in,
    403 for a role that may never do it, 409 in the wrong state (a page saying what changed and the way
    forward, with any typed text kept; JSON for the scripts' endpoints), 404 if unknown.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, slug: str, **kwargs: Any) -> Any:
            declaration = declarations.get(slug)
            try:
                workflow.require(action, declaration, current_user)
            except Conflict as exc:
                if wants_json():
                    raise
                return conflict_page(declaration, exc.message, exc.status)
            return view(*args, declaration=declaration, **kwargs)

        return cast(F, wrapped)

    return decorator
