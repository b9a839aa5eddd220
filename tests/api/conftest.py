"""Fixtures for the JSON API: bearer tokens for every kind of caller, Ed25519 keys, declarations in each state."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, People

API = "/api/v1"
TEXT = "First paragraph of the declaration.\n\nSecond paragraph, which the cities sign."

# Who calls: the ways of being refused, then every role.
CALLERS = ("no_token", "bad_token", "revoked_token", "observer", "delegate", "other_delegate", "secretariat")
ROLES = CALLERS[3:]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Key:
    """An Ed25519 key pair made the way the offline CLI makes one."""

    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        return b64(self.public_raw)

    @property
    def fingerprint(self) -> str:
        from signing.core.payload import fingerprint

        return fingerprint(self.public_raw)

    def sign_b64(self, payload_b64: str) -> str:
        return b64(self.private.sign(base64.b64decode(payload_b64)))


class Api:
    """Calls the API as one of ``CALLERS`` (or with any token)."""

    def __init__(self, client: FlaskClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "no_token":
            return {}
        return {"Authorization": f"Bearer {self.tokens[caller]}"}

    def call(self, method: str, path: str, caller: str = "secretariat", json: Any = None,
             **kwargs: Any) -> TestResponse:
        url = path if path.startswith("/") else f"{API}/{path}"
        return self.client.open(url, method=method, headers=self.headers(caller), json=json, **kwargs)

    def get(self, path: str, caller: str = "secretariat", **kwargs: Any) -> TestResponse:
        return self.call("GET", path, caller, **kwargs)

    def post(self, path: str, caller: str = "secretariat", json: Any = None, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, caller, json=json, **kwargs)


@pytest.fixture
def api_tokens(app: Flask, people: People) -> dict[str, str]:
    """A working token per role, a revoked one (the delegate's) and a made-up one."""
    from signing.services import tokens

    made = {role: tokens.create(people.by_role(role), f"{role} token")[1] for role in ROLES}
    revoked, secret = tokens.create(people.delegate, "revoked token")
    tokens.revoke(revoked, None)
    made["revoked_token"] = secret
    made["bad_token"] = "acc_" + "x" * 43
    return made


@pytest.fixture
def api(client: FlaskClient, api_tokens: dict[str, str]) -> Api:
    return Api(client, api_tokens)


def enrol(user: Any, key: Key | None = None) -> Key:
    """Enrol a key for ``user`` through the service (as the browser or CLI would have)."""
    from signing.services import keys

    key = key or Key()
    keys.enrol(user, key.public_b64, "test key", PASSWORD, origin="cli")
    return key


def sign_through_service(declaration: Any, user: Any, key: Key) -> Any:
    from signing.services import signatures

    issued = signatures.issue_signature_payload(declaration, user, key.fingerprint)
    return signatures.submit_signature(declaration, user, issued.payload, key.private.sign(issued.payload))


@dataclass
class Scene:
    """Declarations in every state, keys and a signature, for the access matrix."""

    people: People
    key: Key  # the İzmir delegate's key, used to sign
    spare_key: Key  # another İzmir key, to revoke
    other_key: Key  # the Athens delegate's key
    slugs: dict[str, str]


@pytest.fixture
def scene(app: Flask, people: People) -> Scene:
    from signing.services import declarations

    def make(slug: str, state: str) -> str:
        declaration = declarations.create(f"Declaration {slug}", TEXT, people.secretariat, slug=slug)
        if state in {"consultation", "open", "signed"}:
            declarations.open_consultation(declaration, people.secretariat)
        if state in {"open", "signed"}:
            declarations.open_signing(declaration, 1, people.secretariat)
        return slug

    key, spare_key, other_key = enrol(people.delegate), enrol(people.delegate), enrol(people.other_delegate)
    slugs = {
        "draft": make("d-draft", "draft"),
        "draft2": make("d-draft-two", "draft"),
        "consultation": make("d-consult", "consultation"),
        "consultation2": make("d-consult-two", "consultation"),
        "open": make("d-open", "open"),
        "signed": make("d-signed", "signed"),
    }
    sign_through_service(declarations.get(slugs["signed"]), people.delegate, key)
    return Scene(people=people, key=key, spare_key=spare_key, other_key=other_key, slugs=slugs)


@pytest.fixture
def issue_and_sign(api: Api) -> Callable[..., dict[str, str]]:
    """Ask the API for a payload as ``caller`` and sign it with ``key``: the body to post back."""

    def do(slug: str, key: Key, kind: str = "signing", caller: str = "delegate") -> dict[str, str]:
        response = api.post(f"declarations/{slug}/{kind}-payload", caller, json={"key_fingerprint": key.fingerprint})
        assert response.status_code == 201, response.get_json()
        payload = response.get_json()["payload"]
        return {"payload": payload, "signature": key.sign_b64(payload)}

    return do
