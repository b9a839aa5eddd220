"""The OpenAPI document and who the token belongs to."""

from __future__ import annotations

import copy
from typing import Any

from flask import current_app

from . import present, schemas
from .bearer import current_user
from .core import bp, endpoint, spec

_CACHE_KEY = "accord_openapi"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document spectree builds from the routes and models, plus response headers."""
    cached: dict[str, Any] | None = current_app.extensions.get(_CACHE_KEY)
    if cached is None:
        cached = copy.deepcopy(spec.spec)
        for operations in cached["paths"].values():
            for operation in operations.values():
                unauthorized = operation.get("responses", {}).get("401")
                if unauthorized is not None:
                    unauthorized["headers"] = {
                        "WWW-Authenticate": {"description": "`Bearer realm=\"accord\"`", "schema": {"type": "string"}}
                    }
        current_app.extensions[_CACHE_KEY] = cached
    return cached


@bp.get("/openapi.json")
@endpoint(schemas.OpenApiDocument, public=True, tag="meta")
def openapi() -> schemas.OpenApiDocument:
    """This OpenAPI document (no token needed)."""
    return schemas.OpenApiDocument(openapi_document())


@bp.get("/me")
@endpoint(schemas.Me, tag="account")
def me() -> schemas.Me:
    """Who the token belongs to."""
    return present.me(current_user())
