"""How many SQL statements the endorsement requests run (PostgreSQL): a regression guard for issue #14.

The intake request must not grow back its reloads after the commit or its ``count(*)`` over the list; the
public page must not run a query per row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from signing.core import payload
from tests.conftest import BACKENDS, csrf_token, seed_people
from tests.endorsements.conftest import freeze_one, person

POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@contextmanager
def counted() -> Iterator[list[str]]:
    from signing.extensions import db

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _body(signed: Any) -> dict[str, Any]:
    return {"payload": payload.b64encode(signed.payload), "signature": payload.b64encode(signed.signature),
            "public_key": payload.b64encode(signed.public_key)}


@POSTGRES
def test_an_endorsement_request_runs_few_statements_and_no_count(app_factory: Callable[..., Flask]) -> None:
    """As in production (``TASK_MODE=celery``, no worker): the request commits and publishes, nothing more."""
    import redis

    from signing.web.endorse import SESSION_KEY

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    app = app_factory(REDIS_URL=url)
    app.app_context().push()
    frozen = freeze_one(seed_people())  # inline: the freeze runs
    app.config["TASK_MODE"] = "celery"
    client = app.test_client()
    token = csrf_token(client, f"/d/{frozen.slug}/endorse")
    holders = [person(f"p{i}@example.org") for i in range(3)]
    assert client.get(f"/d/{frozen.slug}/endorsements/count.json").get_json()["total"] == 0  # the counts, cached
    for index, holder in enumerate(holders):
        with client.session_transaction() as held:
            held[SESSION_KEY] = {"endorser": holder.endorser.public_id, "declaration": frozen.id}
        signed = holder.signed(frozen)
        with counted() as seen:
            response = client.post(f"/d/{frozen.slug}/endorse/submit", json=_body(signed),
                                   headers={"X-CSRFToken": token})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["total"] == index + 1
        assert not any("count(" in s.lower() for s in seen)  # the total is the cached counts, kept up to date
        # the session's endorser, then one statement for the replay check, the key (look-up, insert), the
        # endorsement, the e-mail, the log entry and its task and the webhook messages; the frozen declaration
        # is read once per process (by the first request): 2 (10, then 12 before issue #14's changes, one of them
        # the count)
        assert len(seen) <= (3 if index == 0 else 2)
    redis.Redis.from_url(url).flushdb()


@BACKENDS
def test_cached_counts_follow_this_process_changes_and_one_thread_refreshes(app: Flask) -> None:
    from signing.extensions import db
    from signing.services import endorsement_queries, endorsements

    frozen = freeze_one(seed_people())
    ana, bob = person("ana@example.org"), person("bob@example.org")
    first = endorsements.accept(frozen, *_args(ana.signed(frozen)), endorser=ana.endorser)
    counts = endorsement_queries.counts(frozen)
    assert counts.total == 1 and counts.by_kind["person"] == 1
    endorsements.accept(frozen, *_args(bob.signed(frozen)), endorser=bob.endorser)
    assert endorsement_queries.counts(frozen).total == 2  # added to the cached counts, not counted
    endorsements.withdraw(frozen, *_args(ana.signed(frozen, withdraws=first.payload_sha256)), endorser=ana.endorser)
    after = endorsement_queries.counts(frozen)
    assert after.total == 1 and after.by_kind["person"] == 1 and after.by_country == [("", 1)]
    key = (str(db.engine.url), frozen.id)
    stale = endorsement_queries._CACHE[key][1]
    endorsement_queries._CACHE[key] = (0.0, stale)  # expired ...
    endorsement_queries._REFRESHING.add(key)  # ... while another thread counts: the old counts meanwhile
    try:
        with counted() as seen:
            assert endorsement_queries.counts(frozen) is stale
        assert seen == []
    finally:
        endorsement_queries._REFRESHING.discard(key)
    with counted() as seen:
        assert endorsement_queries.counts(frozen) is stale  # expired, nobody counting: counted on another thread
        endorsement_queries._REFRESHERS[key].join(timeout=30)
    assert len(seen) == 1 and [s for s in seen if "count(" in s.lower()]
    fresh = endorsement_queries.counts(frozen)
    assert fresh is not stale and fresh.total == 1 and endorsement_queries._CACHE[key][0] > 0.0


def _args(signed: Any) -> tuple[bytes, bytes, bytes]:
    return signed.payload, signed.signature, signed.public_key
