"""The OpenAPI document: valid OpenAPI 3.1, complete (every /api/v1 route), bearer security, every error documented."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.core.result import Err, Ok

from tests.api.conftest import API

ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"{API}/openapi.json")  # public: no token
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Accord API"
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # the OpenAPI 3.1 meta-schema (raises jsonschema_rs.ValidationError)
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    problems = [str(result.err()) for result in schema.get_all_operations() if isinstance(result, Err)]
    assert not problems
    assert len(operations) == sum(len(ops) for ops in document["paths"].values())


def test_every_api_route_is_documented_and_nothing_else(app: Flask, document: dict[str, Any]) -> None:
    in_app = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules() if rule.rule.startswith(API + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert in_app - documented == set(), "routes missing from the OpenAPI document"
    assert documented - in_app == set(), "documented operations that are not routes"
    assert len(in_app) >= 18


def test_bearer_security_is_declared_and_required(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes == {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "acc_ token",
                                      "description": schemes["bearerAuth"]["description"]}}
    assert document["security"] == [{"bearerAuth": []}]
    for path, method, operation in _operations(document):
        public_log = path.startswith(f"{API}/log/") and operation["operationId"] not in ("enrol_witness",
                                                                                      "revoke_witness")
        if path == f"{API}/openapi.json" or public_log:
            assert operation["security"] == [], "the document itself and the transparency log are public"
            assert "401" not in operation["responses"]
            continue
        assert "security" not in operation, f"{method} {path} overrides the global bearer security"
        unauthorized = operation["responses"]["401"]
        assert "WWW-Authenticate" in unauthorized["headers"]


def test_every_error_response_is_documented_with_the_error_body(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        successes = [code for code in responses if code.startswith("2")]
        assert len(successes) == 1, f"{method} {path}: {successes}"
        assert "400" in responses, f"{method} {path} does not document 400"
        for code, response in responses.items():
            if code.startswith("4"):
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (method, path, code)
                assert response["description"]
            assert not code.startswith("5"), f"{method} {path} documents a server error"
        if method == "post" and "{slug}" in path:
            assert {"403", "404", "409"} <= set(responses), f"{method} {path}: missing refusals"
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]
    detail = document["components"]["schemas"][error["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(detail["required"]) == {"code", "message"}


def test_every_reference_resolves_and_every_schema_is_valid(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in components, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    for name, schema in components.items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_path_parameters_and_request_bodies_are_described(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        names = set(re.findall(r"{([a-z_]+)}", path))
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert names == declared, f"{method} {path}"
        for parameter in operation["parameters"]:
            if parameter["in"] == "path":
                assert parameter["required"] and parameter["description"], f"{method} {path} {parameter['name']}"
        assert operation["summary"] and operation["operationId"]
    posted = {path for path, method, op in _operations(document) if method == "post" and "requestBody" in op}
    assert f"{API}/declarations/{{slug}}/signatures" in posted
    assert f"{API}/keys" in posted
