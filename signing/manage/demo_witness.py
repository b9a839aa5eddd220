"""The demo's witnesses: three cities run the CLI witness (``signing.offline.witness``) against the demo log.

Each city's witness key is made in a temporary folder, as the CLI does on a city's machine, enrolled by
the city's delegate, and run twice: once before signing opens (its first, trusted checkpoint) and once
after the freeze, when it cosigns the bundle's checkpoint only after a consistency proof from the first.
The folders (and the private keys in them) are deleted afterwards, like the demo's signing keys. The
demo has no HTTP server: the witness talks to the application through Flask's test client.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import current_app

from ..extensions import db
from ..models import User
from ..offline.witness import load_or_create_key, public_key_b64, run
from ..services import witness

DEMO_WITNESSES = 3


def _fetch() -> Callable[[str, str, dict[str, Any] | None], tuple[int, bytes]]:
    client = current_app.test_client()

    def fetch(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        response = client.open(path, method=method, json=body)
        return response.status_code, response.get_data()

    return fetch


@contextmanager
def witnesses(delegates: list[tuple[User, str]]) -> Iterator[Callable[[], list[str]]]:
    """Enrol and first run the witnesses of ``delegates`` ((user, password)); yields ``run_again``."""
    with tempfile.TemporaryDirectory(prefix="accord-demo-witness-") as folder:
        states = []
        for user, password in delegates[:DEMO_WITNESSES]:
            state = Path(folder) / (user.city.slug if user.city else str(user.id))
            key = load_or_create_key(state)
            witness.enrol(user, public_key_b64(key), password, origin="cli")
            states.append(state)
        db.session.commit()  # no transaction held while the witnesses talk to the app
        for state in states:
            run(state, _fetch())

        def run_again() -> list[str]:
            db.session.commit()
            return [f"{run(state, _fetch()).size}" for state in states]

        yield run_again
