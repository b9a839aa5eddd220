"""The public endorsement pages kept rendered per process (``signing/web/endorse_pages.py``): served again without
a query, changed at once by what this process commits, within the counts' few seconds by what another process
commits; per language; and never one visitor's own content (menu, CSRF token, flashed message) for another."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from tests.conftest import BACKENDS, People, login, seed_people
from tests.endorsements.conftest import Holder, freeze_one, organisation, person
from tests.endorsements.test_statement_counts import counted
from tests.freeze.conftest import make_network, open_for_signature


def _accept(frozen: Any, holder: Holder) -> Any:
    from signing.services import endorsements

    signed = holder.signed(frozen)
    return endorsements.accept(frozen, signed.payload, signed.signature, signed.public_key, endorser=holder.endorser)


def _page(client: FlaskClient, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _expire_counts(frozen: Any) -> None:
    """As if the counts' few seconds had passed and they had been counted again (a new ``Counts``)."""
    from signing.extensions import db
    from signing.services import endorsement_queries

    key = (str(db.engine.url), frozen.id)
    stale = endorsement_queries._CACHE[key][1]
    endorsement_queries._CACHE[key] = (0.0, stale)
    assert endorsement_queries.counts(frozen) is stale  # answered at once; counted again on another thread
    endorsement_queries._REFRESHERS[key].join(timeout=30)
    assert endorsement_queries.counts(frozen) is not stale
    endorsement_queries._OLDEST.pop(key, None)


@BACKENDS
def test_the_list_is_kept_and_follows_what_this_process_commits(app: Flask) -> None:
    from signing.extensions import db
    from signing.services import endorsement_admin, endorsements, endorsers, transactions

    people = seed_people()
    frozen = freeze_one(people)
    ana, forum = person("ana@example.org"), organisation("Civic Forum Bucharest")
    endorsers.set_name(ana.endorser, "Ana Popescu", True)
    transactions.commit(keep=(ana.endorser,))
    first = _accept(frozen, ana)
    record = _accept(frozen, forum)
    client, path = app.test_client(), f"/d/{frozen.slug}/endorsements"
    page = _page(client, path)
    assert "Ana Popescu" in page and "Civic Forum Bucharest" in page
    with counted() as seen:
        assert _page(client, path) == page
        assert client.get(f"{path}/count.json").get_json()["total"] == 2
    assert seen == []  # the page, the declaration and the count: kept in this process

    bob = person("bob@example.org")
    _accept(frozen, bob)
    assert bob.endorser.public_id in _page(client, path)  # a new endorsement shows at once
    endorsers.set_name(ana.endorser, "Ana Popescu", False)  # consent taken back (a replayed submission does it)
    db.session.commit()
    assert "Ana Popescu" not in _page(client, path)
    signed = ana.signed(frozen, withdraws=first.payload_sha256)
    endorsements.withdraw(frozen, signed.payload, signed.signature, signed.public_key, endorser=ana.endorser)
    assert ana.endorser.public_id not in _page(client, path)
    endorsement_admin.hide(record, "Spam.", people.secretariat)
    assert "Civic Forum" not in _page(client, path) and "Civic Forum" not in _page(client, f"{path}?after=999999")
    endorsement_admin.unhide(record, people.secretariat)
    assert "Civic Forum Bucharest" in _page(client, path)
    endorsement_admin.erase_name(forum.endorser, people.secretariat)
    shown = _page(client, path)
    assert "Civic Forum" not in shown and forum.endorser.public_id in shown  # erased: anonymous at once


@BACKENDS
def test_another_process_changes_show_once_the_counts_are_counted_again(app: Flask) -> None:
    from signing.extensions import db

    frozen = freeze_one(seed_people())
    forum = organisation("Civic Forum Bucharest")
    record = _accept(frozen, forum)
    client, path = app.test_client(), f"/d/{frozen.slug}/endorsements"
    assert "Civic Forum Bucharest" in _page(client, path)
    db.session.remove()
    other = create_engine(db.engine.url)  # another process: nothing of it reaches this one's caches
    try:
        with other.begin() as conn:
            conn.execute(text("UPDATE endorsements SET hidden_at = CURRENT_TIMESTAMP, hidden_reason = 'Spam.' "
                              "WHERE id = :id"), {"id": record.id})
    finally:
        other.dispose()
    assert "Civic Forum Bucharest" in _page(client, path)  # within the counts' few seconds: as it was
    _expire_counts(frozen)
    page = _page(client, path)
    assert "Civic Forum" not in page and 'id="endorsement-total">0<' in page
    assert client.get(f"{path}/count.json").get_json()["total"] == 0


def test_each_language_is_kept_apart_and_follows_changes(app: Flask, frozen: Any) -> None:
    client, path = app.test_client(), f"/d/{frozen.slug}/endorsements"
    english, turkish = _page(client, path), _page(client, path, **{"Accept-Language": "tr"})
    assert '<html lang="en">' in english and '<html lang="tr">' in turkish and english != turkish
    assert _page(client, path) == english and _page(client, path, **{"Accept-Language": "tr"}) == turkish
    _accept(frozen, person())
    for page in (_page(client, path), _page(client, path, **{"Accept-Language": "tr"})):
        assert 'id="endorsement-total">1<' in page


def test_no_visitor_gets_another_ones_session_content(app: Flask, people: People, frozen: Any) -> None:
    _accept(frozen, organisation("Civic Forum Bucharest"))
    path = f"/d/{frozen.slug}/endorsements"
    member = app.test_client()
    login(member, people.secretariat.email)
    for _ in range(2):  # the member first, then an anonymous visitor, then both again (both kept)
        theirs = _page(member, path)
        assert "Civic Forum Bucharest" in theirs and 'name="csrf-token"' in theirs and "Log out" in theirs
        anonymous = app.test_client()
        page = _page(anonymous, path)
        assert "Civic Forum Bucharest" in page
        assert "csrf" not in page and "Log out" not in page and people.secretariat.display_name not in page
    flashed = app.test_client()
    with flashed.session_transaction() as session:
        session["_flashes"] = [("info", "A note for this visitor only")]
    assert "A note for this visitor only" in _page(flashed, path)
    assert "A note for this visitor only" not in _page(app.test_client(), path)
    assert "A note for this visitor only" not in _page(flashed, path)  # shown once, as flashed messages are


def test_the_count_keeps_its_etag_until_the_counts_change(app: Flask, frozen: Any) -> None:
    client, path = app.test_client(), f"/d/{frozen.slug}/endorsements/count.json"
    first = client.get(path)
    assert first.get_json()["total"] == 0 and first.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    _accept(frozen, person())
    second = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.get_json()["total"] == 1
    assert second.headers["ETag"] != first.headers["ETag"]


def test_a_declaration_not_frozen_yet_is_not_kept_as_missing(app: Flask, people: People) -> None:
    network = make_network(people)
    declaration = open_for_signature(network, slug="later")
    client = app.test_client()
    for path in ("/d/later/endorsements", "/d/later/endorsements/count.json", "/d/nothing/endorsements"):
        assert client.get(path).status_code == 404
    for signer in network.signers:
        signer.sign(declaration)
    assert client.get("/d/later/endorsements").status_code == 200
    assert client.get("/d/later/endorsements/count.json").get_json()["total"] == 0


def test_a_first_count_is_run_once_and_a_count_overtaken_by_a_change_is_not_kept(
        app: Flask, frozen: Any, monkeypatch: Any) -> None:
    import threading
    import time

    from signing.extensions import db
    from signing.services import endorsement_queries

    real, calls = endorsement_queries._count, []

    def slow_count(declaration_id: int) -> Any:
        calls.append(declaration_id)
        time.sleep(0.3)  # long enough for the other threads to arrive meanwhile
        return real(declaration_id)

    monkeypatch.setattr(endorsement_queries, "_count", slow_count)
    answers: list[Any] = []

    def ask() -> None:
        with app.app_context():
            answers.append(endorsement_queries.counts(frozen))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(calls) == 1 and len(answers) == 4 and all(answer is answers[0] for answer in answers)

    key = (str(db.engine.url), frozen.id)
    endorsement_queries._CACHE[key] = (0.0, answers[0])  # expired: counted again on another thread ...
    assert endorsement_queries.counts(frozen) is answers[0]
    endorsement_queries.forget(frozen.id)  # ... while this process hides one (say): that count is not kept
    endorsement_queries._REFRESHERS[key].join(timeout=30)
    assert key not in endorsement_queries._CACHE and len(calls) == 2
