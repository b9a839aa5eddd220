"""A state conflict, explained on the page where it happened, with the way forward (never a dead end).

When a declaration has moved on (consultation closed, signing closed, frozen) a form posted or a page
reloaded from the old state is answered with this page: what happened, what the user can do now (one
link per step), and any text they had typed, kept so that it is not lost.
"""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from ..models import Declaration
from ..services import progress

# Form fields that are not the user's own writing.
_NOT_TYPED = frozenset({"csrf_token", "paragraph", "parent_id", "submit", "next"})


def conflict_page(declaration: Declaration, message: str, status: int = 409) -> ResponseReturnValue:
    kept = {name: value for name, value in request.form.items() if name not in _NOT_TYPED and value.strip()}
    return render_template("declarations/conflict.html", declaration=declaration, message=message, kept=kept,
                           progress=progress.build(declaration)), status
