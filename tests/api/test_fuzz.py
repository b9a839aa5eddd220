"""Schemathesis over the OpenAPI document, against the app itself (WSGI): no input ever causes a server error.

Every operation gets a bounded number of generated requests with the bearer
token of the secretariat and of a delegate: aimed at a real declaration and key,
so that the generated bodies reach the services; a few with whatever path
parameters Hypothesis makes up; then deliberately invalid input (Schemathesis'
negative mode). Generation is derandomised (the same
examples on every run) unless ``API_FUZZ_RANDOM`` is set.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.api.conftest import API, Scene
from tests.conftest import BACKENDS

MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
NEGATIVE_EXAMPLES = max(1, MAX_EXAMPLES // 2)
RANDOM_PATH_EXAMPLES = max(1, MAX_EXAMPLES // 5)


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("API_FUZZ_RANDOM"),
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def _run(operation: Any, token: str, path_parameters: dict[str, str] | None,
         mode: GenerationMode = GenerationMode.POSITIVE, examples: int = MAX_EXAMPLES) -> None:
    options: dict[str, Any] = {"path_parameters": path_parameters} if path_parameters else {}

    @_settings(examples)
    @given(case=operation.as_strategy(generation_mode=mode, **options))
    def check(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=[not_a_server_error])

    check()


@BACKENDS
@pytest.mark.parametrize("caller", ["secretariat", "delegate"])
def test_generated_requests_never_cause_a_server_error(app: Flask, api_tokens: dict[str, str], scene: Scene,
                                                       caller: str) -> None:
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert len(operations) >= 17  # all but the document itself, which Schemathesis leaves out
    aimed = {"slug": scene.slugs["consultation" if caller == "secretariat" else "open"],
             "fingerprint": scene.spare_key.fingerprint, "number": "1"}
    token = api_tokens[caller]
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        real = {name: aimed[name] for name in names} or None
        _run(operation, token, real)
        if real:  # made-up slugs, numbers and fingerprints: a few are enough (they stop at 404)
            _run(operation, token, None, examples=RANDOM_PATH_EXAMPLES)
        # Invalid input on purpose (wrong types, missing fields, ...): refused with a 4xx, never a 5xx. A public
        # operation without parameters or body (GET /log/witnesses) has no input to make invalid.
        raw = operation.definition.raw
        if raw.get("parameters") or raw.get("requestBody") or raw.get("security") != []:
            _run(operation, token, real, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
