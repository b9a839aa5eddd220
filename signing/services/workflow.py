"""Who may do what to a declaration in which state — the one place this is decided.

Views (through ``guards.declaration_action``), the API and the services all call
``require``; templates call ``allowed`` to decide which buttons to show.
"""

from __future__ import annotations

import enum

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..models import Declaration, Role, Status, User
from . import Conflict, Forbidden

SEC = frozenset({Role.SECRETARIAT.value})
DELEGATE = frozenset({Role.DELEGATE.value})
EVERYONE = frozenset(r.value for r in Role)


class Action(enum.StrEnum):
    VIEW = "view"
    EDIT_TEXT = "edit the text of"
    COMMENT = "comment on"
    AMEND = "propose amendments to"
    DECIDE_AMENDMENT = "decide amendments to"
    RESOLVE_COMMENT = "resolve comments on"
    APPROVE = "approve revisions of"
    OPEN_CONSULTATION = "open consultation on"
    OPEN_SIGNING = "open signing on"
    RETURN_TO_CONSULTATION = "return to consultation"
    DASHBOARD = "track"
    SIGN = "sign"
    WITHDRAW = "withdraw a signature from"
    FREEZE = "freeze"


# What the refusals call each action (the values above are English phrases that fit the same sentences).
ACTION_WORDS = {
    Action.VIEW: _l("view"), Action.EDIT_TEXT: _l("edit the text of"), Action.COMMENT: _l("comment on"),
    Action.AMEND: _l("propose amendments to"), Action.DECIDE_AMENDMENT: _l("decide amendments to"),
    Action.RESOLVE_COMMENT: _l("resolve comments on"), Action.APPROVE: _l("approve revisions of"),
    Action.OPEN_CONSULTATION: _l("open consultation on"), Action.OPEN_SIGNING: _l("open signing on"),
    Action.RETURN_TO_CONSULTATION: _l("return to consultation"), Action.DASHBOARD: _l("track"),
    Action.SIGN: _l("sign"), Action.WITHDRAW: _l("withdraw a signature from"), Action.FREEZE: _l("freeze"),
}


# action -> state -> roles allowed. A state missing from an action's row refuses it in that state.
POLICY: dict[Action, dict[Status, frozenset[str]]] = {
    Action.VIEW: {
        Status.DRAFT: SEC,
        Status.CONSULTATION: EVERYONE,
        Status.OPEN_FOR_SIGNATURE: EVERYONE,
        Status.FROZEN: EVERYONE,
    },
    Action.EDIT_TEXT: {Status.DRAFT: SEC, Status.CONSULTATION: SEC},
    Action.COMMENT: {Status.CONSULTATION: SEC | DELEGATE},
    Action.RESOLVE_COMMENT: {Status.CONSULTATION: SEC | DELEGATE},
    Action.AMEND: {Status.CONSULTATION: DELEGATE},
    Action.DECIDE_AMENDMENT: {Status.CONSULTATION: SEC},
    Action.APPROVE: {Status.CONSULTATION: DELEGATE},
    Action.OPEN_CONSULTATION: {Status.DRAFT: SEC},
    Action.OPEN_SIGNING: {Status.CONSULTATION: SEC},
    Action.RETURN_TO_CONSULTATION: {Status.OPEN_FOR_SIGNATURE: SEC},
    Action.DASHBOARD: dict.fromkeys(Status, SEC),
    Action.SIGN: {Status.OPEN_FOR_SIGNATURE: DELEGATE},
    Action.WITHDRAW: {Status.OPEN_FOR_SIGNATURE: DELEGATE},
    Action.FREEZE: {Status.OPEN_FOR_SIGNATURE: SEC},
}


def _roles_for(action: Action) -> frozenset[str]:
    return frozenset().union(*POLICY[action].values())


def allowed(action: Action, declaration: Declaration, user: User | None) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.role in POLICY[action].get(declaration.state, frozenset())


def require(action: Action, declaration: Declaration, user: User | None) -> None:
    """Raise 403 if the user's role may never do this, 409 if not in the current state."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise Forbidden(_("Please log in."))
    if user.role not in _roles_for(action):
        raise Forbidden(_("Your role (%(role)s) cannot %(value)s a declaration.",
                          role=user.role, value=str(ACTION_WORDS[action])))
    if action is Action.VIEW and not allowed(action, declaration, user):
        raise Forbidden(_("This declaration is still a draft of the secretariat."))
    if not allowed(action, declaration, user):
        raise Conflict(_("You cannot %(value)s this declaration while it is %(lower)s.",
                         value=str(ACTION_WORDS[action]), lower=declaration.state.label.lower()))
    if user.role == Role.DELEGATE.value and user.city is None:
        raise Forbidden(_("Your account is not attached to a city."))
